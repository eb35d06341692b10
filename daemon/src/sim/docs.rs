//! A simulated node's documents: the engine's [`Docs`] over `protocol` documents in memory,
//! without the store. `receive`, `generate`, `summary` and `wants` are the engine's
//! (`engine.rs`, `engine/views.rs`) less persistence and retention; `check_hint` is
//! `Engine::check_hint` less retention, the check a node runs on a gossiped alert.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use automerge::ChangeHash;
use protocol::doc::{Document, SyncError};
use protocol::event::{Body, SignedEvent};
use protocol::ids::{DocId, Timestamp};
use protocol::roster::{AuthError, Roster};
use protocol::wire::DocSummary;

use crate::engine::Verdict;
use crate::sync::{ApplyError, Docs};

/// One node's documents and its folded roster (shared between nodes until one's changes).
pub(crate) struct SimDocs {
    docs: BTreeMap<DocId, Document>,
    roster: Rc<Roster>,
    /// The automerge actor of this node's own changes.
    actor: Vec<u8>,
}

impl SimDocs {
    /// A node's documents at the start, with the roster they fold to.
    pub(crate) fn new(docs: Vec<Document>, roster: Rc<Roster>, actor: Vec<u8>) -> Self {
        Self {
            docs: docs.into_iter().map(|d| (d.id().clone(), d)).collect(),
            roster,
            actor,
        }
    }

    /// Stores an event this node accepted from a member (already signed, verified and
    /// authorised by construction), as its own change. Returns whether it was new.
    pub(crate) fn insert(&mut self, event: &SignedEvent) -> bool {
        let id = event.event().doc.clone();
        let actor = &self.actor;
        let doc = self.docs.entry(id.clone()).or_insert_with(|| {
            let mut d = Document::new(id);
            d.set_actor(actor);
            d
        });
        doc.set_actor(actor);
        doc.insert(std::slice::from_ref(event)) == 1
    }

    /// What a node decides about a gossiped alert (`Engine::check_hint`, less retention).
    pub(crate) fn check_hint(&self, event: &SignedEvent, now: Timestamp) -> Verdict {
        let ev = event.event();
        if !matches!(ev.body, Body::Alert(_)) {
            return Verdict::Reject("only alerts are gossiped".into());
        }
        if !self.roster.accepts_doc(&ev.doc) {
            return Verdict::Ignore;
        }
        if ev.check_clock(now).is_err() {
            return Verdict::Reject("from the future".into());
        }
        if let Err(e) = self.roster.check_period(&ev.doc, now) {
            return Verdict::Reject(e.to_string());
        }
        match self.roster.authorize(ev) {
            Ok(()) => Verdict::Accept,
            Err(AuthError::UnknownAuthor(_)) => Verdict::Ignore,
            Err(e) => Verdict::Reject(e.to_string()),
        }
    }

    /// A digest of every document's heads: equal digests, equal documents.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut h = DefaultHasher::new();
        for d in self.docs.values().filter(|d| !d.is_empty()) {
            d.id().hash(&mut h);
            let mut heads = d.heads();
            heads.sort();
            for head in heads {
                head.0.hash(&mut h);
            }
        }
        h.finish()
    }

    /// Events held, over all documents.
    pub(crate) fn events(&self) -> usize {
        self.docs.values().map(Document::len).sum()
    }
}

impl Docs for SimDocs {
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
        if *doc_id == DocId::roster() && !fresh.is_empty() {
            if let Some(roster) = self.docs.get(doc_id) {
                self.roster = Rc::new(Roster::from_events(roster.events().iter()));
            }
        }
        Ok(Some(fresh))
    }

    fn generate(
        &mut self,
        doc_id: &DocId,
        state: &mut automerge::sync::State,
        need: Option<&[ChangeHash]>,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        let mut empty = None;
        let doc = match self.docs.get_mut(doc_id) {
            Some(doc) => doc,
            None => empty.insert(Document::new(doc_id.clone())),
        };
        match need {
            Some(need) => doc.restart_sync_message(state, need),
            None => doc.generate_sync_message(state),
        }
    }

    fn summary(&self) -> Vec<DocSummary> {
        self.docs
            .values()
            .filter(|d| !d.is_empty())
            .map(|d| DocSummary {
                doc: d.id().clone(),
                heads: d.heads().iter().map(|h| h.0).collect(),
            })
            .collect()
    }

    fn wants(&self, doc: &DocId, now: Timestamp) -> bool {
        self.roster.accepts_doc(doc) && self.roster.check_period(doc, now).is_ok()
    }
}
