//! Unit tests of the protocol crate: signing, text forms, roster rules, document sync and its
//! validation against hostile peers, and the views. This module holds the fixtures and helpers
//! the subject modules share.

use std::collections::BTreeSet;

use automerge::sync::{State, SyncDoc};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ObjType, ReadDoc, ScalarValue, ROOT};
use serde::{Deserialize, Serialize};

use crate::doc::{authorize_batch, Document, SyncError, MAX_SYNC_MESSAGE_BYTES};
use crate::event::{
    AlertBody, AlertKind, Body, Certainty, CheckinBody, CheckinStatus, Event, EventId, Role,
    Severity, ShelterBody, ShelterStatus, SignedEvent, Urgency, VerifyError, MAX_CLOCK_SKEW_MS,
    MAX_EVENT_BYTES, MAX_TEXT_BYTES,
};
use crate::ids::{Collection, DocId, PublicKey, RecordId, SecretKey, Timestamp};
use crate::roster::{AuthError, Roster};
use crate::view;
use crate::wire::{ClientRequest, ClientRequestV0, InviteCode, InviteKind};

mod authority;
mod bundle;
mod cancel;
mod devices;
mod doc_sync;
mod hostile_sync;
mod ids;
mod receipts;
mod roster;
mod safety;
mod sealed;
mod signing;
mod views;
mod wire;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// 2026-03-10T00:00:00Z: every event of the fixtures falls in March 2026.
const T0: i64 = 1_773_100_800_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
/// This node's clock in the tests: a year after the fixtures, so that no fixture event is
/// ahead of it and every fixture period is within the network's years.
const NOW: Timestamp = Timestamp(T0 + 365 * 24 * HOUR);

fn at(offset_ms: i64) -> Timestamp {
    Timestamp(T0 + offset_ms)
}

fn key(name: &str) -> SecretKey {
    SecretKey::derive("test", name.as_bytes())
}

fn sign(key: &SecretKey, at: Timestamp, doc: DocId, body: Body) -> SignedEvent {
    SignedEvent::sign(
        Event {
            author: key.public(),
            at,
            seq: (at).0 as u64,
            doc,
            body,
        },
        key,
    )
    .expect("fixture event signs")
}

fn alert_body(
    id: RecordId,
    kind: AlertKind,
    region: &str,
    org: &str,
    subject: Option<PublicKey>,
) -> AlertBody {
    AlertBody {
        id,
        kind,
        severity: Severity::Severe,
        urgency: Urgency::Immediate,
        certainty: Certainty::Observed,
        region: region.into(),
        org: org.into(),
        text: "help".into(),
        expires_at: None,
        subject,
        due: None,
    }
}

/// The id a panic or alert by `key` at `t` must have.
fn alert_id(key: &SecretKey, t: Timestamp) -> RecordId {
    AlertBody::id_for(&key.public(), t)
}

/// An alert event in the Oaxaca alerts document of the month of `t`, under any id (the id is
/// checked for panics and alerts, so only missed check-ins may choose it).
fn alert_with_id(
    key: &SecretKey,
    t: Timestamp,
    id: RecordId,
    kind: AlertKind,
    org: &str,
    subject: Option<PublicKey>,
) -> SignedEvent {
    sign(
        key,
        t,
        DocId::alerts("oaxaca", t),
        Body::Alert(Box::new(alert_body(id, kind, "oaxaca", org, subject))),
    )
}

/// A panic or region-wide alert by `key` at `t`, under the id derived from both.
fn alert_event(key: &SecretKey, t: Timestamp, kind: AlertKind, org: &str) -> SignedEvent {
    alert_with_id(key, t, alert_id(key, t), kind, org, None)
}

/// A panic of org-a by `key` at `t`; its id is `alert_id(key, t)`.
fn panic_event(key: &SecretKey, t: Timestamp) -> SignedEvent {
    alert_event(key, t, AlertKind::Panic, "org-a")
}

/// A missed check-in alert raised by `key` at `t` about `subject`'s check-in due at `due`,
/// under the conventional id that every raiser derives alike.
fn missed_event(
    key: &SecretKey,
    t: Timestamp,
    subject: PublicKey,
    due: Timestamp,
    org: &str,
) -> SignedEvent {
    let body = AlertBody::missed_checkin(subject, org, "oaxaca", due);
    sign(
        key,
        t,
        DocId::alerts("oaxaca", t),
        Body::Alert(Box::new(body)),
    )
}

fn alert_action(key: &SecretKey, t: Timestamp, body: Body) -> SignedEvent {
    sign(key, t, DocId::alerts("oaxaca", t), body)
}

