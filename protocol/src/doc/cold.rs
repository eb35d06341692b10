//! Documents whose automerge document is out of memory while nobody syncs or writes them.
//!
//! A cold document keeps its events (what views read), their ids and its heads (what
//! summaries carry); the automerge document, which sync, writes and saves need, is dropped and
//! loaded again from the node's store on demand ([`Document::warm`]). The node makes a
//! document cold only once its store holds it as one full save, so that warming it is one
//! `Automerge::load`.

use automerge::{Automerge, ReadDoc};

use super::{load_chunks, Document, SyncError};

impl Document {
    /// Whether the automerge document is out of memory. Only [`Document::id`],
    /// [`Document::heads`], [`Document::events`], [`Document::contains`], [`Document::len`] and
    /// [`Document::events_since`] (which then answers every event) may be called on a cold
    /// document; everything else needs [`Document::warm`] first.
    pub fn is_cold(&self) -> bool {
        self.cold.is_some()
    }

    /// Drops the automerge document, keeping the events and the heads. A document that does
    /// not keep its events decoded ([`Document::keeps_events`]) has them only in automerge's
    /// document, and stays warm.
    pub fn set_cold(&mut self) {
        if self.cold.is_none() && self.keeps_events() {
            self.cold = Some(self.doc.get_heads());
            self.doc = Automerge::new();
        }
    }

    /// Loads the automerge document again from the chunks the node stored for it. They must
    /// hold exactly the changes the document had (the same heads); otherwise the document
    /// stays cold and the error says so.
    pub fn warm(&mut self, chunks: &[Vec<u8>]) -> Result<(), SyncError> {
        let Some(heads) = &self.cold else {
            return Ok(());
        };
        let doc = load_chunks(chunks)?;
        let mut want = heads.clone();
        let mut got = doc.get_heads();
        want.sort();
        got.sort();
        if want != got || !doc.get_missing_deps(&[]).is_empty() {
            return Err(SyncError::Malformed(format!(
                "the store holds other changes of {} than the document had",
                self.id
            )));
        }
        self.doc = doc;
        self.cold = None;
        Ok(())
    }
}
