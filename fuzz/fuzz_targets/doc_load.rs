//! A document chunk as read back from the node's store (`Document::load`). The store holds
//! what this node verified, but a damaged disk or a half-written chunk must give an error,
//! not a panic. Whatever loads must save and load back to the same events.
#![no_main]

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use libfuzzer_sys::fuzz_target;
use protocol::doc::Document;
use protocol::ids::DocId;
use tejido_fuzz::{panics, roster_doc_bytes};

fuzz_target!(|data: &[u8]| {
    panics::install();
    // Alone, and after a good chunk (as an incremental chunk appended to a saved document).
    for chunks in [
        vec![data.to_vec()],
        vec![roster_doc_bytes().to_vec(), data.to_vec()],
    ] {
        let loaded = panics::must_not_escape(
            "Document::load",
            AssertUnwindSafe(|| Document::load(DocId::roster(), &chunks)),
        );
        let Ok(doc) = loaded else {
            continue;
        };
        let ids: BTreeSet<_> = doc.events().iter().map(|e| e.id()).collect();
        let saved = doc.save();
        let again = panics::must_not_escape(
            "Document::load of a saved document",
            AssertUnwindSafe(|| Document::load(DocId::roster(), &[saved])),
        )
        .expect("a saved document loads");
        let ids_again: BTreeSet<_> = again.events().iter().map(|e| e.id()).collect();
        assert_eq!(ids, ids_again, "save and load keep the events");
        assert_eq!(again.heads(), doc.heads(), "save and load keep the heads");
    }
});
