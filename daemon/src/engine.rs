//! The sync engine's state: every document of the node, the roster folded from the roster
//! document, and the store they persist to.
//!
//! Invariant: a document in memory holds only events that were verified and authorised, and
//! every change to it is written to the store as it is made. Writes are not flushed here: the
//! caller flushes ([`Engine::flush`]) before it tells any client or operator that a change is
//! stored. Peers may be sent a change before that flush; it is not an acknowledgement.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context;
use protocol::doc::{Document, SyncError};
use protocol::event::{Body, Event, EventId, SignedEvent};
use protocol::ids::{Collection, DocId, PublicKey, SecretKey, Timestamp};
use protocol::roster::Roster;
use protocol::wire::DocSummary;

mod checkins;
mod cold;
mod compact;
mod seqs;
mod staged;
mod views;

use seqs::{numbered, AuthorSeqs};

use crate::store::Store;
use crate::sync::ApplyError;

/// Events accepted in one client request.
pub(crate) const MAX_EVENTS_PER_SUBMIT: usize = 64;

/// Why a client's events were refused; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SubmitError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("store failure: {0:#}")]
    Internal(anyhow::Error),
}

/// Why a bundle was refused; nothing of it was applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImportError {
    #[error("{doc}: {error}")]
    Event {
        doc: DocId,
        error: protocol::event::VerifyError,
    },
    #[error("{doc}: an event belongs in {belongs}")]
    Misplaced { doc: DocId, belongs: DocId },
    #[error("{doc}: {error}")]
    Clock {
        doc: DocId,
        error: protocol::event::AheadOfClock,
    },
    #[error("{doc}: {error}")]
    Period {
        doc: DocId,
        error: protocol::ids::PeriodError,
    },
    #[error("unknown document {0}")]
    UnknownDoc(DocId),
    #[error("{doc}: {error}")]
    Refused { doc: DocId, error: SyncError },
    #[error("store failure: {0:#}")]
    Store(anyhow::Error),
}

/// Counters reported by `status`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) refused_connections: u64,
    pub(crate) rejected_changes: u64,
    /// Client submits and peer messages that added events.
    pub(crate) applied_changes: u64,
    pub(crate) throttled_requests: u64,
    /// Gossiped alerts accepted (valid; shown and forwarded).
    pub(crate) gossip_accepted: u64,
    /// Gossiped messages rejected (invalid; dropped, never forwarded).
    pub(crate) gossip_rejected: u64,
    /// Organisations, nodes and admins that appeared in the roster since start.
    pub(crate) roster_additions: u64,
    /// Keys found in use on two devices (two events with one sequence number) since start.
    pub(crate) cloned_keys: u64,
}

/// How long documents are kept after their period ends. A seized node reveals no more than
/// this; every node drops old documents whole and refuses them from peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Alert documents.
    pub alerts: std::time::Duration,
    /// Check-in documents.
    pub checkins: std::time::Duration,
}

/// A missed check-in alert still open: where it is, and whom and which due time it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenMissedCheckin {
    pub(crate) doc: DocId,
    pub(crate) id: protocol::ids::RecordId,
    pub(crate) subject: PublicKey,
    pub(crate) due: Timestamp,
}

/// What a node decides about a gossiped alert.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Valid: show it and forward it.
    Accept,
    /// Not yet judgeable (the roster does not know the author yet): neither forward nor
    /// penalise; sync will bring it if it is valid.
    Ignore,
    /// Invalid: drop, count against the peer, never forward.
    Reject(String),
}

/// Loads one stored document at start-up, showing `visit` each of its events.
fn load_stored(
    id: &DocId,
    chunks: &[Vec<u8>],
    visit: impl FnMut(&SignedEvent),
) -> anyhow::Result<Document> {
    Document::load_each(id.clone(), chunks, visit).with_context(|| format!("loading document {id}"))
}

/// Roster news kept for `status`.
const MAX_ROSTER_NEWS: usize = 64;

/// Gossiped alerts kept at most while sync catches up with them.
const MAX_HINTS: usize = 1024;
/// How long a gossiped alert is shown without its document holding it.
const HINT_TTL_MS: i64 = 10 * 60 * 1000;

