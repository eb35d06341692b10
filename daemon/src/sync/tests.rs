//! The sync session without a network: two sessions over documents in memory, messages
//! carried by hand, and hostile inputs.

use std::collections::BTreeMap;

use protocol::doc::Document;
use protocol::event::{AlertBody, AlertKind, Body, Certainty, Event, Severity, Urgency};
use protocol::ids::{RecordId, SecretKey};
use protocol::roster::Roster;

use super::*;

/// 2026-03-10T00:00:00Z.
const T0: i64 = 1_773_100_800_000;

fn now() -> Timestamp {
    Timestamp(T0 + 60_000)
}

fn admin() -> SecretKey {
    SecretKey::derive("sync-test", b"admin")
}

fn sign(doc: DocId, at: Timestamp, body: Body) -> SignedEvent {
    let key = admin();
    SignedEvent::sign(
        Event {
            author: key.public(),
            at,
            seq: (at).0 as u64,
            doc,
            body,
        },
        &key,
    )
    .expect("fixture signs")
}

fn genesis() -> SignedEvent {
    sign(
        DocId::roster(),
        Timestamp(T0),
        Body::Genesis {
            network: "red".into(),
            org: "casa".into(),
            node: SecretKey::derive("sync-test", b"node").public(),
            admin_name: "admin".into(),
            consent: None,
        },
    )
}

fn declare_oaxaca() -> SignedEvent {
    sign(
        DocId::roster(),
        Timestamp(T0 + 1),
        Body::DeclareRegion {
            org: "casa".into(),
            region: "oaxaca".into(),
        },
    )
}

fn panic_event(n: i64) -> SignedEvent {
    let at = Timestamp(T0 + 10 + n);
    sign(
        DocId::alerts("oaxaca", at),
        at,
        Body::Alert(Box::new(AlertBody {
            id: AlertBody::id_for(&admin().public(), at),
            kind: AlertKind::Panic,
            severity: Severity::Extreme,
            urgency: Urgency::Immediate,
            certainty: Certainty::Observed,
            region: "oaxaca".into(),
            org: "casa".into(),
            text: format!("panic {n}"),
            expires_at: None,
            subject: None,
            due: None,
        })),
    )
}

/// Documents in memory, with a switch that makes generating fail as a contained panic would.
#[derive(Default)]
struct MemDocs {
    docs: BTreeMap<DocId, Document>,
    roster: Roster,
    fail_generate: bool,
}

impl MemDocs {
    fn with(events: &[SignedEvent]) -> Self {
        let mut docs = Self::default();
        for e in events {
            docs.docs
                .entry(e.event().doc.clone())
                .or_insert_with(|| Document::new(e.event().doc.clone()))
                .insert(std::slice::from_ref(e));
        }
        let roster_events = docs
            .docs
            .get(&DocId::roster())
            .map(|d| d.events().to_vec())
            .unwrap_or_default();
        docs.roster = Roster::from_events(&roster_events);
        docs
    }
}

impl Docs for MemDocs {
    fn receive(
        &mut self,
        doc: &DocId,
        state: &mut automerge::sync::State,
        msg: &[u8],
        now: Timestamp,
    ) -> Result<Option<Vec<SignedEvent>>, ApplyError> {
        let mut fresh_doc = None;
        let d = match self.docs.get_mut(doc) {
            Some(d) => d,
            None => fresh_doc.insert(Document::new(doc.clone())),
        };
        let before = d.heads();
        let fresh = d.receive_sync_message(state, msg, &self.roster, now)?;
        if d.heads() == before {
            return Ok(None);
        }
        if let Some(d) = fresh_doc {
            self.docs.insert(doc.clone(), d);
        }
        if *doc == DocId::roster() {
            self.roster = Roster::from_events(self.docs[doc].events().iter());
        }
        Ok(Some(fresh))
    }

