//! Structure-aware sync fuzzing. Raw bytes rarely get past automerge's change checksums, but a
//! hostile peer computes those: here the input drives an honest automerge peer through
//! arbitrary operations (puts of fixture events under right and wrong keys, forged and
//! damaged events, other scalars, nested objects, deletions, counters, several actors), then
//! the peer syncs with the honest roster document through `Document::receive_sync_message`,
//! optionally with one byte of a message flipped on the way.
//!
//! Checked: no panic escapes; a refused message leaves heads, events and sync state as they
//! were; and whatever the document ends up holding is exactly a root map from event id to the
//! signed bytes of a valid roster event, which saves and loads back to the same events.
#![no_main]

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;

use arbitrary::Arbitrary;
use automerge::sync::{Message, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ReadDoc, ScalarValue, ROOT};
use libfuzzer_sys::fuzz_target;
use protocol::doc::{is_roster_body, Document, SyncError};
use protocol::event::{EventId, SignedEvent};
use protocol::ids::DocId;
use protocol::roster::Roster;
use tejido_fuzz::{fixture_events, now, panics, roster, roster_doc, roster_doc_bytes};

#[derive(Arbitrary, Debug)]
enum Key {
    /// The id of the value being put (a correct key).
    OfValue,
    /// The id of a fixture event.
    Fixture(u8),
    /// Any text.
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    /// A fixture event's signed bytes.
    Event(u8),
    /// A fixture event with one bit flipped.
    Forged {
        event: u8,
        at: u16,
        bit: u8,
    },
    /// A fixture event cut short.
    Truncated {
        event: u8,
        len: u16,
    },
    /// Any bytes.
    Bytes(Vec<u8>),
    Str(String),
    Int(i64),
    Uint(u64),
    F64(f64),
    Counter(i64),
    Timestamp(i64),
    Bool(bool),
    Null,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Put {
        key: Key,
        val: Val,
    },
    PutObject {
        key: String,
        kind: u8,
    },
    /// A put into the most recently created object (a map key or a list index).
    PutInObject {
        key: String,
        val: Val,
    },
    Delete {
        key: Key,
    },
    Increment {
        key: String,
        by: i64,
    },
    /// Ends the current change.
    Commit,
    /// Ends the current change and writes the next ones as another actor.
    Actor(u8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Whether the peer starts from our document (shared genesis) or from nothing.
    shared: bool,
    ops: Vec<Op>,
    /// Flip `bit` of byte `at` of the peer's message in round `round`.
    flip: Option<(u8, u16, u8)>,
}

fn fixture(i: u8) -> &'static SignedEvent {
    let all = fixture_events();
    &all[usize::from(i) % all.len()]
}

fn value(val: &Val) -> ScalarValue {
    match val {
        Val::Event(i) => ScalarValue::Bytes(fixture(*i).to_bytes()),
        Val::Forged { event, at, bit } => {
            let mut b = fixture(*event).to_bytes();
            let at = usize::from(*at) % b.len();
            b[at] ^= 1 << (bit % 8);
            ScalarValue::Bytes(b)
        }
        Val::Truncated { event, len } => {
            let b = fixture(*event).to_bytes();
            ScalarValue::Bytes(b[..usize::from(*len) % b.len()].to_vec())
        }
        Val::Bytes(b) => ScalarValue::Bytes(b.clone()),
        Val::Str(s) => ScalarValue::Str(s.as_str().into()),
        Val::Int(n) => ScalarValue::Int(*n),
        Val::Uint(n) => ScalarValue::Uint(*n),
        Val::F64(n) => ScalarValue::F64(*n),
        Val::Counter(n) => ScalarValue::counter(*n),
        Val::Timestamp(n) => ScalarValue::Timestamp(*n),
        Val::Bool(b) => ScalarValue::Boolean(*b),
        Val::Null => ScalarValue::Null,
    }
}

fn key(key: &Key, val: Option<&ScalarValue>) -> String {
    match key {
        Key::OfValue => match val {
            Some(ScalarValue::Bytes(b)) => EventId::of(b).to_string(),
            _ => "not-bytes".into(),
        },
        Key::Fixture(i) => fixture(*i).id().to_string(),
        Key::Raw(s) => s.clone(),
    }
}

