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
//!
//! A document keeps its events decoded beside automerge's copy, except a check-in document:
//! check-ins are the bulk of what a node holds (every member, several times a day), and the
//! one view over them needs each person's latest, which the node indexes as check-ins arrive.
//! A check-in document's events are decoded from automerge's values when asked for
//! ([`Document::events`], [`Document::each_event`]).

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};

use automerge::sync::SyncDoc;
use std::collections::HashSet;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Automerge, ChangeHash, ReadDoc, ScalarValue, ROOT};

use crate::event::{AheadOfClock, EventId, SignedEvent, VerifyError};
use crate::ids::{Collection, DocId, PeriodError, Timestamp};
use crate::roster::{AuthError, Roster};

mod authorize;
mod bounds;
mod cold;
pub use authorize::{authorize_batch, is_roster_body};
#[cfg(test)]
pub(crate) use authorize::{authorize_roster_batch, authorize_roster_batch_by_passes};
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
    /// The events, decoded, where the document keeps them ([`Document::keeps_events`]);
    /// empty otherwise.
    events: Vec<SignedEvent>,
    /// The ids of every event in the document, for membership tests.
    ids: HashSet<EventId>,
}

/// Whether a document keeps its events decoded (every collection but check-ins).
fn keeps_events(id: &DocId) -> bool {
    id.collection() != Collection::Checkins
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
        let (events, ids) = if keeps_events(&id) {
            let mut events = read_root(&doc)?;
            for event in &mut events {
                event.share_doc(&id);
            }
            let ids = events.iter().map(|e| e.id()).collect();
            (events, ids)
        } else {
            (Vec::new(), read_ids(&doc)?)
        };
        Ok(Self {
            id,
            doc,
            cold: None,
            events,
            ids,
        })
    }

    /// [`Document::load`], showing `visit` every event as it is read: the events a document
    /// keeps once loaded, a check-in document's each decoded in the one pass that reads the
    /// ids and dropped after `visit` (a start-up's indexes are built without a second pass).
    /// A stored value that is not an event fails the load, as it was never put there.
    pub fn load_each(
        doc_id: DocId,
        chunks: &[Vec<u8>],
        mut visit: impl FnMut(&SignedEvent),
    ) -> Result<Self, SyncError> {
        if keeps_events(&doc_id) {
            let doc = Self::load(doc_id, chunks)?;
            doc.events.iter().for_each(visit);
            return Ok(doc);
        }
        let doc = load_chunks(chunks)?;
        let mut ids = HashSet::with_capacity(doc.length(ROOT));
        for item in doc.map_range(ROOT, ..) {
            let not_an_event =
                || SyncError::Malformed(format!("a stored value is not an event: {:?}", item.key));
            let id = stored_id(&item.key).ok_or_else(not_an_event)?;
            let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Bytes(b)) = &item.value
            else {
                return Err(not_an_event());
            };
            let mut event = SignedEvent::decode_stored(b, id).map_err(|_| not_an_event())?;
            event.share_doc(&doc_id);
            visit(&event);
            ids.insert(id);
        }
        Ok(Self {
            id: doc_id,
            doc,
            cold: None,
            events: Vec::new(),
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
        if doc.keeps_events() {
            doc.events = events;
        }
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

    /// Whether the document keeps its events decoded in memory (every collection but
    /// check-ins). One that does not decodes them from automerge's values when asked for, and
    /// never goes cold ([`Document::set_cold`]).
    pub fn keeps_events(&self) -> bool {
        keeps_events(&self.id)
    }

    /// Every event in the document, in no particular order: borrowed where the document keeps
    /// them, decoded otherwise (a check-in document: about a microsecond per event).
    pub fn events(&self) -> Cow<'_, [SignedEvent]> {
        if self.keeps_events() {
            Cow::Borrowed(&self.events)
        } else {
            Cow::Owned(self.each_event().map(Cow::into_owned).collect())
        }
    }

    /// The events a document keeps decoded, borrowed: all of them for a document that keeps
    /// them ([`Document::keeps_events`]), none for a check-in document.
    pub fn kept_events(&self) -> &[SignedEvent] {
        &self.events
    }

    /// Every event in the document one at a time, in no particular order: borrowed where the
    /// document keeps them, each decoded as it comes otherwise (nothing held beyond the one).
    pub fn each_event(&self) -> impl Iterator<Item = Cow<'_, SignedEvent>> + '_ {
        let kept = self.keeps_events();
        let borrowed = kept.then(|| self.events.iter().map(Cow::Borrowed));
        let decoded = (!kept).then(|| {
            self.doc.map_range(ROOT, ..).filter_map(|item| {
                let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Bytes(b)) = &item.value
                else {
                    return None;
                };
                // Only verified events were ever put here, each under its id (the node
                // checks at start-up that each decodes).
                let mut event = decode_item(&item.key, b).ok()?;
                event.share_doc(&self.id);
                Some(Cow::Owned(event))
            })
        });
        borrowed
            .into_iter()
            .flatten()
            .chain(decoded.into_iter().flatten())
    }

    /// Whether the document holds this event.
    pub fn contains(&self, id: EventId) -> bool {
        self.ids.contains(&id)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the document holds no events.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The events added since `heads` (heads this document does not know are ignored, so
    /// the answer errs on the side of more).
    pub fn events_since(&self, heads: &[ChangeHash]) -> Vec<Cow<'_, SignedEvent>> {
        if self.cold.is_some() {
            // Without the automerge document: all of them (a cold document keeps them).
            return self.events.iter().map(Cow::Borrowed).collect();
        }
        let known: Vec<ChangeHash> = heads
            .iter()
            .filter(|h| self.doc.get_change_by_hash(h).is_some())
            .copied()
            .collect();
        if known.is_empty() {
            return self.each_event().collect();
        }
        let mut keys = HashSet::new();
        for change in self.doc.get_changes(&known) {
            for op in change.decode().operations {
                if let Key::Map(key) = op.key {
                    keys.insert(key.to_string());
                }
            }
        }
        self.each_event()
            .filter(|e| keys.contains(&e.id().to_string()))
            .collect()
    }

    /// The whole document in automerge's binary format.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// The whole document as a node stores it: automerge's binary format with its columns
    /// left uncompressed. The events' signatures and sealed parts hardly compress, and a load
    /// that need not inflate every column first is faster.
    pub fn save_for_store(&self) -> Vec<u8> {
        self.doc.save_nocompress()
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
        if self.keeps_events() {
            self.events.extend(fresh.iter().map(|e| {
                let mut e = (*e).clone();
                e.share_doc(&self.id);
                e
            }));
        }
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
                if self.keeps_events() {
                    self.events.extend(events.iter().cloned());
                }
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
                    let events = if self.keeps_events() {
                        std::mem::take(&mut self.events)
                    } else {
                        read_root_at(&self.doc, heads)
                    };
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
            out.push(decode_item(&item.key, b)?);
        }
    }
    Ok(out)
}

