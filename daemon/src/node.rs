//! The node: one task owns the libp2p swarm and the engine, and serves operator commands,
//! client requests and sync between nodes from one `select!` loop.
//!
//! Sync between two nodes, per document: on connect each side sends a `Summary` of its
//! documents and heads; for every document whose heads differ, the node with the smaller peer
//! id drives an automerge sync exchange (request: our message; response: theirs) until
//! neither side has anything to say. A local change, or a change learnt from one peer, starts
//! an exchange with every other connected node, which is what carries changes over several
//! hops. A `Summary` every [`ANTI_ENTROPY_INTERVAL`] repairs anything missed.
//!
//! Turns and flushes: each turn of the loop handles one event from the `select!`, then
//! whatever else is ready at once (up to [`TURN_MAX_EVENTS`] and [`TURN_MAX_TIME`]), then
//! flushes the store once for every change the turn made, and only then sends the answers to
//! clients and operators it held back ([`Node::finish_turn`]). So `Stored` always follows the
//! flush that covers it, while many writes share one flush. Sync messages to peers, and the
//! changes relayed to them, go out before the flush: a peer verifies everything itself, a copy
//! on a peer is nobody's acknowledgement, and a change this node loses in a crash comes back
//! from the peers that have it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use libp2p::request_response::{self, Message, ResponseChannel};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm};
use protocol::control::{self, Request, Response};
use protocol::doc::SyncError;
use protocol::event::{Body, Event, SignedEvent};
use protocol::ids::{DocId, PublicKey, SecretKey, Timestamp};
use protocol::wire::{
    ClientRequest, ClientRequestV0, ClientResponse, ClientResponseV0, DocSummary, ErrorKind,
    InviteCode, InviteKind, NodeContact, Profile, SyncRequest, SyncRequestV0, SyncResponse,
    SyncResponseV0,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::config::{Config, Connect};
use crate::engine::{Engine, SubmitError};
use crate::net::{self, Behaviour, BehaviourEvent};
use crate::store::InviteRecord;

/// How often a node re-sends its summary to every connected node and re-dials missing ones.
const ANTI_ENTROPY_INTERVAL: Duration = Duration::from_secs(15);
/// A client peer's burst, in seconds of its rate (`--client-rate`, 20 requests per second by
/// default: far above what a person at a command line does, far below what exhausts a small
/// node).
const CLIENT_BURST_SECS: f64 = 3.0;
/// Refused requests after which a flooding peer is disconnected.
const CLIENT_REFUSALS_BEFORE_DISCONNECT: u32 = 50;

/// How often a node looks for overdue check-ins.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);
/// How often a node signs delivery receipts for alerts it received since the last time.
const RECEIPT_INTERVAL: Duration = Duration::from_secs(1);
/// Operator commands waiting for the node loop.
pub(crate) const CONTROL_CHANNEL_CAP: usize = 64;
/// Longest back-off between dials of an unreachable node.
const MAX_DIAL_BACKOFF: Duration = Duration::from_secs(300);
/// Events a turn of the loop handles, after the first, before it flushes and answers.
const TURN_MAX_EVENTS: usize = 64;
/// How long a turn keeps taking events that are ready before it flushes and answers: bounds
/// what a held-back answer waits for besides its flush.
const TURN_MAX_TIME: Duration = Duration::from_millis(5);

/// An operator command and where to send its answer.
pub(crate) struct Command {
    pub(crate) request: Request,
    pub(crate) reply: oneshot::Sender<Response>,
}

/// The sync state with `peer` for `doc`, created on first use.
/// The alerts among events (what the gossip fast path carries).
fn alert_events(events: &[SignedEvent]) -> Vec<SignedEvent> {
    events
        .iter()
        .filter(|e| matches!(e.event().body, Body::Alert(_)))
        .cloned()
        .collect()
}

fn peer_doc<'a>(
    peers: &'a mut HashMap<PeerId, HashMap<DocId, PeerDoc>>,
    peer: PeerId,
    doc: &DocId,
) -> &'a mut PeerDoc {
    peers
        .entry(peer)
        .or_default()
        .entry(doc.clone())
        .or_default()
}

/// Sync with one peer for one document.
#[derive(Default)]
struct PeerDoc {
    state: automerge::sync::State,
    /// A request of ours is waiting for its response.
    in_flight: bool,
    /// Something changed while a request was in flight: go again when it completes.
    dirty: bool,
    /// Changes this node found missing since its last accepted message from the peer.
    need: Vec<automerge::ChangeHash>,
    /// The next message starts the exchange over, asking for `need`.
    restart: bool,
    /// Messages refused in a row for missing dependencies.
    missing_refusals: u32,
}

impl PeerDoc {
    /// The next message to the peer, if there is anything to say.
    fn next_message(&mut self, engine: &mut Engine, doc: &DocId) -> Option<Vec<u8>> {
        let restart = std::mem::take(&mut self.restart);
        engine.generate_sync(doc, &mut self.state, restart.then_some(&self.need[..]))
    }
}

/// The ids of the alerts among `events`.
fn alert_ids(events: &[SignedEvent]) -> impl Iterator<Item = protocol::ids::RecordId> + '_ {
    events.iter().filter_map(|e| match &e.event().body {
        Body::Alert(a) => Some(a.id),
        _ => None,
    })
}

/// Why a peer's sync message was not applied.
enum Refusal {
    /// Changes were missing: the exchange starts over asking for them.
    Restart,
    /// Refused; the reason goes back to the peer.
    Refused(String),
}

/// Messages refused in a row for missing dependencies before the exchange waits for the next
/// summary instead of restarting at once: an honest peer sends what was asked for within a few
/// rounds (chains of bloom filter false positives are short).
const MAX_MISSING_REFUSALS: u32 = 8;
/// The most change hashes a node asks a peer for when restarting an exchange.
const MAX_NEED: usize = 4096;

/// A token bucket per client peer.
struct Bucket {
    tokens: f64,
    last: Instant,
    refused: u32,
}

struct Dial {
    next: Instant,
    backoff: Duration,
    /// The addresses last tried: new ones (the node moved, or is now behind a relay) are
    /// tried at once.
    addrs: Vec<Multiaddr>,
}

/// An answer to a client or an operator, held until the end of the turn's flush.
enum Reply {
    Client {
        peer: PeerId,
        channel: ResponseChannel<ClientResponse>,
        response: ClientResponseV0,
    },
    Operator {
        reply: oneshot::Sender<Response>,
        response: Response,
    },
}

pub(crate) struct Node {
    swarm: Swarm<Behaviour>,
    engine: Engine,
    me: PublicKey,
    admin_key: SecretKey,
    node_key: SecretKey,
    org: String,
    peers: HashMap<PeerId, HashMap<DocId, PeerDoc>>,
    /// Peer ids currently on the gate's allow list.
    allowed: HashSet<PeerId>,
    /// Redeemed invite identities, allowed until the newcomer closes the connection (closing
    /// it from here could cut the response off). The invite itself is already gone, so they
    /// can do nothing more.
    close_after_response: HashSet<PeerId>,
    dials: HashMap<PeerId, Dial>,
    /// Operator commands waiting, as of the last watch tick (for the metrics).
    control_queue: usize,
    /// Each node peer's heads per document, from its last summary (for the lag metric).
    peer_heads: HashMap<PeerId, HashMap<DocId, Vec<[u8; 32]>>>,
    /// Where the metrics text goes, and the address it is served on.
    metrics: Option<(tokio::sync::watch::Sender<String>, std::net::SocketAddr)>,
    /// Rate limits of client peers (bounded by the connection limits).
    buckets: HashMap<PeerId, Bucket>,
    /// Client requests per second per peer.
    client_rate: f64,
    /// Which nodes to dial by ourselves.
    connect: Connect,
    /// The data directory (for wipe).
    data_dir: std::path::PathBuf,
    /// Grace period before a missed check-in raises an alert, in ms.
    checkin_grace_ms: i64,
    /// Peers from config.toml and from joining, dialled whatever `connect` says.
    bootstrap: Vec<Multiaddr>,
    /// When each node peer last exchanged a sync message with us.
    last_sync: HashMap<PeerId, Timestamp>,
    /// Results of work done outside the loop (joining a network).
    internal_tx: mpsc::Sender<Internal>,
    internal_rx: Option<mpsc::Receiver<Internal>>,
    /// Alert documents that changed since receipts were last signed.
    receipts_due: std::collections::BTreeSet<DocId>,
    /// Whether this node relays for others (its listen addresses are then its external ones).
    relay_server: bool,
    /// Relays to be reachable through, and the listener on each (none while it is down: the
    /// relay may not admit this node yet, or be unreachable).
    relay_listeners: Vec<(Multiaddr, Option<libp2p::core::transport::ListenerId>)>,
    /// Peers mDNS found on the local network, and where (only trusted nodes are dialled).
    lan_peers: HashMap<PeerId, Vec<Multiaddr>>,
    /// Open connections per peer and their remote addresses (for `peers`).
    connections: HashMap<PeerId, HashMap<libp2p::swarm::ConnectionId, Multiaddr>>,
    /// Answers held until the store is flushed at the end of this turn.
    replies: Vec<Reply>,
    shutdown: bool,
}

