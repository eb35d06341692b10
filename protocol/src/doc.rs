//! Documents: automerge maps from event id to signed event bytes.
//!
//! A document's root map holds `hex(event id) -> bytes(signed event)` and nothing else. Keys
//! are content addresses, so nodes that store the same event concurrently write the same value
//! (automerge records a conflict between two identical values, which is harmless); nothing is
//! ever overwritten with other content or deleted (retention drops whole documents). This makes
//! validation total and cheap: every operation of every change a peer sends must put a byte
//! string at the root under the id of the correctly signed event it holds, an event that
//! belongs in this document and that the roster allows. Changes with no operations, a message
//! or extra bytes are refused too, so nothing can ride along in history. Anything else rolls
//! the document back.

use std::panic::{catch_unwind, AssertUnwindSafe};

use automerge::sync::SyncDoc;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Automerge, ChangeHash, ReadDoc, ScalarValue, ROOT};

use crate::event::{AheadOfClock, Body, EventId, SignedEvent, VerifyError};
use crate::ids::{DocId, PeriodError, PublicKey, Timestamp};
use crate::roster::{AuthError, Roster};

mod bounds;
mod cold;
use bounds::check_message;
pub use bounds::{FILTER_BITS_PER_ENTRY, FILTER_PROBES, MAX_SYNC_HASHES, MAX_SYNC_HAVES};

