//! A peer's automerge sync message, as raw bytes, applied to the honest roster document with
//! `Document::receive_sync_message`. It must return (automerge panics are caught inside and
//! answered with `SyncError::Panicked`); on error the document's heads, events and the sync
//! state must be as they were; on success every returned event must be in the document, and
//! the document must save and load back to the same events.
#![no_main]

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use automerge::sync::State;
use libfuzzer_sys::fuzz_target;
use protocol::doc::{Document, SyncError};
use protocol::ids::DocId;
use tejido_fuzz::{now, panics, roster, roster_doc};

fuzz_target!(|data: &[u8]| {
    panics::install();
    let mut doc = roster_doc();
    let mut state = State::new();
    let heads = doc.heads();
    let ids: BTreeSet<_> = doc.events().iter().map(|e| e.id()).collect();
    let result = panics::must_not_escape(
        "Document::receive_sync_message",
        AssertUnwindSafe(|| doc.receive_sync_message(&mut state, data, roster(), now())),
    );
    match result {
        Err(e) => {
            if matches!(e, SyncError::Panicked) {
                panics::caught("receive_sync_message");
            }
            assert_eq!(doc.heads(), heads, "heads rolled back after {e}");
            let after: BTreeSet<_> = doc.events().iter().map(|e| e.id()).collect();
            assert_eq!(after, ids, "events rolled back after {e}");
            assert_eq!(state, State::new(), "sync state rolled back after {e}");
        }
        Ok(fresh) => {
            for ev in &fresh {
                assert!(doc.contains(ev.id()));
            }
            let after: BTreeSet<_> = doc.events().iter().map(|e| e.id()).collect();
            assert_eq!(after.len(), doc.len(), "no event is listed twice");
            let saved = doc.save();
            let loaded = panics::must_not_escape(
                "Document::load of a saved document",
                AssertUnwindSafe(|| Document::load(DocId::roster(), &[saved])),
            )
            .expect("a saved document loads");
            let reloaded: BTreeSet<_> = loaded.events().iter().map(|e| e.id()).collect();
            assert_eq!(reloaded, after, "save and load keep the events");
            // The same message again is harmless.
            let _ = panics::must_not_escape(
                "Document::receive_sync_message (repeat)",
                AssertUnwindSafe(|| doc.receive_sync_message(&mut state, data, roster(), now())),
            );
        }
    }
});
