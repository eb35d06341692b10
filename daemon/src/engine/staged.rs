//! Group commit: the members' events of one turn of the node loop become one automerge change
//! per document.
//!
//! A change costs the same automerge work, store chunk, sync round and some 300 bytes on every
//! link of every node whether it holds one event or sixty: with one change per request, a
//! stream of single-event requests cost each node of a chain several times what the same
//! events cost in larger requests. [`Engine::stage`] runs every check of
//! [`Engine::submit`] and keeps the events; [`Engine::commit_staged`], which the node calls at
//! the end of the turn before its flush, inserts each document's share as one change. Answers
//! leave after that flush, so `Stored` still means on disk.
//!
//! Roster events are stored at once: later events of the same turn may need the roster they
//! change (a member's duress tag is the only roster event a member writes).

use std::collections::BTreeMap;

use protocol::event::{EventId, SignedEvent};
use protocol::ids::{DocId, PublicKey, Timestamp};

use super::{Engine, SubmitError};

impl Engine {
    /// Checks events as [`Engine::submit`] does and keeps them for [`Engine::commit_staged`].
    /// Returns their ids and the documents that changed already (roster events are stored at
    /// once); the staged ones change when the turn commits.
    pub(crate) fn stage(
        &mut self,
        requester: Option<PublicKey>,
        events: Vec<SignedEvent>,
        now: Timestamp,
    ) -> Result<(Vec<EventId>, Vec<DocId>), SubmitError> {
        let mut by_doc = self.check_submit(requester, events, now)?;
        let ids = by_doc.values().flatten().map(|e| e.id()).collect();
        let mut changed = Vec::new();
        if let Some(roster) = by_doc.remove(&DocId::roster()) {
            let now_stored = BTreeMap::from([(DocId::roster(), roster)]);
            changed = self.insert_checked(now_stored)?.1;
        }
        for (doc, events) in by_doc {
            self.staged.entry(doc).or_default().extend(events);
        }
        Ok((ids, changed))
    }

    /// Whether events wait for [`Engine::commit_staged`].
    pub(crate) fn has_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    /// Inserts the staged events, one change per document (events already held, or staged
    /// twice, are inserted once). Returns the documents that changed. On a store failure
    /// nothing staged may be reported stored: the node fails every answer of the turn.
    pub(crate) fn commit_staged(&mut self) -> Result<Vec<DocId>, SubmitError> {
        let mut changed = Vec::new();
        while let Some((doc, events)) = self.staged.pop_first() {
            let (_, docs) = self.insert_checked(BTreeMap::from([(doc, events)]))?;
            changed.extend(docs);
        }
        Ok(changed)
    }
}
