//! Sync between nodes and the gossip fast path: peer messages go to the sync session
//! (`crate::sync`) and the engine, and what they answer becomes actions.

use std::time::Instant;

use libp2p::gossipsub::{self, MessageAcceptance};
use libp2p::request_response::{self, Message};
use libp2p::PeerId;
use protocol::event::SignedEvent;
use protocol::ids::{DocId, Timestamp};
use protocol::wire::{SyncRequest, SyncRequestV0, SyncResponse, SyncResponseV0};
use tracing::{debug, warn};

use super::{alert_ids, Action, Core};
use crate::engine::Verdict;
use crate::limiter::Take;
use crate::sync::Output;

impl Core {
    /// A document changed here (locally, or learnt from `from`): tell every other node.
    pub(super) fn on_local_change(&mut self, doc: &DocId, from: Option<PeerId>) {
        if *doc == DocId::roster() {
            self.refresh_gate();
            // New nodes, or nodes that announced new addresses.
            self.dial_missing();
        }
        if doc.collection() == protocol::ids::Collection::Alerts {
            self.receipts_due.insert(doc.clone());
            self.bridges.due.insert(doc.clone());
        }
        let peers = self.node_peers();
        let out = self
            .sessions
            .local_change(doc, from, &peers, &mut self.engine, Timestamp::now());
        self.on_sync_outputs(out);
    }

    /// Carries out what the sync session asked for.
    pub(super) fn on_sync_outputs(&mut self, out: Vec<Output<PeerId>>) {
        for output in out {
            match output {
                Output::Request { peer, request } => {
                    self.actions.push(Action::Sync { peer, request });
                }
                Output::Changed { doc, from, fresh } => {
                    self.note_visible(alert_ids(&fresh));
                    self.on_local_change(&doc, Some(from));
                }
            }
        }
    }

    /// Marks alerts this node now shows, as debug events of target `tejido::visible` (the
    /// benchmark's in-process mode times an alert's arrival at every node with them, without
    /// polling). An alert may be marked twice (gossip, then sync); the first counts.
    pub(super) fn note_visible(&self, alerts: impl Iterator<Item = protocol::ids::RecordId>) {
        for alert in alerts {
            debug!(target: "tejido::visible", node = %self.me, %alert, "alert visible");
        }
    }

    /// Publishes newly stored alerts on the gossip topic (after the store has them).
    pub(super) fn publish_alerts(&mut self, alerts: Vec<SignedEvent>) {
        for event in alerts {
            self.actions.push(Action::Publish(event.to_bytes()));
        }
    }

    /// Validates a gossiped message before gossipsub may forward it: the same checks as sync,
    /// and only from nodes. Gossip is the nodes' fast path: a member's device (or anyone else
    /// the gate admits) reaches the network through the client protocol and its rate limit,
    /// and is not even offered gossipsub (`net::NodesOnly`); a message published or forwarded
    /// by anyone but a node is still rejected here, should one arrive (a node revoked since
    /// its connection opened). Each node's messages are rate limited too.
    pub(super) fn on_gossip(
        &mut self,
        source: PeerId,
        id: gossipsub::MessageId,
        message: &gossipsub::Message,
    ) {
        let verdict = if !self.is_node_peer(&source)
            || !message
                .source
                .is_some_and(|p| p == self.peer_id || self.is_node_peer(&p))
        {
            Verdict::Reject("gossip is for the network's nodes only".into())
        } else if let Take::Refused(_) = self.gossip.take(&source, 1.0, Instant::now()) {
            // Over the budget: dropped, not judged (an honest burst is carried by sync).
            Verdict::Ignore
        } else {
            match SignedEvent::decode(&message.data) {
                Ok(event) => {
                    let verdict = self.engine.check_hint(&event, Timestamp::now());
                    if verdict == Verdict::Accept {
                        self.engine.stats.gossip_accepted += 1;
                        self.note_visible(alert_ids(std::slice::from_ref(&event)));
                        self.engine.add_hint(event);
                    }
                    verdict
                }
                Err(e) => Verdict::Reject(e.to_string()),
            }
        };
        let acceptance: MessageAcceptance = crate::gossip::acceptance(&verdict);
        self.actions.push(Action::GossipVerdict {
            id,
            source,
            acceptance,
        });
        if let Verdict::Reject(why) = verdict {
            self.engine.stats.gossip_rejected += 1;
            warn!(peer = %source, error = %why, "refused gossiped alert");
        }
    }

    /// Takes a request's cost from the peer's budgets: one request, its bytes, and a document
    /// if it names one this node does not hold. A peer over its budget is refused and starts
    /// over with its next summary.
    fn within_sync_budget(&mut self, peer: PeerId, request: &SyncRequestV0) -> bool {
        let now = Instant::now();
        let (bytes, new_doc) = match request {
            SyncRequestV0::Summary { docs, .. } => (
                docs.iter()
                    .map(|d| d.doc.as_str().len() + 32 * d.heads.len())
                    .sum::<usize>(),
                false,
            ),
            SyncRequestV0::Sync { doc, msg } => (msg.len(), !self.engine.has_doc(doc)),
        };
        self.sync_requests.take(&peer, 1.0, now) == Take::Allowed
            && self.sync_bytes.take(&peer, bytes as f64, now) == Take::Allowed
            && (!new_doc || self.sync_new_docs.take(&peer, 1.0, now) == Take::Allowed)
    }

    pub(super) fn on_sync_event(
        &mut self,
        event: request_response::Event<SyncRequest, SyncResponse>,
    ) {
        let now = Timestamp::now();
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                Message::Request {
                    request: SyncRequest::V0(request),
                    channel,
                    ..
                } => {
                    let response = if !self.is_node_peer(&peer) {
                        self.engine.stats.rejected_changes += 1;
                        warn!(%peer, "sync request from a peer that is not a node of the network");
                        SyncResponseV0::Refused {
                            reason: "not a node of this network".into(),
                        }
                    } else if !self.within_sync_budget(peer, &request) {
                        self.engine.stats.throttled_requests += 1;
                        debug!(%peer, "sync request over the peer's budget");
                        SyncResponseV0::Refused {
                            reason: "over this node's sync budget: slow down".into(),
                        }
                    } else {
                        let (response, out) =
                            self.sessions
                                .on_request(peer, request, &mut self.engine, now);
                        self.on_sync_outputs(out);
                        response
                    };
                    self.actions
                        .push(Action::SyncResponse { channel, response });
                }
                Message::Response {
                    response: SyncResponse::V0(response),
                    ..
                } => {
                    if self.is_node_peer(&peer) {
                        let out = self
                            .sessions
                            .on_response(peer, response, &mut self.engine, now);
                        self.on_sync_outputs(out);
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "sync request failed");
                self.sessions.request_failed(&peer);
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "inbound sync failed");
            }
            _ => {}
        }
    }
}