/// A stored event from its key and bytes: its id taken from the key when the key is one.
fn decode_item(key: &str, bytes: &[u8]) -> Result<SignedEvent, crate::event::VerifyError> {
    match stored_id(key) {
        Some(id) => SignedEvent::decode_stored(bytes, id),
        None => SignedEvent::decode_trusted(bytes),
    }
}

/// The event id a stored key names (each key was checked to be its event's id before it was
/// stored), if it is one.
fn stored_id(key: &str) -> Option<EventId> {
    let mut id = [0u8; 16];
    if key.len() != 2 * id.len() {
        return None;
    }
    match data_encoding::HEXLOWER.decode_mut(key.as_bytes(), &mut id) {
        Ok(16) => Some(EventId(id)),
        _ => None,
    }
}

/// The ids of the events of a document this node stored, read from their keys (each key was
/// checked to be its event's id before it was stored). The events are decoded when asked for.
fn read_ids(doc: &Automerge) -> Result<HashSet<EventId>, SyncError> {
    let mut out = HashSet::with_capacity(doc.length(ROOT));
    for item in doc.map_range(ROOT, ..) {
        let Some(id) = stored_id(&item.key) else {
            return Err(SyncError::Malformed(format!(
                "a stored key is not an event id: {:?}",
                item.key
            )));
        };
        out.insert(id);
    }
    Ok(out)
}

/// The events of a document as they were at `heads` (decoded; those that do not decode left
/// out, as none was ever put there).
fn read_root_at(doc: &Automerge, heads: &[ChangeHash]) -> Vec<SignedEvent> {
    doc.map_range_at(ROOT, .., heads)
        .filter_map(|item| match &item.value {
            automerge::ValueRef::Scalar(automerge::ScalarValueRef::Bytes(b)) => {
                SignedEvent::decode_trusted(b).ok()
            }
            _ => None,
        })
        .collect()
}
