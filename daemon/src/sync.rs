//! The sync session between this node and its peer nodes, as a state machine with no I/O:
//! the node feeds it what arrived (a summary, a sync message, a refusal, a connection) with the
//! current time, and it answers with what to send. Documents are reached through [`Docs`], so
//! the same code runs against the engine in the node and against plain documents in tests.
//!
//! Per document, the node with the smaller id drives an automerge sync exchange (request: our
//! message; response: theirs) until neither side has anything to say. A change learnt from one
//! peer starts an exchange with every other peer, which carries changes over several hops.
//!
//! A message refused for missing dependencies (a bloom filter false positive in automerge's
//! protocol) restarts the exchange at once asking for them by hash; see [`Sessions`]. Anything
//! else a peer sends that no honest node sends is a fault: its state for that document is reset
//! and the fault counted; [`MAX_FAULTS`] faults within [`FAULT_WINDOW_MS`] suspend the peer for
//! [`SUSPENSION_MS`], during which its requests are refused and no exchange is started with it.
//! Every call into automerge that works on a peer's state is contained by the documents
//! (`protocol::doc`): a panic there comes back as an error and is a fault like any other.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;
use std::hash::Hash;

use automerge::ChangeHash;
use protocol::doc::SyncError;
use protocol::event::SignedEvent;
use protocol::ids::{DocId, Timestamp};
use protocol::wire::{DocSummary, SyncRequestV0, SyncResponseV0};
use tracing::{debug, info, warn};

/// Messages refused in a row for missing dependencies before the exchange waits for the next
/// summary instead of restarting at once: an honest peer sends what was asked for within a few
/// rounds (chains of bloom filter false positives are short).
pub(crate) const MAX_MISSING_REFUSALS: u32 = 8;
/// The most change hashes a node asks a peer for when restarting an exchange.
pub(crate) const MAX_NEED: usize = 4096;
/// Faults within [`FAULT_WINDOW_MS`] that suspend a peer. An honest node makes none (a
/// refusal for an author this node does not know yet is not a fault).
pub(crate) const MAX_FAULTS: u32 = 16;
/// The window over which faults are counted.
pub(crate) const FAULT_WINDOW_MS: i64 = 60_000;
/// How long a suspended peer is refused.
pub(crate) const SUSPENSION_MS: i64 = 5 * 60_000;
/// The most documents a summary may name; an honest network has far fewer (documents are per
/// declared region, organisation and month), and the message limit is never approached.
pub(crate) const MAX_SUMMARY_DOCS: usize = 20_000;

/// The documents a sync session works on.
pub(crate) trait Docs {
    /// Applies a peer's message for `doc`. Returns the new events when the document changed.
    /// On error nothing was kept and `state` is as it was.
    fn receive(
        &mut self,
        doc: &DocId,
        state: &mut automerge::sync::State,
        msg: &[u8],
        now: Timestamp,
    ) -> Result<Option<Vec<SignedEvent>>, ApplyError>;
    /// The next message to the peer for `doc` (from an empty document if this node has none),
    /// starting over and asking for `need` when given.
    fn generate(
        &mut self,
        doc: &DocId,
        state: &mut automerge::sync::State,
        need: Option<&[ChangeHash]>,
    ) -> Result<Option<Vec<u8>>, SyncError>;
    /// This node's documents and heads.
    fn summary(&self) -> Vec<DocSummary>;
    /// Whether this node takes `doc` from peers at all: a valid id for this network, within
    /// retention.
    fn wants(&self, doc: &DocId, now: Timestamp) -> bool;
}

/// Why a peer's message was not applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    /// The message itself: invalid, not allowed, or not yet judgeable.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// This node could not store valid changes (its disk): never the peer's fault.
    #[error("store failure on this node: {0}")]
    Store(String),
}

/// What the session asks the node to do.
#[derive(Debug)]
pub(crate) enum Output<P> {
    /// Send this request to the peer.
    Request { peer: P, request: SyncRequestV0 },
    /// `doc` changed with these events, learnt from `from`: tell the other peers, note the
    /// alerts as visible, refresh what depends on the roster.
    Changed {
        doc: DocId,
        from: P,
        fresh: Vec<SignedEvent>,
    },
}