fn checkin_event(
    key: &SecretKey,
    t: Timestamp,
    status: CheckinStatus,
    next_due: Option<Timestamp>,
) -> SignedEvent {
    sign(
        key,
        t,
        DocId::checkins("org-a", t),
        Body::Checkin(CheckinBody {
            next_due,
            sealed: crate::private::CheckinPrivate::without_code(
                status,
                format!("note at {}", t.0),
            )
            .seal(&key.public(), t, &[key.public(), node_key().public()])
            .expect("seals"),
        }),
    )
}

/// The node key of org-a in [`Net`].
fn node_key() -> SecretKey {
    key("node-a")
}

/// A check-in's sealed part, to a key no test holds.
fn sealed_checkin(status: CheckinStatus, note: String) -> Vec<u8> {
    crate::private::CheckinPrivate::without_code(status, note)
        .seal(
            &SecretKey::from_bytes([9; 32]).public(),
            Timestamp(0),
            &[SecretKey::from_bytes([9; 32]).public()],
        )
        .expect("seals")
}

fn rid(label: &str) -> RecordId {
    RecordId::derive("test record", &[label.as_bytes()])
}

/// A small network: org-a with admin A, node N, member M and security contact S (both in
/// Oaxaca); org-b with admin B; X is in no roster.
struct Net {
    a: SecretKey,
    m: SecretKey,
    s: SecretKey,
    n: SecretKey,
    b: SecretKey,
    x: SecretKey,
    genesis: SignedEvent,
    /// org-a declares the region oaxaca (before it adds members there).
    declare: SignedEvent,
    add_m: SignedEvent,
    add_s: SignedEvent,
    add_org_b: SignedEvent,
}

impl Net {
    fn new() -> Self {
        let (a, m, s, n, b, x) = (
            key("alice"),
            key("mario"),
            key("sofia"),
            key("node-a"),
            key("beatriz"),
            key("stranger"),
        );
        let genesis = sign(
            &a,
            at(0),
            DocId::roster(),
            Body::Genesis {
                network: "red".into(),
                org: "org-a".into(),
                node: n.public(),
                admin_name: "Alice".into(),
                consent: None,
            },
        );
        let declare = sign(
            &a,
            at(MIN / 2),
            DocId::roster(),
            Body::DeclareRegion {
                org: "org-a".into(),
                region: "oaxaca".into(),
            },
        );
        let add_m = sign(
            &a,
            at(MIN),
            DocId::roster(),
            Body::AddMember {
                org: "org-a".into(),
                member: m.public(),
                name: "Mario".into(),
                role: Role::Member,
                region: Some("oaxaca".into()),
            },
        );
        let add_s = sign(
            &a,
            at(2 * MIN),
            DocId::roster(),
            Body::AddMember {
                org: "org-a".into(),
                member: s.public(),
                name: "Sofia".into(),
                role: Role::SecurityContact,
                region: Some("oaxaca".into()),
            },
        );
        let add_org_b = sign(
            &a,
            at(3 * MIN),
            DocId::roster(),
            Body::AddOrg {
                org: "org-b".into(),
                admin: b.public(),
                admin_name: "Beatriz".into(),
            },
        );
        Self {
            a,
            m,
            s,
            n,
            b,
            x,
            genesis,
            declare,
            add_m,
            add_s,
            add_org_b,
        }
    }

    fn roster_events(&self) -> Vec<SignedEvent> {
        vec![
            self.genesis.clone(),
            self.declare.clone(),
            self.add_m.clone(),
            self.add_s.clone(),
            self.add_org_b.clone(),
        ]
    }

    fn roster(&self) -> Roster {
        Roster::from_events(&self.roster_events())
    }

    fn revoke(&self, who: &SecretKey, t: Timestamp) -> SignedEvent {
        sign(
            &self.a,
            t,
            DocId::roster(),
            Body::Revoke {
                key: who.public(),
                reason: "phone seized".into(),
                last: t.0 as u64 - 1,
            },
        )
    }
}

fn ids(events: impl AsRef<[SignedEvent]>) -> BTreeSet<EventId> {
    events.as_ref().iter().map(SignedEvent::id).collect()
}

/// The same serde shape as the private `event::Envelope`, to build signed bytes by hand.
#[derive(Serialize, Deserialize)]
enum TestEnvelope {
    V0 { payload: Vec<u8>, sig: Vec<u8> },
}