/// Which of a node's keys signs one of its own events.
#[derive(Clone, Copy)]
enum Signer {
    /// The node key: missed check-ins and their resolution.
    Node,
    /// The operator's admin key: roster changes.
    Admin,
}

/// Results that tasks spawned by the loop send back to it.
enum Internal {
    /// A join attempt finished: the network's roster, or why not.
    Joined {
        result: Result<Vec<u8>, String>,
        inviter: Vec<Multiaddr>,
        reply: oneshot::Sender<Response>,
    },
}

impl Node {
    pub(crate) fn new(config: &Config, engine: Engine) -> anyhow::Result<Self> {
        let options = net::Options {
            relay_server: config.relay_server,
            mdns: config.mdns,
        };
        let mut swarm = net::build_node_swarm(&config.node_key, options, net::IDLE_TIMEOUT)?;
        swarm
            .behaviour_mut()
            .gossip
            .subscribe(&crate::gossip::alerts_topic())
            .map_err(|e| anyhow::anyhow!("subscribing to alerts: {e}"))?;
        for addr in &config.listen {
            swarm
                .listen_on(addr.clone())
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        }

        let (internal_tx, internal_rx) = mpsc::channel(CONTROL_CHANNEL_CAP);
        let mut node = Self {
            swarm,
            engine,
            me: config.node_key.public(),
            admin_key: config.admin_key.clone(),
            node_key: config.node_key.clone(),
            org: config.org.clone(),
            peers: HashMap::new(),
            allowed: HashSet::new(),
            close_after_response: HashSet::new(),
            dials: HashMap::new(),
            buckets: HashMap::new(),
            peer_heads: HashMap::new(),
            control_queue: 0,
            metrics: None,
            client_rate: config.client_rate,
            connect: config.connect,
            data_dir: config.data_dir.clone(),
            checkin_grace_ms: config.checkin_grace.as_millis().min(i64::MAX as u128) as i64,
            bootstrap: config.bootstrap.clone(),
            last_sync: HashMap::new(),
            internal_tx,
            internal_rx: Some(internal_rx),
            receipts_due: std::collections::BTreeSet::new(),
            relay_server: config.relay_server,
            connections: HashMap::new(),
            lan_peers: HashMap::new(),
            relay_listeners: config
                .relay_via
                .iter()
                .map(|r| {
                    (
                        r.clone().with(libp2p::multiaddr::Protocol::P2pCircuit),
                        None,
                    )
                })
                .collect(),
            replies: Vec::new(),
            shutdown: false,
        };
        // Receipts missed by a crash between storing an alert and signing for it.
        node.receipts_due = node
            .engine
            .docs()
            .map(|d| d.id().clone())
            .filter(|d| d.collection() == protocol::ids::Collection::Alerts)
            .collect();
        let learnt: Vec<Multiaddr> = node
            .engine
            .store()
            .bootstrap()
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        node.bootstrap.extend(learnt);
        node.refresh_gate();
        Ok(node)
    }