/// Sync with one peer for one document.
#[derive(Default)]
struct PeerDoc {
    state: automerge::sync::State,
    /// A request of ours is waiting for its response.
    in_flight: bool,
    /// Changes this node found missing since its last accepted message from the peer.
    need: Vec<ChangeHash>,
    /// The next message starts the exchange over, asking for `need`.
    restart: bool,
    /// Messages refused in a row for missing dependencies.
    missing_refusals: u32,
}

/// Everything this node keeps about one peer node.
#[derive(Default)]
struct Peer {
    docs: HashMap<DocId, PeerDoc>,
    /// The peer's heads per document, from its last summary (sorted).
    heads: HashMap<DocId, Vec<[u8; 32]>>,
    /// When the peer last exchanged a sync message with this node.
    last_sync: Option<Timestamp>,
    /// The peer's clock minus this node's, in ms, from its last summary that said its time
    /// (the transit time counts in it: milliseconds, against the five minutes that matter).
    clock_offset_ms: Option<i64>,
    /// Faults in the current window, and when the window started.
    faults: u32,
    window_start: Timestamp,
    /// Faults since the node started (for status and metrics).
    total_faults: u64,
}

/// A summary naming more than [`MAX_SUMMARY_DOCS`] documents.
#[derive(Debug, thiserror::Error)]
#[error("a summary names at most {MAX_SUMMARY_DOCS} documents")]
struct SummaryTooLarge;

/// Why a peer's message was not applied.
enum Refusal {
    /// Changes were missing: the exchange starts over asking for them.
    Restart,
    /// Refused; the reason goes back to the peer.
    Refused(String),
}

/// Counters of the sessions, for status and metrics.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SyncStats {
    /// Messages refused as invalid.
    pub(crate) rejected: u64,
    /// Faults counted against peers (refusals, contained panics, oversized summaries).
    pub(crate) faults: u64,
    /// Requests refused because their peer was suspended.
    pub(crate) refused_suspended: u64,
}

/// The sync sessions of this node with every peer node.
pub(crate) struct Sessions<P> {
    me: P,
    peers: HashMap<P, Peer>,
    /// Suspended peers and until when. Kept across disconnections.
    suspended: HashMap<P, Timestamp>,
    pub(crate) stats: SyncStats,
}

impl<P: Copy + Eq + Hash + Ord + Display> Sessions<P> {
    /// Sessions of the node `me` (its id decides which side drives an exchange).
    pub(crate) fn new(me: P) -> Self {
        Self {
            me,
            peers: HashMap::new(),
            suspended: HashMap::new(),
            stats: SyncStats::default(),
        }
    }

    /// A peer node connected: start from scratch with our summary.
    pub(crate) fn connected(&mut self, peer: P, docs: &impl Docs) -> Vec<Output<P>> {
        self.disconnected(&peer);
        vec![Output::Request {
            peer,
            request: SyncRequestV0::Summary {
                docs: docs.summary(),
                // The peer's answer says its time, and its own summary on connect ours.
                now: None,
            },
        }]
    }