pub(crate) struct Engine {
    /// How long documents are kept after their period; none when unset (tests of the engine).
    retention: Option<Retention>,
    store: Store,
    docs: BTreeMap<DocId, Document>,
    /// Valid alerts learnt by gossip that their document does not hold yet, oldest first: shown
    /// in views meanwhile, never stored, never signed for.
    hints: std::collections::VecDeque<SignedEvent>,
    roster: Roster,
    /// Organisations, nodes and admins that appeared since start ([`Engine::roster_news`]).
    roster_news: Vec<String>,
    /// Every author's sequence numbers, over every document held.
    seqs: HashMap<PublicKey, AuthorSeqs>,
    /// Keys seen with two events under one number ([`Engine::clones`]).
    clones: std::collections::BTreeSet<PublicKey>,
    /// This node's own keys: the next sequence number and the highest reserved on disk.
    own_seqs: HashMap<PublicKey, (u64, u64)>,
    /// Documents that start-up loaded from more than one chunk, to compact once
    /// ([`Engine::compact_loaded`]).
    loaded_in_chunks: Vec<DocId>,
    /// Ticks of the cold documents' clock ([`Engine::cool_idle`]), and the tick at which each
    /// document was last written or synced.
    ticks: u64,
    last_used: HashMap<DocId, u64>,
    /// Members' events checked and waiting for the end of the turn, when each document's
    /// share becomes one change ([`Engine::stage`], `engine/staged.rs`).
    staged: BTreeMap<DocId, Vec<SignedEvent>>,
    /// Each person's latest check-in; `None` when stale (`engine/checkins.rs`).
    latest: std::cell::RefCell<Option<checkins::LatestIndex>>,
    pub(crate) stats: Stats,
}

impl Engine {
    /// Opens the store and loads every document.
    pub(crate) fn open(
        store_dir: &Path,
        at_rest: Option<std::sync::Arc<crate::at_rest::AtRest>>,
    ) -> anyhow::Result<Self> {
        let started = std::time::Instant::now();
        let mut store = Store::open(store_dir, at_rest)?;
        let mut stored = store.load_docs()?;
        let read = started.elapsed();
        let mut engine = Self {
            retention: None,
            store,
            docs: BTreeMap::new(),
            roster: Roster::default(),
            roster_news: Vec::new(),
            seqs: HashMap::new(),
            clones: std::collections::BTreeSet::new(),
            own_seqs: HashMap::new(),
            loaded_in_chunks: Vec::new(),
            ticks: 0,
            last_used: HashMap::new(),
            staged: BTreeMap::new(),
            stats: Stats::default(),
            hints: std::collections::VecDeque::new(),
            latest: std::cell::RefCell::new(None),
        };
        // Each document's events are seen once as it loads, each decoded and dropped in turn
        // where its document does not keep it: the sequence numbers and the latest check-ins.
        // The roster comes first, as which check-in counts depends on it.
        let mut numbers: Vec<(PublicKey, u64, EventId)> = Vec::new();
        let mut latest = checkins::LatestIndex::default();
        if let Some(i) = stored.iter().position(|(id, _)| *id == DocId::roster()) {
            let (id, chunks) = stored.swap_remove(i);
            let doc = load_stored(&id, &chunks, |e| numbers.extend(numbered(e)))?;
            engine.add_loaded(id, doc, chunks.len());
        }
        engine.refold_roster();
        let roster_done = started.elapsed();
        for (id, chunks) in stored {
            let checkins = id.collection() == Collection::Checkins;
            let roster = &engine.roster;
            let doc = load_stored(&id, &chunks, |e| {
                numbers.extend(numbered(e));
                if checkins {
                    latest.offer(roster, e);
                }
            })?;
            engine.add_loaded(id, doc, chunks.len());
        }
        let documents = started.elapsed();
        *engine.latest.get_mut() = Some(latest);
        engine.note_numbers(numbers);
        tracing::debug!(
            read_ms = read.as_millis() as u64,
            roster_ms = roster_done.as_millis() as u64,
            documents_ms = documents.as_millis() as u64,
            numbers_ms = started.elapsed().as_millis() as u64,
            "store opened (times since the start of the opening)"
        );
        Ok(engine)
    }

    /// Holds a document start-up loaded from `chunks` chunks.
    fn add_loaded(&mut self, id: DocId, doc: Document, chunks: usize) {
        if chunks > 1 {
            self.loaded_in_chunks.push(id.clone());
        }
        self.docs.insert(id, doc);
    }