/// Signs `event` with `key` whatever its author, bypassing every check of `SignedEvent::sign`.
fn forge(event: &Event, key: &SecretKey) -> Vec<u8> {
    let payload = postcard::to_stdvec(event).expect("event encodes");
    let sig = key.sign(&payload).to_vec();
    postcard::to_stdvec(&TestEnvelope::V0 { payload, sig }).expect("envelope encodes")
}

/// Syncs two documents until neither has anything to say.
fn sync_docs(a: &mut Document, b: &mut Document, roster: &Roster) -> Result<(), SyncError> {
    // Each side's sync state, the changes it found missing, and whether to restart.
    type Side = (State, Vec<automerge::ChangeHash>, bool);
    let (mut sa, mut sb): (Side, Side) = Default::default();
    // A message refused for missing dependencies (a bloom filter false positive) restarts the
    // exchange asking for them, as on a node.
    let step = |from: &mut Document, f: &mut Side, to: &mut Document, t: &mut Side| {
        let msg = if std::mem::take(&mut f.2) {
            from.restart_sync_message(&mut f.0, &f.1)?
        } else {
            from.generate_sync_message(&mut f.0)?
        };
        let Some(msg) = msg else { return Ok(false) };
        match to.receive_sync_message(&mut t.0, &msg, roster, NOW) {
            Ok(_) => t.1.clear(),
            Err(SyncError::MissingDeps(missing)) if t.1.len() < 1024 => {
                t.1.extend(missing);
                t.2 = true;
            }
            Err(e) => return Err(e),
        }
        Ok(true)
    };
    for _ in 0..64 {
        let to_b = step(a, &mut sa, b, &mut sb)?;
        let to_a = step(b, &mut sb, a, &mut sa)?;
        if !to_a && !to_b {
            return Ok(());
        }
    }
    panic!("sync did not converge");
}