    /// A peer node's last connection closed: its exchanges end. Its faults stay (a peer
    /// cannot reconnect its way out of a suspension), bounded by the roster's nodes.
    pub(crate) fn disconnected(&mut self, peer: &P) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.docs.clear();
            p.heads.clear();
        }
    }

    /// A request of ours failed on the way (the connection closed, a timeout): its exchanges
    /// start over with the next summary.
    pub(crate) fn request_failed(&mut self, peer: &P) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.docs.clear();
        }
    }

    /// The peer refused a message of ours: start over with the next summary.
    pub(crate) fn refused_by_peer(&mut self, peer: &P, reason: &str) {
        info!(%peer, %reason, "peer refused our sync message");
        if let Some(p) = self.peers.get_mut(peer) {
            p.docs.clear();
        }
    }

    /// Whether `peer` is suspended at `now`.
    pub(crate) fn is_suspended(&self, peer: &P, now: Timestamp) -> bool {
        self.suspended.get(peer).is_some_and(|until| *until > now)
    }

    /// Until when `peer` is suspended, if it is at `now`.
    pub(crate) fn suspended_until(&self, peer: &P, now: Timestamp) -> Option<Timestamp> {
        self.suspended
            .get(peer)
            .copied()
            .filter(|until| *until > now)
    }

    /// Suspended peers and until when.
    pub(crate) fn suspended(&self, now: Timestamp) -> Vec<(P, Timestamp)> {
        let mut out: Vec<(P, Timestamp)> = self
            .suspended
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(p, u)| (*p, *u))
            .collect();
        out.sort();
        out
    }

    /// When `peer` last exchanged a sync message with this node.
    pub(crate) fn last_sync(&self, peer: &P) -> Option<Timestamp> {
        self.peers.get(peer).and_then(|p| p.last_sync)
    }

    /// How far `peer`'s clock is ahead of this node's (negative: behind), in ms, from its
    /// last summary that said its time.
    pub(crate) fn clock_offset_ms(&self, peer: &P) -> Option<i64> {
        self.peers.get(peer).and_then(|p| p.clock_offset_ms)
    }

    fn note_clock(&mut self, peer: P, theirs: Option<Timestamp>, now: Timestamp) {
        if let Some(theirs) = theirs {
            self.peers.entry(peer).or_default().clock_offset_ms =
                Some(theirs.0.saturating_sub(now.0));
        }
    }

    /// The peer's heads per document from its last summary (sorted).
    pub(crate) fn peer_heads(&self, peer: &P) -> Option<&HashMap<DocId, Vec<[u8; 32]>>> {
        self.peers.get(peer).map(|p| &p.heads)
    }

    /// Exchanges waiting for a peer's answer.
    pub(crate) fn in_flight(&self) -> usize {
        self.peers
            .values()
            .flat_map(|p| p.docs.values())
            .filter(|d| d.in_flight)
            .count()
    }

    /// Faults counted against `peer` since this node started.
    pub(crate) fn faults_of(&self, peer: &P) -> u64 {
        self.peers.get(peer).map_or(0, |p| p.total_faults)
    }

    /// Counts a fault against `peer`; suspends it after [`MAX_FAULTS`] in the window. Returns
    /// whether it is now suspended.
    pub(crate) fn fault(&mut self, peer: P, now: Timestamp) -> bool {
        self.stats.faults += 1;
        let p = self.peers.entry(peer).or_default();
        if now.0.saturating_sub(p.window_start.0) > FAULT_WINDOW_MS {
            p.window_start = now;
            p.faults = 0;
        }
        p.faults += 1;
        p.total_faults += 1;
        if p.faults >= MAX_FAULTS {
            p.faults = 0;
            p.docs.clear();
            let until = now.plus_ms(SUSPENSION_MS);
            self.suspended.insert(peer, until);
            warn!(%peer, until = %until.rfc3339(), "suspending a peer node after repeated faults");
            return true;
        }
        false
    }

    /// A peer's request. Returns the response and what else to do.
    pub(crate) fn on_request(
        &mut self,
        peer: P,
        request: SyncRequestV0,
        docs: &mut impl Docs,
        now: Timestamp,
    ) -> (SyncResponseV0, Vec<Output<P>>) {
        if self.is_suspended(&peer, now) {
            self.stats.refused_suspended += 1;
            return (
                SyncResponseV0::Refused {
                    reason: "suspended after repeated faults".into(),
                },
                Vec::new(),
            );
        }
        self.peers.entry(peer).or_default().last_sync = Some(now);
        let mut out = Vec::new();
        let response = match request {
            SyncRequestV0::Summary {
                docs: theirs,
                now: their_now,
            } => {
                self.note_clock(peer, their_now, now);
                let ours = docs.summary();
                if let Err(e) = self.on_summary(peer, &ours, &theirs, docs, now, &mut out) {
                    SyncResponseV0::Refused {
                        reason: e.to_string(),
                    }
                } else {
                    SyncResponseV0::Summary {
                        docs: ours,
                        now: Some(now),
                    }
                }
            }
            SyncRequestV0::Sync { doc, msg } => {
                match self.apply(peer, &doc, &msg, docs, now, &mut out) {
                    // Missing dependencies: the reply starts the exchange over, asking for them.
                    Ok(()) | Err(Refusal::Restart) => {
                        let reply = self.next_message(peer, &doc, docs, now);
                        SyncResponseV0::Sync { doc, msg: reply }
                    }
                    Err(Refusal::Refused(reason)) => SyncResponseV0::Refused { reason },
                }
            }
        };
        (response, out)
    }

    /// A peer's response to a request of ours.
    pub(crate) fn on_response(
        &mut self,
        peer: P,
        response: SyncResponseV0,
        docs: &mut impl Docs,
        now: Timestamp,
    ) -> Vec<Output<P>> {
        let mut out = Vec::new();
        if self.is_suspended(&peer, now) {
            return out;
        }
        self.peers.entry(peer).or_default().last_sync = Some(now);
        match response {
            SyncResponseV0::Summary {
                docs: theirs,
                now: their_now,
            } => {
                self.note_clock(peer, their_now, now);
                let ours = docs.summary();
                let _ = self.on_summary(peer, &ours, &theirs, docs, now, &mut out);
            }
            SyncResponseV0::Sync { doc, msg } => {
                if let Some(msg) = msg {
                    if let Err(refusal) = self.apply(peer, &doc, &msg, docs, now, &mut out) {
                        if let Some(entry) = self.entry(peer, &doc) {
                            entry.in_flight = false;
                        }
                        if matches!(refusal, Refusal::Restart) {
                            // Start over at once, asking for what was missing.
                            self.start(peer, doc, docs, now, &mut out);
                        }
                        return out;
                    }
                }
                // Whatever changed meanwhile goes in the next message: automerge's state knows
                // what the peer has.
                if let Some(entry) = self.entry(peer, &doc) {
                    entry.in_flight = false;
                }
                self.start(peer, doc, docs, now, &mut out);
            }
            SyncResponseV0::Refused { reason } => self.refused_by_peer(&peer, &reason),
        }
        out
    }

    /// `doc` changed here (locally, or learnt from `from`): start an exchange with every other
    /// peer in `peers`.
    pub(crate) fn local_change(
        &mut self,
        doc: &DocId,
        from: Option<P>,
        peers: &[P],
        docs: &mut impl Docs,
        now: Timestamp,
    ) -> Vec<Output<P>> {
        let mut out = Vec::new();
        for peer in peers {
            if Some(*peer) != from {
                self.start(*peer, doc.clone(), docs, now, &mut out);
            }
        }
        out
    }

    /// Anti-entropy: our summary to every peer in `peers`.
    pub(crate) fn tick(&mut self, peers: &[P], docs: &impl Docs, now: Timestamp) -> Vec<Output<P>> {
        self.suspended.retain(|_, until| *until > now);
        let summary = docs.summary();
        peers
            .iter()
            .filter(|p| !self.is_suspended(p, now))
            .map(|peer| Output::Request {
                peer: *peer,
                request: SyncRequestV0::Summary {
                    docs: summary.clone(),
                    now: Some(now),
                },
            })
            .collect()
    }

    fn entry(&mut self, peer: P, doc: &DocId) -> Option<&mut PeerDoc> {
        self.peers.get_mut(&peer).and_then(|p| p.docs.get_mut(doc))
    }

    /// The sync state with `peer` for `doc`, created on first use. Only called for documents
    /// this node wants (see [`Docs::wants`]).
    fn peer_doc(&mut self, peer: P, doc: &DocId) -> &mut PeerDoc {
        self.peers
            .entry(peer)
            .or_default()
            .docs
            .entry(doc.clone())
            .or_default()
    }

    /// The next message to the peer for `doc`, if there is anything to say. A failure to
    /// generate (automerge panicked on the peer's state) resets the state and is a fault.
    fn next_message(
        &mut self,
        peer: P,
        doc: &DocId,
        docs: &mut impl Docs,
        now: Timestamp,
    ) -> Option<Vec<u8>> {
        let entry = self.peer_doc(peer, doc);
        let restart = std::mem::take(&mut entry.restart);
        let need = restart.then(|| entry.need.clone());
        match docs.generate(doc, &mut entry.state, need.as_deref()) {
            Ok(msg) => msg,
            Err(e) => {
                warn!(%peer, %doc, error = %e, "cannot answer a peer's sync state; starting over");
                *entry = PeerDoc::default();
                self.fault(peer, now);
                None
            }
        }
    }

    /// Starts (or continues) an exchange with `peer` for `doc`.
    fn start(
        &mut self,
        peer: P,
        doc: DocId,
        docs: &mut impl Docs,
        now: Timestamp,
        out: &mut Vec<Output<P>>,
    ) {
        if self.is_suspended(&peer, now) || !docs.wants(&doc, now) {
            return;
        }
        if self.peer_doc(peer, &doc).in_flight {
            // The response starts the next message, which carries this change too.
            return;
        }
        if let Some(msg) = self.next_message(peer, &doc, docs, now) {
            self.peer_doc(peer, &doc).in_flight = true;
            out.push(Output::Request {
                peer,
                request: SyncRequestV0::Sync { doc, msg },
            });
        }
    }

    /// Records a peer's summary and starts exchanges for documents whose heads differ. Only
    /// the node with the smaller id drives, so each pair runs one exchange per document.
    fn on_summary(
        &mut self,
        peer: P,
        ours: &[DocSummary],
        theirs: &[DocSummary],
        docs: &mut impl Docs,
        now: Timestamp,
        out: &mut Vec<Output<P>>,
    ) -> Result<(), SummaryTooLarge> {
        if theirs.len() > MAX_SUMMARY_DOCS {
            warn!(%peer, docs = theirs.len(), "refused a summary naming too many documents");
            self.stats.rejected += 1;
            self.fault(peer, now);
            return Err(SummaryTooLarge);
        }
        // Only documents this node takes are remembered or exchanged: a peer cannot make it
        // hold state for ids it merely names.
        let heads: HashMap<DocId, Vec<[u8; 32]>> = theirs
            .iter()
            .filter(|d| docs.wants(&d.doc, now))
            .map(|d| {
                let mut h = d.heads.clone();
                h.sort();
                (d.doc.clone(), h)
            })
            .collect();
        let mine: HashMap<&DocId, Vec<[u8; 32]>> = ours
            .iter()
            .map(|d| {
                let mut h = d.heads.clone();
                h.sort();
                (&d.doc, h)
            })
            .collect();
        let mut wanted: Vec<DocId> = heads
            .iter()
            .filter(|(doc, h)| mine.get(doc) != Some(*h))
            .map(|(doc, _)| doc.clone())
            .collect();
        let known: HashSet<&DocId> = theirs.iter().map(|d| &d.doc).collect();
        wanted.extend(
            ours.iter()
                .filter(|d| !known.contains(&d.doc))
                .map(|d| d.doc.clone()),
        );
        self.peers.entry(peer).or_default().heads = heads;
        if self.me > peer {
            return Ok(());
        }
        // The roster first: other documents' authors are checked against it.
        wanted.sort_by_key(|d| (*d != DocId::roster(), d.clone()));
        for doc in wanted {
            self.start(peer, doc, docs, now, out);
        }
        Ok(())
    }

    /// Applies a peer's message for `doc`.
    fn apply(
        &mut self,
        peer: P,
        doc: &DocId,
        msg: &[u8],
        docs: &mut impl Docs,
        now: Timestamp,
        out: &mut Vec<Output<P>>,
    ) -> Result<(), Refusal> {
        if !docs.wants(doc, now) {
            // Not a fault: the roster that declares its region may not have arrived yet.
            debug!(%peer, %doc, "sync message for a document this node does not take");
            return Err(Refusal::Refused(format!(
                "{doc} is not a document this node keeps"
            )));
        }
        let entry = self.peer_doc(peer, doc);
        let result = docs.receive(doc, &mut entry.state, msg, now);
        let entry = self.peer_doc(peer, doc);
        match result {
            Ok(fresh) => {
                entry.need.clear();
                entry.missing_refusals = 0;
                if let Some(fresh) = fresh {
                    out.push(Output::Changed {
                        doc: doc.clone(),
                        from: peer,
                        fresh,
                    });
                }
                Ok(())
            }
            Err(ApplyError::Sync(SyncError::MissingDeps(missing)))
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
                match &e {
                    ApplyError::Store(_) => {
                        // This node's disk, not the peer: nothing is counted against it.
                        tracing::error!(%peer, %doc, error = %e, "cannot store synced changes");
                    }
                    ApplyError::Sync(s) if s.is_peer_fault() => {
                        self.stats.rejected += 1;
                        warn!(%peer, %doc, error = %e, "refused sync message");
                        self.fault(peer, now);
                    }
                    ApplyError::Sync(SyncError::MissingDeps(_)) => {
                        // Still missing after several restarts: wait for the next summary.
                        self.stats.rejected += 1;
                        warn!(%peer, %doc, error = %e, "refused sync message");
                    }
                    ApplyError::Sync(_) => {
                        debug!(%peer, %doc, error = %e, "deferred sync message");
                    }
                }
                Err(Refusal::Refused(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests;
