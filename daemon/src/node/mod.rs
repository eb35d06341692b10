//! The node: one task owns the libp2p swarm and the node's state ([`Core`]: the engine, the
//! sync sessions, the gate, the limits), and serves operator commands, client requests and
//! sync between nodes from one `select!` loop.
//!
//! Only this file touches the [`Swarm`]. Handlers (`swarm`, `operator`, `client`, `duties`,
//! `peers`) work on [`Core`] and leave [`Action`]s for the swarm, which [`Node::apply_actions`]
//! carries out after each handler; what they need to know of the swarm (connections, listen
//! addresses) is mirrored into [`Core`] as swarm events arrive.
//!
//! Turns and flushes: each turn of the loop handles one event from the `select!`, then
//! whatever else is ready at once (up to [`TURN_MAX_EVENTS`] and [`TURN_MAX_TIME`]), then
//! flushes the store once for every change the turn made, and only then sends the answers to
//! clients and operators it held back ([`Node::finish_turn`]). So `Stored` always follows the
//! flush that covers it, while many writes share one flush. Sync messages to peers, and the
//! changes relayed to them, go out before the flush: a peer verifies everything itself, a copy
//! on a peer is nobody's acknowledgement, and a change this node loses in a crash comes back
//! from the peers that have it. Members' events of a turn are stored together at its end, one
//! change per document (`group_commit.rs`), before the flush.
//!
//! Timed duties come before swarm events in the `select!`: they are due at most every second,
//! so they cannot starve the swarm, and a busy swarm cannot delay the dead man's switch.