    fn generate(
        &mut self,
        doc: &DocId,
        state: &mut automerge::sync::State,
        need: Option<&[ChangeHash]>,
    ) -> Result<Option<Vec<u8>>, SyncError> {
        if self.fail_generate {
            return Err(SyncError::Panicked);
        }
        let mut empty = None;
        let d = match self.docs.get_mut(doc) {
            Some(d) => d,
            None => empty.insert(Document::new(doc.clone())),
        };
        match need {
            Some(need) => d.restart_sync_message(state, need),
            None => d.generate_sync_message(state),
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

    fn wants(&self, doc: &DocId, _now: Timestamp) -> bool {
        self.roster.accepts_doc(doc) && doc.scope() != Some("nowhere")
    }
}

struct Side {
    sessions: Sessions<u8>,
    docs: MemDocs,
}

/// Connects `a` (id 1) and `b` (id 2) and carries every request and response between them
/// until neither has anything to say. Returns the number of requests carried.
fn pump(a: &mut Side, b: &mut Side) -> usize {
    let mut queue: Vec<(u8, u8, SyncRequestV0)> = Vec::new();
    let take = |from: u8, out: Vec<Output<u8>>, queue: &mut Vec<(u8, u8, SyncRequestV0)>| {
        for o in out {
            if let Output::Request { peer, request } = o {
                queue.push((from, peer, request));
            }
        }
    };
    take(1, a.sessions.connected(2, &a.docs), &mut queue);
    take(2, b.sessions.connected(1, &b.docs), &mut queue);
    let mut carried = 0;
    while let Some((from, to, request)) = queue.pop() {
        carried += 1;
        assert!(carried < 10_000, "the exchange does not end");
        let (server, client) = if to == 1 {
            (&mut *a, &mut *b)
        } else {
            (&mut *b, &mut *a)
        };
        let (response, out) = server
            .sessions
            .on_request(from, request, &mut server.docs, now());
        take(to, out, &mut queue);
        let out = client
            .sessions
            .on_response(to, response, &mut client.docs, now());
        take(from, out, &mut queue);
    }
    carried
}

fn heads(side: &Side) -> Vec<DocSummary> {
    let mut s = side.docs.summary();
    for d in &mut s {
        d.heads.sort();
    }
    s
}

#[test]
fn two_sessions_converge_and_then_go_quiet() {
    let mut a = Side {
        sessions: Sessions::new(1),
        docs: MemDocs::with(&[genesis(), declare_oaxaca(), panic_event(1), panic_event(2)]),
    };
    let mut b = Side {
        sessions: Sessions::new(2),
        docs: MemDocs::with(&[genesis(), declare_oaxaca(), panic_event(3)]),
    };
    assert!(pump(&mut a, &mut b) > 2);
    assert_eq!(heads(&a), heads(&b));
    assert_eq!(a.docs.docs.len(), 2);
    assert_eq!(a.sessions.in_flight(), 0);
    assert_eq!(b.sessions.in_flight(), 0);
    // A second round finds nothing to exchange beyond the two summaries.
    assert_eq!(pump(&mut a, &mut b), 2);
    assert_eq!(a.sessions.stats.faults + b.sessions.stats.faults, 0);
}

#[test]
fn a_change_learnt_from_one_peer_goes_to_the_others() {
    let mut a = Side {
        sessions: Sessions::new(1),
        docs: MemDocs::with(&[genesis(), declare_oaxaca()]),
    };
    let mut b = Side {
        sessions: Sessions::new(2),
        docs: MemDocs::with(&[genesis(), declare_oaxaca(), panic_event(7)]),
    };
    pump(&mut a, &mut b);
    // A learnt the panic from B (2); a change from 2 goes to 3 but not back to 2.
    let doc = DocId::alerts("oaxaca", Timestamp(T0 + 17));
    let out = a
        .sessions
        .local_change(&doc, Some(2), &[2, 3], &mut a.docs, now());
    let to: Vec<u8> = out
        .iter()
        .filter_map(|o| match o {
            Output::Request { peer, .. } => Some(*peer),
            _ => None,
        })
        .collect();
    assert_eq!(to, vec![3]);
}

#[test]
fn a_summary_naming_documents_this_node_does_not_take_leaves_no_state() {
    let mut a = Sessions::new(1u8);
    let mut docs = MemDocs::with(&[genesis(), declare_oaxaca()]);
    let invented: Vec<DocSummary> = (0..1000)
        .map(|i| DocSummary {
            doc: format!("checkins/nowhere-{i}/2026-03").parse().unwrap(),
            heads: vec![[i as u8; 32]],
        })
        .collect();
    let (response, out) = a.on_request(
        2,
        SyncRequestV0::Summary {
            docs: invented,
            now: None,
        },
        &mut docs,
        now(),
    );
    assert!(matches!(response, SyncResponseV0::Summary { .. }));
    // Only the roster, which the peer lacks, is offered; nothing for the invented ids.
    assert!(
        out.iter().all(|o| matches!(o, Output::Request { request: SyncRequestV0::Sync { doc, .. }, .. } if *doc == DocId::roster())),
        "{out:?}"
    );
    assert_eq!(a.in_flight(), out.len());
    assert!(a.peer_heads(&2).is_some_and(|h| h.is_empty()));
    assert_eq!(docs.docs.len(), 1);
}

#[test]
fn an_oversized_summary_is_refused_and_counted() {
    let mut a = Sessions::new(1u8);
    let mut docs = MemDocs::with(&[genesis(), declare_oaxaca()]);
    let doc = DocId::roster();
    let huge = vec![
        DocSummary {
            doc,
            heads: Vec::new(),
        };
        MAX_SUMMARY_DOCS + 1
    ];
    let (response, out) = a.on_request(
        2,
        SyncRequestV0::Summary {
            docs: huge,
            now: None,
        },
        &mut docs,
        now(),
    );
    assert!(matches!(response, SyncResponseV0::Refused { .. }));
    assert!(out.is_empty());
    assert_eq!(a.stats.faults, 1);
}

#[test]
fn a_failure_to_answer_a_peer_is_a_fault_and_repeated_faults_suspend_it() {
    let mut a = Side {
        sessions: Sessions::new(1),
        docs: MemDocs::with(&[genesis(), declare_oaxaca(), panic_event(1)]),
    };
    let mut b = Side {
        sessions: Sessions::new(2),
        docs: MemDocs::with(&[genesis(), declare_oaxaca()]),
    };
    // B drives nothing (2 > 1); A drives, and A's documents fail to generate for B's state.
    a.docs.fail_generate = true;
    pump(&mut a, &mut b);
    assert!(a.sessions.stats.faults >= 1);
    assert_eq!(a.sessions.in_flight(), 0, "the state was reset");
    // Faults in a row suspend the peer; its requests are refused until the suspension ends.
    for _ in 0..MAX_FAULTS {
        a.sessions.fault(2, now());
    }
    assert!(a.sessions.is_suspended(&2, now()));
    let (response, out) = a.sessions.on_request(
        2,
        SyncRequestV0::Summary {
            docs: Vec::new(),
            now: None,
        },
        &mut a.docs,
        now(),
    );
    assert!(matches!(response, SyncResponseV0::Refused { .. }));
    assert!(out.is_empty());
    assert_eq!(a.sessions.stats.refused_suspended, 1);
    // Reconnecting clears neither the suspension nor the faults counted.
    let faults = a.sessions.faults_of(&2);
    a.sessions.disconnected(&2);
    a.sessions.connected(2, &a.docs);
    assert!(a.sessions.is_suspended(&2, now()));
    assert_eq!(a.sessions.faults_of(&2), faults);
    let later = now().plus_ms(SUSPENSION_MS + 1);
    assert!(!a.sessions.is_suspended(&2, later));
    assert!(a.sessions.tick(&[2], &a.docs, later).len() == 1);
}

#[test]
fn an_invalid_message_is_refused_counted_and_keeps_nothing() {
    let mut a = Sessions::new(1u8);
    let mut docs = MemDocs::with(&[genesis(), declare_oaxaca()]);
    let doc = DocId::alerts("oaxaca", now());
    let (response, out) = a.on_request(
        2,
        SyncRequestV0::Sync {
            doc: doc.clone(),
            msg: vec![0x42, 1, 2, 3],
        },
        &mut docs,
        now(),
    );
    assert!(
        matches!(response, SyncResponseV0::Refused { .. }),
        "{response:?}"
    );
    assert!(out.is_empty());
    assert_eq!(a.stats.rejected, 1);
    assert_eq!(a.stats.faults, 1);
    assert!(
        !docs.docs.contains_key(&doc),
        "no document for an id a peer named"
    );
    let _ = RecordId::random();
}