    pub(crate) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let Some(mut internal) = self.internal_rx.take() else {
            return;
        };
        self.keep_relay_listeners();
        self.dial_missing();
        let mut watch = tokio::time::interval(WATCH_INTERVAL);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tick = tokio::time::interval(ANTI_ENTROPY_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut receipts = tokio::time::interval(RECEIPT_INTERVAL);
        receipts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.shutdown {
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.handle_command(cmd),
                    None => break,
                },
                Some(done) = internal.recv() => self.on_internal(done),
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = tick.tick() => self.on_tick(),
                _ = receipts.tick() => self.write_receipts(),
                _ = watch.tick() => {
                    self.control_queue = commands.len();
                    self.on_watch();
                }
            }
            self.handle_ready(&mut commands, &mut internal);
            self.finish_turn().await;
        }
        // Nothing is pending after a finished turn; this covers writes made outside one.
        self.finish_turn().await;
        info!("stopped");
    }

    /// Handles what is ready right now, without waiting: operator commands, results of
    /// spawned work and swarm events, up to [`TURN_MAX_EVENTS`] and [`TURN_MAX_TIME`]. Their
    /// changes share the turn's flush. Polling the swarm here also sends the sync messages
    /// the turn queued, before the flush.
    fn handle_ready(
        &mut self,
        commands: &mut mpsc::Receiver<Command>,
        internal: &mut mpsc::Receiver<Internal>,
    ) {
        let started = Instant::now();
        for _ in 0..TURN_MAX_EVENTS {
            if self.shutdown || started.elapsed() >= TURN_MAX_TIME {
                return;
            }
            if let Ok(cmd) = commands.try_recv() {
                self.handle_command(cmd);
            } else if let Ok(done) = internal.try_recv() {
                self.on_internal(done);
            } else if let Some(event) = self.swarm.select_next_some().now_or_never() {
                self.on_swarm_event(event);
            } else {
                return;
            }
        }
    }

    /// Ends a turn: flushes the store (if the turn wrote anything), then sends the answers
    /// held back. This is the one place answers to clients and operators leave the node, so
    /// none of them can overtake the flush of the writes it reports. If the flush fails,
    /// every held answer becomes an error: nothing may claim to be stored. The loop waits for
    /// the flush, but the thread does not: connections go on sending what the turn queued.
    async fn finish_turn(&mut self) {
        let flushed = self.engine.flush_async().await;
        if let Err(e) = &flushed {
            error!(error = %format!("{e:#}"), "cannot flush the store");
        }
        let mut replies = std::mem::take(&mut self.replies);
        for reply in replies.drain(..) {
            match reply {
                Reply::Client {
                    peer,
                    channel,
                    response,
                } => {
                    let response = match response {
                        ClientResponseV0::Error { .. } => response,
                        _ if flushed.is_ok() => response,
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
        self.replies = replies;
    }

    /// Holds an answer to an operator until the end of the turn.
    fn reply_operator(&mut self, reply: oneshot::Sender<Response>, response: Response) {
        self.replies.push(Reply::Operator { reply, response });
    }

    fn node_peers(&self) -> Vec<PeerId> {
        let roster = self.engine.roster();
        self.swarm
            .connected_peers()
            .filter(|p| {
                net::key_of(p)
                    .is_some_and(|k| roster.nodes.contains_key(&k) && roster.is_active(&k))
            })
            .copied()
            .collect()
    }

    fn is_node_peer(&self, peer: &PeerId) -> bool {
        let roster = self.engine.roster();
        net::key_of(peer)
            .is_some_and(|k| k != self.me && roster.nodes.contains_key(&k) && roster.is_active(&k))
    }

    /// Brings the gate's allow list in line with the roster and pending invites, closing the
    /// connections of anyone no longer allowed.
    fn refresh_gate(&mut self) {
        let now = Timestamp::now();
        let roster = self.engine.roster();
        let mut wanted: HashSet<PeerId> = roster
            .members
            .keys()
            .chain(roster.nodes.keys())
            .filter(|k| roster.is_active(k) && **k != self.me)
            .filter_map(net::peer_id_of)
            .collect();
        if let Ok(invites) = self.engine.store().invites() {
            wanted.extend(
                invites
                    .iter()
                    .filter(|(_, i)| i.expires > now)
                    .filter_map(|(k, _)| net::peer_id_of(k)),
            );
        }
        // A redeemed invite's identity stays allowed until its response has been sent.
        wanted.extend(self.close_after_response.iter().copied());
        for peer in self
            .allowed
            .difference(&wanted)
            .copied()
            .collect::<Vec<_>>()
        {
            self.swarm.behaviour_mut().gate.disallow_peer(peer);
            self.peers.remove(&peer);
        }
        for peer in wanted.difference(&self.allowed) {
            self.swarm.behaviour_mut().gate.allow_peer(*peer);
        }
        self.allowed = wanted;
    }

    fn on_tick(&mut self) {
        self.engine.prune_hints(Timestamp::now());
        match self.engine.apply_retention(Timestamp::now()) {
            Ok(dropped) if !dropped.is_empty() => {
                info!(
                    documents = dropped.len(),
                    "dropped documents past retention"
                );
            }
            Ok(_) => {}
            Err(e) => warn!(error = %format!("{e:#}"), "retention failed"),
        }
        let connected: HashSet<PeerId> = self.swarm.connected_peers().copied().collect();
        self.close_after_response.retain(|p| connected.contains(p));
        self.refresh_gate();
        let summary = self.engine.summary();
        for peer in self.node_peers() {
            self.send_sync(
                peer,
                SyncRequestV0::Summary {
                    docs: summary.clone(),
                },
            );
        }
        self.announce_addrs();
        self.dial_missing();
    }

    /// The dead man's switch: raises a missed check-in alert for every member whose next
    /// check-in is overdue by more than the grace period, and resolves such alerts once the
    /// member checks in again. Any node may do this; the alert's id derives from (member, due
    /// time), so nodes raising it concurrently create one alert.
    /// Serves metrics from now on.
    pub(crate) fn set_metrics(
        &mut self,
        tx: tokio::sync::watch::Sender<String>,
        addr: std::net::SocketAddr,
    ) {
        self.metrics = Some((tx, addr));
        self.render_metrics();
    }

    /// Renders the Prometheus text for the metrics task.
    fn render_metrics(&self) {
        let Some((tx, _)) = &self.metrics else { return };
        use crate::metrics::metric;
        let stats = self.engine.stats;
        let mut out = String::new();
        let one = |v: usize| vec![(String::new(), v as u64)];
        metric(
            &mut out,
            "tejido_peers_connected",
            "gauge",
            "Trusted nodes connected now.",
            &one(self.node_peers().len()),
        );
        metric(
            &mut out,
            "tejido_documents",
            "gauge",
            "Documents held.",
            &one(self.engine.docs().count()),
        );
        let mut by_collection: std::collections::BTreeMap<&str, u64> = Default::default();
        for doc in self.engine.docs() {
            let name = doc.id().as_str().split('/').next().unwrap_or("other");
            *by_collection.entry(name).or_default() += doc.len() as u64;
        }
        let samples: Vec<(String, u64)> = by_collection
            .into_iter()
            .map(|(c, n)| (format!("{{collection=\"{c}\"}}"), n))
            .collect();
        metric(
            &mut out,
            "tejido_events",
            "gauge",
            "Signed events held, by collection.",
            &samples,
        );
        metric(
            &mut out,
            "tejido_changes_applied_total",
            "counter",
            "Submits and sync messages that added events.",
            &[(String::new(), stats.applied_changes)],
        );
        metric(
            &mut out,
            "tejido_gossip_messages_total",
            "counter",
            "Gossiped alerts validated, by verdict (rejected ones are never forwarded).",
            &[
                ("{verdict=\"accepted\"}".to_string(), stats.gossip_accepted),
                ("{verdict=\"rejected\"}".to_string(), stats.gossip_rejected),
            ],
        );
        metric(
            &mut out,
            "tejido_changes_rejected_total",
            "counter",
            "Events or sync messages refused as invalid.",
            &[(String::new(), stats.rejected_changes)],
        );
        metric(
            &mut out,
            "tejido_connections_refused_total",
            "counter",
            "Connections closed because the peer is not in the roster.",
            &[(String::new(), stats.refused_connections)],
        );
        metric(
            &mut out,
            "tejido_requests_throttled_total",
            "counter",
            "Client requests refused by the rate limit.",
            &[(String::new(), stats.throttled_requests)],
        );
        let in_flight = self
            .peers
            .values()
            .flat_map(|docs| docs.values())
            .filter(|d| d.in_flight)
            .count();
        metric(
            &mut out,
            "tejido_sync_requests_in_flight",
            "gauge",
            "Sync exchanges waiting for a peer's answer.",
            &one(in_flight),
        );
        metric(
            &mut out,
            "tejido_control_queue_depth",
            "gauge",
            "Operator commands waiting for the node loop.",
            &one(self.control_queue),
        );
        metric(
            &mut out,
            "tejido_store_bytes",
            "gauge",
            "Size of the store on disk.",
            &[(String::new(), self.engine.store_bytes())],
        );
        let connected = self.node_peers();
        let lag: Vec<(String, u64)> = self
            .engine
            .summary()
            .into_iter()
            .map(|d| {
                let mut mine = d.heads.clone();
                mine.sort();
                let behind = connected
                    .iter()
                    .filter(|p| self.peer_heads.get(p).and_then(|h| h.get(&d.doc)) != Some(&mine))
                    .count();
                (format!("{{doc=\"{}\"}}", d.doc), behind as u64)
            })
            .collect();
        metric(
            &mut out,
            "tejido_sync_lag_peers",
            "gauge",
            "Connected nodes whose last summary of the document differs from ours.",
            &lag,
        );
        let _ = tx.send(out);
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

    fn on_watch(&mut self) {
        self.render_metrics();
        self.keep_relay_listeners();
        let now = Timestamp::now();
        let latest = self.engine.latest_checkins();
        let mut events = Vec::new();
        for (member, (_, next_due)) in &latest {
            let Some(due) = next_due else { continue };
            if due.plus_ms(self.checkin_grace_ms) > now {
                continue;
            }
            let id = protocol::event::AlertBody::missed_checkin_id(member, *due);
            if self.engine.has_alert(id) {
                continue;
            }
            let roster = self.engine.roster();
            let Some(m) = roster.members.get(member) else {
                continue;
            };
            if m.revoked_at.is_some() {
                continue;
            }
            let region = m.region.clone().unwrap_or_else(|| m.org.clone());
            let body = Body::Alert(protocol::event::AlertBody {
                id,
                kind: protocol::event::AlertKind::MissedCheckin,
                severity: protocol::event::Severity::Severe,
                urgency: protocol::event::Urgency::Immediate,
                certainty: protocol::event::Certainty::Possible,
                region: region.clone(),
                org: m.org.clone(),
                text: format!("{} missed the check-in due at {}", m.name, due.rfc3339()),
                expires_at: None,
                subject: Some(*member),
                due: Some(*due),
            });
            events.push((DocId::alerts(&region, now), body));
        }
        for alert in self.engine.alerts(None, true) {
            if alert.kind != protocol::event::AlertKind::MissedCheckin {
                continue;
            }
            let (Some(subject), Some(due)) = (&alert.subject, &alert.due) else {
                continue;
            };
            let Ok(subject) = subject.parse::<PublicKey>() else {
                continue;
            };
            let Some((last, _)) = latest.get(&subject) else {
                continue;
            };
            let Some(due) = Timestamp::parse_rfc3339(due) else {
                continue;
            };
            if *last <= due {
                continue;
            }
            let (Ok(doc), Ok(id)) = (alert.doc.parse::<DocId>(), alert.id.parse()) else {
                continue;
            };
            let note = format!("checked in again at {}", last.rfc3339());
            events.push((doc, Body::Resolve { alert: id, note }));
        }
        for (doc, body) in events {
            let stored = self
                .sign_own(Signer::Node, doc, body)
                .and_then(|e| self.store_own(vec![e]));
            match stored {
                Ok(_) => info!("missed check-in alert raised or resolved"),
                Err(e) => warn!(error = %e, "cannot raise or resolve a missed check-in"),
            }
        }
    }

    /// Signs delivery receipts for the alerts this node holds and has not signed for yet: one
    /// `Held` event per document and turn (naming up to `MAX_HELD` alerts), so that a burst of
    /// alerts costs a few receipts, not one each. A receipt is only written for what is in the
    /// store, so it never claims more than is true.
    fn write_receipts(&mut self) {
        if self.receipts_due.is_empty() || !self.engine.roster().is_active(&self.me) {
            return;
        }
        let now = Timestamp::now();
        for doc in std::mem::take(&mut self.receipts_due) {
            let Some(receipts) = DocId::receipts_for(&doc) else {
                continue;
            };
            if self.engine.is_expired(&doc, now) {
                continue;
            }
            let missing = self.engine.unreceipted_alerts(&doc, &self.me);
            for chunk in missing.chunks(protocol::event::MAX_HELD) {
                let body = Body::Held {
                    alerts: chunk.to_vec(),
                };
                let stored = self
                    .sign_own(Signer::Node, receipts.clone(), body)
                    .and_then(|e| self.store_own(vec![e]));
                if let Err(e) = stored {
                    warn!(%doc, error = %e, "cannot sign a delivery receipt");
                }
            }
        }
    }

    /// Keeps this node's addresses in the roster current, so other nodes (and members) can
    /// reach it after it moved.
    fn announce_addrs(&mut self) {
        let mut addrs = self.announced_addrs();
        addrs.sort();
        if addrs.is_empty() {
            return;
        }
        let roster = self.engine.roster();
        let current = roster.nodes.get(&self.me).map(|n| {
            let mut a = n.addrs.clone();
            a.sort();
            a
        });
        let is_admin = roster
            .members
            .get(&self.admin_key.public())
            .is_some_and(|m| m.role == protocol::event::Role::Admin && m.org == self.org);
        if current.as_ref() == Some(&addrs) || !is_admin {
            return;
        }
        let body = Body::AddNode {
            org: self.org.clone(),
            node: self.me,
            addrs,
        };
        let stored = self
            .sign_own(Signer::Admin, DocId::roster(), body)
            .and_then(|e| self.store_own(vec![e]));
        if let Err(e) = stored {
            warn!(error = %e, "cannot announce this node's addresses");
        }
    }

    /// Dials trusted nodes that are not connected, with exponential back-off and jitter.
    fn dial_missing(&mut self) {
        let now = Instant::now();
        let roster = self.engine.roster();
        let mut targets: std::collections::BTreeMap<PeerId, Vec<Multiaddr>> = roster
            .nodes
            .iter()
            .filter(|_| self.connect == Connect::All)
            .filter(|(k, n)| **k != self.me && n.revoked_at.is_none() && !n.addrs.is_empty())
            .filter_map(|(k, n)| {
                Some((
                    net::peer_id_of(k)?,
                    n.addrs.iter().filter_map(|a| a.parse().ok()).collect(),
                ))
            })
            .collect();
        // Trusted nodes found on the local network, whatever `connect` says.
        for (peer, addrs) in &self.lan_peers {
            if net::key_of(peer)
                .is_some_and(|k| roster.nodes.contains_key(&k) && roster.is_active(&k))
            {
                let known = targets.entry(*peer).or_default();
                for addr in addrs {
                    if !known.contains(addr) {
                        known.push(addr.clone());
                    }
                }
            }
        }
        for addr in &self.bootstrap {
            let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
                continue;
            };
            if net::key_of(&peer).is_some_and(|k| roster.is_active(&k)) {
                let addrs = targets.entry(peer).or_default();
                if !addrs.contains(addr) {
                    addrs.push(addr.clone());
                }
            }
        }
        for (peer, addrs) in targets {
            if self.swarm.is_connected(&peer) {
                self.dials.remove(&peer);
                continue;
            }
            let dial = self.dials.entry(peer).or_insert(Dial {
                next: now,
                backoff: Duration::from_secs(1),
                addrs: Vec::new(),
            });
            if dial.addrs != addrs {
                dial.next = now;
                dial.backoff = Duration::from_secs(1);
                dial.addrs = addrs.clone();
            }
            if dial.next > now {
                continue;
            }
            let jitter =
                Duration::from_millis(u64::from(protocol::ids::random_bytes::<2>()[0]) * 4);
            dial.next = now + dial.backoff + jitter;
            dial.backoff = (dial.backoff * 2).min(MAX_DIAL_BACKOFF);
            let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                .addresses(addrs)
                .build();
            if self.lan_peers.contains_key(&peer) {
                info!(%peer, "dialling a trusted node found on the local network");
            }
            if let Err(e) = self.swarm.dial(opts) {
                if !matches!(e, DialError::DialPeerConditionFalse(_)) {
                    debug!(%peer, error = %e, "dial failed");
                }
            }
        }
    }

    fn node_key_sign(&self, msg: &[u8]) -> Vec<u8> {
        self.node_key.sign(msg).to_vec()
    }

    fn listen_addrs(&self) -> Vec<String> {
        self.swarm
            .listeners()
            .filter(|a| {
                !a.iter().any(
                    |p| matches!(p, libp2p::multiaddr::Protocol::Ip4(ip) if ip.is_unspecified()),
                )
            })
            .map(|a| a.to_string())
            .collect()
    }

    /// Dials trusted nodes that mDNS found on the local network; anyone else is ignored (the
    /// gate would refuse them anyway).
    /// Peers found are kept (a node found before it joined the network is dialled once it
    /// has).
    fn on_mdns(&mut self, found: Vec<(PeerId, Multiaddr)>) {
        for (peer, addr) in found {
            let addrs = self.lan_peers.entry(peer).or_default();
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        self.dial_missing();
    }

    /// The addresses other nodes should dial: the listen addresses, except for a node that
    /// listens through relays (`relay_via`): it is behind NAT, its own addresses are private,
    /// so only its relayed addresses are announced, and hole punching finds a direct path.
    fn announced_addrs(&self) -> Vec<String> {
        let all = self.listen_addrs();
        if self.relay_listeners.is_empty() {
            return all;
        }
        all.into_iter()
            .filter(|a| a.contains("/p2p-circuit"))
            .collect()
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                for (circuit, listener) in &mut self.relay_listeners {
                    if *listener == Some(listener_id) {
                        info!(relay = %circuit, ?reason, "relay listener closed; retrying");
                        *listener = None;
                    }
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(%address, "listening");
                // A relay tells the nodes it serves where to be reached: its own addresses.
                let relayed = address
                    .iter()
                    .any(|p| matches!(p, libp2p::multiaddr::Protocol::P2pCircuit));
                if self.relay_server && !relayed {
                    self.swarm.add_external_address(address);
                }
                self.announce_addrs();
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                debug!(peer = %peer_id, "connected");
                self.connections
                    .entry(peer_id)
                    .or_default()
                    .insert(connection_id, endpoint.get_remote_address().clone());
                if num_established.get() == 1 && self.is_node_peer(&peer_id) {
                    self.dials.remove(&peer_id);
                    self.peers.remove(&peer_id);
                    let docs = self.engine.summary();
                    self.send_sync(peer_id, SyncRequestV0::Summary { docs });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } if num_established > 0 => {
                if let Some(c) = self.connections.get_mut(&peer_id) {
                    c.remove(&connection_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.connections.remove(&peer_id);
                self.buckets.remove(&peer_id);
                debug!(peer = %peer_id, "disconnected");
                self.peers.remove(&peer_id);
                if self.close_after_response.remove(&peer_id) {
                    self.refresh_gate();
                }
            }
            SwarmEvent::IncomingConnectionError {
                error,
                send_back_addr,
                ..
            } => {
                if matches!(error, libp2p::swarm::ListenError::Denied { .. }) {
                    self.engine.stats.refused_connections += 1;
                }
                debug!(addr = %send_back_addr, error = %error, "incoming connection refused or failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Client(event)) => self.on_client_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(libp2p::gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_gossip(propagation_source, message_id, &message.data),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Discovered(found))) => {
                self.on_mdns(found)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Expired(gone))) => {
                for (peer, addr) in gone {
                    if let Some(addrs) = self.lan_peers.get_mut(&peer) {
                        addrs.retain(|a| *a != addr);
                        if addrs.is_empty() {
                            self.lan_peers.remove(&peer);
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(
                libp2p::relay::client::Event::ReservationReqAccepted { relay_peer_id, .. },
            )) => info!(relay = %relay_peer_id, "reachable through the relay"),
            SwarmEvent::Behaviour(BehaviourEvent::Relay(
                libp2p::relay::Event::ReservationReqAccepted { src_peer_id, .. },
            )) => info!(peer = %src_peer_id, "relaying for a trusted node"),
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(libp2p::dcutr::Event {
                remote_peer_id,
                result,
            })) => match result {
                Ok(_) => info!(peer = %remote_peer_id, "direct connection through hole punching"),
                Err(e) => debug!(peer = %remote_peer_id, error = %e, "hole punching failed"),
            },
            _ => {}
        }
    }

    // ---- operator commands --------------------------------------------------------------

    fn handle_command(&mut self, cmd: Command) {
        let response = match cmd.request {
            Request::Status => Response::Status(Box::new(self.status())),
            Request::InviteMember {
                name,
                role,
                region,
                ttl_secs,
            } => {
                let invite = InviteRecord {
                    kind: InviteKind::Member,
                    name,
                    role,
                    region,
                    expires: Timestamp::now().plus_ms(ttl_secs.saturating_mul(1000) as i64),
                };
                self.create_invite(invite)
            }
            Request::Alerts { region, open_only } => Response::Alerts {
                alerts: self.engine.alerts(region.as_deref(), open_only),
            },
            Request::Checkins { overdue_only } => Response::Checkins {
                checkins: self.engine.checkins(overdue_only),
            },
            Request::Shelters {
                region,
                available_only,
            } => Response::Shelters {
                shelters: self.engine.shelters(region.as_deref(), available_only),
            },
            Request::Members => {
                let roster = self.engine.roster();
                let members = roster
                    .members
                    .iter()
                    .map(|(k, m)| control::MemberInfo {
                        key: k.to_string(),
                        name: m.name.clone(),
                        org: m.org.clone(),
                        role: m.role,
                        region: m.region.clone(),
                        revoked: m.revoked_at.is_some(),
                    })
                    .collect();
                Response::Members { members }
            }
            Request::InviteNode { ttl_secs } => {
                let invite = InviteRecord {
                    kind: InviteKind::Node,
                    name: String::new(),
                    role: protocol::event::Role::Admin,
                    region: None,
                    expires: Timestamp::now().plus_ms(ttl_secs.saturating_mul(1000) as i64),
                };
                self.create_invite(invite)
            }
            Request::JoinNetwork { code } => {
                // Answered later, by `on_internal`.
                self.join_network(&code, cmd.reply);
                return;
            }
            Request::Peers => Response::Peers {
                peers: self.peers_info(),
            },
            Request::Docs => Response::Docs {
                docs: self.engine.docs_info(),
            },
            Request::Revoke { key, reason } => self.revoke(&key, reason),
            Request::Export { for_nodes, since } => self.export(&for_nodes, since.as_deref()),
            Request::Import { bundle } => self.import(&bundle),
            Request::ExportDoc { doc } => match doc
                .parse::<DocId>()
                .ok()
                .and_then(|d| self.engine.export_doc(&d))
            {
                Some(bytes) => Response::File {
                    summary: format!("{doc}: {} bytes in automerge's format", bytes.len()),
                    data: data_encoding::BASE64.encode(&bytes),
                },
                None => Response::Error {
                    message: format!("no document {doc}"),
                },
            },
            Request::Wipe => {
                self.shutdown = true;
                // Nothing may be left to write into the files being destroyed: flush first
                // (the turn ends right after this command, with nothing more to flush).
                if let Err(e) = self.engine.flush() {
                    warn!(error = %format!("{e:#}"), "flush before wiping failed");
                }
                match crate::wipe::wipe_dir(&self.data_dir) {
                    Ok(removed) => {
                        warn!(files = removed.len(), "wiped this node's keys and data");
                        Response::Done {
                            message: format!(
                                "wiped {} file(s) (keys, configuration, store); the node stops",
                                removed.len()
                            ),
                        }
                    }
                    Err(e) => Response::Error {
                        message: format!("wipe failed part way: {e:#}"),
                    },
                }
            }
            Request::Shutdown => {
                self.shutdown = true;
                Response::Done {
                    message: "stopping".into(),
                }
            }
        };
        // Sent after the turn's flush, like every answer (`finish_turn`).
        self.reply_operator(cmd.reply, response);
    }

    fn status(&self) -> control::Status {
        let alerts = self.engine.alerts(None, false);
        let roster = self.engine.roster();
        control::Status {
            node_id: self.me.to_string(),
            peer_id: self.swarm.local_peer_id().to_string(),
            org: self.org.clone(),
            network: roster.network.clone(),
            listen_addrs: self.listen_addrs(),
            announced_addrs: roster
                .nodes
                .get(&self.me)
                .map(|n| n.addrs.clone())
                .unwrap_or_default(),
            connected_peers: self
                .node_peers()
                .iter()
                .filter_map(net::key_of)
                .map(|k| k.to_string())
                .collect(),
            documents: self.engine.docs().count(),
            open_alerts: alerts
                .iter()
                .filter(|a| !matches!(a.status.as_str(), "resolved" | "expired"))
                .count(),
            alerts: alerts.len(),
            shelters: self.engine.shelters(None, false).len(),
            checkins: self.engine.checkin_count(),
            members: roster.members.len(),
            nodes: roster.nodes.len(),
            refused_connections: self.engine.stats.refused_connections,
            rejected_changes: self.engine.stats.rejected_changes,
            gossip_accepted: self.engine.stats.gossip_accepted,
            gossip_rejected: self.engine.stats.gossip_rejected,
            throttled_requests: self.engine.stats.throttled_requests,
            store_bytes: self.engine.store_bytes(),
            metrics_addr: self.metrics.as_ref().map(|(_, addr)| addr.to_string()),
        }
    }

    fn create_invite(&mut self, invite: InviteRecord) -> Response {
        if let Some(region) = &invite.region {
            if protocol::ids::check_slug("region", region).is_err() {
                return Response::Error {
                    message: format!(
                        "region must be 1-32 characters of a-z, 0-9 and -, got {region:?}"
                    ),
                };
            }
        }
        let addrs = self.listen_addrs();
        if addrs.is_empty() {
            return Response::Error {
                message: "the node is not listening on any address yet".into(),
            };
        }
        let code = InviteCode::V0 {
            kind: invite.kind,
            node: self.me,
            addrs,
            secret: protocol::ids::random_bytes(),
            expires: invite.expires,
        };
        let identity = code.identity().public();
        if let Err(e) = self.engine.store().put_invite(&identity, &invite) {
            return Response::Error {
                message: format!("{e:#}"),
            };
        }
        self.refresh_gate();
        info!(name = %invite.name, role = invite.role.as_str(), "invite created");
        Response::Invite {
            code: code.encode(),
            expires_at: invite.expires.rfc3339(),
        }
    }

    // ---- member clients -----------------------------------------------------------------

    fn on_client_event(&mut self, event: request_response::Event<ClientRequest, ClientResponse>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let ClientRequest::V0(request) = request;
                let response = if self.allow_client_request(peer) {
                    self.handle_client(peer, request)
                } else {
                    ClientResponseV0::Error {
                        kind: ErrorKind::BadRequest,
                        message: "too many requests: slow down".into(),
                    }
                };
                // Sent after the turn's flush (`finish_turn`): `Stored` must not overtake it.
                self.replies.push(Reply::Client {
                    peer,
                    channel,
                    response,
                });
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "client request failed");
            }
            _ => {}
        }
    }

    /// Takes a token from the peer's bucket; a peer that keeps flooding is disconnected.
    fn allow_client_request(&mut self, peer: PeerId) -> bool {
        let now = Instant::now();
        let burst = self.client_rate * CLIENT_BURST_SECS;
        let bucket = self.buckets.entry(peer).or_insert(Bucket {
            tokens: burst,
            last: now,
            refused: 0,
        });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.client_rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return true;
        }
        bucket.refused += 1;
        self.engine.stats.throttled_requests += 1;
        if bucket.refused >= CLIENT_REFUSALS_BEFORE_DISCONNECT {
            warn!(%peer, "disconnecting a peer that keeps flooding");
            bucket.refused = 0;
            let _ = self.swarm.disconnect_peer_id(peer);
        } else if bucket.refused == 1 {
            warn!(%peer, "throttling a peer");
        }
        false
    }

    fn handle_client(&mut self, peer: PeerId, request: ClientRequestV0) -> ClientResponseV0 {
        let error = |kind, message: String| ClientResponseV0::Error { kind, message };
        let Some(key) = net::key_of(&peer) else {
            return error(ErrorKind::Forbidden, "unknown peer".into());
        };
        if let ClientRequestV0::Redeem { member, proof } = request {
            return self.redeem(peer, key, member, &proof);
        }
        if let ClientRequestV0::RedeemNode {
            node,
            org,
            admin,
            proof,
            add_node,
        } = request
        {
            return self.redeem_node(peer, key, node, org, admin, &proof, *add_node);
        }
        if !self.engine.roster().is_active(&key) {
            self.engine.stats.rejected_changes += 1;
            return error(
                ErrorKind::Forbidden,
                "this key is not a member of the network".into(),
            );
        }
        match request {
            ClientRequestV0::Redeem { .. } | ClientRequestV0::RedeemNode { .. } => {
                error(ErrorKind::BadRequest, "already a member".into())
            }
            ClientRequestV0::Submit { events } => {
                let under_duress: Vec<Timestamp> = events
                    .iter()
                    .filter(|e| self.is_duress_checkin(e))
                    .map(|e| e.event().at)
                    .collect();
                let alerts = alert_events(&events);
                match self.engine.submit(Some(key), events) {
                    Ok((ids, changed)) => {
                        for doc in changed {
                            self.on_local_change(&doc, None);
                        }
                        self.publish_alerts(alerts);
                        for at in under_duress {
                            self.raise_duress(key, at);
                        }
                        // The answer is the same as for any check-in: nothing on the member's
                        // device may show that the duress code was used. It leaves after the
                        // turn's flush; the change itself may already be on its way to peers.
                        ClientResponseV0::Stored { node: self.me, ids }
                    }
                    Err(e) => {
                        self.engine.stats.rejected_changes += 1;
                        warn!(%peer, error = %e, "refused client events");
                        let kind = match e {
                            SubmitError::BadRequest(_) => ErrorKind::BadRequest,
                            SubmitError::Forbidden(_) => ErrorKind::Forbidden,
                            SubmitError::NotFound(_) => ErrorKind::NotFound,
                            SubmitError::Internal(_) => ErrorKind::Internal,
                        };
                        error(kind, e.to_string())
                    }
                }
            }
            ClientRequestV0::Whoami => match self.profile(&key) {
                Some(profile) => ClientResponseV0::Profile {
                    profile,
                    nodes: self.node_contacts(),
                },
                None => error(ErrorKind::NotFound, "not a member".into()),
            },
            ClientRequestV0::Alerts { region, open_only } => {
                // A duress alert is never shown to the member it is about: whoever holds their
                // device must not learn that the alarm went off.
                let me = key.to_string();
                let alerts = self
                    .engine
                    .alerts(region.as_deref(), open_only)
                    .into_iter()
                    .filter(|a| {
                        !(a.kind == protocol::event::AlertKind::Duress
                            && a.subject.as_deref() == Some(me.as_str()))
                    })
                    .collect();
                ClientResponseV0::Alerts(alerts)
            }
            ClientRequestV0::Checkins { overdue_only } => {
                ClientResponseV0::Checkins(self.engine.checkins(overdue_only))
            }
            ClientRequestV0::Shelters {
                region,
                available_only,
            } => {
                ClientResponseV0::Shelters(self.engine.shelters(region.as_deref(), available_only))
            }
            ClientRequestV0::Directory { region } => ClientResponseV0::Directory(
                protocol::view::directory(self.engine.roster(), region.as_deref()),
            ),
            ClientRequestV0::RequestShelter { request } => self.request_shelter(request),
            ClientRequestV0::ShelterRequests => {
                ClientResponseV0::ShelterRequests(self.engine.shelter_requests())
            }
        }
    }

    /// Writes a member's sealed shelter request under this node's key. The node cannot read
    /// it either (unless its admin is a recipient); it only vouches that a member of the
    /// network sent it.
    fn request_shelter(
        &mut self,
        request: protocol::event::ShelterRequestBody,
    ) -> ClientResponseV0 {
        let error = |kind, message: String| ClientResponseV0::Error { kind, message };
        if !self.engine.has_shelter(request.shelter, &request.org) {
            return error(
                ErrorKind::NotFound,
                format!("no shelter {} of {}", request.shelter, request.org),
            );
        }
        if let Err(e) = protocol::sealed::recipients(&request.sealed) {
            return error(ErrorKind::BadRequest, e.to_string());
        }
        let doc = DocId::shelters(&request.region);
        let event = match self.sign_own(Signer::Node, doc, Body::ShelterRequest(request)) {
            Ok(e) => e,
            Err(e) => return error(ErrorKind::BadRequest, e),
        };
        let id = event.id();
        match self.store_own(vec![event]) {
            Ok(_) => ClientResponseV0::Stored {
                node: self.me,
                ids: vec![id],
            },
            Err(e) => error(ErrorKind::Internal, e),
        }
    }

    /// Whether an event is a check-in given with its author's duress code.
    fn is_duress_checkin(&self, event: &SignedEvent) -> bool {
        let Body::Checkin(checkin) = &event.event().body else {
            return false;
        };
        let registered = self.engine.roster().duress.get(&event.event().author);
        checkin.code_tag.is_some() && checkin.code_tag.as_ref() == registered
    }

    /// Raises the silent alert for a check-in given under duress: to the member's region and
    /// organisation, where their security contacts see it. Its id derives from the member and
    /// the check-in's time, so every node that received the check-in raises the same alert.
    fn raise_duress(&mut self, member: PublicKey, at: Timestamp) {
        let Some(m) = self.engine.roster().members.get(&member).cloned() else {
            return;
        };
        let region = m.region.clone().unwrap_or_else(|| m.org.clone());
        let id = protocol::event::AlertBody::duress_id(&member, at);
        if self.engine.has_alert(id) {
            return;
        }
        let body = Body::Alert(protocol::event::AlertBody {
            id,
            kind: protocol::event::AlertKind::Duress,
            severity: protocol::event::Severity::Extreme,
            urgency: protocol::event::Urgency::Immediate,
            certainty: protocol::event::Certainty::Likely,
            region: region.clone(),
            org: m.org.clone(),
            text: format!("{} checked in with the duress code", m.name),
            expires_at: None,
            subject: Some(member),
            due: Some(at),
        });
        let stored = self
            .sign_own(Signer::Node, DocId::alerts(&region, Timestamp::now()), body)
            .and_then(|e| self.store_own(vec![e]));
        if let Err(e) = stored {
            warn!(error = %e, "cannot raise a duress alert");
        }
    }

    fn profile(&self, key: &PublicKey) -> Option<Profile> {
        let m = self.engine.roster().members.get(key)?;
        Some(Profile {
            key: *key,
            name: m.name.clone(),
            org: m.org.clone(),
            role: m.role,
            region: m.region.clone(),
        })
    }

    fn node_contacts(&self) -> Vec<NodeContact> {
        let mut out = vec![NodeContact {
            key: self.me,
            addrs: self.listen_addrs(),
        }];
        for (key, node) in &self.engine.roster().nodes {
            if *key != self.me && node.revoked_at.is_none() && !node.addrs.is_empty() {
                out.push(NodeContact {
                    key: *key,
                    addrs: node.addrs.clone(),
                });
            }
        }
        out
    }

    /// Checks that `peer` (an invite identity) holds a live invite of `kind`, and that the
    /// newcomer proved their key. The invite is not used up here.
    fn check_invite(
        &mut self,
        peer: PeerId,
        identity: PublicKey,
        kind: InviteKind,
        newcomer: &PublicKey,
        proof: &[u8],
    ) -> Result<InviteRecord, (ErrorKind, &'static str)> {
        let invites = self.engine.store().invites().unwrap_or_default();
        let Some((_, invite)) = invites.into_iter().find(|(k, _)| *k == identity) else {
            return Err((
                ErrorKind::Forbidden,
                "this invite was already used or does not exist",
            ));
        };
        if invite.expires <= Timestamp::now() {
            let _ = self.engine.store().remove_invite(&identity);
            self.close_after_response.insert(peer);
            return Err((ErrorKind::Forbidden, "this invite has expired"));
        }
        if invite.kind != kind {
            return Err((
                ErrorKind::Forbidden,
                "this invite is for another kind of newcomer",
            ));
        }
        let Ok(proof): Result<[u8; 64], _> = proof.try_into() else {
            return Err((ErrorKind::BadRequest, "malformed proof"));
        };
        let msg = protocol::wire::redeem_proof_message(&identity, newcomer);
        if !newcomer.verify(&msg, &proof) {
            return Err((
                ErrorKind::Forbidden,
                "the proof does not match the newcomer's key",
            ));
        }
        Ok(invite)
    }

    /// Uses up an invite after its newcomer was admitted.
    fn use_invite(&mut self, peer: PeerId, identity: &PublicKey) {
        if let Err(e) = self.engine.store().remove_invite(identity) {
            warn!(error = %format!("{e:#}"), "cannot remove used invite");
        }
        self.close_after_response.insert(peer);
        self.refresh_gate();
    }

    fn redeem(
        &mut self,
        peer: PeerId,
        identity: PublicKey,
        member: PublicKey,
        proof: &[u8],
    ) -> ClientResponseV0 {
        let error = |kind, message: &str| ClientResponseV0::Error {
            kind,
            message: message.to_string(),
        };
        let invite = match self.check_invite(peer, identity, InviteKind::Member, &member, proof) {
            Ok(invite) => invite,
            Err((kind, message)) => return error(kind, message),
        };
        let body = Body::AddMember {
            org: self.org.clone(),
            member,
            name: invite.name.clone(),
            role: invite.role,
            region: invite.region.clone(),
        };
        let result = self
            .sign_own(Signer::Admin, DocId::roster(), body)
            .and_then(|e| self.store_own(vec![e]));
        match result {
            Ok(_) => {
                self.use_invite(peer, &identity);
                info!(member = %member.fmt_short(), name = %invite.name, "member joined");
                match self.profile(&member) {
                    Some(profile) => ClientResponseV0::Profile {
                        profile,
                        nodes: self.node_contacts(),
                    },
                    None => error(ErrorKind::Internal, "member was not added"),
                }
            }
            Err(e) => ClientResponseV0::Error {
                kind: ErrorKind::Forbidden,
                message: e,
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn redeem_node(
        &mut self,
        peer: PeerId,
        identity: PublicKey,
        node: PublicKey,
        org: String,
        admin: PublicKey,
        proof: &[u8],
        add_node: SignedEvent,
    ) -> ClientResponseV0 {
        let error = |kind, message: String| ClientResponseV0::Error { kind, message };
        if let Err((kind, message)) =
            self.check_invite(peer, identity, InviteKind::Node, &node, proof)
        {
            return error(kind, message.to_string());
        }
        let ok_add_node = matches!(
            &add_node.event().body,
            Body::AddNode { org: o, node: n, .. } if *o == org && *n == node
        ) && add_node.event().author == admin;
        if !ok_add_node {
            return error(
                ErrorKind::BadRequest,
                "add_node must add this node to the new organisation, signed by its admin".into(),
            );
        }
        let body = Body::AddOrg {
            org: org.clone(),
            admin,
            admin_name: format!("{org} admin"),
        };
        let result = self
            .sign_own(Signer::Admin, DocId::roster(), body)
            .and_then(|e| self.store_own(vec![e, add_node]));
        match result {
            Ok(_) => {
                self.use_invite(peer, &identity);
                info!(node = %node.fmt_short(), %org, "organisation joined");
                match self.engine.roster_bytes() {
                    Some(roster) => ClientResponseV0::Network { roster },
                    None => error(ErrorKind::Internal, "no roster".into()),
                }
            }
            Err(e) => error(ErrorKind::Forbidden, e),
        }
    }

    /// Joins the network of a node invite: redeems it from the invite's one-time identity in
    /// a task, then adopts the roster in `on_internal`.
    fn join_network(&mut self, code: &str, reply: oneshot::Sender<Response>) {
        let fail = |message: String| Response::Error { message };
        let invite = match InviteCode::decode(code) {
            Ok(invite) => invite,
            Err(e) => return self.reply_operator(reply, fail(e)),
        };
        let InviteCode::V0 {
            kind, node, addrs, ..
        } = invite.clone();
        if kind != InviteKind::Node {
            return self.reply_operator(
                reply,
                fail(
                    "this is a member invite: members run tejido join CODE without --data-dir"
                        .into(),
                ),
            );
        }
        if !self.engine.is_pristine() {
            return self.reply_operator(reply, fail(
                "this node already has members or records of its own; only a new node can join a network".into(),
            ));
        }
        let mut my_addrs = self.announced_addrs();
        my_addrs.sort();
        let body = Body::AddNode {
            org: self.org.clone(),
            node: self.me,
            addrs: my_addrs,
        };
        let add_node = match self.sign_own(Signer::Admin, DocId::roster(), body) {
            Ok(e) => e,
            Err(e) => return self.reply_operator(reply, fail(e)),
        };
        let Some(inviter_peer) = net::peer_id_of(&node) else {
            return self.reply_operator(reply, fail("the invite names an invalid node key".into()));
        };
        let inviter: Vec<Multiaddr> = addrs
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .map(|a| a.with(libp2p::multiaddr::Protocol::P2p(inviter_peer)))
            .collect();
        let request = ClientRequestV0::RedeemNode {
            node: self.me,
            org: self.org.clone(),
            admin: self.admin_key.public(),
            proof: self.node_key_sign(&invite.proof_message(&self.me)),
            add_node: Box::new(add_node),
        };
        let contact = NodeContact { key: node, addrs };
        let identity = invite.identity();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = match net::request_all(&identity, &[contact], request).await {
                Ok(mut answers) => match answers.pop() {
                    Some((_, Ok(ClientResponseV0::Network { roster }))) => Ok(roster),
                    Some((_, Ok(ClientResponseV0::Error { message, .. }))) => {
                        Err(format!("the inviting node refused: {message}"))
                    }
                    Some((_, Err(e))) => Err(format!("cannot reach the inviting node: {e}")),
                    _ => Err("cannot reach the inviting node".into()),
                },
                Err(e) => Err(format!("{e:#}")),
            };
            let _ = tx
                .send(Internal::Joined {
                    result,
                    inviter,
                    reply,
                })
                .await;
        });
    }

    fn on_internal(&mut self, done: Internal) {
        match done {
            Internal::Joined {
                result,
                inviter,
                reply,
            } => {
                let response = match result.and_then(|roster| {
                    self.engine
                        .adopt_roster(&roster, &self.me)
                        .map_err(|e| format!("{e:#}"))
                }) {
                    Ok(()) => {
                        for addr in &inviter {
                            if let Err(e) = self.engine.store().add_bootstrap(&addr.to_string()) {
                                warn!(error = %format!("{e:#}"), "cannot remember the inviting node");
                            }
                        }
                        self.bootstrap.extend(inviter);
                        self.refresh_gate();
                        self.dial_missing();
                        let network = self.engine.roster().network.clone().unwrap_or_default();
                        info!(%network, "joined the network");
                        Response::Done {
                            message: format!(
                                "joined the network {network:?}: {} organisation(s), {} node(s)",
                                self.engine.roster().orgs.len(),
                                self.engine.roster().nodes.len()
                            ),
                        }
                    }
                    Err(message) => Response::Error { message },
                };
                // After the turn's flush: the adopted roster is on disk when the operator
                // hears the node joined.
                self.reply_operator(reply, response);
            }
        }
    }

    fn revoke(&mut self, key: &str, reason: String) -> Response {
        let key: PublicKey = match key.parse() {
            Ok(k) => k,
            Err(e) => {
                return Response::Error {
                    message: e.to_string(),
                }
            }
        };
        if key == self.me {
            return Response::Error {
                message:
                    "a node does not revoke itself; revoke it from another node of its organisation"
                        .into(),
            };
        }
        let stored = self
            .sign_own(Signer::Admin, DocId::roster(), Body::Revoke { key, reason })
            .and_then(|e| self.store_own(vec![e]));
        match stored {
            Ok(_) => {
                info!(key = %key.fmt_short(), "revoked");
                Response::Done {
                    message: format!("revoked {key}: its new changes are refused on every node that learns of it"),
                }
            }
            Err(e) => Response::Error { message: e },
        }
    }

    /// The heads `--since` names: an earlier bundle of this node's (its id), or a node's last
    /// known heads (its key).
    fn since_heads(
        &mut self,
        since: &str,
    ) -> Result<std::collections::BTreeMap<DocId, Vec<automerge::ChangeHash>>, String> {
        let to_hashes =
            |heads: Vec<[u8; 32]>| heads.into_iter().map(automerge::ChangeHash).collect();
        if let Ok(id) = since.parse::<protocol::ids::RecordId>() {
            return match self.engine.store().exported(&id.0) {
                Ok(Some(docs)) => Ok(docs.into_iter().map(|(d, h)| (d, to_hashes(h))).collect()),
                Ok(None) => Err(format!("this node made no bundle {since}")),
                Err(e) => Err(format!("{e:#}")),
            };
        }
        let key: PublicKey = since
            .parse()
            .map_err(|_| format!("--since takes a bundle id or a node key, not {since:?}"))?;
        let peer = net::peer_id_of(&key).ok_or("not a node key")?;
        let heads = self.peer_heads.get(&peer).ok_or_else(|| {
            format!(
                "no heads known for node {} since this node started",
                key.fmt_short()
            )
        })?;
        Ok(heads
            .iter()
            .map(|(d, h)| (d.clone(), to_hashes(h.clone())))
            .collect())
    }

    fn export(&mut self, for_nodes: &[String], since: Option<&str>) -> Response {
        let roster = self.engine.roster();
        let recipients: Vec<PublicKey> = if for_nodes.is_empty() {
            roster
                .nodes
                .keys()
                .filter(|k| **k != self.me && roster.is_active(k))
                .copied()
                .collect()
        } else {
            let mut keys = Vec::new();
            for text in for_nodes {
                let Ok(key) = text.parse::<PublicKey>() else {
                    return Response::Error {
                        message: format!("not a node key: {text}"),
                    };
                };
                if !roster.nodes.contains_key(&key) || !roster.is_active(&key) {
                    return Response::Error {
                        message: format!("{text} is not a trusted node of this network"),
                    };
                }
                keys.push(key);
            }
            keys
        };
        if recipients.is_empty() {
            return Response::Error {
                message: "no other node to export to".into(),
            };
        }
        let since = match since.map(|s| self.since_heads(s)).transpose() {
            Ok(since) => since,
            Err(message) => return Response::Error { message },
        };
        let contents = self.engine.export_contents(since.as_ref());
        let events: usize = contents.docs.iter().map(|(_, e)| e.len()).sum();
        match protocol::bundle::seal_with_id(
            &contents,
            &self.node_key,
            &recipients,
            Timestamp::now(),
        ) {
            Ok((bytes, id)) => {
                let heads: Vec<(DocId, Vec<[u8; 32]>)> = self
                    .engine
                    .summary()
                    .into_iter()
                    .map(|d| (d.doc, d.heads))
                    .collect();
                if let Err(e) = self.engine.store().put_exported(&id, &heads) {
                    warn!(error = %format!("{e:#}"), "cannot record the export");
                }
                let id = protocol::ids::RecordId(id);
                Response::File {
                    summary: format!(
                        "bundle {id}: {events} events of {} documents, encrypted to {} node(s), signed by this node",
                        contents.docs.len(),
                        recipients.len()
                    ),
                    data: data_encoding::BASE64.encode(&bytes),
                }
            }
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        }
    }

    fn import(&mut self, bundle: &str) -> Response {
        let fail = |message: String| {
            warn!(error = %message, "refused bundle");
            Response::Error { message }
        };
        let Ok(bytes) = data_encoding::BASE64.decode(bundle.as_bytes()) else {
            return fail("the bundle is not valid base64".into());
        };
        let opened = match protocol::bundle::open(&bytes, &self.node_key) {
            Ok(opened) => opened,
            Err(e) => {
                self.engine.stats.rejected_changes += 1;
                return fail(e.to_string());
            }
        };
        let roster = self.engine.roster();
        if !roster.nodes.contains_key(&opened.exporter) || !roster.is_active(&opened.exporter) {
            self.engine.stats.rejected_changes += 1;
            return fail(format!(
                "the bundle comes from {}, which is not a trusted node of this network",
                opened.exporter.fmt_short()
            ));
        }
        if self.engine.store().was_imported(&opened.id) {
            return fail("this bundle was imported before".into());
        }
        match self.engine.import(opened.contents) {
            Ok((added, changed)) => {
                if let Err(e) = self.engine.store().mark_imported(&opened.id) {
                    warn!(error = %format!("{e:#}"), "cannot record the import");
                }
                for doc in &changed {
                    self.on_local_change(doc, None);
                }
                info!(added, exporter = %opened.exporter.fmt_short(), "bundle imported");
                Response::Done {
                    message: format!(
                        "imported {added} new event(s) in {} document(s) from node {}, exported {}",
                        changed.len(),
                        opened.exporter.fmt_short(),
                        opened.created.rfc3339()
                    ),
                }
            }
            Err(e) => {
                self.engine.stats.rejected_changes += 1;
                fail(format!("refused, nothing applied: {e}"))
            }
        }
    }

    fn peers_info(&self) -> Vec<control::PeerInfo> {
        self.engine
            .roster()
            .nodes
            .iter()
            .filter(|(k, _)| **k != self.me)
            .map(|(k, n)| {
                let peer = net::peer_id_of(k);
                control::PeerInfo {
                    key: k.to_string(),
                    org: n.org.clone(),
                    addrs: n.addrs.clone(),
                    connected: peer.is_some_and(|p| self.swarm.is_connected(&p)),
                    connections: peer
                        .and_then(|p| self.connections.get(&p))
                        .map(|c| c.values().map(|a| a.to_string()).collect())
                        .unwrap_or_default(),
                    last_sync: peer
                        .and_then(|p| self.last_sync.get(&p))
                        .map(|t| t.rfc3339()),
                    revoked: n.revoked_at.is_some(),
                }
            })
            .collect()
    }

    // ---- sync between nodes ----------------------------------------------------------------

    /// A document changed here (locally, or learnt from `from`): tell every other node.
    fn on_local_change(&mut self, doc: &DocId, from: Option<PeerId>) {
        if *doc == DocId::roster() {
            self.refresh_gate();
            // New nodes, or nodes that announced new addresses.
            self.dial_missing();
        }
        if doc.collection() == protocol::ids::Collection::Alerts {
            self.receipts_due.insert(doc.clone());
        }
        for peer in self.node_peers() {
            if Some(peer) != from {
                self.start_sync(peer, doc.clone());
            }
        }
    }

    /// Marks alerts this node now shows, as debug events of target `tejido::visible` (the
    /// benchmark's in-process mode times an alert's arrival at every node with them, without
    /// polling). An alert may be marked twice (gossip, then sync); the first counts.
    fn note_visible(&self, alerts: impl Iterator<Item = protocol::ids::RecordId>) {
        for alert in alerts {
            debug!(target: "tejido::visible", node = %self.me, %alert, "alert visible");
        }
    }

    /// Signs an event of this node's own, as the node or as its operator's admin key.
    fn sign_own(&self, signer: Signer, doc: DocId, body: Body) -> Result<SignedEvent, String> {
        let key = match signer {
            Signer::Node => &self.node_key,
            Signer::Admin => &self.admin_key,
        };
        let event = Event {
            author: key.public(),
            at: Timestamp::now(),
            doc,
            body,
        };
        SignedEvent::sign(event, key).map_err(|e| e.to_string())
    }

    /// Stores events with every check a client's events get, then tells connected nodes.
    /// Returns the documents that changed.
    fn store_own(&mut self, events: Vec<SignedEvent>) -> Result<Vec<DocId>, String> {
        let alerts = alert_events(&events);
        let (_, changed) = self
            .engine
            .submit(None, events)
            .map_err(|e| e.to_string())?;
        for doc in &changed {
            self.on_local_change(doc, None);
        }
        self.publish_alerts(alerts);
        Ok(changed)
    }

    // ---- the gossip fast path ----------------------------------------------------------

    /// Publishes newly stored alerts on the gossip topic (after the store has them).
    fn publish_alerts(&mut self, alerts: Vec<SignedEvent>) {
        for event in alerts {
            let topic = crate::gossip::alerts_topic();
            if let Err(e) = self
                .swarm
                .behaviour_mut()
                .gossip
                .publish(topic, event.as_bytes().to_vec())
            {
                // No peer subscribed yet, or a duplicate: sync carries it anyway.
                debug!(error = %e, "alert not gossiped");
            }
        }
    }

    /// Validates a gossiped message before gossipsub may forward it: the same checks as sync.
    fn on_gossip(&mut self, source: PeerId, id: libp2p::gossipsub::MessageId, data: &[u8]) {
        use crate::gossip::Verdict;
        let decoded = SignedEvent::decode(data);
        let verdict = match &decoded {
            Ok(event) => self.engine.check_hint(event),
            Err(e) => Verdict::Reject(e.to_string()),
        };
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(&id, &source, verdict.acceptance());
        match (verdict, decoded) {
            (Verdict::Accept, Ok(event)) => {
                self.engine.stats.gossip_accepted += 1;
                self.note_visible(alert_ids(std::slice::from_ref(&event)));
                self.engine.add_hint(event);
            }
            (Verdict::Reject(why), _) => {
                self.engine.stats.gossip_rejected += 1;
                warn!(peer = %source, error = %why, "refused gossiped alert");
            }
            _ => {}
        }
    }

    fn start_sync(&mut self, peer: PeerId, doc: DocId) {
        let entry = peer_doc(&mut self.peers, peer, &doc);
        if entry.in_flight {
            entry.dirty = true;
            return;
        }
        if let Some(msg) = entry.next_message(&mut self.engine, &doc) {
            entry.in_flight = true;
            self.send_sync(peer, SyncRequestV0::Sync { doc, msg });
        }
    }

    fn send_sync(&mut self, peer: PeerId, request: SyncRequestV0) {
        self.swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, SyncRequest::V0(request));
    }

    fn on_sync_event(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => {
                self.last_sync.insert(peer, Timestamp::now());
                match message {
                    Message::Request {
                        request: SyncRequest::V0(request),
                        channel,
                        ..
                    } => self.on_sync_request(peer, request, channel),
                    Message::Response {
                        response: SyncResponse::V0(response),
                        ..
                    } => self.on_sync_response(peer, response),
                }
            }
            request_response::Event::OutboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "sync request failed");
                self.peers.remove(&peer);
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "inbound sync failed");
            }
            _ => {}
        }
    }

    fn on_sync_request(
        &mut self,
        peer: PeerId,
        request: SyncRequestV0,
        channel: ResponseChannel<SyncResponse>,
    ) {
        let response = if !self.is_node_peer(&peer) {
            self.engine.stats.rejected_changes += 1;
            warn!(%peer, "sync request from a peer that is not a node of the network");
            SyncResponseV0::Refused {
                reason: "not a node of this network".into(),
            }
        } else {
            match request {
                SyncRequestV0::Summary { docs } => {
                    let ours = self.engine.summary();
                    self.compare_summaries(peer, &ours, &docs);
                    SyncResponseV0::Summary { docs: ours }
                }
                SyncRequestV0::Sync { doc, msg } => match self.apply_sync(peer, &doc, &msg) {
                    // Missing dependencies: the reply starts the exchange over, asking for them.
                    Ok(()) | Err(Refusal::Restart) => {
                        let entry = peer_doc(&mut self.peers, peer, &doc);
                        let reply = entry.next_message(&mut self.engine, &doc);
                        SyncResponseV0::Sync { doc, msg: reply }
                    }
                    Err(Refusal::Refused(reason)) => SyncResponseV0::Refused { reason },
                },
            }
        };
        // Not held for the flush: a peer's copy is not an acknowledgement (see the module doc).
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, SyncResponse::V0(response));
    }

    fn on_sync_response(&mut self, peer: PeerId, response: SyncResponseV0) {
        match response {
            SyncResponseV0::Summary { docs } => {
                let ours = self.engine.summary();
                self.compare_summaries(peer, &ours, &docs);
            }
            SyncResponseV0::Sync { doc, msg } => {
                if let Some(msg) = msg {
                    if let Err(refusal) = self.apply_sync(peer, &doc, &msg) {
                        if let Some(e) = self.peers.get_mut(&peer).and_then(|p| p.get_mut(&doc)) {
                            e.in_flight = false;
                        }
                        if matches!(refusal, Refusal::Restart) {
                            // Start over at once, asking for what was missing.
                            self.start_sync(peer, doc);
                        }
                        return;
                    }
                }
                let entry = peer_doc(&mut self.peers, peer, &doc);
                entry.in_flight = false;
                entry.dirty = false;
                self.start_sync(peer, doc);
            }
            SyncResponseV0::Refused { reason } => {
                info!(%peer, %reason, "peer refused our sync message");
                self.peers.remove(&peer);
            }
        }
    }

    /// Starts exchanges for documents whose heads differ. Only the node with the smaller peer
    /// id drives, so each pair runs one exchange per document.
    fn compare_summaries(&mut self, peer: PeerId, ours: &[DocSummary], theirs: &[DocSummary]) {
        let heads = theirs
            .iter()
            .map(|d| {
                let mut h = d.heads.clone();
                h.sort();
                (d.doc.clone(), h)
            })
            .collect();
        self.peer_heads.insert(peer, heads);
        if *self.swarm.local_peer_id() > peer {
            return;
        }
        let mine: HashMap<&DocId, &Vec<[u8; 32]>> =
            ours.iter().map(|d| (&d.doc, &d.heads)).collect();
        let mut wanted: Vec<DocId> = Vec::new();
        for d in theirs {
            let mut heads = d.heads.clone();
            heads.sort();
            let differs = mine.get(&d.doc).is_none_or(|h| {
                let mut h = (*h).clone();
                h.sort();
                h != heads
            });
            if differs
                && self.engine.roster().accepts_doc(&d.doc)
                && !self.engine.is_expired(&d.doc, Timestamp::now())
            {
                wanted.push(d.doc.clone());
            }
        }
        let known: HashSet<&DocId> = theirs.iter().map(|d| &d.doc).collect();
        wanted.extend(
            ours.iter()
                .filter(|d| !known.contains(&d.doc))
                .map(|d| d.doc.clone()),
        );
        // The roster first: other documents' authors are checked against it.
        wanted.sort_by_key(|d| *d != DocId::roster());
        for doc in wanted {
            self.start_sync(peer, doc);
        }
    }

    fn apply_sync(&mut self, peer: PeerId, doc: &DocId, msg: &[u8]) -> Result<(), Refusal> {
        if self.engine.is_expired(doc, Timestamp::now()) {
            return Err(Refusal::Refused(format!(
                "{doc} is older than this node keeps"
            )));
        }
        let entry = peer_doc(&mut self.peers, peer, doc);
        let result = self.engine.receive_sync(doc, &mut entry.state, msg);
        match result {
            Ok(fresh) => {
                entry.need.clear();
                entry.missing_refusals = 0;
                if let Some(fresh) = fresh {
                    self.note_visible(alert_ids(&fresh));
                    self.on_local_change(doc, Some(peer));
                }
                Ok(())
            }
            Err(SyncError::MissingDeps(missing))
                if entry.missing_refusals < MAX_MISSING_REFUSALS
                    && entry.need.len() + missing.len() <= MAX_NEED =>
            {
                // Changes left out by a bloom filter false positive: the next message starts
                // over asking for them (and for those still missing from earlier rounds, which
                // the same filter would leave out again).
                debug!(%peer, %doc, missing = missing.len(), "restarting sync for missing changes");
                entry.state = automerge::sync::State::new();
                entry.need.extend(missing);
                entry.restart = true;
                entry.missing_refusals += 1;
                Err(Refusal::Restart)
            }
            Err(e) => {
                // A fresh state makes the next exchange start over, e.g. once the roster has
                // caught up with an author this node did not know yet.
                *entry = PeerDoc::default();
                if e.is_peer_fault() || matches!(e, SyncError::MissingDeps(_)) {
                    self.engine.stats.rejected_changes += 1;
                    warn!(%peer, %doc, error = %e, "refused sync message");
                } else {
                    debug!(%peer, %doc, error = %e, "deferred sync message");
                }
                Err(Refusal::Refused(e.to_string()))
            }
        }
    }
}