mod bridges;
mod client;
mod devices;
mod duties;
mod group_commit;
mod metrics_snapshot;
mod operator;
mod ops;
mod peers;
mod roster_ops;
mod swarm;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use libp2p::core::transport::ListenerId;
use libp2p::gossipsub::{MessageAcceptance, MessageId};
use libp2p::request_response::ResponseChannel;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm};
use protocol::control::Response;
use protocol::event::{Body, Event, SignedEvent};
use protocol::ids::{DocId, PublicKey, SecretKey, Timestamp};
use protocol::wire::{
    ClientResponse, ClientResponseV0, ErrorKind, SyncRequest, SyncRequestV0, SyncResponse,
    SyncResponseV0,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::config::{Config, Connect};
use crate::dialer::Dialer;
use crate::engine::Engine;
use crate::limiter::Limiter;
use crate::net::{self, Behaviour, BehaviourEvent};
use crate::sync::Sessions;

/// Operator commands (and results of spawned work) waiting for the loop: the socket's
/// clients wait beyond it, which bounds what a flood of commands can hold in memory.
pub(crate) const CONTROL_CHANNEL_CAP: usize = 64;

/// How often every connected node gets our summary (anti-entropy).
const ANTI_ENTROPY_INTERVAL: Duration = Duration::from_secs(15);
/// How often the dead man's switch looks at check-ins (and metrics are rendered).
const WATCH_INTERVAL: Duration = Duration::from_secs(2);
/// How often delivery receipts are signed for alerts that arrived since.
const RECEIPT_INTERVAL: Duration = Duration::from_secs(1);
/// Events a turn of the loop handles, after the first, before it flushes and answers.
const TURN_MAX_EVENTS: usize = 64;
/// How long a turn keeps taking events that are ready before it flushes and answers: bounds
/// what a held-back answer waits for besides its flush.
const TURN_MAX_TIME: Duration = Duration::from_millis(5);
/// A client's requests held in reserve, in seconds of its rate: a member's device may send a
/// few requests at once (queued records, then a query) without being throttled.
const CLIENT_BURST_SECS: f64 = 3.0;
/// Gossiped messages a second accepted from one peer node, and its burst in seconds: far above
/// the alerts of a whole region in a crisis (sync carries whatever exceeds it).
const GOSSIP_RATE: f64 = 50.0;
const GOSSIP_BURST_SECS: f64 = 4.0;
/// A peer node's sync burst, in seconds of its rate.
const SYNC_BURST_SECS: f64 = 10.0;
/// Bytes of sync requests a second per peer node, and the burst (above the largest message).
const SYNC_BYTES_PER_SEC: f64 = 16.0 * 1024.0 * 1024.0;
const SYNC_BYTES_BURST: f64 = 64.0 * 1024.0 * 1024.0;
/// Documents a peer node's messages may add, a second and in a burst: a new node catching
/// up takes every document of the network at once (a few thousand for a large network).
const SYNC_NEW_DOCS_PER_SEC: f64 = 100.0;
const SYNC_NEW_DOCS_BURST: f64 = 5000.0;
/// Refused requests in a row after which a flooding client is disconnected.
const CLIENT_REFUSALS_BEFORE_DISCONNECT: u32 = 50;
/// The longest wait between two dials of one unreachable node.
const MAX_DIAL_BACKOFF: Duration = Duration::from_secs(300);
/// How long a used invite's connection stays open after its answer left: closed as soon as
/// request-response reported the answer sent, the newcomer's CLI often got "connection closed
/// before a response was received". The CLI closes its side first; a holder of the identity
/// that lingers is cut off on the first watch tick after this.
const INVITE_LINGER: Duration = Duration::from_secs(1);

/// An operator command and where to send its answer.
pub(crate) struct Command {
    pub(crate) request: protocol::control::Request,
    pub(crate) reply: oneshot::Sender<Response>,
}

/// What a handler asks of the swarm. [`Node::apply_actions`] carries them out in order.
enum Action {
    /// A sync request to a peer node.
    Sync {
        peer: PeerId,
        request: SyncRequestV0,
    },
    /// The answer to a peer's sync request (not held for the flush: a peer's copy is not an
    /// acknowledgement).
    SyncResponse {
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponseV0,
    },
    /// Publish a signed alert on the gossip topic.
    Publish(Vec<u8>),
    /// Tell gossipsub whether a message may be forwarded.
    GossipVerdict {
        id: MessageId,
        source: PeerId,
        acceptance: MessageAcceptance,
    },
    Dial(DialOpts),
    Disconnect(PeerId),
    /// Admit a peer at the gate.
    Allow(PeerId),
    /// Refuse a peer at the gate (closing its connections).
    Disallow(PeerId),
    /// The peers served the node-to-node protocols from now on (the active nodes).
    ServeNodes(HashSet<PeerId>),
    /// An address other nodes can reach this one at (a relay's own addresses).
    ExternalAddress(Multiaddr),
}

/// An answer to a client or an operator, held until the end of the turn's flush.
enum Reply {
    Client {
        peer: PeerId,
        channel: ResponseChannel<ClientResponse>,
        response: Box<ClientResponseV0>,
    },
    Operator {
        reply: oneshot::Sender<Response>,
        response: Response,
    },
}

/// Which of a node's keys signs one of its own events.
#[derive(Clone, Copy)]
enum Signer {
    /// The node key: missed check-ins and their resolution, receipts.
    Node,
    /// The operator's admin key: roster changes.
    Admin,
}

/// Why one of the node's own events could not be signed or stored.
#[derive(Debug, thiserror::Error)]
enum OwnError {
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error(transparent)]
    Submit(#[from] crate::engine::SubmitError),
}

impl OwnError {
    /// Whether the node's disk failed (as opposed to the event being refused).
    fn is_store_failure(&self) -> bool {
        matches!(
            self,
            OwnError::Submit(crate::engine::SubmitError::Internal(_))
        )
    }
}

/// Why joining a network failed.
#[derive(Debug, thiserror::Error)]
enum JoinError {
    #[error("the inviting node refused: {0}")]
    Refused(String),
    #[error("cannot reach the inviting node: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Roster(anyhow::Error),
}

/// Results that tasks spawned by the loop send back to it.
enum Internal {
    /// A join attempt finished: the network's roster, or why not.
    Joined {
        result: Result<Vec<u8>, JoinError>,
        inviter: Vec<Multiaddr>,
        reply: oneshot::Sender<Response>,
    },
    /// A bridge's delivery of an outbox entry finished.
    Delivered {
        key: Vec<u8>,
        result: Result<(), String>,
    },
    /// `bridge test` finished.
    BridgesTested {
        results: Vec<protocol::control::BridgeTestResult>,
        reply: oneshot::Sender<Response>,
    },
    /// A spawned task's answer to an operator (a backup, sealed off the loop).
    Answer {
        reply: oneshot::Sender<Response>,
        response: Response,
    },
}

/// Everything the node knows and decides, apart from the swarm itself.
pub(crate) struct Core {
    engine: Engine,
    sessions: Sessions<PeerId>,
    me: PublicKey,
    peer_id: PeerId,
    admin_key: Option<SecretKey>,
    node_key: SecretKey,
    /// The time of the last event this node signed: its own events get strictly increasing
    /// times, so that the roster fold, which applies events in (time, id) order, applies a
    /// region's declaration before the member it lets in, even within one millisecond.
    last_signed: std::cell::Cell<Timestamp>,
    org: String,
    /// Peer ids currently on the gate's allow list.
    allowed: HashSet<PeerId>,
    /// Peer ids served sync, gossip, identify and the relay: the active nodes, as last told
    /// to the swarm.
    nodes: HashSet<PeerId>,
    /// Invite identities whose invite was used (or found expired) while they asked: allowed
    /// only until the answer to them has been sent (closing earlier could cut it off), then
    /// removed from the allow list, which closes their connection.
    close_after_response: HashSet<PeerId>,
    /// Those of them whose answer has left, and when: still allowed for [`INVITE_LINGER`].
    answered_invites: HashMap<PeerId, Instant>,
    dialer: Dialer<PeerId, Multiaddr>,
    /// Operator commands waiting, as of the last watch tick (for the metrics).
    control_queue: usize,
    /// Where the metrics text goes, and the address it is served on.
    metrics: Option<(tokio::sync::watch::Sender<String>, std::net::SocketAddr)>,
    /// Rate limits of client peers (bounded by the connection limits).
    clients: Limiter<PeerId>,
    /// Rate limits of gossip per peer node.
    gossip: Limiter<PeerId>,
    /// Budgets of each peer node's sync: requests, bytes, and documents its messages may add.
    sync_requests: Limiter<PeerId>,
    sync_bytes: Limiter<PeerId>,
    sync_new_docs: Limiter<PeerId>,
    /// Budgets of each member: events written, and documents those events may add.
    member_events: Limiter<PublicKey>,
    member_docs: Limiter<PublicKey>,
    /// Which nodes to dial by ourselves.
    connect: Connect,
    /// The data directory (for wipe).
    data_dir: std::path::PathBuf,
    /// Grace period before a missed check-in raises an alert, in ms.
    checkin_grace_ms: i64,
    /// Peers from config.toml and from joining, dialled whatever `connect` says.
    bootstrap: Vec<Multiaddr>,
    /// Results of work done outside the loop (joining a network).
    internal_tx: mpsc::Sender<Internal>,
    /// Alert documents that changed since receipts were last signed.
    receipts_due: BTreeSet<DocId>,
    /// The bridges and their outbox.
    bridges: bridges::Bridges,
    /// Whether this node relays for others (its listen addresses are then its external ones).
    relay_server: bool,
    /// Whether this node listens through relays (it is behind NAT: only relayed addresses are
    /// announced).
    behind_relay: bool,
    /// Peers mDNS found on the local network, and where (only trusted nodes are dialled).
    lan_peers: HashMap<PeerId, Vec<Multiaddr>>,
    /// Open connections per peer and their remote addresses, mirrored from swarm events.
    connections: HashMap<PeerId, HashMap<libp2p::swarm::ConnectionId, Multiaddr>>,
    /// The swarm's listen addresses, mirrored after every swarm event.
    listeners: Vec<Multiaddr>,
    /// Answers held until the store is flushed at the end of this turn.
    replies: Vec<Reply>,
    /// What the handlers asked of the swarm since the last [`Node::apply_actions`].
    actions: Vec<Action>,
    shutdown: bool,
    /// Backups and doctor.
    ops: ops::Ops,
}

/// The node task: the swarm and everything else.
pub(crate) struct Node {
    swarm: Swarm<Behaviour>,
    core: Core,
    internal_rx: mpsc::Receiver<Internal>,
    /// Relays to be reachable through, and the listener on each (none while it is down: the
    /// relay may not admit this node yet, or be unreachable).
    relay_listeners: Vec<(Multiaddr, Option<ListenerId>)>,
}

impl Node {
    pub(crate) fn new(config: &Config, mut engine: Engine) -> anyhow::Result<Self> {
        let outbox = engine.store().outbox()?;
        let options = net::Options {
            relay_server: config.relay_server,
            mdns: config.mdns,
        };
        let mut swarm = net::build_node_swarm(&config.node_key, options, net::IDLE_TIMEOUT)?;
        swarm
            .behaviour_mut()
            .nodes
            .gossip
            .subscribe(&crate::gossip::alerts_topic())
            .map_err(|e| anyhow::anyhow!("subscribing to alerts: {e}"))?;
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        }
        let (internal_tx, internal_rx) = mpsc::channel(CONTROL_CHANNEL_CAP);
        let peer_id = *swarm.local_peer_id();
        let mut core = Core {
            engine,
            sessions: Sessions::new(peer_id),
            me: config.node_key.public(),
            peer_id,
            admin_key: config.admin_key.clone(),
            node_key: config.node_key.clone(),
            last_signed: std::cell::Cell::new(Timestamp(i64::MIN)),
            org: config.org.clone(),
            allowed: HashSet::new(),
            nodes: HashSet::new(),
            close_after_response: HashSet::new(),
            answered_invites: HashMap::new(),
            dialer: Dialer::default(),
            control_queue: 0,
            metrics: None,
            clients: Limiter::new(config.client_rate, config.client_rate * CLIENT_BURST_SECS),
            gossip: Limiter::new(GOSSIP_RATE, GOSSIP_RATE * GOSSIP_BURST_SECS),
            sync_requests: Limiter::new(config.sync_rate, config.sync_rate * SYNC_BURST_SECS),
            sync_bytes: Limiter::new(SYNC_BYTES_PER_SEC, SYNC_BYTES_BURST),
            sync_new_docs: Limiter::new(SYNC_NEW_DOCS_PER_SEC, SYNC_NEW_DOCS_BURST),
            member_events: Limiter::new(
                config.member_events_per_minute / 60.0,
                config.member_events_per_minute,
            ),
            member_docs: Limiter::new(
                config.member_docs_per_minute / 60.0,
                config.member_docs_per_minute,
            ),
            connect: config.connect,
            data_dir: config.data_dir.clone(),
            checkin_grace_ms: config.checkin_grace.as_millis().min(i64::MAX as u128) as i64,
            bootstrap: config.bootstrap.clone(),
            internal_tx,
            receipts_due: BTreeSet::new(),
            bridges: bridges::Bridges::new(config.bridges.clone(), config.notify.clone(), outbox),
            relay_server: config.relay_server,
            behind_relay: !config.relay_via.is_empty(),
            lan_peers: HashMap::new(),
            connections: HashMap::new(),
            listeners: Vec::new(),
            replies: Vec::new(),
            actions: Vec::new(),
            shutdown: false,
            ops: ops::Ops::new(config),
        };
        // Receipts missed by a crash between storing an alert and signing for it.
        core.receipts_due = core
            .engine
            .docs()
            .map(|d| d.id().clone())
            .filter(|d| d.collection() == protocol::ids::Collection::Alerts)
            .collect();
        // And notifications that a crash left unplanned.
        core.bridges.due = core.receipts_due.clone();
        let learnt: Vec<Multiaddr> = core
            .engine
            .store()
            .bootstrap()
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        core.bootstrap.extend(learnt);
        core.refresh_gate();
        let relay_listeners = config
            .relay_via
            .iter()
            .map(|r| {
                (
                    r.clone().with(libp2p::multiaddr::Protocol::P2pCircuit),
                    None,
                )
            })
            .collect();
        let mut node = Self {
            swarm,
            core,
            internal_rx,
            relay_listeners,
        };
        node.apply_actions();
        Ok(node)
    }

    /// Serves metrics from now on.
    pub(crate) fn set_metrics(
        &mut self,
        tx: tokio::sync::watch::Sender<String>,
        addr: std::net::SocketAddr,
    ) {
        self.core.metrics = Some((tx, addr));
        self.core.render_metrics();
    }

    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        self.keep_relay_listeners();
        self.core.dial_missing();
        self.apply_actions();
        let mut watch = tokio::time::interval(WATCH_INTERVAL);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tick = tokio::time::interval(ANTI_ENTROPY_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut receipts = tokio::time::interval(RECEIPT_INTERVAL);
        receipts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.core.shutdown {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.core.handle_command(cmd),
                    None => break,
                },
                Some(done) = self.internal_rx.recv() => self.core.on_internal(done),
                // Timed duties before swarm events: see the module doc.
                _ = watch.tick() => {
                    self.core.control_queue = commands.len();
                    self.core.on_watch();
                    self.core.escalate();
                    self.core.close_answered_invites();
                    self.keep_relay_listeners();
                }
                _ = receipts.tick() => {
                    self.core.write_receipts();
                    self.core.plan_notifications();
                    self.core.run_outbox();
                }
                _ = tick.tick() => self.core.on_tick(),
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
            }
            self.apply_actions();
            self.handle_ready(&mut commands);
            self.finish_turn().await;
        }
        // One full save per document, so that the next start loads one chunk each.
        if let Err(e) = self.core.engine.compact_all() {
            warn!(error = %format!("{e:#}"), "cannot compact the documents at shutdown");
        }
        // Nothing is pending after a finished turn; this covers writes made outside one.
        self.finish_turn().await;
        info!("stopped");
    }

    /// Handles what is ready right now, without waiting: operator commands, results of
    /// spawned work and swarm events, up to [`TURN_MAX_EVENTS`] and [`TURN_MAX_TIME`]. Their
    /// changes share the turn's flush. Polling the swarm here also sends the sync messages
    /// the turn queued, before the flush.
    fn handle_ready(&mut self, commands: &mut mpsc::Receiver<Command>) {
        let started = Instant::now();
        for _ in 0..TURN_MAX_EVENTS {
            if self.core.shutdown || started.elapsed() >= TURN_MAX_TIME {
                return;
            }
            if let Ok(cmd) = commands.try_recv() {
                self.core.handle_command(cmd);
            } else if let Ok(done) = self.internal_rx.try_recv() {
                self.core.on_internal(done);
            } else if let Some(event) = self.swarm.select_next_some().now_or_never() {
                self.on_swarm_event(event);
            } else {
                return;
            }
            self.apply_actions();
        }
    }

    /// Ends a turn: flushes the store (if the turn wrote anything), then sends the answers
    /// held back. This is the one place answers to clients and operators leave the node, so
    /// none of them can overtake the flush of the writes it reports. If the flush fails,
    /// every held answer becomes an error: nothing may claim to be stored. The loop waits for
    /// the flush, but the thread does not: connections go on sending what the turn queued.
    async fn finish_turn(&mut self) {
        let committed = self.core.commit_staged();
        self.apply_actions();
        let flushed = match committed {
            Ok(()) => self.core.engine.flush_async().await,
            Err(e) => Err(e),
        };
        if let Err(e) = &flushed {
            error!(error = %format!("{e:#}"), "cannot flush the store");
        }
        let mut replies = std::mem::take(&mut self.core.replies);
        for reply in replies.drain(..) {
            match reply {
                Reply::Client {
                    peer,
                    channel,
                    response,
                } => {
                    let response = match *response {
                        response @ ClientResponseV0::Error { .. } => response,
                        response if flushed.is_ok() => response,
                        _ => ClientResponseV0::Error {
                            kind: ErrorKind::Internal,
                            message: "store failure: the node cannot write to disk".into(),
                        },
                    };
                    if self
                        .swarm
                        .behaviour_mut()
                        .client
                        .send_response(channel, ClientResponse::V0(response))
                        .is_err()
                    {
                        debug!(%peer, "client went away before the response");
                    }
                }
                Reply::Operator { reply, response } => {
                    let response = match (response, &flushed) {
                        (response @ Response::Error { .. }, _) | (response, Ok(())) => response,
                        (_, Err(e)) => Response::Error {
                            message: format!("store failure: {e:#}"),
                        },
                    };
                    let _ = reply.send(response);
                }
            }
        }
        // Keep the allocation for the next turn.
        self.core.replies = replies;
    }

    /// Carries out what the handlers asked of the swarm, in order.
    fn apply_actions(&mut self) {
        for action in std::mem::take(&mut self.core.actions) {
            let behaviour = self.swarm.behaviour_mut();
            match action {
                Action::Sync { peer, request } => {
                    behaviour
                        .nodes
                        .sync
                        .send_request(&peer, SyncRequest::V0(request));
                }
                Action::SyncResponse { channel, response } => {
                    let _ = behaviour
                        .nodes
                        .sync
                        .send_response(channel, SyncResponse::V0(response));
                }
                Action::Publish(data) => {
                    if let Err(e) = behaviour
                        .nodes
                        .gossip
                        .publish(crate::gossip::alerts_topic(), data)
                    {
                        // No peer subscribed yet, or a duplicate: sync carries it anyway.
                        debug!(error = %e, "alert not gossiped");
                    }
                }
                Action::GossipVerdict {
                    id,
                    source,
                    acceptance,
                } => {
                    behaviour
                        .nodes
                        .gossip
                        .report_message_validation_result(&id, &source, acceptance);
                }
                Action::Dial(opts) => {
                    if let Err(e) = self.swarm.dial(opts) {
                        if !matches!(e, DialError::DialPeerConditionFalse(_)) {
                            debug!(error = %e, "dial failed");
                        }
                    }
                }
                Action::Disconnect(peer) => {
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
                Action::Allow(peer) => {
                    behaviour.gate.allow_peer(peer);
                }
                Action::Disallow(peer) => {
                    behaviour.gate.disallow_peer(peer);
                }
                Action::ServeNodes(nodes) => behaviour.nodes.set_nodes(nodes),
                Action::ExternalAddress(addr) => self.swarm.add_external_address(addr),
            }
        }
    }

    /// Listens through every configured relay that has no listener: the relay keeps a
    /// reservation for this node, and the circuit address is announced with the others.
    fn keep_relay_listeners(&mut self) {
        for (circuit, listener) in &mut self.relay_listeners {
            if listener.is_none() {
                match self.swarm.listen_on(circuit.clone()) {
                    Ok(id) => *listener = Some(id),
                    Err(e) => {
                        warn!(relay = %circuit, error = %e, "cannot listen through the relay")
                    }
                }
            }
        }
    }

    /// Mirrors what the handlers need to know of the swarm, then hands the event to them.
    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        if let SwarmEvent::ListenerClosed {
            listener_id,
            reason,
            ..
        } = &event
        {
            for (circuit, listener) in &mut self.relay_listeners {
                if *listener == Some(*listener_id) {
                    info!(relay = %circuit, ?reason, "relay listener closed; retrying");
                    *listener = None;
                }
            }
        }
        if matches!(
            event,
            SwarmEvent::NewListenAddr { .. }
                | SwarmEvent::ExpiredListenAddr { .. }
                | SwarmEvent::ListenerClosed { .. }
        ) {
            self.core.listeners = self.swarm.listeners().cloned().collect();
        }
        self.core.on_swarm_event(event);
    }
}

