//! A sync session with one peer: a sequence of peer messages (raw bytes, messages of a live
//! honest peer, those messages with a byte changed, and messages whose `have` carries a bloom
//! filter with chosen parameters) delivered to the honest roster document, which answers each
//! with `Document::generate_sync_message` (or `restart_sync_message` after missing
//! dependencies) from the same sync state, as a node does. A message automerge takes without
//! complaint can leave a state it cannot answer: automerge 0.12 took a filter with 0 bits per
//! entry and divided by zero in the next answer, so the answers are the point of this target.
//!
//! Input: steps, each a tag byte and its arguments (short inputs end the session):
//! - `0`, length (u16 LE), bytes: those bytes as the peer's message.
//! - `1`: the honest peer's next message.
//! - `2`, position (u16 LE), xor byte: the honest peer's next message with one byte changed.
//! - `3`, entries (u8), bits per entry (u8), probes (u32 LE): a message with the honest peer's
//!   heads whose one `have` carries such a filter (its bits all set).
//!
//! Checked: no panic escapes; no panic inside automerge while answering (generating is
//! contained and answered with `SyncError::GeneratePanicked`, which here is a crash: every
//! message that leads to it should have been refused); a refused message leaves heads and
//! events as they were; and the document ends up holding only valid events, saving and loading
//! back to the same ones.
#![no_main]

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use automerge::sync::{BloomFilter, ChunkList, Have, Message, MessageVersion, State};
use libfuzzer_sys::fuzz_target;
use protocol::doc::{Document, SyncError};
use protocol::event::EventId;
use protocol::ids::DocId;
use protocol::roster::Roster;
use tejido_fuzz::{fixture_events, now, panics, roster, roster_doc};

/// At most this many steps per input, so that one input stays fast.
const MAX_STEPS: usize = 32;

fn ids(doc: &Document) -> BTreeSet<EventId> {
    doc.events().iter().map(|e| e.id()).collect()
}

/// Reads the input's steps one at a time.
struct Steps<'a>(&'a [u8]);

impl Steps<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A live honest peer: a roster document with fixture events the honest document lacks.
struct Peer {
    doc: Document,
    state: State,
}

impl Peer {
    fn new() -> Self {
        let mut doc = roster_doc();
        // Valid together on top of the genesis (the seeds of sync_message use the same): the
        // region's declaration, then 1 to 6.
        doc.insert(&fixture_events()[14..15]);
        doc.insert(&fixture_events()[1..7]);
        Self {
            doc,
            state: State::new(),
        }
    }

    fn next_message(&mut self) -> Option<Vec<u8>> {
        panics::must_not_escape(
            "Document::generate_sync_message (honest peer)",
            AssertUnwindSafe(|| self.doc.generate_sync_message(&mut self.state)),
        )
        .expect("the honest peer answers without a panic")
    }

    fn receive(&mut self, msg: &[u8]) {
        let roster = Roster::from_events(self.doc.events().iter());
        // The honest peer may refuse what the fuzzed exchange makes of our answers; that is
        // its business, not what this target checks.
        let _ = panics::must_not_escape(
            "Document::receive_sync_message (honest peer)",
            AssertUnwindSafe(|| {
                self.doc
                    .receive_sync_message(&mut self.state, msg, &roster, now())
            }),
        );
    }
}

fn filter_message(peer: &Peer, entries: u8, bits_per_entry: u8, probes: u32) -> Option<Vec<u8>> {
    let mut filter = Vec::new();
    for value in [u32::from(entries), u32::from(bits_per_entry), probes] {
        // Unsigned LEB128, as automerge writes it.
        let mut v = value;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                filter.push(byte);
                break;
            }
            filter.push(byte | 0x80);
        }
    }
    let bits = (usize::from(entries) * usize::from(bits_per_entry)).div_ceil(8);
    filter.extend(std::iter::repeat_n(0xff, bits));
    let bloom = BloomFilter::try_from(filter.as_slice()).ok()?;
    Some(
        Message {
            heads: peer.doc.heads(),
            need: Vec::new(),
            have: vec![Have {
                last_sync: Vec::new(),
                bloom,
            }],
            changes: ChunkList::empty(),
            flags: None,
            version: MessageVersion::V1,
        }
        .encode(),
    )
}

fuzz_target!(|data: &[u8]| {
    panics::install();
    let mut doc = roster_doc();
    let mut state = State::new();
    let mut roster: Roster = roster().clone();
    let mut peer = Peer::new();
    let mut steps = Steps(data);
    for _ in 0..MAX_STEPS {
        let Some(tag) = steps.u8() else { break };
        let msg = match tag % 4 {
            0 => {
                let Some(len) = steps.u16() else { break };
                let len = usize::from(len).min(steps.0.len());
                let Some(bytes) = steps.take(len) else { break };
                bytes.to_vec()
            }
            1 => match peer.next_message() {
                Some(m) => m,
                None => continue,
            },
            2 => {
                let (Some(at), Some(xor)) = (steps.u16(), steps.u8()) else {
                    break;
                };
                let Some(mut m) = peer.next_message() else {
                    continue;
                };
                let at = usize::from(at) % m.len();
                m[at] ^= xor.max(1);
                m
            }
            _ => {
                let (Some(entries), Some(bits), Some(probes)) =
                    (steps.u8(), steps.u8(), steps.u32())
                else {
                    break;
                };
                match filter_message(&peer, entries, bits, probes) {
                    Some(m) => m,
                    None => continue,
                }
            }
        };

        let heads = doc.heads();
        let before = ids(&doc);
        let result = panics::must_not_escape(
            "Document::receive_sync_message",
            AssertUnwindSafe(|| doc.receive_sync_message(&mut state, &msg, &roster, now())),
        );
        let missing = match result {
            Ok(_) => {
                roster = Roster::from_events(doc.events().iter());
                None
            }
            Err(e) => {
                if matches!(e, SyncError::Panicked) {
                    panics::caught("receive_sync_message");
                }
                assert_eq!(doc.heads(), heads, "heads rolled back after {e}");
                assert_eq!(ids(&doc), before, "events rolled back after {e}");
                match e {
                    SyncError::MissingDeps(missing) => Some(missing),
                    _ => None,
                }
            }
        };

        // The answer, from the state the message left: this is where automerge 0.12 crashed.
        let answer = panics::must_not_escape(
            "Document::generate_sync_message",
            AssertUnwindSafe(|| match &missing {
                Some(need) => doc.restart_sync_message(&mut state, need),
                None => doc.generate_sync_message(&mut state),
            }),
        );
        match answer {
            Ok(Some(reply)) => peer.receive(&reply),
            Ok(None) => {}
            Err(e) => {
                panics::caught("generate_sync_message");
                panic!("answering an accepted message failed: {e}");
            }
        }
    }

    // Whatever was accepted saves and loads back to the same events, all of them valid.
    let saved = doc.save();
    let loaded = panics::must_not_escape(
        "Document::load of a saved document",
        AssertUnwindSafe(|| Document::load(DocId::roster(), &[saved])),
    )
    .expect("a saved document loads");
    assert_eq!(ids(&loaded), ids(&doc), "save and load keep the events");
    for event in doc.events().iter() {
        assert_eq!(event.event().doc, DocId::roster());
    }
});