/// The largest automerge sync message accepted from a peer.
pub const MAX_SYNC_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Why a peer's sync message was refused. Nothing of it was kept.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Not a decodable automerge sync message, or automerge refused it.
    #[error("malformed sync message: {0}")]
    Malformed(String),
    /// Decoding or applying the message panicked inside automerge.
    #[error("sync message crashed the decoder")]
    Panicked,
    /// The message is well formed but outside what any honest peer sends: a bloom filter
    /// automerge could not use safely (no bits, or absurd bits per entry or probe counts), or
    /// more heads, needs or haves than a document has. automerge 0.12 would take it and then
    /// crash or exhaust memory answering it.
    #[error("sync message out of bounds: {0}")]
    OutOfBounds(String),
    /// The document's period is outside the network's years ([`Roster::check_period`]).
    #[error("{0}")]
    Period(#[from] PeriodError),
    /// An event is dated too far ahead of this node's clock. Not the peer's fault (clocks
    /// differ a little between nodes); the message is taken once the clock catches up.
    #[error("{0}")]
    AheadOfClock(#[from] AheadOfClock),
    /// Generating a message for a peer panicked inside automerge (a state it cannot answer).
    /// The peer's sync state was reset; count it against the peer.
    #[error("generating a sync message crashed")]
    GeneratePanicked,
    /// The message changed the document in a way no valid event does.
    #[error("invalid change: {0}")]
    InvalidChange(String),
    /// An event failed verification.
    #[error("invalid event: {0}")]
    Event(#[from] VerifyError),
    /// An event is not allowed for its author.
    #[error("{0}")]
    Auth(AuthError),
    /// The changes depend on changes we do not have: these. An honest peer leaves a change
    /// out when automerge's bloom filter gives a false positive; ask for them with
    /// [`Document::restart_sync_message`].
    #[error("changes with {} missing dependencies", .0.len())]
    MissingDeps(Vec<ChangeHash>),
}

impl SyncError {
    /// Whether the peer is at fault (as opposed to this node not knowing an author yet, or a
    /// change left out by the sync protocol's bloom filter).
    pub fn is_peer_fault(&self) -> bool {
        !matches!(
            self,
            SyncError::Auth(AuthError::UnknownAuthor(_))
                | SyncError::MissingDeps(_)
                | SyncError::AheadOfClock(_)
        )
    }
}

/// One replicated document.
#[derive(Debug)]
pub struct Document {
    id: DocId,
    doc: Automerge,
    /// The heads while the automerge document is out of memory ([`Document::set_cold`]).
    cold: Option<Vec<ChangeHash>>,
    events: Vec<SignedEvent>,
    /// The ids of `events`, for membership tests.
    ids: HashSet<EventId>,
}

impl Document {
    /// An empty document.
    pub fn new(id: DocId) -> Self {
        Self {
            id,
            doc: Automerge::new(),
            cold: None,
            events: Vec::new(),
            ids: HashSet::new(),
        }
    }

    /// Loads a document this node saved (its contents were verified before they were saved).
    pub fn load(id: DocId, chunks: &[Vec<u8>]) -> Result<Self, SyncError> {
        let doc = load_chunks(chunks)?;
        let mut events = read_root(&doc)?;
        for event in &mut events {
            event.share_doc(&id);
        }
        let ids = events.iter().map(|e| e.id()).collect();
        Ok(Self {
            id,
            doc,
            cold: None,
            events,
            ids,
        })
    }

    /// Loads a whole document received from a peer (the roster handed to a joining node),
    /// checking every operation of every change as [`Document::receive_sync_message`] does,
    /// against `roster` (events in the document may authorise each other).
    pub fn load_from_peer(id: DocId, bytes: &[u8], roster: &Roster) -> Result<Self, SyncError> {
        if bytes.len() > MAX_SYNC_MESSAGE_BYTES {
            return Err(SyncError::Malformed(format!(
                "{} bytes exceeds the limit",
                bytes.len()
            )));
        }
        let mut doc = Self::new(id);
        let loaded = catch_unwind(AssertUnwindSafe(|| doc.doc.load_incremental(bytes)));
        match loaded {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(SyncError::Malformed(e.to_string())),
            Err(_) => return Err(SyncError::Panicked),
        }
        let events = doc.validate_since(&[], roster)?;
        doc.ids.extend(events.iter().map(|e| e.id()));
        doc.events = events;
        Ok(doc)
    }

    /// The document id.
    pub fn id(&self) -> &DocId {
        &self.id
    }

    /// The current heads.
    pub fn heads(&self) -> Vec<ChangeHash> {
        match &self.cold {
            Some(heads) => heads.clone(),
            None => self.doc.get_heads(),
        }
    }

    /// Every event in the document, in no particular order.
    pub fn events(&self) -> &[SignedEvent] {
        &self.events
    }

    /// Whether the document holds this event.
    pub fn contains(&self, id: EventId) -> bool {
        self.ids.contains(&id)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether the document holds no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The events added since `heads` (heads this document does not know are ignored, so
    /// the answer errs on the side of more).
    pub fn events_since(&self, heads: &[ChangeHash]) -> Vec<&SignedEvent> {
        if self.cold.is_some() {
            // Without the automerge document: all of them.
            return self.events.iter().collect();
        }
        let known: Vec<ChangeHash> = heads
            .iter()
            .filter(|h| self.doc.get_change_by_hash(h).is_some())
            .copied()
            .collect();
        if known.is_empty() {
            return self.events.iter().collect();
        }
        let mut keys = HashSet::new();
        for change in self.doc.get_changes(&known) {
            for op in change.decode().operations {
                if let Key::Map(key) = op.key {
                    keys.insert(key.to_string());
                }
            }
        }
        self.events
            .iter()
            .filter(|e| keys.contains(&e.id().to_string()))
            .collect()
    }

    /// The whole document in automerge's binary format.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes since `heads`, in automerge's incremental format.
    pub fn save_after(&self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Sets the automerge actor of the changes this document makes from now on. Nodes keep
    /// automerge's random actor; the network simulator sets one per node so that change
    /// hashes, and so every figure, are the same from run to run.
    pub fn set_actor(&mut self, actor: &[u8]) {
        self.doc.set_actor(automerge::ActorId::from(actor));
    }

    /// Adds events that were already verified and authorised, as one change. Returns how many
    /// were new.
    pub fn insert(&mut self, events: &[SignedEvent]) -> usize {
        let mut fresh: Vec<&SignedEvent> = Vec::new();
        for e in events {
            if !self.contains(e.id()) && !fresh.iter().any(|f| f.id() == e.id()) {
                fresh.push(e);
            }
        }
        if fresh.is_empty() {
            return 0;
        }
        let mut tx = self.doc.transaction();
        for event in &fresh {
            // Puts on a root map cannot fail.
            let _ = automerge::transaction::Transactable::put(
                &mut tx,
                ROOT,
                event.id().to_string(),
                ScalarValue::Bytes(event.to_bytes()),
            );
        }
        tx.commit();
        self.ids.extend(fresh.iter().map(|e| e.id()));
        self.events.extend(fresh.iter().map(|e| {
            let mut e = (*e).clone();
            e.share_doc(&self.id);
            e
        }));
        fresh.len()
    }

    /// The next sync message for a peer, if there is anything to say.
    ///
    /// `state` holds what the peer told us; automerge 0.12 can panic answering it (its bloom
    /// filters were unchecked before [`Document::receive_sync_message`] checked them), so a
    /// panic is caught: `state` is then reset to a fresh one and the answer is
    /// [`SyncError::GeneratePanicked`], which the caller counts against the peer.
    pub fn generate_sync_message(
        &mut self,
        state: &mut automerge::sync::State,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        let doc = &self.doc;
        contain_generate(state, |state| {
            doc.generate_sync_message(state).map(|m| m.encode())
        })
    }

    /// The first message of an exchange that starts over after a message was refused for
    /// missing dependencies: from a fresh `state`, asking for `need` by hash and telling the
    /// peer to forget what it sent (automerge's reset flag), so that it sends the refused
    /// changes again along with the ones they depend on. Without `need` the peer would test
    /// its changes against the same bloom filter and leave the same change out again.
    /// A panic inside automerge is contained as in [`Document::generate_sync_message`].
    pub fn restart_sync_message(
        &mut self,
        state: &mut automerge::sync::State,
        need: &[ChangeHash],
    ) -> Result<Option<Vec<u8>>, SyncError> {
        *state = automerge::sync::State::new();
        let doc = &self.doc;
        contain_generate(state, |state| {
            // A fresh state always has something to say (its heads and bloom filter).
            let mut message = doc.generate_sync_message(state)?;
            for hash in need {
                if !message.need.contains(hash) {
                    message.need.push(*hash);
                }
            }
            message
                .flags
                .get_or_insert_with(automerge::sync::MessageFlags::new)
                .set(automerge::sync::MessageFlags::SYNC_RESET);
            Some(message.encode())
        })
    }

    /// Applies a peer's sync message, keeping it only if every new event is valid and allowed
    /// by `roster` (for the roster document, events may authorise each other) and dated at
    /// most [`crate::event::MAX_CLOCK_SKEW_MS`] after `now`, this node's clock, and only if
    /// the document's period is within the network's years ([`Roster::check_period`]).
    /// Returns the new events. On error the document and `state` are as they were.
    pub fn receive_sync_message(
        &mut self,
        state: &mut automerge::sync::State,
        msg: &[u8],
        roster: &Roster,
        now: Timestamp,
    ) -> Result<Vec<SignedEvent>, SyncError> {
        if msg.len() > MAX_SYNC_MESSAGE_BYTES {
            return Err(SyncError::Malformed(format!(
                "{} bytes exceeds the limit",
                msg.len()
            )));
        }
        roster.check_period(&self.id, now)?;
        let before = self.doc.get_heads();
        let saved_state = state.clone();

        let applied = catch_unwind(AssertUnwindSafe(|| {
            let mut message = automerge::sync::Message::decode(msg)
                .map_err(|e| SyncError::Malformed(e.to_string()))?;
            // Before automerge keeps anything of the message in `state`.
            check_message(&message)?;
            // Many changes are applied in batches before the rest of the message: automerge
            // 0.12 builds each batch's columns in one piece, and a catch-up of 10,000 changes
            // in one batch peaked at over 1 GiB.
            if let Some(changes) = split_changes(message.changes.iter()) {
                if changes.len() > APPLY_BATCH {
                    for batch in changes.chunks(APPLY_BATCH) {
                        self.doc
                            .load_incremental(&batch.concat())
                            .map_err(|e| SyncError::Malformed(e.to_string()))?;
                    }
                    message.changes = automerge::sync::ChunkList::empty();
                }
            }
            self.doc
                .receive_sync_message(state, message)
                .map_err(|e| SyncError::Malformed(e.to_string()))
        }));
        let result = match applied {
            // Changes whose dependencies did not come (a bloom filter false positive in the
            // sync protocol can leave one out) are refused with the whole message, naming what
            // is missing; the exchange starts over asking for it (`restart_sync_message`).
            // Holding the changes for a later round instead costs automerge 0.12 far more
            // memory and time on a large catch-up.
            Ok(Ok(())) if !self.doc.get_missing_deps(&[]).is_empty() => {
                Err(SyncError::MissingDeps(self.doc.get_missing_deps(&[])))
            }
            Ok(Ok(())) => self.validate_since(&before, roster).and_then(|events| {
                for event in &events {
                    event.event().check_clock(now)?;
                }
                Ok(events)
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SyncError::Panicked),
        };
        match result {
            Ok(events) => {
                self.ids.extend(events.iter().map(|e| e.id()));
                self.events.extend(events.iter().cloned());
                Ok(events)
            }
            Err(e) => {
                self.rollback(&before);
                *state = saved_state;
                Err(e)
            }
        }
    }

    fn rollback(&mut self, heads: &[ChangeHash]) {
        if self.doc.get_heads() != heads || !self.doc.get_missing_deps(&[]).is_empty() {
            // `fork_at` rebuilds from the changes up to `heads`, dropping the rest and any
            // changes queued for missing dependencies.
            match self.doc.fork_at(heads) {
                Ok(doc) => self.doc = doc,
                Err(_) => {
                    // Cannot happen for heads we had; rebuild from the verified events rather
                    // than keep a document that may hold refused changes.
                    let events = std::mem::take(&mut self.events);
                    self.ids.clear();
                    self.doc = Automerge::new();
                    self.insert(&events);
                }
            }
        }
    }

    /// Checks every operation of every change added since `before` (not only their net
    /// effect, so nothing can be smuggled into history and removed again): each must put a
    /// byte string at the root under the id of the valid, signed event it holds.
    fn validate_since(
        &self,
        before: &[ChangeHash],
        roster: &Roster,
    ) -> Result<Vec<SignedEvent>, SyncError> {
        let changes = catch_unwind(AssertUnwindSafe(|| {
            self.doc
                .get_changes(before)
                .iter()
                .map(|c| c.decode())
                .collect::<Vec<_>>()
        }))
        .map_err(|_| SyncError::Panicked)?;
        let mut fresh: Vec<SignedEvent> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for expanded in changes {
            if expanded.message.is_some()
                || !expanded.extra_bytes.is_empty()
                || expanded.operations.is_empty()
            {
                return Err(SyncError::InvalidChange("change carries extra data".into()));
            }
            for op in expanded.operations {
                let (OpType::Put(ScalarValue::Bytes(bytes)), ObjectId::Root, Key::Map(key), false) =
                    (&op.action, &op.obj, &op.key, op.insert)
                else {
                    return Err(SyncError::InvalidChange(
                        "only new events may be added".into(),
                    ));
                };
                let mut event = SignedEvent::decode(bytes)?;
                event.share_doc(&self.id);
                if event.id().to_string() != key.as_str() {
                    return Err(SyncError::InvalidChange("key is not the event's id".into()));
                }
                if event.event().doc != self.id {
                    return Err(SyncError::InvalidChange(format!(
                        "event belongs in {}",
                        event.event().doc
                    )));
                }
                if self.contains(event.id()) || !seen.insert(event.id()) {
                    continue;
                }
                fresh.push(event);
            }
        }
        authorize_batch(&self.id, &fresh, roster)?;
        Ok(fresh)
    }
}

/// Runs `generate` on `state`, turning a panic inside automerge into
/// [`SyncError::GeneratePanicked`] with `state` reset, so that a peer's input can never unwind
/// into the node loop.
fn contain_generate(
    state: &mut automerge::sync::State,
    generate: impl FnOnce(&mut automerge::sync::State) -> Option<Vec<u8>>,
) -> Result<Option<Vec<u8>>, SyncError> {
    match catch_unwind(AssertUnwindSafe(|| generate(state))) {
        Ok(message) => Ok(message),
        Err(_) => {
            // A state that made automerge panic once would make it panic again.
            *state = automerge::sync::State::new();
            Err(SyncError::GeneratePanicked)
        }
    }
}

/// Checks that every event of a batch is allowed. In the roster document, events of the batch
/// may authorise later ones (a new organisation's admin adding its node).
pub fn authorize_batch(
    doc: &DocId,
    events: &[SignedEvent],
    roster: &Roster,
) -> Result<(), SyncError> {
    if *doc != DocId::roster() {
        for event in events {
            if is_roster_body(&event.event().body) {
                return Err(SyncError::InvalidChange(
                    "roster event outside the roster".into(),
                ));
            }
            roster.admit(event.event()).map_err(SyncError::Auth)?;
        }
        return Ok(());
    }
    authorize_roster_batch(events, roster).0
}

/// The roster document's part of [`authorize_batch`], with the work it did (how many times it
/// tried to apply an event), for tests.
///
/// The rule is that of passes over the batch in (time, id) order, each applying what it can,
/// until all is applied (allowed) or a pass applies nothing (refused, with the error of the
/// last event left). As in [`Roster::from_events_with_work`], events are tried by (pass, time,
/// id) from a priority queue instead, which gives the same order: an event that fails for lack
/// of a key waits until the key is added, and is retried in the same pass if it comes after
/// the event that added it, in the next otherwise. Only two failures can turn into success:
/// an unknown author, and a revocation of a key not known yet. Every other refusal stays a
/// refusal (roles, organisations and keys never change, revocations only move earlier), and
/// the passes would keep the event to the end. A message with a chain of events each dated
/// before the one that added its author took one pass per link.
pub(crate) fn authorize_roster_batch(
    events: &[SignedEvent],
    roster: &Roster,
) -> (Result<(), SyncError>, u64) {
    type Key = (u64, crate::ids::Timestamp, EventId);
    let key_of = |e: &SignedEvent| (e.event().at, e.id());
    let mut queue: BinaryHeap<Reverse<(Key, usize)>> = events
        .iter()
        .enumerate()
        .map(|(i, e)| Reverse(((0, e.event().at, e.id()), i)))
        .collect();
    let mut waiting: HashMap<PublicKey, Vec<usize>> = HashMap::new();
    let mut applied = vec![false; events.len()];
    let mut scratch = roster.clone();
    let mut work = 0;
    while let Some(Reverse(((pass, at, id), i))) = queue.pop() {
        work += 1;
        let event = &events[i];
        match scratch.apply_admitted(event) {
            Ok(added) => {
                applied[i] = true;
                for key in added {
                    for j in waiting.remove(&key).unwrap_or_default() {
                        let e = &events[j];
                        let pass = if key_of(e) > (at, id) { pass } else { pass + 1 };
                        queue.push(Reverse(((pass, e.event().at, e.id()), j)));
                    }
                }
            }
            Err(AuthError::UnknownAuthor(_)) => {
                waiting.entry(event.event().author).or_default().push(i);
            }
            Err(AuthError::Forbidden(_)) => {
                if let Body::Revoke { key, .. } = &event.event().body {
                    if scratch.org_of(key).is_none() {
                        waiting.entry(*key).or_default().push(i);
                    }
                }
            }
            Err(AuthError::Revoked(_)) => {}
        }
    }
    // The passes' last pass ran on the final roster and kept the last error in (time, id)
    // order.
    let last = (0..events.len())
        .filter(|&i| !applied[i])
        .max_by_key(|&i| key_of(&events[i]));
    match last {
        None => (Ok(()), work),
        Some(i) => {
            let err = scratch
                .admit(events[i].event())
                .err()
                .unwrap_or(AuthError::Forbidden("roster".into()));
            (Err(SyncError::Auth(err)), work)
        }
    }
}

/// The passes that [`authorize_roster_batch`] replaces, kept as the reference its results are
/// tested against.
#[cfg(test)]
pub(crate) fn authorize_roster_batch_by_passes(
    events: &[SignedEvent],
    roster: &Roster,
) -> (Result<(), SyncError>, u64) {
    let mut work = 0;
    let mut scratch = roster.clone();
    let mut pending: Vec<&SignedEvent> = events.iter().collect();
    pending.sort_by_key(|e| (e.event().at, e.id()));
    loop {
        let mut progressed = false;
        let mut last_err = None;
        pending.retain(|e| {
            work += 1;
            match scratch.apply_admitted(e) {
                Ok(_) => {
                    progressed = true;
                    false
                }
                Err(err) => {
                    last_err = Some(err);
                    true
                }
            }
        });
        if pending.is_empty() {
            return (Ok(()), work);
        }
        if !progressed {
            return (
                Err(SyncError::Auth(
                    last_err.unwrap_or(AuthError::Forbidden("roster".into())),
                )),
                work,
            );
        }
    }
}

/// Whether an event body belongs to the roster.
pub fn is_roster_body(body: &Body) -> bool {
    matches!(
        body,
        Body::Genesis { .. }
            | Body::AddOrg { .. }
            | Body::AddNode { .. }
            | Body::AddMember { .. }
            | Body::Revoke { .. }
            | Body::DuressSet { .. }
            | Body::DeclareRegion { .. }
            | Body::Network { .. }
    )
}

/// Changes applied at once when a sync message brings many.
pub(crate) const APPLY_BATCH: usize = 256;

/// The individual change chunks of a sync message's chunk lists (a version 2 message joins
/// them in one), or `None` when one is not a change or cannot be read (the message is then
/// handed to automerge whole, which refuses what is malformed).
pub(crate) fn split_changes<'a>(lists: impl Iterator<Item = &'a [u8]>) -> Option<Vec<&'a [u8]>> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const CHANGE: u8 = 1;
    const COMPRESSED_CHANGE: u8 = 2;
    let mut out = Vec::new();
    for list in lists {
        let mut rest = list;
        while !rest.is_empty() {
            if rest.get(..4)? != MAGIC || !matches!(rest.get(8)?, &CHANGE | &COMPRESSED_CHANGE) {
                return None;
            }
            // Magic, checksum and type, then the length of the data as unsigned LEB128.
            let mut at = 9;
            let mut len: usize = 0;
            let mut shift = 0;
            loop {
                let byte = *rest.get(at)?;
                at += 1;
                len |= usize::from(byte & 0x7f).checked_shl(shift)?;
                if byte & 0x80 == 0 {
                    break;
                }
                shift += 7;
                if shift > 28 {
                    return None;
                }
            }
            let end = at.checked_add(len)?;
            out.push(rest.get(..end)?);
            rest = &rest[end..];
        }
    }
    Some(out)
}

/// An automerge document from the chunks this node stored, in order, one call per chunk and
/// at most [`APPLY_BATCH`] changes per call, as [`Document::receive_sync_message`] applies a
/// catch-up: automerge 0.12 builds each call's columns in one piece, and a chunk may hold the
/// thousands of changes one sync message brought. A node compacts every document into one full
/// save at shutdown and after a start-up that found chunks (`engine/compact.rs`), so only a
/// start-up after a crash loads chunks; what it costs in memory is the patched column store's
/// (`vendor/hexane/TEJIDO.md`).
fn load_chunks(chunks: &[Vec<u8>]) -> Result<Automerge, SyncError> {
    let malformed = |e: automerge::AutomergeError| SyncError::Malformed(e.to_string());
    let mut doc = Automerge::new();
    for chunk in chunks {
        match split_changes(std::iter::once(chunk.as_slice())) {
            // A full save (the first chunk of a compacted document) is not split.
            Some(changes) if changes.len() > APPLY_BATCH => {
                for batch in changes.chunks(APPLY_BATCH) {
                    doc.load_incremental(&batch.concat()).map_err(malformed)?;
                }
            }
            _ => {
                doc.load_incremental(chunk).map_err(malformed)?;
            }
        }
    }
    Ok(doc)
}

/// The events of a document this node stored, decoded straight from automerge's values.
fn read_root(doc: &Automerge) -> Result<Vec<SignedEvent>, SyncError> {
    let mut out = Vec::with_capacity(doc.length(ROOT));
    for item in doc.map_range(ROOT, ..) {
        if let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Bytes(b)) = &item.value {
            out.push(SignedEvent::decode_trusted(b)?);
        }
    }
    Ok(out)
}
