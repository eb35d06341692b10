//! An in-process peer that speaks the node-to-node protocol (`/tejido/sync/1`) with a key of
//! the caller's choosing, and joining a network as a node from in-process keys: what the
//! hostile-peer tests and the benchmark's sync flood send real nodes.

use std::time::Duration;

use anyhow::bail;
use futures::StreamExt;
use libp2p::request_response::{self, Message, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use protocol::event::{Body, Event, SignedEvent};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::wire::{
    ClientRequestV0, ClientResponseV0, InviteCode, NodeContact, SyncRequest, SyncRequestV0,
    SyncResponse, SyncResponseV0,
};

type SyncBehaviour = request_response::cbor::Behaviour<SyncRequest, SyncResponse>;

/// How long [`SyncPeer::request`] waits for an answer.
const ANSWER_DEADLINE: Duration = Duration::from_secs(20);

/// What became of a request sent with [`SyncPeer::send`].
#[derive(Debug)]
pub enum Outcome {
    /// The node answered.
    Answer(OutboundRequestId, SyncResponseV0),
    /// The request failed (refused connection, timeout, closed stream).
    Failed(OutboundRequestId, String),
}

/// An in-process peer of the sync protocol. It answers the node's own requests with a
/// refusal, so that the node does not wait on it.
pub struct SyncPeer {
    swarm: Swarm<SyncBehaviour>,
}

impl SyncPeer {
    /// A peer with libp2p identity `key`.
    pub fn new(key: &SecretKey) -> anyhow::Result<Self> {
        let behaviour = daemon::net::request_response_behaviour(
            protocol::wire::SYNC_PROTOCOL,
            ProtocolSupport::Full,
        );
        Ok(Self {
            swarm: daemon::net::build_swarm(key, behaviour, Duration::from_secs(60))?,
        })
    }

    /// Where to dial `peer`.
    pub fn add_address(&mut self, peer: PeerId, addr: &Multiaddr) {
        self.swarm.add_peer_address(peer, addr.clone());
    }

    /// Sends a request without waiting for its answer (dialling `peer` if needed).
    pub fn send(&mut self, peer: PeerId, request: SyncRequestV0) -> OutboundRequestId {
        self.swarm
            .behaviour_mut()
            .send_request(&peer, SyncRequest::V0(request))
    }

    /// Drives the swarm until a request sent earlier is answered or fails.
    pub async fn next_outcome(&mut self) -> Outcome {
        loop {
            match self.swarm.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => {
                    match message {
                        Message::Response {
                            request_id,
                            response: SyncResponse::V0(response),
                        } => return Outcome::Answer(request_id, response),
                        Message::Request { channel, .. } => {
                            let refusal = SyncResponse::V0(SyncResponseV0::Refused {
                                reason: "test peer".into(),
                            });
                            let _ = self.swarm.behaviour_mut().send_response(channel, refusal);
                        }
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    request_id,
                    error,
                    ..
                }) => return Outcome::Failed(request_id, error.to_string()),
                _ => {}
            }
        }
    }

    /// Sends a request and waits for its answer or failure (at most 20 s).
    pub async fn request(
        &mut self,
        peer: PeerId,
        addr: &Multiaddr,
        request: SyncRequestV0,
    ) -> Result<SyncResponseV0, String> {
        self.add_address(peer, addr);
        let id = self.send(peer, request);
        let deadline = tokio::time::sleep(ANSWER_DEADLINE);
        tokio::pin!(deadline);
        loop {
            let outcome = tokio::select! {
                _ = &mut deadline => return Err("no answer".into()),
                outcome = self.next_outcome() => outcome,
            };
            match outcome {
                Outcome::Answer(request_id, response) if request_id == id => return Ok(response),
                Outcome::Failed(request_id, error) if request_id == id => return Err(error),
                _ => {}
            }
        }
    }
}

/// Redeems the node invite `code` for a node `node` of a new organisation `org` whose first
/// admin is `admin`, the way `tejido join` does but with keys held here.
pub async fn join_as_node(
    code: &str,
    org: &str,
    node: &SecretKey,
    admin: &SecretKey,
) -> anyhow::Result<()> {
    let invite = InviteCode::decode(code).map_err(|e| anyhow::anyhow!("invite: {e}"))?;
    let InviteCode::V0 {
        node: inviter,
        addrs,
        ..
    } = invite.clone();
    let add_node = SignedEvent::sign(
        Event {
            author: admin.public(),
            at: Timestamp::now(),
            seq: 1,
            doc: DocId::roster(),
            body: Body::AddNode {
                org: org.into(),
                node: node.public(),
                addrs: Vec::new(),
            },
        },
        admin,
    )
    .map_err(|e| anyhow::anyhow!("signing AddNode: {e}"))?;
    let request = ClientRequestV0::RedeemNode {
        node: node.public(),
        org: org.into(),
        admin: admin.public(),
        proof: node.sign(&invite.proof_message(&node.public())).to_vec(),
        add_node: Box::new(add_node),
    };
    let answers = daemon::net::request_all(
        &invite.identity(),
        &[NodeContact {
            key: inviter,
            addrs,
        }],
        request,
    )
    .await?;
    match answers.first() {
        Some((_, Ok(ClientResponseV0::Network { .. }))) => Ok(()),
        other => bail!("redeeming the node invite failed: {other:?}"),
    }
}