/// The alerts among events (what the gossip fast path carries).
fn alert_events(events: &[SignedEvent]) -> Vec<SignedEvent> {
    events
        .iter()
        .filter(|e| matches!(e.event().body, Body::Alert(_)))
        .cloned()
        .collect()
}

/// The ids of the alerts among `events`.
fn alert_ids(events: &[SignedEvent]) -> impl Iterator<Item = protocol::ids::RecordId> + '_ {
    events.iter().filter_map(|e| e.event().body.created_alert())
}

impl Core {
    /// Holds an answer to an operator until the end of the turn.
    fn reply_operator(&mut self, reply: oneshot::Sender<Response>, response: Response) {
        self.replies.push(Reply::Operator { reply, response });
    }

    fn node_key_sign(&self, msg: &[u8]) -> Vec<u8> {
        self.node_key.sign(msg).to_vec()
    }

    /// Signs an event of this node's own, as the node or as its operator's admin key.
    fn sign_own(
        &mut self,
        signer: Signer,
        doc: DocId,
        body: Body,
    ) -> Result<SignedEvent, OwnError> {
        let key = match signer {
            Signer::Node => &self.node_key,
            Signer::Admin => self.admin_key.as_ref().ok_or_else(|| {
                OwnError::Sign(
                    "this node does not hold its organisation's admin key: sign with `tejido \
                     --data-dir DIR --admin-key FILE ...`, or put admin.key back in the data \
                     directory and restart"
                        .into(),
                )
            })?,
        };
        let at = Timestamp::now().max(self.last_signed.get().plus_ms(1));
        self.last_signed.set(at);
        let seq = self
            .engine
            .next_seq(&key.public())
            .map_err(|e| OwnError::Sign(format!("{e:#}")))?;
        let event = Event {
            author: key.public(),
            at,
            seq,
            doc,
            body,
        };
        SignedEvent::sign(event, key).map_err(|e| OwnError::Sign(e.to_string()))
    }

    /// Stores events with every check a client's events get, then tells connected nodes.
    /// Returns the documents that changed.
    fn store_own(&mut self, events: Vec<SignedEvent>) -> Result<Vec<DocId>, OwnError> {
        let alerts = alert_events(&events);
        let (_, changed) = self.engine.submit(None, events, Timestamp::now())?;
        for doc in &changed {
            self.on_local_change(doc, None);
        }
        self.publish_alerts(alerts);
        Ok(changed)
    }

    /// Signs and stores one event of this node's own.
    fn sign_and_store(
        &mut self,
        signer: Signer,
        doc: DocId,
        body: Body,
    ) -> Result<Vec<DocId>, OwnError> {
        let event = self.sign_own(signer, doc, body)?;
        self.store_own(vec![event])
    }
}