    /// Sets the retention policy; call [`Engine::apply_retention`] to enforce it.
    pub(crate) fn set_retention(&mut self, retention: Retention) {
        self.retention = Some(retention);
    }

    /// Whether a document is older than this node keeps.
    pub(crate) fn is_expired(&self, doc: &DocId, now: Timestamp) -> bool {
        let (Some(retention), Some(end)) = (self.retention, doc.period_end()) else {
            return false;
        };
        let keep = match doc.collection() {
            Collection::Alerts | Collection::Receipts => retention.alerts,
            Collection::Checkins => retention.checkins,
            _ => return false,
        };
        end.plus_ms(keep.as_millis().min(i64::MAX as u128) as i64) < now
    }

    /// Drops every document past retention, from memory and from the store.
    pub(crate) fn apply_retention(&mut self, now: Timestamp) -> anyhow::Result<Vec<DocId>> {
        let expired: Vec<DocId> = self
            .docs
            .keys()
            .filter(|d| self.is_expired(d, now))
            .cloned()
            .collect();
        for doc in &expired {
            self.store.remove_doc(doc)?;
            self.docs.remove(doc);
            self.last_used.remove(doc);
            if doc.collection() == Collection::Checkins {
                self.checkins_changed();
            }
        }
        Ok(expired)
    }

    pub(crate) fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Puts every change written so far on disk (nothing to do when there is none).
    pub(crate) fn flush(&mut self) -> anyhow::Result<()> {
        self.store.flush()
    }

    /// [`Engine::flush`], awaiting the disk instead of blocking the thread.
    pub(crate) async fn flush_async(&mut self) -> anyhow::Result<()> {
        self.store.flush_async().await
    }

    pub(crate) fn roster(&self) -> &Roster {
        &self.roster
    }

    /// Whether this node holds `doc`.
    pub(crate) fn has_doc(&self, doc: &DocId) -> bool {
        self.docs.contains_key(doc)
    }

    pub(crate) fn docs(&self) -> impl Iterator<Item = &Document> {
        self.docs.values()
    }

    pub(crate) fn store_bytes(&self) -> u64 {
        self.store.size_on_disk()
    }

    fn refold_roster(&mut self) {
        let roster = match self.docs.get(&DocId::roster()) {
            Some(doc) => Roster::from_events(doc.kept_events()),
            None => Roster::default(),
        };
        // What a network had when this node first saw it (at start-up, or on joining another
        // network) is not news; what appears later is.
        if self.roster.network.is_some() && self.roster.genesis_at == roster.genesis_at {
            for line in roster.news_since(&self.roster) {
                tracing::warn!(news = %line, "the roster changed");
                self.roster_news.push(line);
                self.stats.roster_additions += 1;
            }
            let excess = self.roster_news.len().saturating_sub(MAX_ROSTER_NEWS);
            self.roster_news.drain(..excess);
        }
        // Which check-in counts depends on members, keys and organisations, not on where
        // nodes are: a node's new addresses leave the index as it is.
        if !self.roster.same_but_addresses(&roster) {
            self.checkins_changed();
        }
        self.roster = roster;
    }

    /// Organisations, nodes and admins that appeared since start, newest last.
    pub(crate) fn roster_news(&self) -> &[String] {
        &self.roster_news
    }