/// Syncs a raw automerge document (a hostile peer) into an honest document.
fn sync_raw_into(
    hostile: &mut Automerge,
    honest: &mut Document,
    roster: &Roster,
) -> Result<Vec<SignedEvent>, SyncError> {
    let (mut hs, mut st) = (State::new(), State::new());
    let mut received = Vec::new();
    // As a node does: a message refused for missing dependencies (a bloom filter false
    // positive) restarts the exchange, asking for them.
    let mut need = Vec::new();
    for _ in 0..64 {
        let to_honest = SyncDoc::generate_sync_message(hostile, &mut hs).map(|m| m.encode());
        if let Some(msg) = &to_honest {
            match honest.receive_sync_message(&mut st, msg, roster, NOW) {
                Ok(events) => {
                    received.extend(events);
                    need.clear();
                }
                Err(SyncError::MissingDeps(missing)) if need.len() < 1024 => {
                    need.extend(missing);
                    let restart = honest.restart_sync_message(&mut st, &need)?;
                    let msg = restart.expect("a restart always has something to say");
                    let msg = automerge::sync::Message::decode(&msg).expect("restart decodes");
                    SyncDoc::receive_sync_message(hostile, &mut hs, msg).expect("hostile receives");
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        let to_hostile = honest.generate_sync_message(&mut st)?;
        if let Some(msg) = &to_hostile {
            let msg = automerge::sync::Message::decode(msg).expect("honest message decodes");
            SyncDoc::receive_sync_message(hostile, &mut hs, msg).expect("hostile receives");
        }
        if to_honest.is_none() && to_hostile.is_none() {
            return Ok(received);
        }
    }
    panic!("sync did not converge");
}

/// `bytes` with the envelope's variant tag (its first byte, 0x00) re-encoded as the over-long
/// varint `[0x80, 0x00]`: postcard reads the same envelope from it.
fn overlong_tag(bytes: &[u8]) -> Vec<u8> {
    assert_eq!(bytes[0], 0x00, "the envelope starts with its variant tag");
    let mut out = vec![0x80, 0x00];
    out.extend_from_slice(&bytes[1..]);
    out
}

fn non_canonical() -> VerifyError {
    VerifyError::Malformed("non-canonical encoding".into())
}

struct Honest {
    net: Net,
    roster: Roster,
    id: DocId,
    doc: Document,
    /// An honest peer that shares the honest document's history and has one more event.
    peer: Document,
    peer_event: SignedEvent,
    /// The id of M's panic, which the honest document holds.
    panic: RecordId,
}

impl Honest {
    fn new() -> Self {
        let net = Net::new();
        let roster = net.roster();
        let t = at(HOUR);
        let id = DocId::alerts("oaxaca", t);
        let panic = alert_id(&net.m, t);
        let mut doc = Document::new(id.clone());
        doc.insert(&[
            panic_event(&net.m, t),
            alert_action(&net.s, t.plus_ms(1), Body::Ack { alert: panic }),
        ]);
        let mut peer = Document::load(id.clone(), &[doc.save()]).expect("peer loads");
        let peer_event = alert_action(
            &net.s,
            t.plus_ms(2),
            Body::Resolve {
                alert: panic,
                note: "safe".into(),
                checkin: None,
            },
        );
        peer.insert(std::slice::from_ref(&peer_event));
        Self {
            net,
            roster,
            id,
            doc,
            peer,
            peer_event,
            panic,
        }
    }

    /// A raw automerge copy of the honest document, with a hostile actor.
    fn hostile_copy(&self) -> Automerge {
        Automerge::load(&self.doc.save())
            .expect("loads")
            .with_actor(ActorId::from(b"hostile".as_slice()))
    }

    /// Syncs `hostile` in, expects a refusal, checks nothing changed and that honest sync
    /// still works.
    fn refuses(mut self, mut hostile: Automerge) -> SyncError {
        let heads = self.doc.heads();
        let events = ids(self.doc.events());
        let err = sync_raw_into(&mut hostile, &mut self.doc, &self.roster)
            .expect_err("hostile sync is refused");
        assert_eq!(self.doc.heads(), heads, "heads unchanged after {err:?}");
        assert_eq!(ids(self.doc.events()), events);
        assert_eq!(self.doc.len(), events.len());
        // What is saved is the honest document only.
        let reloaded = Document::load(self.id.clone(), &[self.doc.save()]).expect("loads");
        assert_eq!(reloaded.heads(), heads);
        assert_eq!(ids(reloaded.events()), events);
        // An honest peer still syncs, in both directions.
        let mine = alert_action(
            &self.net.m,
            at(HOUR).plus_ms(3),
            Body::Ack { alert: self.panic },
        );
        self.doc.insert(std::slice::from_ref(&mine));
        sync_docs(&mut self.peer, &mut self.doc, &self.roster).expect("honest sync works");
        assert!(self.doc.contains(self.peer_event.id()));
        assert!(self.peer.contains(mine.id()));
        assert_eq!(self.doc.heads(), self.peer.heads());
        assert_eq!(self.doc.len(), events.len() + 2);
        err
    }
}

fn put_bytes(doc: &mut Automerge, key: &str, bytes: &[u8]) {
    let mut tx = doc.transaction();
    tx.put(ROOT, key, ScalarValue::Bytes(bytes.to_vec()))
        .expect("put");
    tx.commit();
}

/// Commits a put of `event` at its key, with `options`.
fn put_event_with(doc: &mut Automerge, event: &SignedEvent, options: CommitOptions) {
    let mut tx = doc.transaction();
    tx.put(
        ROOT,
        event.id().to_string(),
        ScalarValue::Bytes(event.to_bytes()),
    )
    .expect("put");
    tx.commit_with(options);
}

/// An event as a node holds it after it was stored, whatever its time: bypasses the field
/// checks of signing (a view folds what documents hold, which older rules may have let in).
fn stored(key: &SecretKey, t: Timestamp, doc: DocId, body: Body) -> SignedEvent {
    let event = Event {
        author: key.public(),
        at: t,
        seq: (t).0 as u64,
        doc,
        body,
    };
    SignedEvent::decode_trusted(&forge(&event, key)).expect("forged bytes decode")
}

fn shelter_event(
    key: &SecretKey,
    t: Timestamp,
    id: RecordId,
    org: &str,
    capacity: u32,
) -> SignedEvent {
    sign(
        key,
        t,
        DocId::shelters("oaxaca"),
        Body::Shelter(Box::new(ShelterBody {
            id,
            org: org.into(),
            name: "Casa Refugio".into(),
            region: "oaxaca".into(),
            capacity,
            services: vec!["legal".into(), "medical".into()],
            accepts: vec!["women".into(), "children".into()],
            contact: "+52 951 000 0000".into(),
            status: ShelterStatus::Open,
        })),
    )
}

/// [`sign`] under an explicit sequence number, for the tests of revocation, where numbers and
/// dates disagree.
fn sign_seq(key: &SecretKey, at: Timestamp, seq: u64, doc: DocId, body: Body) -> SignedEvent {
    SignedEvent::sign(
        Event {
            author: key.public(),
            at,
            seq,
            doc,
            body,
        },
        key,
    )
    .expect("fixture event signs")
}
