//! A deterministic simulator of a Tejido network: many nodes' real protocol code in virtual
//! time, for networks this machine cannot run as processes (`tejido-bench --only sim`).
//!
//! **Real code:** each node is the sync session of `crate::sync` ([`Sessions`]) over
//! `protocol` documents (`protocol::doc`: automerge sync messages, every event's signature,
//! placement and role checked against the folded roster), the node's reaction to a changed
//! document (an exchange with every other connected peer, as `node/peers.rs` does), its
//! anti-entropy summary every 15 s, its dial schedule (`crate::dialer`, the node's back-off),
//! and for gossip the node's check of a gossiped alert (`Engine::check_hint`) on the real
//! signed bytes. Message sizes are the real CBOR encoding of the sync protocol's requests and
//! responses (the codec libp2p's request-response uses).
//!
//! **Modelled:** the network (per link a latency, per node an access link of fixed bandwidth,
//! packet loss as transport retransmissions after a timeout, connections as links that are up
//! or down), libp2p's framing (a fixed overhead per request, response and gossip message),
//! gossipsub (a flood over each node's peers with duplicate suppression: every peer is in the
//! mesh, which holds while a node has at most 12 peers; no IHAVE/IWANT), the CPU a node spends
//! per message and per event (fixed costs, so that figures do not depend on this machine's
//! load), and the documents' storage (in memory, no sled). Delivery receipts are not written.
//!
//! Everything random comes from one seeded generator and events are ordered by (time,
//! sequence), so the same seed gives the same figures.

