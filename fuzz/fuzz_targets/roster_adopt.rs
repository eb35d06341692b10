//! The roster document a joining node receives from the inviting node
//! (`ClientResponseV0::Network { roster }`), handled as `Engine::adopt_roster` in
//! daemon/src/engine.rs does: `Document::load_from_peer` against an empty roster, which checks
//! every operation of every change as sync does.
//!
//! Checked: no panic escapes, and a
//! document that is adopted is one honest nodes accept: synced into an empty roster document
//! through `Document::receive_sync_message`, it is taken whole. Otherwise the joined node keeps
//! a roster that every peer refuses to sync with.
#![no_main]

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use automerge::sync::State;
use libfuzzer_sys::fuzz_target;
use protocol::doc::Document;
use protocol::ids::DocId;
use protocol::roster::Roster;
use tejido_fuzz::{now, panics};

fuzz_target!(|data: &[u8]| {
    panics::install();
    let loaded = panics::must_not_escape(
        "Document::load_from_peer (adopt_roster)",
        AssertUnwindSafe(|| Document::load_from_peer(DocId::roster(), data, &Roster::default())),
    );
    let Ok(mut adopted) = loaded else {
        return;
    };
    let _ = Roster::from_events(adopted.events().iter());

    // Adopted. An honest node starting from nothing must accept the same document by sync.
    let mut honest = Document::new(DocId::roster());
    let mut roster = Roster::default();
    let (mut a, mut b) = (State::new(), State::new());
    for _ in 0..8 {
        let to_adopted = honest
            .generate_sync_message(&mut a)
            .expect("generating for the adopted side does not panic");
        if let Some(m) = &to_adopted {
            let r = panics::must_not_escape(
                "Document::receive_sync_message (adopted side)",
                AssertUnwindSafe(|| adopted.receive_sync_message(&mut b, m, &roster, now())),
            );
            assert!(
                r.is_ok(),
                "the adopted document refuses an honest empty peer: {r:?}"
            );
        }
        let Some(m) = adopted
            .generate_sync_message(&mut b)
            .expect("generating for the honest side does not panic")
        else {
            if to_adopted.is_none() {
                break;
            }
            continue;
        };
        let r = panics::must_not_escape(
            "Document::receive_sync_message (honest side)",
            AssertUnwindSafe(|| honest.receive_sync_message(&mut a, &m, &roster, now())),
        );
        if let Err(e) = r {
            panic!(
                "adopt_roster accepted a roster document that honest peers refuse: {e}\n\
                 events: {:?}",
                adopted.events()
            );
        }
        roster = Roster::from_events(honest.events().iter());
    }
    let want: BTreeSet<_> = adopted.events().iter().map(|e| e.id()).collect();
    let got: BTreeSet<_> = honest.events().iter().map(|e| e.id()).collect();
    assert_eq!(got, want, "an honest peer ends up with the adopted events");
});