    /// Creates the network's genesis: the first organisation, its admin and this node.
    pub(crate) fn genesis(
        &mut self,
        admin: &SecretKey,
        node: PublicKey,
        network: &str,
        org: &str,
        consent: Option<u8>,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let seq = self.next_seq(&admin.public())?;
        let genesis = SignedEvent::sign(
            Event {
                author: admin.public(),
                at: now,
                seq,
                doc: DocId::roster(),
                body: Body::Genesis {
                    network: network.to_string(),
                    org: org.to_string(),
                    node,
                    admin_name: "admin".into(),
                    consent,
                },
            },
            admin,
        )?;
        self.submit(None, vec![genesis], now)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    /// Whether this node has nothing but its own genesis: no other member, node or record.
    pub(crate) fn is_pristine(&self) -> bool {
        self.roster.members.len() <= 1
            && self.roster.nodes.len() <= 1
            && self
                .docs
                .values()
                .all(|d| *d.id() == DocId::roster() || d.is_empty())
    }

    /// Replaces this node's roster by a network's roster document (when joining it), after
    /// verifying every event in it as if it came from a peer.
    pub(crate) fn adopt_roster(&mut self, bytes: &[u8], me: &PublicKey) -> anyhow::Result<()> {
        // Every operation is checked as in sync, against an empty roster: the document must
        // authorise itself from its genesis on.
        let loaded = Document::load_from_peer(DocId::roster(), bytes, &Roster::default())
            .map_err(|e| anyhow::anyhow!("the roster received is not valid: {e}"))?;
        let verified = loaded.events().to_vec();
        let roster = Roster::from_events(&verified);
        if !roster.nodes.contains_key(me) {
            anyhow::bail!("the roster received does not include this node");
        }
        self.store
            .compact(&DocId::roster(), &loaded.save_for_store())?;
        self.docs.insert(DocId::roster(), loaded);
        self.refold_roster();
        Ok(())
    }

    /// Verifies, authorises and stores events written by `requester` (or by this node's own
    /// keys when `None`). Returns the ids and the documents that changed. The store is not
    /// flushed: call [`Engine::flush`] before answering `Stored`.
    pub(crate) fn submit(
        &mut self,
        requester: Option<PublicKey>,
        events: Vec<SignedEvent>,
        now: Timestamp,
    ) -> Result<(Vec<EventId>, Vec<DocId>), SubmitError> {
        let by_doc = self.check_submit(requester, events, now)?;
        self.insert_checked(by_doc)
    }

    /// Every check of [`Engine::submit`], without storing: the events by document.
    fn check_submit(
        &self,
        requester: Option<PublicKey>,
        events: Vec<SignedEvent>,
        now: Timestamp,
    ) -> Result<BTreeMap<DocId, Vec<SignedEvent>>, SubmitError> {
        if events.is_empty() || events.len() > MAX_EVENTS_PER_SUBMIT {
            return Err(SubmitError::BadRequest(format!(
                "send 1 to {MAX_EVENTS_PER_SUBMIT} events"
            )));
        }
        let mut by_doc: BTreeMap<DocId, Vec<SignedEvent>> = BTreeMap::new();
        for event in events {
            let ev = event.event();
            if requester.is_some_and(|r| r != ev.author) {
                return Err(SubmitError::Forbidden(
                    "events must be written by the sender".into(),
                ));
            }
            if ev.check_clock(now).is_err() {
                return Err(SubmitError::BadRequest(
                    "event time is in the future; check the device clock".into(),
                ));
            }
            if !self.roster.accepts_doc(&ev.doc) {
                return Err(SubmitError::Forbidden(match ev.doc.scope() {
                    Some(scope) if ev.doc.collection() != Collection::Checkins => format!(
                        "no organisation of this network declared the region {scope:?}; an \
                         organisation declares a region when it invites someone for it"
                    ),
                    _ => format!("unknown document {}", ev.doc),
                }));
            }
            if self.is_expired(&ev.doc, now) {
                return Err(SubmitError::BadRequest(format!(
                    "{} is older than this node keeps",
                    ev.doc
                )));
            }
            if let Err(e) = self.roster.check_period(&ev.doc, now) {
                return Err(SubmitError::BadRequest(format!("{}: {e}", ev.doc)));
            }
            if let Body::Ack { alert } | Body::Assign { alert, .. } | Body::Resolve { alert, .. } =
                &ev.body
            {
                let is_it = |e: &SignedEvent| e.event().body.created_alert() == Some(*alert);
                // An alert shown from gossip may be acknowledged before sync brings it.
                let found = self
                    .docs
                    .get(&ev.doc)
                    .is_some_and(|d| d.events().iter().any(is_it))
                    || self
                        .hints
                        .iter()
                        .any(|e| e.event().doc == ev.doc && is_it(e))
                    || self
                        .staged
                        .get(&ev.doc)
                        .is_some_and(|s| s.iter().any(is_it));
                if !found {
                    return Err(SubmitError::NotFound(format!(
                        "no alert {alert} in {}",
                        ev.doc
                    )));
                }
            }
            by_doc.entry(ev.doc.clone()).or_default().push(event);
        }
        for (doc, events) in &by_doc {
            protocol::doc::authorize_batch(doc, events, &self.roster)
                .map_err(|e| SubmitError::Forbidden(e.to_string()))?;
        }
        Ok(by_doc)
    }

    /// Inserts events [`Engine::check_submit`] passed, one change per document. Returns their
    /// ids and the documents that changed.
    fn insert_checked(
        &mut self,
        by_doc: BTreeMap<DocId, Vec<SignedEvent>>,
    ) -> Result<(Vec<EventId>, Vec<DocId>), SubmitError> {
        let mut ids = Vec::new();
        let mut changed = Vec::new();
        for (doc_id, events) in by_doc {
            ids.extend(events.iter().map(|e| e.id()));
            self.warm(&doc_id).map_err(SubmitError::Internal)?;
            let doc = self
                .docs
                .entry(doc_id.clone())
                .or_insert_with(|| Document::new(doc_id.clone()));
            let before = doc.heads();
            if doc.insert(&events) > 0 {
                self.persist(&doc_id, &before)
                    .map_err(SubmitError::Internal)?;
                self.stats.applied_changes += 1;
                self.note_events(&events);
                changed.push(doc_id);
            }
        }
        if changed.contains(&DocId::roster()) {
            self.refold_roster();
        }
        Ok((ids, changed))
    }

    /// Writes a document's changes since `before` to the store (not flushed), compacting its
    /// chunks when there are enough of them.
    fn persist(&mut self, id: &DocId, before: &[automerge::ChangeHash]) -> anyhow::Result<()> {
        let Some(doc) = self.docs.get(id) else {
            return Ok(());
        };
        self.last_used.insert(id.clone(), self.ticks);
        let chunk = doc.save_after(before);
        if self.store.append_chunk(id, &chunk)? {
            let full = doc.save_for_store();
            self.store.compact(id, &full)?;
        }
        Ok(())
    }

    /// The roster document in automerge's format.
    pub(crate) fn roster_bytes(&self) -> Option<Vec<u8>> {
        // The roster is never cold.
        self.docs.get(&DocId::roster()).map(|d| d.save())
    }

    /// Every document's events for a sneakernet bundle, or only those added since the given
    /// heads (documents absent from `since` are carried whole).
    pub(crate) fn export_contents(
        &self,
        since: Option<&BTreeMap<DocId, Vec<automerge::ChangeHash>>>,
    ) -> protocol::bundle::Contents {
        let docs = self
            .docs
            .values()
            .filter_map(|d| {
                let events: Vec<std::borrow::Cow<'_, SignedEvent>> =
                    match since.and_then(|s| s.get(d.id())) {
                        Some(heads) => d.events_since(heads),
                        None => d.each_event().collect(),
                    };
                (!events.is_empty()).then(|| {
                    (
                        d.id().clone(),
                        events.iter().map(|e| e.to_bytes()).collect(),
                    )
                })
            })
            .collect();
        protocol::bundle::Contents { docs }
    }

    /// Applies a bundle's events with the same checks as sync, all or nothing: every event is
    /// verified and authorised (roster events first, against the roster they extend) before
    /// any is stored (not flushed). Returns the number of new events and the documents that
    /// changed.
    pub(crate) fn import(
        &mut self,
        contents: protocol::bundle::Contents,
        now: Timestamp,
    ) -> Result<(usize, Vec<DocId>), ImportError> {
        let mut batches: Vec<(DocId, Vec<SignedEvent>)> = Vec::new();
        for (doc, events) in contents.docs {
            if self.is_expired(&doc, now) {
                continue;
            }
            if let Err(error) = self.roster.check_period(&doc, now) {
                return Err(ImportError::Period { doc, error });
            }
            let mut fresh = Vec::new();
            for bytes in events {
                let event = SignedEvent::decode(&bytes).map_err(|error| ImportError::Event {
                    doc: doc.clone(),
                    error,
                })?;
                if event.event().doc != doc {
                    return Err(ImportError::Misplaced {
                        belongs: event.event().doc.clone(),
                        doc,
                    });
                }
                if let Err(error) = event.event().check_clock(now) {
                    return Err(ImportError::Clock { doc, error });
                }
                let known = self.docs.get(&doc).is_some_and(|d| d.contains(event.id()));
                if !known && !fresh.iter().any(|f: &SignedEvent| f.id() == event.id()) {
                    fresh.push(event);
                }
            }
            if !fresh.is_empty() {
                batches.push((doc, fresh));
            }
        }
        // The roster first: the other documents' authors are checked against it.
        batches.sort_by_key(|(doc, _)| *doc != DocId::roster());
        let mut roster = self.roster.clone();
        for (doc, events) in &batches {
            if *doc == DocId::roster() {
                protocol::doc::authorize_batch(doc, events, &roster).map_err(|error| {
                    ImportError::Refused {
                        doc: doc.clone(),
                        error,
                    }
                })?;
                let mut all: Vec<SignedEvent> = self
                    .docs
                    .get(doc)
                    .map(|d| d.events().to_vec())
                    .unwrap_or_default();
                all.extend(events.iter().cloned());
                roster = Roster::from_events(&all);
            } else {
                if !roster.accepts_doc(doc) {
                    return Err(ImportError::UnknownDoc(doc.clone()));
                }
                protocol::doc::authorize_batch(doc, events, &roster).map_err(|error| {
                    ImportError::Refused {
                        doc: doc.clone(),
                        error,
                    }
                })?;
            }
        }
        let mut added = 0;
        let mut changed = Vec::new();
        for (doc_id, events) in batches {
            self.warm(&doc_id).map_err(ImportError::Store)?;
            let doc = self
                .docs
                .entry(doc_id.clone())
                .or_insert_with(|| Document::new(doc_id.clone()));
            let before = doc.heads();
            added += doc.insert(&events);
            self.persist(&doc_id, &before).map_err(ImportError::Store)?;
            self.note_events(&events);
            changed.push(doc_id);
        }
        if changed.contains(&DocId::roster()) {
            self.refold_roster();
        }
        Ok((added, changed))
    }
}

/// An event's author, sequence number and id: what the clone check keeps of it.
impl crate::sync::Docs for Engine {
    /// Applies a peer's message. A document is created only when the message brought valid
    /// changes to it: a peer that merely names an id leaves nothing behind.
    fn receive(
        &mut self,
        doc_id: &DocId,
        state: &mut automerge::sync::State,
        msg: &[u8],
        now: Timestamp,
    ) -> Result<Option<Vec<SignedEvent>>, ApplyError> {
        if !self.roster.accepts_doc(doc_id) {
            return Err(SyncError::InvalidChange(format!("unknown document {doc_id}")).into());
        }
        if let Err(e) = self.warm(doc_id) {
            return Err(ApplyError::Store(format!("{e:#}")));
        }
        let mut fresh_doc = None;
        let doc = match self.docs.get_mut(doc_id) {
            Some(doc) => doc,
            None => fresh_doc.insert(Document::new(doc_id.clone())),
        };
        let before = doc.heads();
        let fresh = doc.receive_sync_message(state, msg, &self.roster, now)?;
        if doc.heads() == before {
            return Ok(None);
        }
        if let Some(doc) = fresh_doc {
            self.docs.insert(doc_id.clone(), doc);
        }
        if let Err(e) = self.persist(doc_id, &before) {
            return Err(ApplyError::Store(format!("{e:#}")));
        }
        if *doc_id == DocId::roster() && !fresh.is_empty() {
            self.refold_roster();
        }
        self.note_events(&fresh);
        self.stats.applied_changes += 1;
        Ok(Some(fresh))
    }

    fn generate(
        &mut self,
        doc_id: &DocId,
        state: &mut automerge::sync::State,
        need: Option<&[automerge::ChangeHash]>,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        if let Err(e) = self.warm(doc_id) {
            // This node's disk, not the peer: nothing to say this time.
            tracing::error!(error = %format!("{e:#}"), "cannot answer a peer");
            return Ok(None);
        }
        let mut empty = None;
        let doc = match self.docs.get_mut(doc_id) {
            Some(doc) => doc,
            None => empty.insert(Document::new(doc_id.clone())),
        };
        // automerge works on the peer's state here (its bloom filters): the document contains
        // a panic like in receiving, so a hostile state cannot take the node down.
        match need {
            Some(need) => doc.restart_sync_message(state, need),
            None => doc.generate_sync_message(state),
        }
    }

    fn summary(&self) -> Vec<DocSummary> {
        Engine::summary(self)
    }

    fn wants(&self, doc: &DocId, now: Timestamp) -> bool {
        self.roster.accepts_doc(doc)
            && self.roster.check_period(doc, now).is_ok()
            && !self.is_expired(doc, now)
    }
}