/// Builds the hostile peer's document.
fn peer(input: &Input) -> Automerge {
    let base = if input.shared {
        Automerge::load(roster_doc_bytes()).expect("fixture loads")
    } else {
        Automerge::new()
    };
    let mut doc = base.with_actor(ActorId::from([0xee; 16]));
    let mut ops = input.ops.iter().take(64).peekable();
    while ops.peek().is_some() {
        let mut tx = doc.transaction();
        let mut obj = None;
        for op in ops.by_ref() {
            // Errors (a put into a list at a bad index, say) just skip the operation.
            match op {
                Op::Put { key: k, val } => {
                    let v = value(val);
                    let _ = tx.put(ROOT, key(k, Some(&v)), v);
                }
                Op::PutObject { key, kind } => {
                    let kind = match kind % 3 {
                        0 => ObjType::Map,
                        1 => ObjType::List,
                        _ => ObjType::Text,
                    };
                    obj = tx.put_object(ROOT, key.as_str(), kind).ok();
                }
                Op::PutInObject { key, val } => {
                    if let Some(o) = &obj {
                        let v = value(val);
                        match key.parse::<usize>() {
                            Ok(i) => {
                                let _ = tx.insert(o, i, v);
                            }
                            Err(_) => {
                                let _ = tx.put(o, key.as_str(), v);
                            }
                        }
                    }
                }
                Op::Delete { key: k } => {
                    let _ = tx.delete(ROOT, key(k, None));
                }
                Op::Increment { key, by } => {
                    let _ = tx.increment(ROOT, key.as_str(), *by);
                }
                Op::Commit => break,
                Op::Actor(a) => {
                    tx.commit();
                    doc.set_actor(ActorId::from([*a; 16]));
                    tx = doc.transaction();
                    obj = None;
                }
            }
        }
        tx.commit();
    }
    doc
}

fn ids(doc: &Document) -> BTreeSet<EventId> {
    doc.events().iter().map(|e| e.id()).collect()
}

/// What the document holds is exactly a root map of valid roster events under their ids.
fn check_holds_only_events(doc: &Document) {
    let saved = doc.save();
    let am = Automerge::load(&saved).expect("a saved document loads");
    let mut keys = BTreeSet::new();
    for item in am.map_range(ROOT, ..) {
        let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Bytes(b)) = &item.value else {
            panic!(
                "root key {} holds {:?}, not event bytes",
                item.key, item.value
            );
        };
        let ev = SignedEvent::decode(b).expect("stored bytes are a valid signed event");
        assert_eq!(ev.id().to_string(), item.key, "stored under its id");
        assert_eq!(ev.event().doc, DocId::roster());
        assert!(is_roster_body(&ev.event().body));
        for (v, _) in am.get_all(ROOT, item.key.as_ref()).expect("get_all") {
            let same =
                matches!(v.as_scalar(), Some(ScalarValue::Bytes(c)) if c.as_slice() == b.as_ref());
            assert!(same, "a conflicting value under {}: {v:?}", item.key);
        }
        keys.insert(ev.id());
    }
    assert_eq!(keys, ids(doc), "events() matches the root map");
    let loaded = Document::load(DocId::roster(), &[saved]).expect("a saved document loads");
    assert_eq!(ids(&loaded), keys, "save and load keep the events");
}

fuzz_target!(|input: Input| {
    panics::install();
    let mut peer = peer(&input);
    let mut doc = roster_doc();
    let mut roster: Roster = roster().clone();
    let mut ours = State::new();
    let mut theirs = State::new();
    for round in 0..8u8 {
        let to_peer = doc
            .generate_sync_message(&mut ours)
            .expect("generating for the peer does not panic");
        if let Some(m) = &to_peer {
            let m = Message::decode(m).expect("our sync message decodes");
            peer.receive_sync_message(&mut theirs, m)
                .expect("the peer takes our message");
        }
        let Some(mut msg) = peer.generate_sync_message(&mut theirs).map(|m| m.encode()) else {
            if to_peer.is_none() {
                break;
            }
            continue;
        };
        if let Some((r, at, bit)) = input.flip {
            if r % 8 == round && !msg.is_empty() {
                let at = usize::from(at) % msg.len();
                msg[at] ^= 1 << (bit % 8);
            }
        }
        let heads = doc.heads();
        let before = ids(&doc);
        let state = ours.clone();
        let result = panics::must_not_escape(
            "Document::receive_sync_message",
            AssertUnwindSafe(|| doc.receive_sync_message(&mut ours, &msg, &roster, now())),
        );
        match result {
            Ok(_) => {
                roster = Roster::from_events(doc.events().iter());
            }
            Err(e) => {
                if matches!(e, SyncError::Panicked) {
                    panics::caught("receive_sync_message");
                }
                assert_eq!(doc.heads(), heads, "heads rolled back after {e}");
                assert_eq!(ids(&doc), before, "events rolled back after {e}");
                assert_eq!(ours, state, "sync state rolled back after {e}");
                break;
            }
        }
    }
    check_holds_only_events(&doc);
});