mod docs;
mod figures;
mod queue;
mod scenarios;
mod topology;
mod wire;
mod world;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use protocol::event::{Body, EventId, SignedEvent};
use protocol::ids::{DocId, RecordId, Timestamp};
use protocol::wire::{SyncRequestV0, SyncResponseV0, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

use crate::dialer::Dialer;
use crate::engine::Verdict;
use crate::sync::{Output, Sessions};
use docs::SimDocs;
pub use figures::*;
use queue::{Ev, Item, Kind, Msg};
pub use scenarios::{alerts, catch_up, partition};
use topology::{key, topology, Rng};
use wire::cbor_len;

type NodeId = u32;

/// The node's anti-entropy interval (`node/mod.rs`, `ANTI_ENTROPY_INTERVAL`).
const TICK_US: i64 = 15_000_000;
/// The node's longest wait between dials of a node (`node/mod.rs`, `MAX_DIAL_BACKOFF`).
const MAX_DIAL_BACKOFF: Duration = Duration::from_secs(300);
/// Modelled: yamux, multistream-select and Noise framing of one request or one response on
/// its own stream (TCP/IP headers not counted).
pub const STREAM_OVERHEAD: usize = 100;
/// Modelled: gossipsub's protobuf framing of one message (source peer id, sequence number,
/// topic, its 64-byte signature, length prefixes) plus yamux and Noise framing.
pub const GOSSIP_OVERHEAD: usize = 170;
/// Modelled: bytes per packet, for loss.
const PACKET_BYTES: usize = 1200;
/// Modelled: the shortest retransmission timeout (Linux TCP's minimum).
const MIN_RTO_US: i64 = 200_000;
/// Modelled: round trips of a connection's set-up (TCP or QUIC, Noise, multiplexer) before
/// its first request.
const HANDSHAKE_RTTS: i64 = 2;
/// Modelled CPU: a sync message's fixed cost, its cost per KiB, and per new event (ed25519
/// verify 34 us and automerge apply 22 us in FACTS.md, plus decoding).
const COST_MESSAGE_US: i64 = 150;
const COST_PER_KIB_US: i64 = 10;
const COST_EVENT_US: i64 = 60;
/// Modelled CPU: a summary, and a gossiped alert (decode and verify).
const COST_SUMMARY_US: i64 = 30;
const COST_GOSSIP_US: i64 = 60;

struct Link {
    latency_us: i64,
    /// The path between the two exists (no partition, both ends online).
    physical: bool,
    connected: bool,
    /// Counts connections; messages of an earlier one are dropped.
    epoch: u32,
    /// Last arrival each way (a connection delivers in order).
    last: [i64; 2],
}

struct Node {
    sessions: Sessions<NodeId>,
    docs: SimDocs,
    peers: Vec<NodeId>,
    connected: BTreeSet<NodeId>,
    online: bool,
    busy: i64,
    up_free: i64,
    down_free: i64,
    dialer: Dialer<NodeId, u8>,
    seen: HashSet<EventId>,
    sent: [u64; 3],
    received: [u64; 3],
    requests: u64,
}

struct Sim {
    now: i64,
    t0: i64,
    nodes: Vec<Node>,
    links: BTreeMap<(NodeId, NodeId), Link>,
    queue: BinaryHeap<Item>,
    seq: u64,
    rng: Rng,
    params: Params,
    base: Instant,
    tracked: HashMap<RecordId, usize>,
    visible: Vec<Vec<i64>>,
    visible_count: Vec<usize>,
    stored: Vec<Vec<i64>>,
    stored_count: Vec<usize>,
    /// Gossip and sync messages on the way (not summaries).
    pending_data: usize,
    messages: u64,
    oversized: u64,
    largest: usize,
    cpu: Duration,
}

impl Sim {
    /// Nodes with `adj` as trusted peers, each starting with `docs(node)`.
    fn new(
        params: Params,
        adj: Vec<Vec<NodeId>>,
        t0: i64,
        mut rng: Rng,
        docs: impl Fn(NodeId) -> SimDocs,
    ) -> Self {
        let mut links = BTreeMap::new();
        for (a, peers) in adj.iter().enumerate() {
            for &b in peers {
                let k = key(a as NodeId, b);
                if links.contains_key(&k) {
                    continue;
                }
                let (lo, hi) = params.latency_ms;
                let ms = rng.range(u64::from(lo), u64::from(hi)) as i64;
                links.insert(
                    k,
                    Link {
                        latency_us: ms * 1000,
                        physical: true,
                        connected: false,
                        epoch: 0,
                        last: [0, 0],
                    },
                );
            }
        }
        let nodes = adj
            .into_iter()
            .enumerate()
            .map(|(i, peers)| Node {
                sessions: Sessions::new(i as NodeId),
                docs: docs(i as NodeId),
                peers,
                connected: BTreeSet::new(),
                online: true,
                busy: 0,
                up_free: 0,
                down_free: 0,
                dialer: Dialer::default(),
                seen: HashSet::new(),
                sent: [0; 3],
                received: [0; 3],
                requests: 0,
            })
            .collect();
        Self {
            now: 0,
            t0,
            nodes,
            links,
            queue: BinaryHeap::new(),
            seq: 0,
            rng,
            params,
            base: Instant::now(),
            tracked: HashMap::new(),
            visible: Vec::new(),
            visible_count: Vec::new(),
            stored: Vec::new(),
            stored_count: Vec::new(),
            pending_data: 0,
            messages: 0,
            oversized: 0,
            largest: 0,
            cpu: Duration::ZERO,
        }
    }

    /// Every online node starts: ticks at a random phase, dials its peers.
    fn start(&mut self) {
        for n in 0..self.nodes.len() as NodeId {
            let phase = self.rng.below(TICK_US as u64) as i64;
            self.schedule(phase, Ev::Tick { node: n });
            if self.nodes[n as usize].online {
                self.dial_missing(n, 0);
            }
        }
    }

    fn ts(&self, t: i64) -> Timestamp {
        Timestamp(self.t0 + t / 1000)
    }

    fn schedule(&mut self, t: i64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Item {
            t,
            seq: self.seq,
            ev,
        });
    }

    /// Delay of a message from transport retransmissions: each of its packets is lost with
    /// the link's probability, and the last one to arrive sets the delay (a timeout doubling
    /// on each loss of the same packet).
    fn loss_delay(&mut self, size: usize, latency_us: i64) -> i64 {
        let p = self.params.loss;
        if p <= 0.0 {
            return 0;
        }
        let packets = size.div_ceil(PACKET_BYTES).max(1) as f64;
        let u = self.rng.unit();
        let mut k: u32 = 0;
        while k < 8 && (1.0 - p.powi(k as i32 + 1)).powf(packets) < u {
            k += 1;
        }
        let rto = MIN_RTO_US.max(3 * latency_us);
        rto * ((1i64 << k) - 1)
    }

    fn send(&mut self, from: NodeId, to: NodeId, t: i64, msg: Msg) {
        let (size, kind) = match &msg {
            Msg::Req(r) => (
                cbor_len(r) + STREAM_OVERHEAD,
                if matches!(r, SyncRequestV0::Summary { .. }) {
                    Kind::Summary
                } else {
                    Kind::Sync
                },
            ),
            Msg::Resp(r) => (
                cbor_len(r) + STREAM_OVERHEAD,
                if matches!(r, SyncResponseV0::Summary { .. }) {
                    Kind::Summary
                } else {
                    Kind::Sync
                },
            ),
            Msg::Gossip(bytes, _) => (bytes.len() + GOSSIP_OVERHEAD, Kind::Gossip),
        };
        self.largest = self.largest.max(size);
        let k = key(from, to);
        let Some(link) = self.links.get(&k) else {
            return;
        };
        let (latency, epoch, connected) = (link.latency_us, link.epoch, link.connected);
        let limit = match &msg {
            Msg::Req(_) => MAX_REQUEST_BYTES as usize,
            Msg::Resp(_) => MAX_RESPONSE_BYTES as usize,
            Msg::Gossip(..) => usize::MAX,
        };
        if size > limit {
            // The codec refuses it: the requester sees its request fail.
            self.oversized += 1;
            let (node, peer) = match msg {
                Msg::Resp(_) => (to, from),
                _ => (from, to),
            };
            self.schedule(t + latency, Ev::Failed { node, peer });
            return;
        }
        if !connected {
            return;
        }
        if matches!(msg, Msg::Req(_)) {
            self.nodes[from as usize].requests += u64::from(kind == Kind::Sync);
        }
        self.nodes[from as usize].sent[kind as usize] += size as u64;
        self.nodes[to as usize].received[kind as usize] += size as u64;
        let ser = (size as i64 * 1_000_000) / self.params.bandwidth.max(1) as i64;
        let sender = &mut self.nodes[from as usize];
        let depart = t.max(sender.up_free);
        sender.up_free = depart + ser;
        let delay = self.loss_delay(size, latency);
        let link = self.links.get_mut(&k).expect("looked up above");
        let dir = usize::from(from < to);
        let mut arrive = (depart + ser + latency + delay).max(link.last[dir]);
        link.last[dir] = arrive;
        let receiver = &mut self.nodes[to as usize];
        arrive = arrive.max(receiver.down_free + ser);
        receiver.down_free = arrive;
        if kind != Kind::Summary {
            self.pending_data += 1;
        }
        self.schedule(
            arrive,
            Ev::Msg {
                from,
                to,
                epoch,
                kind,
                msg,
            },
        );
    }

    /// Runs events up to `until`, or until `stop` holds after one. Returns whether it stopped.
    fn run_until(&mut self, until: i64, mut stop: impl FnMut(&Sim) -> bool) -> bool {
        while self.queue.peek().is_some_and(|i| i.t <= until) {
            let Some(item) = self.queue.pop() else { break };
            self.now = item.t;
            self.handle(item.ev);
            if stop(self) {
                return true;
            }
        }
        self.now = self.now.max(until);
        false
    }

    fn handle(&mut self, ev: Ev) {
        let t = self.now;
        match ev {
            Ev::Msg {
                from,
                to,
                epoch,
                kind,
                msg,
            } => {
                if kind != Kind::Summary {
                    self.pending_data -= 1;
                }
                let live = self
                    .links
                    .get(&key(from, to))
                    .is_some_and(|l| l.connected && l.epoch == epoch);
                if !live || !self.nodes[to as usize].online {
                    return;
                }
                self.messages += 1;
                match msg {
                    Msg::Req(r) => self.on_request(to, from, r, t),
                    Msg::Resp(r) => self.on_response(to, from, r, t),
                    Msg::Gossip(bytes, origin) => self.on_gossip(to, from, bytes, origin, t),
                }
            }
            Ev::Failed { node, peer } => self.nodes[node as usize].sessions.request_failed(&peer),
            Ev::Tick { node } => {
                self.schedule(t + TICK_US, Ev::Tick { node });
                if self.nodes[node as usize].online {
                    let now = self.ts(t);
                    let n = &mut self.nodes[node as usize];
                    let peers: Vec<NodeId> = n.connected.iter().copied().collect();
                    let clock = Instant::now();
                    let out = n.sessions.tick(&peers, &n.docs, now);
                    self.cpu += clock.elapsed();
                    self.on_outputs(node, out, t);
                    self.dial_missing(node, t);
                }
            }
            Ev::Up { a, b, epoch } => self.on_up(a, b, epoch, t),
        }
    }

    /// Start of a node's work on something that arrived at `t`, and the virtual time it
    /// finishes after `cost` us.
    fn work(&mut self, node: NodeId, t: i64, cost: i64) -> (i64, i64) {
        let n = &mut self.nodes[node as usize];
        let start = t.max(n.busy);
        n.busy = start + cost;
        (start, start + cost)
    }

    fn fresh_events(out: &[Output<NodeId>]) -> i64 {
        out.iter()
            .map(|o| match o {
                Output::Changed { fresh, .. } => fresh.len() as i64,
                Output::Request { .. } => 0,
            })
            .sum()
    }

    fn sync_cost(bytes: usize, fresh: i64) -> i64 {
        COST_MESSAGE_US + (bytes as i64 * COST_PER_KIB_US) / 1024 + fresh * COST_EVENT_US
    }

    fn on_request(&mut self, me: NodeId, from: NodeId, request: SyncRequestV0, t: i64) {
        let start = t.max(self.nodes[me as usize].busy);
        let now = self.ts(start);
        let bytes = match &request {
            SyncRequestV0::Sync { msg, .. } => Some(msg.len()),
            SyncRequestV0::Summary { .. } => None,
        };
        let n = &mut self.nodes[me as usize];
        let clock = Instant::now();
        let (response, out) = n.sessions.on_request(from, request, &mut n.docs, now);
        self.cpu += clock.elapsed();
        let cost = bytes.map_or(COST_SUMMARY_US, |b| {
            Self::sync_cost(b, Self::fresh_events(&out))
        });
        let (_, done) = self.work(me, t, cost);
        self.send(me, from, done, Msg::Resp(response));
        self.on_outputs(me, out, done);
    }

    fn on_response(&mut self, me: NodeId, from: NodeId, response: SyncResponseV0, t: i64) {
        let start = t.max(self.nodes[me as usize].busy);
        let now = self.ts(start);
        let bytes = match &response {
            SyncResponseV0::Sync { msg, .. } => Some(msg.as_ref().map_or(0, Vec::len)),
            _ => None,
        };
        let n = &mut self.nodes[me as usize];
        let clock = Instant::now();
        let out = n.sessions.on_response(from, response, &mut n.docs, now);
        self.cpu += clock.elapsed();
        let cost = bytes.map_or(COST_SUMMARY_US, |b| {
            Self::sync_cost(b, Self::fresh_events(&out))
        });
        let (_, done) = self.work(me, t, cost);
        self.on_outputs(me, out, done);
    }

    /// What `node/peers.rs` does with the session's outputs: send requests; for a changed
    /// document, note its alerts as shown and start exchanges with every other peer.
    fn on_outputs(&mut self, me: NodeId, out: Vec<Output<NodeId>>, t: i64) {
        for o in out {
            match o {
                Output::Request { peer, request } => self.send(me, peer, t, Msg::Req(request)),
                Output::Changed { doc, from, fresh } => {
                    self.note(me, &fresh, t, true);
                    let more = self.local_change(me, &doc, Some(from), t);
                    self.on_outputs(me, more, t);
                }
            }
        }
    }

    fn local_change(
        &mut self,
        me: NodeId,
        doc: &DocId,
        from: Option<NodeId>,
        t: i64,
    ) -> Vec<Output<NodeId>> {
        let now = self.ts(t);
        let n = &mut self.nodes[me as usize];
        let peers: Vec<NodeId> = n.connected.iter().copied().collect();
        let clock = Instant::now();
        let out = n.sessions.local_change(doc, from, &peers, &mut n.docs, now);
        self.cpu += clock.elapsed();
        out
    }

    /// Marks the tracked alerts among `events` as shown by `me` (and stored, from sync).
    fn note(&mut self, me: NodeId, events: &[SignedEvent], t: i64, stored: bool) {
        for e in events {
            if let Body::Alert(a) = &e.event().body {
                if let Some(&k) = self.tracked.get(&a.id) {
                    if self.visible[k][me as usize] < 0 {
                        self.visible[k][me as usize] = t;
                        self.visible_count[k] += 1;
                    }
                    if stored && self.stored[k][me as usize] < 0 {
                        self.stored[k][me as usize] = t;
                        self.stored_count[k] += 1;
                    }
                }
            }
        }
    }

    fn track(&mut self, alert: RecordId) -> usize {
        let k = self.visible.len();
        self.tracked.insert(alert, k);
        self.visible.push(vec![-1; self.nodes.len()]);
        self.visible_count.push(0);
        self.stored.push(vec![-1; self.nodes.len()]);
        self.stored_count.push(0);
        k
    }

    /// A member's event stored at `me` (the client protocol's submit), then what the node
    /// does: exchanges with every peer, and the alert gossiped.
    fn publish(&mut self, me: NodeId, event: SignedEvent, t: i64) {
        let (_, done) = self.work(me, t, COST_MESSAGE_US + COST_EVENT_US);
        if !self.nodes[me as usize].docs.insert(&event) {
            return;
        }
        self.note(me, std::slice::from_ref(&event), done, true);
        let doc = event.event().doc.clone();
        let out = self.local_change(me, &doc, None, done);
        self.on_outputs(me, out, done);
        if self.params.gossip && matches!(event.event().body, Body::Alert(_)) {
            let bytes = Rc::new(event.to_bytes());
            self.nodes[me as usize].seen.insert(EventId::of(&bytes));
            let peers: Vec<NodeId> = self.nodes[me as usize].connected.iter().copied().collect();
            for p in peers {
                self.send(me, p, done, Msg::Gossip(bytes.clone(), me));
            }
        }
    }

    /// Gossipsub: a message seen before is dropped; a new one is checked as the node does and,
    /// if accepted, shown and forwarded to every peer but the one it came from and its
    /// publisher.
    fn on_gossip(&mut self, me: NodeId, from: NodeId, bytes: Rc<Vec<u8>>, origin: NodeId, t: i64) {
        if !self.nodes[me as usize].seen.insert(EventId::of(&bytes)) {
            return;
        }
        let (start, done) = self.work(me, t, COST_GOSSIP_US);
        let now = self.ts(start);
        let clock = Instant::now();
        let verdict = SignedEvent::decode(&bytes)
            .map(|e| (self.nodes[me as usize].docs.check_hint(&e, now), e));
        self.cpu += clock.elapsed();
        if let Ok((Verdict::Accept, event)) = verdict {
            self.note(me, std::slice::from_ref(&event), done, false);
            let peers: Vec<NodeId> = self.nodes[me as usize]
                .connected
                .iter()
                .copied()
                .filter(|p| *p != from && *p != origin)
                .collect();
            for p in peers {
                self.send(me, p, done, Msg::Gossip(bytes.clone(), origin));
            }
        }
    }

    /// The node's dial schedule (`node/swarm.rs`, `dial_missing`): every trusted peer not
    /// connected is dialled when its back-off allows; the dial succeeds if the path exists.
    fn dial_missing(&mut self, me: NodeId, t: i64) {
        let peers = self.nodes[me as usize].peers.clone();
        for p in peers {
            if self.nodes[me as usize].connected.contains(&p) {
                continue;
            }
            let jitter = Duration::from_millis(self.rng.below(256) * 4);
            let now = self.base + Duration::from_micros(t.max(0) as u64);
            if !self.nodes[me as usize].dialer.due(
                &p,
                &[0u8],
                now,
                jitter,
                self.params.max_dial_backoff,
            ) {
                continue;
            }
            let Some(link) = self.links.get(&key(me, p)) else {
                continue;
            };
            if link.physical && self.nodes[p as usize].online && self.nodes[me as usize].online {
                let at = t + HANDSHAKE_RTTS * 2 * link.latency_us;
                let epoch = link.epoch;
                self.schedule(at, Ev::Up { a: me, b: p, epoch });
            }
        }
    }

    fn on_up(&mut self, a: NodeId, b: NodeId, epoch: u32, t: i64) {
        let Some(link) = self.links.get_mut(&key(a, b)) else {
            return;
        };
        if link.connected
            || link.epoch != epoch
            || !link.physical
            || !self.nodes[a as usize].online
            || !self.nodes[b as usize].online
        {
            return;
        }
        link.connected = true;
        for (x, y) in [(a, b), (b, a)] {
            let n = &mut self.nodes[x as usize];
            n.connected.insert(y);
            n.dialer.connected(&y);
            let clock = Instant::now();
            let out = n.sessions.connected(y, &n.docs);
            self.cpu += clock.elapsed();
            self.on_outputs(x, out, t);
        }
    }

    /// The connection between `a` and `b` closes; both ends dial again on their schedule.
    fn disconnect(&mut self, a: NodeId, b: NodeId, t: i64) {
        let Some(link) = self.links.get_mut(&key(a, b)) else {
            return;
        };
        if !link.connected {
            return;
        }
        link.connected = false;
        link.epoch += 1;
        for (x, y) in [(a, b), (b, a)] {
            let n = &mut self.nodes[x as usize];
            n.connected.remove(&y);
            n.sessions.disconnected(&y);
        }
        for x in [a, b] {
            if self.nodes[x as usize].online {
                self.dial_missing(x, t);
            }
        }
    }

    fn cut(&mut self, a: NodeId, b: NodeId, t: i64) {
        if let Some(link) = self.links.get_mut(&key(a, b)) {
            link.physical = false;
        }
        self.disconnect(a, b, t);
    }

    fn heal(&mut self, a: NodeId, b: NodeId) {
        if let Some(link) = self.links.get_mut(&key(a, b)) {
            link.physical = true;
        }
    }

    fn set_online(&mut self, node: NodeId, online: bool, t: i64) {
        self.nodes[node as usize].online = online;
        if online {
            self.dial_missing(node, t);
        } else {
            for p in self.nodes[node as usize].peers.clone() {
                self.disconnect(node, p, t);
            }
        }
    }

    /// Whether every online node holds the same documents.
    fn converged(&self) -> bool {
        let mut prints = self
            .nodes
            .iter()
            .filter(|n| n.online)
            .map(|n| n.docs.fingerprint());
        let Some(first) = prints.next() else {
            return true;
        };
        prints.all(|p| p == first)
    }

    fn sent(&self, kind: Kind) -> u64 {
        self.nodes.iter().map(|n| n.sent[kind as usize]).sum()
    }

    fn sync_requests(&self) -> u64 {
        self.nodes.iter().map(|n| n.requests).sum()
    }

    /// Figures of tracked alert `k`, raised at `t0`.
    fn figures(
        &self,
        k: usize,
        t0: i64,
    ) -> (Option<f64>, Option<f64>, Option<f64>, usize, Option<f64>) {
        let n = self.nodes.len();
        let mut times: Vec<i64> = self.visible[k]
            .iter()
            .copied()
            .filter(|t| *t >= 0)
            .collect();
        times.sort_unstable();
        let at = |q: f64| {
            let need = ((q * n as f64).ceil() as usize).max(1);
            times.get(need - 1).map(|t| (t - t0) as f64 / 1000.0)
        };
        let mut stored: Vec<i64> = self.stored[k].iter().copied().filter(|t| *t >= 0).collect();
        stored.sort_unstable();
        let need = ((0.99 * n as f64).ceil() as usize).max(1);
        let stored99 = stored.get(need - 1).map(|t| (t - t0) as f64 / 1000.0);
        (at(0.5), at(0.99), at(1.0), times.len(), stored99)
    }
}
