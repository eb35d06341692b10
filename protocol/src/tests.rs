//! Unit tests of the protocol crate: signing, text forms, roster rules, document sync and its
//! validation against hostile peers, and the views.

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
        Body::Alert(alert_body(id, kind, "oaxaca", org, subject)),
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
    let mut body = alert_body(
        AlertBody::missed_checkin_id(&subject, due),
        AlertKind::MissedCheckin,
        "oaxaca",
        org,
        Some(subject),
    );
    body.due = Some(due);
    sign(key, t, DocId::alerts("oaxaca", t), Body::Alert(body))
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
            status,
            note: format!("note at {}", t.0),
            next_due,
            code_tag: None,
        }),
    )
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
            add_m,
            add_s,
            add_org_b,
        }
    }

    fn roster_events(&self) -> Vec<SignedEvent> {
        vec![
            self.genesis.clone(),
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
            },
        )
    }
}

fn ids(events: &[SignedEvent]) -> BTreeSet<EventId> {
    events.iter().map(SignedEvent::id).collect()
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

// ---------------------------------------------------------------------------------------------
// 1. Signing
// ---------------------------------------------------------------------------------------------

#[test]
fn sign_encode_decode_round_trip() {
    let net = Net::new();
    let event = checkin_event(&net.m, at(HOUR), CheckinStatus::Ok, Some(at(2 * HOUR)));
    let decoded = SignedEvent::decode(event.as_bytes()).expect("own event decodes");
    assert_eq!(decoded, event);
    assert_eq!(decoded.event(), event.event());
    assert_eq!(decoded.id(), event.id());
    assert_eq!(decoded.id(), EventId::of(event.as_bytes()));
    assert_eq!(decoded.as_bytes(), event.as_bytes());

    // The hand-built envelope has the same encoding as the crate's.
    assert_eq!(forge(event.event(), &net.m), event.as_bytes());

    // Signing is deterministic: same event, same key, same bytes and id.
    let again = SignedEvent::sign(event.event().clone(), &net.m).expect("signs again");
    assert_eq!(again.id(), event.id());

    // A different event gets a different id.
    let other = checkin_event(&net.m, at(HOUR + 1), CheckinStatus::Ok, None);
    assert_ne!(other.id(), event.id());
}

#[test]
fn decode_trusted_reads_signed_bytes() {
    let net = Net::new();
    let event = checkin_event(&net.m, at(HOUR), CheckinStatus::Danger, None);
    let trusted = SignedEvent::decode_trusted(event.as_bytes()).expect("decodes");
    assert_eq!(trusted, event);
}

#[test]
fn every_single_byte_flip_is_refused_or_changes_the_event() {
    let net = Net::new();
    let event = sign(
        &net.s,
        at(HOUR),
        DocId::alerts("oaxaca", at(HOUR)),
        Body::Ack { alert: rid("x") },
    );
    let original = event.as_bytes().to_vec();
    let mut refused = 0;
    for pos in 0..original.len() {
        for mask in [0x01u8, 0x02, 0x10, 0x40, 0x80, 0xff] {
            let mut bytes = original.clone();
            bytes[pos] ^= mask;
            match SignedEvent::decode(&bytes) {
                Err(VerifyError::BadSignature | VerifyError::Malformed(_)) => refused += 1,
                Err(other) => panic!("byte {pos} ^ {mask:#x}: unexpected error {other:?}"),
                Ok(decoded) => {
                    assert_ne!(decoded.id(), event.id(), "byte {pos} ^ {mask:#x}");
                    assert_ne!(
                        decoded.event(),
                        event.event(),
                        "byte {pos} ^ {mask:#x} gives the same event under another id"
                    );
                }
            }
        }
    }
    assert_eq!(refused, original.len() * 6, "every flip is refused");
}

#[test]
fn decode_refuses_bad_input() {
    let net = Net::new();
    let event = checkin_event(&net.m, at(HOUR), CheckinStatus::Ok, None);

    let mut trailing = event.as_bytes().to_vec();
    trailing.push(0);
    assert!(matches!(
        SignedEvent::decode(&trailing),
        Err(VerifyError::Malformed(_))
    ));

    let truncated = &event.as_bytes()[..event.as_bytes().len() - 1];
    assert!(matches!(
        SignedEvent::decode(truncated),
        Err(VerifyError::Malformed(_))
    ));

    assert!(matches!(
        SignedEvent::decode(&[]),
        Err(VerifyError::Malformed(_))
    ));

    let huge = vec![0u8; MAX_EVENT_BYTES + 1];
    assert_eq!(
        SignedEvent::decode(&huge),
        Err(VerifyError::TooLarge(MAX_EVENT_BYTES + 1))
    );

    // A signature of the wrong length.
    let payload = postcard::to_stdvec(event.event()).expect("encodes");
    let short_sig = postcard::to_stdvec(&TestEnvelope::V0 {
        payload,
        sig: vec![0; 63],
    })
    .expect("encodes");
    assert!(matches!(
        SignedEvent::decode(&short_sig),
        Err(VerifyError::Malformed(_))
    ));
}

#[test]
fn decode_refuses_an_event_signed_by_another_key() {
    let net = Net::new();
    // Claims to be by the admin, signed by the member.
    let event = Event {
        author: net.a.public(),
        at: at(HOUR),
        doc: DocId::roster(),
        body: Body::Revoke {
            key: net.s.public(),
            reason: "forged".into(),
        },
    };
    let forged = forge(&event, &net.m);
    assert_eq!(SignedEvent::decode(&forged), Err(VerifyError::BadSignature));
    // The same event properly signed decodes.
    assert!(SignedEvent::decode(&forge(&event, &net.a)).is_ok());
}

#[test]
fn decode_checks_fields_after_the_signature() {
    let net = Net::new();
    // Correctly signed, but the alert is in the wrong region's document.
    let event = Event {
        author: net.s.public(),
        at: at(HOUR),
        doc: DocId::alerts("chiapas", at(HOUR)),
        body: Body::Alert(alert_body(
            alert_id(&net.s, at(HOUR)),
            AlertKind::Alert,
            "oaxaca",
            "org-a",
            None,
        )),
    };
    assert!(matches!(
        SignedEvent::decode(&forge(&event, &net.s)),
        Err(VerifyError::Invalid(_))
    ));
}

#[test]
fn sign_refuses_a_key_that_is_not_the_author() {
    let net = Net::new();
    let event = Event {
        author: net.m.public(),
        at: at(HOUR),
        doc: DocId::checkins("org-a", at(HOUR)),
        body: Body::Checkin(CheckinBody {
            status: CheckinStatus::Ok,
            note: String::new(),
            next_due: None,
            code_tag: None,
        }),
    };
    assert!(matches!(
        SignedEvent::sign(event.clone(), &net.s),
        Err(VerifyError::Invalid(_))
    ));
    assert!(SignedEvent::sign(event, &net.m).is_ok());
}

#[test]
fn sign_refuses_oversized_text() {
    let net = Net::new();
    let with_note = |len: usize| Event {
        author: net.m.public(),
        at: at(HOUR),
        doc: DocId::checkins("org-a", at(HOUR)),
        body: Body::Checkin(CheckinBody {
            status: CheckinStatus::NeedHelp,
            note: "x".repeat(len),
            next_due: None,
            code_tag: None,
        }),
    };
    assert!(SignedEvent::sign(with_note(MAX_TEXT_BYTES), &net.m).is_ok());
    assert!(matches!(
        SignedEvent::sign(with_note(MAX_TEXT_BYTES + 1), &net.m),
        Err(VerifyError::Invalid(_))
    ));

    // The limit is in bytes, not characters.
    let mut alert = alert_body(
        alert_id(&net.s, at(HOUR)),
        AlertKind::Alert,
        "oaxaca",
        "org-a",
        None,
    );
    alert.text = "ñ".repeat(MAX_TEXT_BYTES / 2 + 1);
    let event = Event {
        author: net.s.public(),
        at: at(HOUR),
        doc: DocId::alerts("oaxaca", at(HOUR)),
        body: Body::Alert(alert),
    };
    assert!(matches!(
        SignedEvent::sign(event, &net.s),
        Err(VerifyError::Invalid(_))
    ));

    let revoke = Event {
        author: net.a.public(),
        at: at(HOUR),
        doc: DocId::roster(),
        body: Body::Revoke {
            key: net.m.public(),
            reason: "r".repeat(MAX_TEXT_BYTES + 1),
        },
    };
    assert!(matches!(
        SignedEvent::sign(revoke, &net.a),
        Err(VerifyError::Invalid(_))
    ));
}

#[test]
fn sign_refuses_events_in_the_wrong_document() {
    let net = Net::new();
    let t = at(HOUR);
    let refused = |author: &SecretKey, doc: DocId, body: Body| {
        let event = Event {
            author: author.public(),
            at: t,
            doc: doc.clone(),
            body: body.clone(),
        };
        let result = SignedEvent::sign(event, author);
        assert!(
            matches!(result, Err(VerifyError::Invalid(_))),
            "{body:?} in {doc} gave {result:?}"
        );
    };
    let oaxaca_alert = Body::Alert(alert_body(
        alert_id(&net.s, t),
        AlertKind::Alert,
        "oaxaca",
        "org-a",
        None,
    ));
    // An alert whose region differs from the document's.
    refused(&net.s, DocId::alerts("chiapas", t), oaxaca_alert.clone());
    // An alert in the document of another month.
    refused(
        &net.s,
        DocId::alerts("oaxaca", Timestamp(0)),
        oaxaca_alert.clone(),
    );
    // An alert in a shelters document.
    refused(&net.s, DocId::shelters("oaxaca"), oaxaca_alert.clone());
    // A check-in in a shelters document, an alerts document, or another month's document.
    let checkin = Body::Checkin(CheckinBody {
        status: CheckinStatus::Ok,
        note: String::new(),
        next_due: None,
        code_tag: None,
    });
    refused(&net.m, DocId::shelters("oaxaca"), checkin.clone());
    refused(&net.m, DocId::alerts("oaxaca", t), checkin.clone());
    refused(
        &net.m,
        DocId::checkins("org-a", t.plus_ms(40 * 24 * HOUR)),
        checkin,
    );
    // Roster events outside the roster.
    refused(
        &net.a,
        DocId::alerts("oaxaca", t),
        Body::Revoke {
            key: net.m.public(),
            reason: String::new(),
        },
    );
    refused(
        &net.a,
        DocId::shelters("oaxaca"),
        Body::Genesis {
            network: "n".into(),
            org: "org-a".into(),
            node: net.n.public(),
            admin_name: "A".into(),
        },
    );
    // An acknowledgement outside an alerts document.
    refused(
        &net.m,
        DocId::checkins("org-a", t),
        Body::Ack { alert: rid("a") },
    );
    // Occupancy of a shelter in another region's document.
    refused(
        &net.a,
        DocId::shelters("chiapas"),
        Body::Occupancy {
            shelter: rid("s"),
            org: "org-a".into(),
            region: "oaxaca".into(),
            delta: 1,
        },
    );
    // A subject goes with missed check-ins only, and missed check-ins need one.
    refused(
        &net.n,
        DocId::alerts("oaxaca", t),
        Body::Alert(alert_body(
            AlertBody::missed_checkin_id(&net.m.public(), t),
            AlertKind::MissedCheckin,
            "oaxaca",
            "org-a",
            None,
        )),
    );
    refused(
        &net.m,
        DocId::alerts("oaxaca", t),
        Body::Alert(alert_body(
            alert_id(&net.m, t),
            AlertKind::Panic,
            "oaxaca",
            "org-a",
            Some(net.m.public()),
        )),
    );
    // Slugs are checked.
    refused(
        &net.a,
        DocId::roster(),
        Body::AddMember {
            org: "Org A".into(),
            member: net.x.public(),
            name: "X".into(),
            role: Role::Member,
            region: None,
        },
    );
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

#[test]
fn decode_requires_the_canonical_encoding() {
    let net = Net::new();
    let event = checkin_event(&net.m, at(HOUR), CheckinStatus::Ok, None);

    // An over-long envelope tag: postcard reads the same envelope, so without the check the
    // same signed event would have a second byte form and a second id.
    let long = overlong_tag(event.as_bytes());
    let (envelope, rest): (TestEnvelope, &[u8]) =
        postcard::take_from_bytes(&long).expect("postcard accepts over-long varints");
    assert!(rest.is_empty());
    let TestEnvelope::V0 { payload, .. } = envelope;
    assert_eq!(
        payload,
        postcard::to_stdvec(event.event()).expect("encodes")
    );
    assert_ne!(EventId::of(&long), event.id());
    assert_eq!(SignedEvent::decode(&long), Err(non_canonical()));

    // An over-long varint inside the signed payload (the length of the document id), with a
    // valid signature over those very bytes.
    let payload = postcard::to_stdvec(event.event()).expect("encodes");
    let pos = 32
        + postcard::to_stdvec(&event.event().at)
            .expect("encodes")
            .len();
    assert_eq!(usize::from(payload[pos]), event.event().doc.as_str().len());
    let mut long_payload = payload[..pos].to_vec();
    long_payload.extend([payload[pos] | 0x80, 0x00]);
    long_payload.extend_from_slice(&payload[pos + 1..]);
    assert_eq!(
        &postcard::from_bytes::<Event>(&long_payload).expect("postcard accepts it"),
        event.event()
    );
    let sig = net.m.sign(&long_payload).to_vec();
    let bytes = postcard::to_stdvec(&TestEnvelope::V0 {
        payload: long_payload,
        sig,
    })
    .expect("encodes");
    assert_eq!(SignedEvent::decode(&bytes), Err(non_canonical()));

    // The canonical form still decodes, to the one id the event has.
    assert_eq!(
        SignedEvent::decode(event.as_bytes()).map(|e| e.id()),
        Ok(event.id())
    );
}

#[test]
fn alert_ids_derive_from_author_and_time() {
    let net = Net::new();
    let t = at(HOUR);
    let (m, s) = (net.m.public(), net.s.public());
    // Stable, and distinct per author, per time, and from missed check-in ids.
    assert_eq!(AlertBody::id_for(&m, t), AlertBody::id_for(&m, t));
    assert_ne!(AlertBody::id_for(&m, t), AlertBody::id_for(&s, t));
    assert_ne!(
        AlertBody::id_for(&m, t),
        AlertBody::id_for(&m, t.plus_ms(1))
    );
    assert_ne!(
        AlertBody::id_for(&m, t),
        AlertBody::missed_checkin_id(&m, t)
    );
    assert_eq!(
        AlertBody::missed_checkin_id(&m, t),
        AlertBody::missed_checkin_id(&m, t)
    );

    let wrong_id = || {
        VerifyError::Invalid(
            "an alert's id derives from its author and time (or its member and time)".into(),
        )
    };
    let alert = |author: &SecretKey, at: Timestamp, id: RecordId, kind: AlertKind| Event {
        author: author.public(),
        at,
        doc: DocId::alerts("oaxaca", at),
        body: Body::Alert(alert_body(id, kind, "oaxaca", "org-a", None)),
    };

    // S cannot raise an alert under the id of M's panic, signed or forged, at the panic's
    // time or any other.
    let panic_id = alert_id(&net.m, t);
    for (at, kind) in [
        (t, AlertKind::Alert),
        (t, AlertKind::Panic),
        (t.plus_ms(1), AlertKind::Alert),
    ] {
        let stolen = alert(&net.s, at, panic_id, kind);
        assert_eq!(SignedEvent::sign(stolen.clone(), &net.s), Err(wrong_id()));
        assert_eq!(
            SignedEvent::decode(&forge(&stolen, &net.s)),
            Err(wrong_id())
        );
    }
    // Nor may M reuse its own panic's id later, or choose an id.
    let again = alert(&net.m, t.plus_ms(MIN), panic_id, AlertKind::Panic);
    assert_eq!(SignedEvent::sign(again.clone(), &net.m), Err(wrong_id()));
    assert_eq!(SignedEvent::decode(&forge(&again, &net.m)), Err(wrong_id()));
    let chosen = alert(&net.m, t, rid("p"), AlertKind::Panic);
    assert_eq!(SignedEvent::sign(chosen.clone(), &net.m), Err(wrong_id()));
    assert_eq!(
        SignedEvent::decode(&forge(&chosen, &net.m)),
        Err(wrong_id())
    );

    // The derived id signs and decodes.
    let panic = alert(&net.m, t, panic_id, AlertKind::Panic);
    let signed = SignedEvent::sign(panic.clone(), &net.m).expect("derived id signs");
    assert_eq!(
        SignedEvent::decode(&forge(&panic, &net.m)).map(|e| e.id()),
        Ok(signed.id())
    );

    // Missed check-ins use the id every raiser derives; no author-based id is required.
    let missed = Event {
        author: net.n.public(),
        at: t,
        doc: DocId::alerts("oaxaca", t),
        body: Body::Alert(AlertBody {
            due: Some(t.plus_ms(-HOUR)),
            ..alert_body(
                AlertBody::missed_checkin_id(&m, t.plus_ms(-HOUR)),
                AlertKind::MissedCheckin,
                "oaxaca",
                "org-a",
                Some(m),
            )
        }),
    };
    assert!(SignedEvent::sign(missed, &net.n).is_ok());

    // So two people alerting in the same millisecond raise two alerts, each with its author.
    let roster = net.roster();
    let both = [
        panic_event(&net.m, t),
        alert_event(&net.s, t, AlertKind::Alert, "org-a"),
    ];
    let list = view::alerts(&roster, &both, t);
    assert_eq!(list.len(), 2);
    for view in &list {
        let author = if view.kind == AlertKind::Panic { m } else { s };
        assert_eq!(view.author, author.to_string());
        assert_eq!(view.id, AlertBody::id_for(&author, t).to_string());
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Text forms
// ---------------------------------------------------------------------------------------------

#[test]
fn public_key_text_round_trip() {
    for name in ["alice", "mario", "sofia", "node-a"] {
        let public = key(name).public();
        let text = public.to_string();
        assert_eq!(text.len(), 52);
        assert_eq!(text, text.to_ascii_lowercase());
        assert_eq!(text.parse::<PublicKey>(), Ok(public));
        assert_eq!(text.to_ascii_uppercase().parse::<PublicKey>(), Ok(public));
        // Read aloud in groups of four, with dashes and spaces.
        let grouped: Vec<String> = text
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8(c.to_vec()).expect("ascii"))
            .collect();
        assert_eq!(grouped.join("-").parse::<PublicKey>(), Ok(public));
        assert_eq!(
            format!("  {}  ", grouped.join(" ")).parse::<PublicKey>(),
            Ok(public)
        );
        assert_eq!(&text[..8], public.fmt_short());
        // The last character carries one bit of the key and four zero bits; other trailing
        // bits are refused, so each key has one text form (up to case and separators).
        let last = text.as_bytes()[51];
        assert!(last == b'a' || last == b'q', "{text}");
        let noisy = format!("{}{}", &text[..51], (last + 1) as char);
        assert!(noisy.parse::<PublicKey>().is_err(), "{noisy}");
        assert_eq!(PublicKey::from_bytes(*public.as_bytes()), public);
    }
}

#[test]
fn public_key_text_refuses_bad_input() {
    let text = key("alice").public().to_string();
    let bad = [
        String::new(),
        text[..51].to_string(),
        format!("{text}a"),
        format!("{text}aaaaaaaa"),
        format!("1{}", &text[1..]),
        format!("{}!", &text[..51]),
        "not a key".to_string(),
    ];
    for input in bad {
        assert!(input.parse::<PublicKey>().is_err(), "{input:?} parsed");
    }
}

#[test]
fn secret_key_derivation_is_deterministic() {
    assert_eq!(key("alice").public(), key("alice").public());
    assert_ne!(key("alice").public(), key("mario").public());
    assert_ne!(
        SecretKey::derive("test", b"alice").public(),
        SecretKey::derive("other", b"alice").public()
    );
    let k = key("alice");
    assert_eq!(SecretKey::from_bytes(k.to_bytes()).public(), k.public());
    // Debug never shows the secret.
    let debug = format!("{k:?}");
    let secret_hex = data_encoding::HEXLOWER.encode(&k.to_bytes());
    assert!(!debug.contains(&secret_hex));
    // Signatures verify under the right key only.
    let sig = k.sign(b"msg");
    assert!(k.public().verify(b"msg", &sig));
    assert!(!k.public().verify(b"msh", &sig));
    assert!(!key("mario").public().verify(b"msg", &sig));
}

#[test]
fn doc_id_text_round_trip() {
    let t = at(0);
    let cases = [
        (DocId::roster(), "roster", Collection::Roster, None, None),
        (
            DocId::alerts("oaxaca", t),
            "alerts/oaxaca/2026-03",
            Collection::Alerts,
            Some("oaxaca"),
            Some("2026-03"),
        ),
        (
            DocId::checkins("org-a", t),
            "checkins/org-a/2026-03",
            Collection::Checkins,
            Some("org-a"),
            Some("2026-03"),
        ),
        (
            DocId::shelters("oaxaca"),
            "shelters/oaxaca",
            Collection::Shelters,
            Some("oaxaca"),
            None,
        ),
    ];
    for (id, text, collection, scope, period) in cases {
        assert_eq!(id.to_string(), text);
        assert_eq!(id.as_str(), text);
        assert_eq!(text.parse::<DocId>(), Ok(id.clone()));
        assert_eq!(id.collection(), collection);
        assert_eq!(id.scope(), scope);
        assert_eq!(id.period(), period);
        // Serde goes through the checked text form.
        let bytes = postcard::to_stdvec(&id).expect("encodes");
        assert_eq!(postcard::from_bytes::<DocId>(&bytes).expect("decodes"), id);
    }
}

#[test]
fn doc_id_months_are_1_to_12() {
    for month in ["00", "13", "20", "99"] {
        for collection in ["alerts/oaxaca", "receipts/oaxaca", "checkins/org-a"] {
            let input = format!("{collection}/2026-{month}");
            assert!(input.parse::<DocId>().is_err(), "{input:?} parsed");
        }
    }
    for month in 1..=12 {
        let input = format!("alerts/oaxaca/2026-{month:02}");
        let id: DocId = input.parse().expect("a month parses");
        assert!(id.period_end().is_some(), "{input}");
    }
}

#[test]
fn actions_and_receipts_are_not_dated_before_their_documents_period() {
    let net = Net::new();
    let march = DocId::alerts("oaxaca", at(0));
    let receipts = DocId::receipts_for(&march).expect("an alerts document");
    let start = march.period_start().expect("a period");
    assert_eq!(start.month(), "2026-03");
    assert_eq!(start.plus_ms(-1).month(), "2026-02");
    let alert = rid("a");
    let bodies = [
        (&net.m, march.clone(), Body::Ack { alert }),
        (
            &net.s,
            march.clone(),
            Body::Assign {
                alert,
                assignee: net.m.public(),
            },
        ),
        (
            &net.s,
            march.clone(),
            Body::Resolve {
                alert,
                note: "safe".into(),
            },
        ),
        (
            &net.n,
            receipts.clone(),
            Body::Held {
                alerts: vec![alert],
            },
        ),
    ];
    for (author, doc, body) in bodies {
        let event = |t: Timestamp| Event {
            author: author.public(),
            at: t,
            doc: doc.clone(),
            body: body.clone(),
        };
        for early in [start.plus_ms(-1), Timestamp(i64::MIN), Timestamp(0)] {
            assert!(
                matches!(
                    SignedEvent::sign(event(early), author),
                    Err(VerifyError::Invalid(_))
                ),
                "{body:?} at {early:?}"
            );
            let forged = forge(&event(early), author);
            assert!(SignedEvent::decode(&forged).is_err(), "{body:?} decoded");
        }
        // From the first instant of the month on, and after the month ends (an alert of
        // March may be acknowledged in April).
        for fine in [start, at(HOUR), start.plus_ms(40 * 24 * HOUR)] {
            SignedEvent::sign(event(fine), author).expect("signs");
        }
    }
}

#[test]
fn doc_id_text_refuses_bad_input() {
    let bad = [
        "",
        "rooster",
        "roster/x",
        "alerts",
        "alerts/oaxaca",
        "alerts/Oaxaca/2026-03",
        "alerts/oaxaca/2026-3",
        "alerts/oaxaca/2026_03",
        "alerts/oaxaca/20a6-03",
        "alerts/oaxaca/2026-03/x",
        "alerts//2026-03",
        "checkins/org a/2026-03",
        "checkins/org-a",
        "shelters/",
        "shelters/oaxaca/2026-03",
        "shelters/ñuu-savi",
        "alerts/oaxaca/2026-0é",
    ];
    for input in bad {
        assert!(input.parse::<DocId>().is_err(), "{input:?} parsed");
    }
    let long = format!("shelters/{}", "a".repeat(33));
    assert!(long.parse::<DocId>().is_err());
    let longest = format!("shelters/{}", "a".repeat(32));
    assert!(longest.parse::<DocId>().is_ok());
    // Deserialising refuses what parsing refuses.
    let bytes = postcard::to_stdvec("alerts/Oaxaca/2026-03").expect("encodes");
    assert!(postcard::from_bytes::<DocId>(&bytes).is_err());
}

#[test]
fn record_id_text_round_trip() {
    let id = rid("shelter");
    let text = id.to_string();
    assert_eq!(text.len(), 32);
    assert_eq!(text.parse::<RecordId>(), Ok(id));
    assert_eq!(text.to_ascii_uppercase().parse::<RecordId>(), Ok(id));
    assert_eq!(id.fmt_short(), &text[..8]);
    for bad in [
        String::new(),
        text[..31].to_string(),
        text[..30].to_string(),
        format!("{text}00"),
        format!("g{}", &text[1..]),
    ] {
        assert!(bad.parse::<RecordId>().is_err(), "{bad:?} parsed");
    }
    // Derived ids are stable and separate their parts.
    assert_eq!(
        RecordId::derive("l", &[b"ab", b"c"]),
        RecordId::derive("l", &[b"ab", b"c"])
    );
    assert_ne!(
        RecordId::derive("l", &[b"ab", b"c"]),
        RecordId::derive("l", &[b"a", b"bc"])
    );
    assert_ne!(
        RecordId::derive("l", &[b"a"]),
        RecordId::derive("m", &[b"a"])
    );
}

#[test]
fn invite_code_text_round_trip() {
    let code = InviteCode::V0 {
        kind: InviteKind::Member,
        node: key("node-a").public(),
        addrs: vec![
            "/ip4/10.0.0.1/tcp/4001".into(),
            "/dns4/a.example/udp/4001/quic-v1".into(),
        ],
        secret: [7; 32],
        expires: at(HOUR),
    };
    let text = code.encode();
    assert!(text.starts_with("tj0"));
    assert_eq!(text, text.to_ascii_lowercase());
    assert_eq!(InviteCode::decode(&text), Ok(code.clone()));
    assert_eq!(
        InviteCode::decode(&format!("  {}\n", text.to_ascii_uppercase())),
        Ok(code.clone())
    );
    // The one-time identity and the proof message depend on the secret only.
    let InviteCode::V0 { secret, .. } = &code;
    assert_eq!(
        code.identity().public(),
        SecretKey::derive("tejido invite identity v0", secret).public()
    );
    let newcomer = key("mario").public();
    let msg = code.proof_message(&newcomer);
    assert!(msg.starts_with(b"tejido redeem v0"));
    assert!(msg.ends_with(newcomer.as_bytes()));
    assert_ne!(msg, code.proof_message(&key("sofia").public()));
}

#[test]
fn invite_code_text_refuses_bad_input() {
    let code = InviteCode::V0 {
        kind: InviteKind::Node,
        node: key("node-a").public(),
        addrs: vec!["/ip4/10.0.0.1/tcp/4001".into()],
        secret: [9; 32],
        expires: at(HOUR),
    };
    let text = code.encode();
    let bad = vec![
        String::new(),
        "tj".to_string(),
        "tj0".to_string(),
        format!("tj1{}", &text[3..]),
        text[3..].to_string(),
        text[..text.len() - 10].to_string(),
        format!("{text}!"),
        format!("{}1", &text[..text.len() - 1]),
        format!("tj0{}", "a".repeat(5000)),
        "ñj0abc".to_string(),
    ];
    for input in bad {
        assert!(InviteCode::decode(&input).is_err(), "{input:?} decoded");
    }
    // Too many addresses.
    let crowded = InviteCode::V0 {
        kind: InviteKind::Node,
        node: key("node-a").public(),
        addrs: vec!["/ip4/10.0.0.1/tcp/1".into(); 17],
        secret: [9; 32],
        expires: at(HOUR),
    };
    assert!(InviteCode::decode(&crowded.encode()).is_err());
}

#[test]
fn timestamp_text_forms() {
    assert_eq!(Timestamp(0).month(), "1970-01");
    assert_eq!(Timestamp(0).rfc3339(), "1970-01-01T00:00:00Z");
    assert_eq!(Timestamp(999).rfc3339(), "1970-01-01T00:00:00Z");
    assert_eq!(Timestamp(-1).month(), "1969-12");
    assert_eq!(at(0).rfc3339(), "2026-03-10T00:00:00Z");
    assert_eq!(at(0).month(), "2026-03");
    assert_eq!(at(0).to_string(), "2026-03-10T00:00:00Z");
    assert_eq!(
        Timestamp(1_767_225_599_999).rfc3339(),
        "2025-12-31T23:59:59Z"
    );
    assert_eq!(Timestamp(1_767_225_599_999).month(), "2025-12");
    assert_eq!(Timestamp(1_767_225_600_000).month(), "2026-01");
    assert_eq!(Timestamp(5).plus_ms(7), Timestamp(12));
    assert_eq!(Timestamp(i64::MAX).plus_ms(1), Timestamp(i64::MAX));
}

// ---------------------------------------------------------------------------------------------
// 3. Roster
// ---------------------------------------------------------------------------------------------

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn roster_folds_the_fixture() {
    let net = Net::new();
    let roster = net.roster();
    assert_eq!(roster.network.as_deref(), Some("red"));
    assert_eq!(
        roster.orgs.keys().cloned().collect::<Vec<_>>(),
        vec!["org-a".to_string(), "org-b".to_string()]
    );
    let a = &roster.members[&net.a.public()];
    assert_eq!((a.role, a.org.as_str()), (Role::Admin, "org-a"));
    let m = &roster.members[&net.m.public()];
    assert_eq!(
        (m.role, m.org.as_str(), m.region.as_deref(), m.added_at),
        (Role::Member, "org-a", Some("oaxaca"), at(MIN))
    );
    let s = &roster.members[&net.s.public()];
    assert_eq!(s.role, Role::SecurityContact);
    let b = &roster.members[&net.b.public()];
    assert_eq!((b.role, b.org.as_str()), (Role::Admin, "org-b"));
    assert_eq!(roster.nodes[&net.n.public()].org, "org-a");
    assert_eq!(roster.org_of(&net.n.public()), Some("org-a"));
    assert_eq!(roster.org_of(&net.b.public()), Some("org-b"));
    assert_eq!(roster.org_of(&net.x.public()), None);
    assert!(roster.is_active(&net.m.public()));
    assert!(roster.is_active(&net.n.public()));
    assert!(!roster.is_active(&net.x.public()));
    let directory = roster.directory();
    let oaxaca: Vec<PublicKey> = directory["oaxaca"].iter().map(|(k, _)| *k).collect();
    assert_eq!(oaxaca, vec![net.s.public()]);
    assert!(roster.accepts_doc(&DocId::checkins("org-a", at(0))));
    assert!(!roster.accepts_doc(&DocId::checkins("org-z", at(0))));
    assert!(roster.accepts_doc(&DocId::alerts("anywhere", at(0))));
}

#[test]
fn roster_does_not_depend_on_event_order() {
    let net = Net::new();
    // B (org-b) adds a member and a node with a clock behind the event that adds B, so those
    // events wait for B's organisation; M is revoked; and a second genesis is refused.
    let c = key("carmen");
    let nb = key("node-b");
    let mut events = net.roster_events();
    events.push(sign(
        &net.b,
        at(MIN / 2),
        DocId::roster(),
        Body::AddMember {
            org: "org-b".into(),
            member: c.public(),
            name: "Carmen".into(),
            role: Role::SecurityContact,
            region: Some("chiapas".into()),
        },
    ));
    events.push(sign(
        &net.b,
        at(4 * MIN),
        DocId::roster(),
        Body::AddNode {
            org: "org-b".into(),
            node: nb.public(),
            addrs: vec!["/ip4/10.0.0.2/tcp/4001".into()],
        },
    ));
    events.push(net.revoke(&net.m, at(5 * MIN)));
    events.push(sign(
        &net.x,
        at(6 * MIN),
        DocId::roster(),
        Body::Genesis {
            network: "usurper".into(),
            org: "org-x".into(),
            node: net.x.public(),
            admin_name: "X".into(),
        },
    ));

    let reference = Roster::from_events(&events);
    assert_eq!(reference.network.as_deref(), Some("red"));
    assert_eq!(reference.members[&c.public()].org, "org-b");
    assert_eq!(reference.nodes[&nb.public()].org, "org-b");
    assert_eq!(
        reference.members[&net.m.public()].revoked_at,
        Some(at(5 * MIN))
    );
    assert!(!reference.members.contains_key(&net.x.public()));
    assert!(!reference.orgs.contains_key("org-x"));

    let mut checked = 0;
    for order in permutations(events.len()) {
        let shuffled: Vec<&SignedEvent> = order.iter().map(|&i| &events[i]).collect();
        assert_eq!(Roster::from_events(shuffled), reference, "order {order:?}");
        checked += 1;
    }
    assert_eq!(checked, 40_320);
    let reversed: Vec<&SignedEvent> = events.iter().rev().collect();
    assert_eq!(Roster::from_events(reversed), reference);
}

/// A chain of `links` admins, each added by the one before in an event dated before the event
/// that added its author: the worst order for a fold that retries unknown authors by passes.
fn backdated_chain(links: usize) -> Vec<SignedEvent> {
    let admins: Vec<SecretKey> = (0..=links)
        .map(|i| SecretKey::derive("chain", &i.to_le_bytes()))
        .collect();
    let mut events = vec![sign(
        &admins[0],
        at(0),
        DocId::roster(),
        Body::Genesis {
            network: "red".into(),
            org: "org-a".into(),
            node: key("node-a").public(),
            admin_name: "A0".into(),
        },
    )];
    for i in 0..links {
        events.push(sign(
            &admins[i],
            at(HOUR - i as i64),
            DocId::roster(),
            Body::AddMember {
                org: "org-a".into(),
                member: admins[i + 1].public(),
                name: format!("A{}", i + 1),
                role: Role::Admin,
                region: None,
            },
        ));
    }
    events
}

#[test]
fn a_backdated_chain_folds_in_n_log_n_work() {
    let links = 20_000;
    let events = backdated_chain(links);
    let (roster, work) = Roster::from_events_with_work(&events);
    assert_eq!(roster.members.len(), links + 1, "every link is applied");
    let n = events.len() as u64;
    let log_n = u64::from(n.ilog2()) + 1;
    assert!(
        work <= 4 * n * log_n,
        "{work} applications for {n} events (bound {})",
        4 * n * log_n
    );
}

#[test]
fn the_roster_fold_matches_the_fold_by_passes_on_random_events() {
    // Random roster events over a few keys and organisations, with clashing times, conflicting
    // additions, revocations and a second genesis, in random orders: the worklist gives the
    // roster the passes gave.
    let keys: Vec<SecretKey> = (0..5u8)
        .map(|i| SecretKey::derive("random", &[i]))
        .collect();
    let orgs = ["org-a", "org-b", "org-c"];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        // xorshift64*: deterministic, no dependency.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    };
    let mut differing_orders = 0;
    for round in 0..1500 {
        let count = 2 + next(20);
        let mut events = Vec::new();
        for n in 0..count {
            // Mostly a network to add to, from an admin whose events others wait for.
            let author = &keys[if n == 0 { 0 } else { next(keys.len()) }];
            let t = at(next(6) as i64 * MIN);
            let org = orgs[next(orgs.len())].to_string();
            let other = keys[next(keys.len())].public();
            let body = match if n == 0 { 0 } else { 1 + next(6) } {
                0 | 1 => Body::Genesis {
                    network: "red".into(),
                    org,
                    node: other,
                    admin_name: "G".into(),
                },
                2 => Body::AddOrg {
                    org,
                    admin: other,
                    admin_name: "O".into(),
                },
                3 => Body::AddNode {
                    org,
                    node: other,
                    addrs: vec![format!("/ip4/10.0.0.{}/tcp/1", next(9))],
                },
                4 => Body::Revoke {
                    key: other,
                    reason: "r".into(),
                },
                _ => Body::AddMember {
                    org,
                    member: other,
                    name: "M".into(),
                    role: [Role::Member, Role::SecurityContact, Role::Admin][next(3)],
                    region: None,
                },
            };
            events.push(sign(author, t, DocId::roster(), body));
        }
        let (reference, passes_work) = Roster::from_events_by_passes(&events);
        for _ in 0..4 {
            let mut shuffled: Vec<&SignedEvent> = events.iter().collect();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, next(i + 1));
            }
            let (roster, work) = Roster::from_events_with_work(shuffled);
            assert_eq!(roster, reference, "round {round}: {events:?}");
            assert!(work <= 2 * events.len() as u64);
            if work < passes_work {
                differing_orders += 1;
            }
        }
    }
    assert!(
        differing_orders > 0,
        "some inputs needed more than one pass"
    );
}

#[test]
fn roster_authorizes_alerts_and_checkins() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let ok = |e: &SignedEvent| roster.authorize(e.event());
    let forbidden =
        |e: &SignedEvent| matches!(roster.authorize(e.event()), Err(AuthError::Forbidden(_)));

    // Check-ins: a member in their own organisation's document only.
    assert_eq!(
        ok(&checkin_event(&net.m, t, CheckinStatus::Ok, None)),
        Ok(())
    );
    let elsewhere = sign(
        &net.m,
        t,
        DocId::checkins("org-b", t),
        Body::Checkin(CheckinBody {
            status: CheckinStatus::Ok,
            note: String::new(),
            next_due: None,
            code_tag: None,
        }),
    );
    assert!(forbidden(&elsewhere));
    // Nodes do not check in.
    assert!(forbidden(&checkin_event(
        &net.n,
        t,
        CheckinStatus::Ok,
        None
    )));

    // Panics: a member for their own organisation; not a node.
    assert_eq!(ok(&panic_event(&net.m, t)), Ok(()));
    assert!(forbidden(&alert_event(
        &net.m,
        t,
        AlertKind::Panic,
        "org-b"
    )));
    assert!(forbidden(&panic_event(&net.n, t)));

    // Region-wide alerts: security contacts and admins, not members.
    let kind_alert = |k: &SecretKey, org: &str| alert_event(k, t, AlertKind::Alert, org);
    assert!(forbidden(&kind_alert(&net.m, "org-a")));
    assert_eq!(ok(&kind_alert(&net.s, "org-a")), Ok(()));
    assert_eq!(ok(&kind_alert(&net.a, "org-a")), Ok(()));
    assert!(forbidden(&kind_alert(&net.s, "org-b")));
    assert!(forbidden(&kind_alert(&net.n, "org-a")));

    // Acknowledge, assign, resolve (M's panic).
    let panic = alert_id(&net.m, t);
    let ack = |k: &SecretKey| alert_action(k, t, Body::Ack { alert: panic });
    let assign = |k: &SecretKey, who: PublicKey| {
        alert_action(
            k,
            t,
            Body::Assign {
                alert: panic,
                assignee: who,
            },
        )
    };
    let resolve = |k: &SecretKey| {
        alert_action(
            k,
            t,
            Body::Resolve {
                alert: panic,
                note: "safe".into(),
            },
        )
    };
    assert_eq!(ok(&ack(&net.m)), Ok(()));
    assert_eq!(ok(&ack(&net.s)), Ok(()));
    assert!(forbidden(&ack(&net.n)));
    assert_eq!(ok(&assign(&net.s, net.m.public())), Ok(()));
    assert!(forbidden(&assign(&net.m, net.m.public())));
    assert!(forbidden(&assign(&net.s, net.x.public())));
    assert!(forbidden(&assign(&net.s, net.n.public())));
    assert_eq!(ok(&resolve(&net.s)), Ok(()));
    assert_eq!(ok(&resolve(&net.n)), Ok(()));
    assert!(forbidden(&resolve(&net.m)));

    // Missed check-ins: nodes and responders, about a known member of the organisation.
    let missed = |k: &SecretKey, subject: &SecretKey, org: &str| {
        missed_event(k, t, subject.public(), t.plus_ms(-10 * MIN), org)
    };
    assert_eq!(ok(&missed(&net.n, &net.m, "org-a")), Ok(()));
    assert_eq!(ok(&missed(&net.s, &net.m, "org-a")), Ok(()));
    assert!(forbidden(&missed(&net.m, &net.s, "org-a")));
    assert!(forbidden(&missed(&net.n, &net.m, "org-b")));
    assert!(forbidden(&missed(&net.n, &net.x, "org-a")));

    // Unknown authors.
    assert_eq!(
        ok(&panic_event(&net.x, t)),
        Err(AuthError::UnknownAuthor(net.x.public().fmt_short()))
    );
    assert!(matches!(
        ok(&checkin_event(&net.x, t, CheckinStatus::Ok, None)),
        Err(AuthError::UnknownAuthor(_))
    ));
}

#[test]
fn roster_authorizes_roster_events() {
    let net = Net::new();
    let mut roster = net.roster();
    let t = at(HOUR);
    let roster_event = |k: &SecretKey, body: Body| sign(k, t, DocId::roster(), body);
    let add_member = |k: &SecretKey, org: &str, member: PublicKey| {
        roster_event(
            k,
            Body::AddMember {
                org: org.into(),
                member,
                name: "New".into(),
                role: Role::Member,
                region: None,
            },
        )
    };
    let forbidden = |roster: &Roster, e: &SignedEvent| {
        matches!(roster.authorize(e.event()), Err(AuthError::Forbidden(_)))
    };

    // A second genesis, even by the first admin.
    let genesis2 = roster_event(
        &net.a,
        Body::Genesis {
            network: "again".into(),
            org: "org-c".into(),
            node: net.x.public(),
            admin_name: "A".into(),
        },
    );
    assert!(forbidden(&roster, &genesis2));
    // A genesis is allowed in an empty roster, whoever signs it.
    assert_eq!(Roster::default().authorize(genesis2.event()), Ok(()));

    // Members and security contacts do not add members; admins add to their own org only.
    assert!(forbidden(
        &roster,
        &add_member(&net.m, "org-a", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_member(&net.s, "org-a", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_member(&net.a, "org-b", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_member(&net.n, "org-a", net.x.public())
    ));
    assert_eq!(
        roster.authorize(add_member(&net.b, "org-b", net.x.public()).event()),
        Ok(())
    );
    // A key already in the roster cannot be added again (roles are fixed).
    assert!(forbidden(
        &roster,
        &add_member(&net.a, "org-a", net.m.public())
    ));
    assert!(forbidden(
        &roster,
        &add_member(&net.a, "org-a", net.n.public())
    ));

    // Organisations: admins only, new slug, new key.
    let add_org = |k: &SecretKey, org: &str, admin: PublicKey| {
        roster_event(
            k,
            Body::AddOrg {
                org: org.into(),
                admin,
                admin_name: "C".into(),
            },
        )
    };
    assert_eq!(
        roster.authorize(add_org(&net.b, "org-c", net.x.public()).event()),
        Ok(())
    );
    assert!(forbidden(
        &roster,
        &add_org(&net.s, "org-c", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_org(&net.a, "org-b", net.x.public())
    ));
    assert!(forbidden(
        &roster,
        &add_org(&net.a, "org-c", net.m.public())
    ));

    // Nodes: an organisation's admins, a new key or a node of the same organisation.
    let add_node = |k: &SecretKey, org: &str, node: PublicKey| {
        roster_event(
            k,
            Body::AddNode {
                org: org.into(),
                node,
                addrs: vec!["/ip4/10.0.0.9/tcp/1".into()],
            },
        )
    };
    assert_eq!(
        roster.authorize(add_node(&net.a, "org-a", net.x.public()).event()),
        Ok(())
    );
    let readd = add_node(&net.a, "org-a", net.n.public());
    assert_eq!(roster.apply(&readd), Ok(()));
    assert_eq!(
        roster.nodes[&net.n.public()].addrs,
        vec!["/ip4/10.0.0.9/tcp/1".to_string()]
    );
    assert!(forbidden(
        &roster,
        &add_node(&net.b, "org-b", net.n.public())
    ));
    assert!(forbidden(
        &roster,
        &add_node(&net.a, "org-a", net.m.public())
    ));
    assert!(forbidden(
        &roster,
        &add_node(&net.s, "org-a", net.x.public())
    ));

    // Revocations: an organisation's admins, of its own keys.
    let revoke = |k: &SecretKey, who: PublicKey| {
        roster_event(
            k,
            Body::Revoke {
                key: who,
                reason: String::new(),
            },
        )
    };
    assert!(forbidden(&roster, &revoke(&net.b, net.m.public())));
    assert!(forbidden(&roster, &revoke(&net.s, net.m.public())));
    assert!(forbidden(&roster, &revoke(&net.a, net.x.public())));
    assert_eq!(
        roster.authorize(revoke(&net.a, net.n.public()).event()),
        Ok(())
    );

    // A refused event leaves the roster as it was.
    let before = roster.clone();
    assert!(roster.apply(&genesis2).is_err());
    assert!(roster
        .apply(&add_member(&net.m, "org-a", net.x.public()))
        .is_err());
    assert_eq!(roster, before);
}

#[test]
fn revocation_keeps_events_in_flight() {
    let net = Net::new();
    let revoked_at = at(HOUR);
    let mut events = net.roster_events();
    events.push(net.revoke(&net.m, revoked_at));
    events.push(net.revoke(&net.n, revoked_at));
    let roster = Roster::from_events(&events);
    assert_eq!(roster.members[&net.m.public()].revoked_at, Some(revoked_at));
    assert!(!roster.is_active(&net.m.public()));
    assert!(!roster.is_active(&net.n.public()));
    assert!(roster.is_active(&net.s.public()));

    let before = checkin_event(&net.m, revoked_at.plus_ms(-1), CheckinStatus::Ok, None);
    let same = checkin_event(&net.m, revoked_at, CheckinStatus::Ok, None);
    let after = checkin_event(&net.m, revoked_at.plus_ms(1), CheckinStatus::Ok, None);
    assert_eq!(roster.authorize(before.event()), Ok(()));
    assert_eq!(
        roster.authorize(same.event()),
        Err(AuthError::Revoked(net.m.public().fmt_short()))
    );
    assert!(matches!(
        roster.authorize(after.event()),
        Err(AuthError::Revoked(_))
    ));
    let missed =
        |t: Timestamp| missed_event(&net.n, t, net.s.public(), t.plus_ms(-10 * MIN), "org-a");
    assert_eq!(
        roster.authorize(missed(revoked_at.plus_ms(-1)).event()),
        Ok(())
    );
    assert!(matches!(
        roster.authorize(missed(revoked_at).event()),
        Err(AuthError::Revoked(_))
    ));

    // A later revocation does not push the revocation time back.
    let mut later = events.clone();
    later.push(net.revoke(&net.m, revoked_at.plus_ms(HOUR)));
    let roster2 = Roster::from_events(&later);
    assert_eq!(
        roster2.members[&net.m.public()].revoked_at,
        Some(revoked_at)
    );

    // A revoked security contact leaves the directory.
    let mut events3 = net.roster_events();
    events3.push(net.revoke(&net.s, revoked_at));
    let roster3 = Roster::from_events(&events3);
    assert!(!roster3.directory().contains_key("oaxaca"));
}

// ---------------------------------------------------------------------------------------------
// 4. Documents
// ---------------------------------------------------------------------------------------------

#[test]
fn insert_is_idempotent() {
    let net = Net::new();
    let t = at(HOUR);
    let mut doc = Document::new(DocId::alerts("oaxaca", t));
    assert!(doc.is_empty());
    let p = panic_event(&net.m, t);
    let ack = alert_action(
        &net.s,
        t.plus_ms(1),
        Body::Ack {
            alert: alert_id(&net.m, t),
        },
    );
    assert_eq!(doc.insert(&[p.clone(), ack.clone()]), 2);
    let heads = doc.heads();
    assert_eq!(doc.insert(&[p.clone(), ack.clone()]), 0);
    assert_eq!(doc.heads(), heads, "nothing new, no change");
    assert_eq!(doc.len(), 2);
    assert!(doc.contains(p.id()));
    assert!(doc.contains(ack.id()));
    assert!(!doc.contains(panic_event(&net.m, t.plus_ms(5)).id()));
    assert_eq!(doc.id(), &DocId::alerts("oaxaca", t));
}

#[test]
fn documents_converge_by_sync() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = DocId::alerts("oaxaca", t);
    let mut left = Document::new(id.clone());
    let mut right = Document::new(id.clone());
    let panic = alert_id(&net.m, t);
    left.insert(&[panic_event(&net.m, t)]);
    sync_docs(&mut left, &mut right, &roster).expect("first sync");
    assert_eq!(left.heads(), right.heads());
    assert_eq!(ids(left.events()), ids(right.events()));
    assert_eq!(right.len(), 1);

    // Concurrent inserts on both sides, including the same event on both (two automerge
    // puts of identical bytes under the same key: a conflict that sync accepts).
    let shared = alert_action(&net.s, t.plus_ms(1), Body::Ack { alert: panic });
    let only_left = [
        shared.clone(),
        alert_action(
            &net.s,
            t.plus_ms(2),
            Body::Assign {
                alert: panic,
                assignee: net.m.public(),
            },
        ),
        alert_event(&net.s, t.plus_ms(3), AlertKind::Alert, "org-a"),
    ];
    let only_right = [
        shared.clone(),
        alert_action(&net.m, t.plus_ms(4), Body::Ack { alert: panic }),
        missed_event(&net.n, t.plus_ms(5), net.m.public(), t, "org-a"),
    ];
    left.insert(&only_left);
    right.insert(&only_right);
    assert_ne!(left.heads(), right.heads());
    sync_docs(&mut left, &mut right, &roster).expect("second sync");
    assert_eq!(left.heads(), right.heads());
    let expected: BTreeSet<EventId> = ids(&only_left)
        .into_iter()
        .chain(ids(&only_right))
        .chain([panic_event(&net.m, t).id()])
        .collect();
    assert_eq!(expected.len(), 6);
    assert_eq!(ids(left.events()), expected);
    assert_eq!(ids(right.events()), expected);
    assert_eq!(left.len(), 6, "no event is listed twice");
    assert_eq!(right.len(), 6, "no event is listed twice");

    // A third document, synced from scratch, gets everything too.
    let mut third = Document::new(id);
    sync_docs(&mut right, &mut third, &roster).expect("third sync");
    assert_eq!(ids(third.events()), expected);
    assert_eq!(third.heads(), left.heads());
}

#[test]
fn roster_document_events_authorize_each_other() {
    // An empty node learns the whole roster in one sync: the genesis authorises the additions.
    let net = Net::new();
    let mut full = Document::new(DocId::roster());
    full.insert(&net.roster_events());
    let mut empty = Document::new(DocId::roster());
    sync_docs(&mut full, &mut empty, &Roster::default()).expect("roster syncs");
    assert_eq!(ids(empty.events()), ids(&net.roster_events()));
    assert_eq!(Roster::from_events(empty.events()), net.roster());

    // But an addition by a member is refused, batch or not.
    let bad = sign(
        &net.m,
        at(HOUR),
        DocId::roster(),
        Body::AddMember {
            org: "org-a".into(),
            member: net.x.public(),
            name: "X".into(),
            role: Role::Admin,
            region: None,
        },
    );
    let mut batch = net.roster_events();
    batch.push(bad.clone());
    assert!(matches!(
        authorize_batch(&DocId::roster(), &batch, &Roster::default()),
        Err(SyncError::Auth(AuthError::Forbidden(_)))
    ));
    assert!(authorize_batch(&DocId::roster(), &net.roster_events(), &Roster::default()).is_ok());
    // Roster events are refused outside the roster document.
    assert!(matches!(
        authorize_batch(
            &DocId::alerts("oaxaca", at(0)),
            std::slice::from_ref(&net.add_m),
            &net.roster()
        ),
        Err(SyncError::InvalidChange(_))
    ));

    let mut honest = Document::new(DocId::roster());
    honest.insert(&net.roster_events());
    let mut hostile = Document::new(DocId::roster());
    hostile.insert(&net.roster_events());
    hostile.insert(&[bad]);
    let heads = honest.heads();
    let err = sync_docs(&mut hostile, &mut honest, &net.roster()).expect_err("refused");
    assert!(err.is_peer_fault());
    assert_eq!(honest.heads(), heads);
    assert_eq!(ids(honest.events()), ids(&net.roster_events()));
}

#[test]
fn unknown_author_is_not_a_peer_fault() {
    let net = Net::new();
    let t = at(HOUR);
    let id = DocId::alerts("oaxaca", t);
    let mut ahead = Document::new(id.clone());
    ahead.insert(&[panic_event(&net.m, t)]);
    let mut behind = Document::new(id);
    // This node does not know M yet (empty roster).
    let err = sync_docs(&mut ahead, &mut behind, &Roster::default()).expect_err("unknown author");
    assert!(matches!(err, SyncError::Auth(AuthError::UnknownAuthor(_))));
    assert!(!err.is_peer_fault());
    assert!(behind.is_empty());
    // Once it knows M, the same sync goes through.
    sync_docs(&mut ahead, &mut behind, &net.roster()).expect("sync with roster");
    assert_eq!(behind.len(), 1);
}

#[test]
fn save_and_load_keep_every_event() {
    let net = Net::new();
    let t = at(HOUR);
    let id = DocId::alerts("oaxaca", t);
    let mut doc = Document::new(id.clone());
    let panic = alert_id(&net.m, t);
    let first = [
        panic_event(&net.m, t),
        alert_action(&net.s, t.plus_ms(1), Body::Ack { alert: panic }),
    ];
    doc.insert(&first);
    let snapshot = doc.save();
    let snapshot_heads = doc.heads();

    let loaded = Document::load(id.clone(), std::slice::from_ref(&snapshot)).expect("loads");
    assert_eq!(loaded.heads(), doc.heads());
    assert_eq!(ids(loaded.events()), ids(&first));
    assert_eq!(loaded.id(), &id);

    let second = [
        alert_action(
            &net.s,
            t.plus_ms(2),
            Body::Resolve {
                alert: panic,
                note: "safe".into(),
            },
        ),
        alert_event(&net.s, t.plus_ms(3), AlertKind::Alert, "org-a"),
    ];
    doc.insert(&second[..1]);
    let middle_heads = doc.heads();
    doc.insert(&second[1..]);
    let chunk1 = doc.save_after(&snapshot_heads);
    let chunk2 = doc.save_after(&middle_heads);
    assert!(!chunk1.is_empty());

    let all: BTreeSet<EventId> = ids(&first).into_iter().chain(ids(&second)).collect();
    let reloaded = Document::load(id.clone(), &[snapshot.clone(), chunk1.clone()]).expect("loads");
    assert_eq!(reloaded.heads(), doc.heads());
    assert_eq!(ids(reloaded.events()), all);
    // Overlapping chunks are fine too.
    let overlapping =
        Document::load(id.clone(), &[snapshot.clone(), chunk1, chunk2]).expect("loads");
    assert_eq!(ids(overlapping.events()), all);
    assert_eq!(overlapping.len(), 4);

    // The loaded document keeps working: it syncs with the original.
    let mut reloaded = reloaded;
    reloaded.insert(&[alert_action(
        &net.m,
        t.plus_ms(9),
        Body::Ack {
            alert: alert_id(&net.s, t.plus_ms(3)),
        },
    )]);
    sync_docs(&mut reloaded, &mut doc, &net.roster()).expect("syncs");
    assert_eq!(doc.len(), 5);
    assert_eq!(doc.heads(), reloaded.heads());

    // An empty list of chunks is an empty document; garbage is an error.
    assert!(Document::load(id.clone(), &[]).expect("loads").is_empty());
    assert!(Document::load(id, &[b"garbage".to_vec()]).is_err());
}

#[test]
fn the_same_event_stored_independently_on_two_nodes_syncs() {
    // Two nodes get the same event (from the same phone, say) before they sync. Each stores
    // it under the same key in a change of its own: to automerge, a conflict between two
    // identical values. Sync checks each change's operations and accepts both.
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = DocId::alerts("oaxaca", t);
    let event = panic_event(&net.m, t);
    let mut left = Document::new(id.clone());
    let mut right = Document::new(id.clone());
    assert_eq!(left.insert(std::slice::from_ref(&event)), 1);
    assert_eq!(right.insert(std::slice::from_ref(&event)), 1);
    assert_ne!(left.heads(), right.heads(), "one change on each node");

    sync_docs(&mut left, &mut right, &roster).expect("the same event syncs");
    assert_eq!(left.heads(), right.heads());
    assert_eq!(left.heads().len(), 2, "both changes are kept");
    for doc in [&left, &right] {
        assert_eq!(doc.len(), 1);
        assert_eq!(ids(doc.events()), ids(std::slice::from_ref(&event)));
        let reloaded = Document::load(id.clone(), &[doc.save()]).expect("loads");
        assert_eq!(reloaded.len(), 1);
    }

    // A node that has neither change gets both, and the event once.
    let mut third = Document::new(id.clone());
    sync_docs(&mut right, &mut third, &roster).expect("third sync");
    assert_eq!(third.heads(), left.heads());
    assert_eq!(third.len(), 1);

    // Later events on either side still flow both ways.
    let ack = alert_action(
        &net.s,
        t.plus_ms(1),
        Body::Ack {
            alert: alert_id(&net.m, t),
        },
    );
    left.insert(std::slice::from_ref(&ack));
    sync_docs(&mut left, &mut third, &roster).expect("later sync");
    sync_docs(&mut third, &mut right, &roster).expect("later sync");
    assert_eq!(right.heads(), left.heads());
    assert_eq!(right.len(), 2);
}

#[test]
fn the_id_index_follows_the_events() {
    let net = Net::new();
    let t = at(HOUR);
    let id = DocId::alerts("oaxaca", t);
    let panic = panic_event(&net.m, t);
    let ack = alert_action(
        &net.s,
        t.plus_ms(1),
        Body::Ack {
            alert: alert_id(&net.m, t),
        },
    );
    // The same event twice in one batch is stored once.
    let mut doc = Document::new(id.clone());
    assert_eq!(doc.insert(&[panic.clone(), panic.clone()]), 1);
    assert_eq!(doc.len(), 1);
    assert!(doc.contains(panic.id()));
    assert!(!doc.contains(ack.id()));

    // Loaded and received events are indexed.
    let mut loaded = Document::load(id.clone(), &[doc.save()]).expect("loads");
    assert!(loaded.contains(panic.id()));
    let mut peer = Document::new(id);
    peer.insert(std::slice::from_ref(&ack));
    sync_docs(&mut peer, &mut loaded, &net.roster()).expect("syncs");
    assert!(loaded.contains(ack.id()));
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded.insert(&[panic, ack]), 0);
    assert_eq!(loaded.len(), 2);

    // A refused sync leaves nothing behind in the index.
    let mut honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let refused = alert_event(
        &honest.net.m,
        at(HOUR).plus_ms(7),
        AlertKind::Alert,
        "org-a",
    );
    put_bytes(&mut hostile, &refused.id().to_string(), refused.as_bytes());
    sync_raw_into(&mut hostile, &mut honest.doc, &honest.roster).expect_err("forbidden");
    assert!(!honest.doc.contains(refused.id()));
}

/// A message that leaves out a change the others depend on, as automerge's bloom filter does
/// on a false positive, is refused whole and names the change; the restarted exchange asks for
/// it and the peer sends it again with the one it had already sent, so sync completes.
#[test]
fn an_exchange_refused_for_missing_dependencies_restarts_and_completes() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    // A sender with a fixed actor and commit times, so that change hashes (and the bloom
    // filter's answers) are the same on every run.
    let mut sender = Automerge::new().with_actor(ActorId::from(b"sender".as_slice()));
    let fixed = || CommitOptions::default().with_time(0);
    for i in 0..12 {
        let e = alert_event(&net.s, t.plus_ms(i), AlertKind::Alert, "org-a");
        put_event_with(&mut sender, &e, fixed());
    }
    let mut receiver = Document::new(DocId::alerts("oaxaca", t));
    sync_raw_into(&mut sender, &mut receiver, &roster).expect("first sync");
    let first = alert_event(&net.s, t.plus_ms(100), AlertKind::Alert, "org-a");
    let second = alert_event(&net.s, t.plus_ms(101), AlertKind::Alert, "org-a");
    put_event_with(&mut sender, &first, fixed());
    let first_hash = sender.get_heads()[0];
    put_event_with(&mut sender, &second, fixed());

    // One round: the receiver says what it has, the sender answers with both changes.
    let (mut ss, mut rs) = (State::new(), State::new());
    let answer = |sender: &mut Automerge, ss: &mut State, msg: Vec<u8>| {
        let msg = automerge::sync::Message::decode(&msg).expect("decodes");
        SyncDoc::receive_sync_message(sender, ss, msg).expect("sender receives");
        SyncDoc::generate_sync_message(sender, ss).expect("sender answers")
    };
    let hello = receiver
        .generate_sync_message(&mut rs)
        .expect("no panic")
        .expect("receiver starts");
    let mut reply = answer(&mut sender, &mut ss, hello);
    let change = |hash: &automerge::ChangeHash| {
        let c = sender.get_change_by_hash(hash).expect("the sender has it");
        c.raw_bytes().to_vec()
    };
    let second_hash = sender.get_heads()[0];
    let (first_bytes, second_bytes) = (change(&first_hash), change(&second_hash));
    let sent = |m: &automerge::sync::Message| m.changes.iter().map(<[u8]>::len).sum::<usize>();
    assert_eq!(
        sent(&reply),
        first_bytes.len() + second_bytes.len(),
        "both new changes are sent"
    );
    // The first change goes missing.
    reply.changes = second_bytes.clone().into();
    let heads = receiver.heads();
    let err = receiver
        .receive_sync_message(&mut rs, &reply.encode(), &roster, NOW)
        .expect_err("a change without its dependency is refused");
    let SyncError::MissingDeps(missing) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(missing, &vec![first_hash]);
    assert!(!err.is_peer_fault());
    assert_eq!(receiver.heads(), heads, "nothing of the message was kept");
    assert!(!receiver.contains(second.id()));

    // Starting over from a fresh state alone is not enough: the sender remembers that it sent
    // both changes and sends neither again.
    let plain = receiver
        .generate_sync_message(&mut State::new())
        .expect("no panic")
        .expect("a fresh state speaks");
    let again = answer(&mut sender.clone(), &mut ss.clone(), plain);
    assert!(again.changes.is_empty());

    // The restart asks for the missing change and resets what the sender remembers.
    let restart = receiver
        .restart_sync_message(&mut rs, missing)
        .expect("no panic")
        .expect("a restart speaks");
    let reply = answer(&mut sender, &mut ss, restart);
    assert_eq!(
        sent(&reply),
        first_bytes.len() + second_bytes.len(),
        "the missing change and its dependent"
    );
    let fresh = receiver
        .receive_sync_message(&mut rs, &reply.encode(), &roster, NOW)
        .expect("the restarted exchange is accepted");
    assert_eq!(ids(&fresh), ids(&[first, second]));
    assert_eq!(receiver.heads(), sender.get_heads());
}

/// A sync message with more changes than one batch is applied in batches, and reads the
/// changes out of a version 2 message's joined chunk.
#[test]
fn many_changes_in_one_message_are_applied_in_batches() {
    use crate::doc::{split_changes, APPLY_BATCH};
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = DocId::alerts("oaxaca", t);
    let mut sender = Document::new(id.clone());
    let mut receiver = Document::new(id.clone());
    // One change per event, as a busy node writes them.
    let event = |i: i64| alert_event(&net.s, t.plus_ms(i), AlertKind::Alert, "org-a");
    for i in 0..900 {
        sender.insert(&[event(i)]);
    }
    sync_docs(&mut sender, &mut receiver, &roster).expect("first sync");
    let before = sender.heads();
    // Fewer than a third of the document, so they travel as changes, more than a batch.
    let new = 2 * APPLY_BATCH as i64 - 100;
    for i in 900..900 + new {
        sender.insert(&[event(i)]);
    }
    let joined = sender.save_after(&before);
    let changes = split_changes(std::iter::once(joined.as_slice())).expect("changes");
    assert_eq!(changes.len(), new as usize);
    assert_eq!(changes.concat(), joined);
    for change in &changes {
        automerge::Change::from_bytes(change.to_vec()).expect("one whole change");
    }
    // A whole document, or a cut chunk, is left to automerge.
    assert!(split_changes(std::iter::once(sender.save().as_slice())).is_none());
    assert!(split_changes(std::iter::once(&joined[..joined.len() - 1])).is_none());

    sync_docs(&mut sender, &mut receiver, &roster).expect("second sync");
    assert_eq!(receiver.heads(), sender.heads());
    assert_eq!(ids(receiver.events()), ids(sender.events()));
    assert_eq!(receiver.len(), 900 + new as usize);
}

// ---------------------------------------------------------------------------------------------
// 5. Hostile sync
// ---------------------------------------------------------------------------------------------

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

#[test]
fn hostile_non_bytes_value_is_refused() {
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let event = alert_action(
        &honest.net.s,
        at(HOUR).plus_ms(7),
        Body::Ack { alert: rid("q") },
    );
    let mut tx = hostile.transaction();
    tx.put(ROOT, event.id().to_string(), 42i64).expect("put");
    tx.commit();
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");

    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let mut tx = hostile.transaction();
    tx.put(ROOT, "note", "hello").expect("put");
    tx.commit();
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");
}

#[test]
fn hostile_event_under_a_wrong_key_is_refused() {
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let event = alert_action(
        &honest.net.s,
        at(HOUR).plus_ms(7),
        Body::Ack { alert: rid("q") },
    );
    let other = alert_action(
        &honest.net.m,
        at(HOUR).plus_ms(8),
        Body::Ack { alert: rid("q") },
    );
    put_bytes(&mut hostile, &other.id().to_string(), event.as_bytes());
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");

    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let event = alert_action(
        &honest.net.s,
        at(HOUR).plus_ms(7),
        Body::Ack { alert: rid("q") },
    );
    put_bytes(
        &mut hostile,
        &event.id().to_string().to_ascii_uppercase(),
        event.as_bytes(),
    );
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");
}

#[test]
fn hostile_forged_event_is_refused() {
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    // "S resolves the panic", signed by M.
    let event = Event {
        author: honest.net.s.public(),
        at: at(HOUR).plus_ms(7),
        doc: honest.id.clone(),
        body: Body::Resolve {
            alert: honest.panic,
            note: "all fine".into(),
        },
    };
    let forged = forge(&event, &honest.net.m);
    put_bytes(&mut hostile, &EventId::of(&forged).to_string(), &forged);
    let err = honest.refuses(hostile);
    assert!(
        matches!(err, SyncError::Event(VerifyError::BadSignature)),
        "{err:?}"
    );
}

#[test]
fn hostile_forbidden_event_is_refused() {
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    // A member broadcasting a region-wide alert: signed, well-placed, not allowed.
    let event = alert_event(
        &honest.net.m,
        at(HOUR).plus_ms(7),
        AlertKind::Alert,
        "org-a",
    );
    put_bytes(&mut hostile, &event.id().to_string(), event.as_bytes());
    let err = honest.refuses(hostile);
    assert!(
        matches!(err, SyncError::Auth(AuthError::Forbidden(_))),
        "{err:?}"
    );
    assert!(err.is_peer_fault());

    // An event by a key revoked before it was written.
    let honest = Honest::new();
    let mut events = honest.net.roster_events();
    events.push(honest.net.revoke(&honest.net.s, at(HOUR).plus_ms(5)));
    let revoked_roster = Roster::from_events(&events);
    let honest = Honest {
        roster: revoked_roster,
        ..honest
    };
    let mut hostile = honest.hostile_copy();
    let event = alert_action(
        &honest.net.s,
        at(HOUR).plus_ms(7),
        Body::Ack { alert: rid("q") },
    );
    put_bytes(&mut hostile, &event.id().to_string(), event.as_bytes());
    let err = honest.refuses(hostile);
    assert!(
        matches!(err, SyncError::Auth(AuthError::Revoked(_))),
        "{err:?}"
    );
}

#[test]
fn hostile_event_of_another_document_is_refused() {
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    // Correctly signed and allowed, but it belongs in the check-ins document.
    let event = checkin_event(&honest.net.m, at(HOUR).plus_ms(7), CheckinStatus::Ok, None);
    put_bytes(&mut hostile, &event.id().to_string(), event.as_bytes());
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");

    // A valid event next to a bad one: the whole message is refused.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let good = alert_action(
        &honest.net.m,
        at(HOUR).plus_ms(6),
        Body::Ack {
            alert: honest.panic,
        },
    );
    let bad = checkin_event(&honest.net.m, at(HOUR).plus_ms(7), CheckinStatus::Ok, None);
    put_bytes(&mut hostile, &good.id().to_string(), good.as_bytes());
    put_bytes(&mut hostile, &bad.id().to_string(), bad.as_bytes());
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");
}

#[test]
fn hostile_nested_object_is_refused() {
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let mut tx = hostile.transaction();
    let map = tx
        .put_object(ROOT, "nested", ObjType::Map)
        .expect("put map");
    tx.put(&map, "x", 1i64).expect("put in map");
    tx.commit();
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");

    // An empty list, and a valid event's bytes hidden inside a nested map.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let event = alert_action(
        &honest.net.m,
        at(HOUR).plus_ms(6),
        Body::Ack {
            alert: honest.panic,
        },
    );
    let mut tx = hostile.transaction();
    tx.put_object(ROOT, "list", ObjType::List)
        .expect("put list");
    let map = tx
        .put_object(ROOT, event.id().to_string(), ObjType::Map)
        .expect("put map");
    tx.put(
        &map,
        event.id().to_string(),
        ScalarValue::Bytes(event.as_bytes().to_vec()),
    )
    .expect("put in map");
    tx.commit();
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");
}

#[test]
fn hostile_delete_is_refused() {
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let victim = honest.doc.events()[0].id();
    let mut tx = hostile.transaction();
    tx.delete(ROOT, victim.to_string()).expect("delete");
    tx.commit();
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");

    // Overwriting an event with other bytes under the same key is refused too.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let victim = honest.doc.events()[0].id();
    let other = alert_action(
        &honest.net.m,
        at(HOUR).plus_ms(6),
        Body::Ack {
            alert: honest.panic,
        },
    );
    put_bytes(&mut hostile, &victim.to_string(), other.as_bytes());
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::InvalidChange(_)), "{err:?}");
}

#[test]
fn hostile_garbage_messages_are_refused() {
    let mut honest = Honest::new();
    let heads = honest.doc.heads();
    let mut state = State::new();
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"garbage".to_vec(),
        vec![0x42; 100],
        vec![0xff; 4096],
    ];
    // Truncations and bit flips of a real sync message.
    let mut other = Document::new(honest.id.clone());
    other.insert(&[panic_event(&honest.net.m, at(HOUR).plus_ms(9))]);
    let real = other
        .generate_sync_message(&mut State::new())
        .expect("no panic")
        .expect("a message");
    for cut in [1, 2, real.len() / 2, real.len() - 1] {
        inputs.push(real[..cut].to_vec());
    }
    for pos in (0..real.len()).step_by(7) {
        let mut flipped = real.clone();
        flipped[pos] ^= 0x5a;
        inputs.push(flipped);
    }
    for input in &inputs {
        if let Ok(events) = honest
            .doc
            .receive_sync_message(&mut state, input, &honest.roster, NOW)
        {
            // A flip that still parses must not have brought in anything.
            assert!(events.is_empty(), "{} events from garbage", events.len());
        }
        assert_eq!(honest.doc.heads(), heads);
    }
    // The pure garbage inputs are errors.
    for input in &inputs[..4] {
        assert!(matches!(
            honest
                .doc
                .receive_sync_message(&mut State::new(), input, &honest.roster, NOW),
            Err(SyncError::Malformed(_))
        ));
    }
    let huge = vec![0u8; MAX_SYNC_MESSAGE_BYTES + 1];
    assert!(matches!(
        honest
            .doc
            .receive_sync_message(&mut State::new(), &huge, &honest.roster, NOW),
        Err(SyncError::Malformed(_))
    ));
    assert_eq!(honest.doc.heads(), heads);
    sync_docs(&mut honest.peer, &mut honest.doc, &honest.roster).expect("honest sync works");
    assert!(honest.doc.contains(honest.peer_event.id()));
}

/// A sync message from a peer whose one `have` entry carries the given bloom filter bytes.
fn message_with_filter(filter: &[u8]) -> Vec<u8> {
    let bloom = automerge::sync::BloomFilter::try_from(filter).expect("filter parses");
    automerge::sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: vec![automerge::sync::Have {
            last_sync: Vec::new(),
            bloom,
        }],
        changes: automerge::sync::ChunkList::empty(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

#[test]
fn hostile_bloom_filters_are_refused_at_receive() {
    // automerge 0.12 takes these without a check: with 0 bits per entry the next message to
    // the peer divides by zero; with u32::MAX probes it reserves 16 GiB.
    let zero_bits = [0x01, 0x00, 0x07];
    let many_probes = [0x01, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00];
    for filter in [&zero_bits[..], &many_probes[..]] {
        let mut honest = Honest::new();
        let heads = honest.doc.heads();
        let mut state = State::new();
        let msg = message_with_filter(filter);
        let err = honest
            .doc
            .receive_sync_message(&mut state, &msg, &honest.roster, NOW)
            .expect_err("hostile filter is refused");
        assert!(matches!(err, SyncError::OutOfBounds(_)), "{err:?}");
        assert!(err.is_peer_fault());
        assert_eq!(honest.doc.heads(), heads);
        assert_eq!(state.their_have, None, "the state is as it was");
    }
}

#[test]
fn generating_after_any_accepted_message_never_panics() {
    // Filters with every small parameter around what automerge writes: each is either refused
    // at receive or safe to answer.
    let mut accepted = 0;
    for entries in [1u8, 2, 3, 100] {
        for bits_per_entry in 0u8..=40 {
            for probes in [0u8, 1, 2, 7, 32, 33, 100] {
                let bytes = (usize::from(entries) * usize::from(bits_per_entry)).div_ceil(8);
                let mut filter = vec![entries, bits_per_entry, probes];
                filter.extend(std::iter::repeat_n(0xa5, bytes));
                let mut honest = Honest::new();
                let mut state = State::new();
                let msg = message_with_filter(&filter);
                if honest
                    .doc
                    .receive_sync_message(&mut state, &msg, &honest.roster, NOW)
                    .is_err()
                {
                    continue;
                }
                accepted += 1;
                let reply = honest.doc.generate_sync_message(&mut state);
                assert!(reply.is_ok(), "{filter:?}");
            }
        }
    }
    assert!(accepted > 0, "sane filters are accepted");
}

#[test]
fn a_panic_while_generating_is_contained_and_resets_the_state() {
    // A state that holds a filter automerge cannot use (as an unchecked peer message leaves
    // it): generating answers an error instead of unwinding into the caller.
    let mut honest = Honest::new();
    let mut state = State::new();
    state.their_heads = Some(Vec::new());
    state.their_need = Some(Vec::new());
    state.their_have = Some(vec![automerge::sync::Have {
        last_sync: Vec::new(),
        bloom: automerge::sync::BloomFilter::try_from(&[0x01, 0x00, 0x07][..]).expect("parses"),
    }]);
    let err = honest
        .doc
        .generate_sync_message(&mut state)
        .expect_err("the panic is contained");
    assert!(matches!(err, SyncError::GeneratePanicked), "{err:?}");
    assert!(err.is_peer_fault());
    assert_eq!(state.their_have, None, "the state starts over");
    // And the exchange then works from the fresh state.
    sync_docs(&mut honest.peer, &mut honest.doc, &honest.roster).expect("honest sync works");
    assert!(honest.doc.contains(honest.peer_event.id()));
}

#[test]
fn doc_periods_lie_between_genesis_and_next_year() {
    let net = Net::new();
    let roster = net.roster();
    assert_eq!(roster.genesis_at, Some(at(0)));
    let now = at(0); // March 2026; genesis in 2026.
    let period = |p: &str| {
        format!("alerts/oaxaca/{p}")
            .parse::<DocId>()
            .expect("parses")
    };
    for fine in ["2026-01", "2026-03", "2027-12"] {
        assert_eq!(roster.check_period(&period(fine), now), Ok(()), "{fine}");
    }
    assert!(matches!(
        roster.check_period(&period("2025-12"), now),
        Err(crate::ids::PeriodError::BeforeGenesis {
            genesis_year: 2026,
            ..
        })
    ));
    for ahead in ["2028-01", "9999-12"] {
        assert!(matches!(
            roster.check_period(&period(ahead), now),
            Err(crate::ids::PeriodError::TooFarAhead {
                latest_year: 2027,
                ..
            })
        ));
    }
    // Without a period, or a clock far ahead (not read as 1970).
    assert_eq!(roster.check_period(&DocId::roster(), now), Ok(()));
    assert_eq!(roster.check_period(&DocId::shelters("oaxaca"), now), Ok(()));
    assert_eq!(
        period("9999-12").check_period(2026, Timestamp(i64::MAX)),
        Ok(())
    );
    assert!(period("2026-03")
        .check_period(2026, Timestamp(i64::MIN))
        .is_err());
}

#[test]
fn sync_refuses_documents_outside_the_networks_years() {
    let net = Net::new();
    let roster = net.roster();
    let old: DocId = "alerts/oaxaca/2025-12".parse().expect("parses");
    let mut peer = Document::new(old.clone());
    let mut ours = Document::new(old);
    let t = Timestamp(T0 - 90 * 24 * HOUR);
    assert_eq!(t.month(), "2025-12");
    peer.insert(&[panic_event(&net.m, t)]);
    let msg = peer
        .generate_sync_message(&mut State::new())
        .expect("no panic")
        .expect("a message");
    let err = ours
        .receive_sync_message(&mut State::new(), &msg, &roster, NOW)
        .expect_err("a period before genesis is refused");
    assert!(matches!(err, SyncError::Period(_)), "{err:?}");
    assert!(err.is_peer_fault());
    assert!(ours.is_empty());
}

#[test]
fn sync_refuses_events_ahead_of_the_clock_until_it_catches_up() {
    let honest = Honest::new();
    let mut peer = honest.peer;
    let mut doc = honest.doc;
    let early = at(HOUR).plus_ms(2).plus_ms(-(MAX_CLOCK_SKEW_MS + 1));
    let heads = doc.heads();
    let (mut sp, mut sd) = (State::new(), State::new());
    // The honest document asks, the peer answers with its resolve (dated t + 2 ms).
    let hello = doc.generate_sync_message(&mut sd).expect("no panic");
    let hello = hello.expect("a message");
    peer.receive_sync_message(&mut sp, &hello, &honest.roster, NOW)
        .expect("peer takes it");
    let answer = peer
        .generate_sync_message(&mut sp)
        .expect("no panic")
        .expect("an answer");
    let saved = sd.clone();
    let err = doc
        .receive_sync_message(&mut sd, &answer, &honest.roster, early)
        .expect_err("a resolve from more than five minutes ahead is refused");
    assert!(matches!(err, SyncError::AheadOfClock(_)), "{err:?}");
    assert!(!err.is_peer_fault(), "clocks differ between honest nodes");
    assert_eq!(doc.heads(), heads);
    assert_eq!(sd, saved);
    // Five minutes ahead is within the bound.
    let fresh = doc
        .receive_sync_message(&mut sd, &answer, &honest.roster, early.plus_ms(1))
        .expect("accepted once the clock catches up");
    assert_eq!(ids(&fresh), ids(std::slice::from_ref(&honest.peer_event)));
}

#[test]
fn honest_raw_peer_is_accepted() {
    // The hostile-peer harness itself accepts a valid change, so the refusals above are
    // about the content and not the harness.
    let mut honest = Honest::new();
    let mut raw = honest.hostile_copy();
    let event = alert_action(
        &honest.net.m,
        at(HOUR).plus_ms(6),
        Body::Ack {
            alert: honest.panic,
        },
    );
    put_bytes(&mut raw, &event.id().to_string(), event.as_bytes());
    let received =
        sync_raw_into(&mut raw, &mut honest.doc, &honest.roster).expect("valid change accepted");
    assert_eq!(ids(&received), ids(std::slice::from_ref(&event)));
    assert!(honest.doc.contains(event.id()));
    assert_eq!(honest.doc.len(), 3);
}

#[test]
fn hostile_non_canonical_encoding_is_refused() {
    // A second byte form of an event the honest document already holds, under its own hash:
    // it would be the same event twice under two ids.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let held = honest
        .doc
        .events()
        .iter()
        .find(|e| matches!(e.event().body, Body::Ack { .. }))
        .expect("the honest document holds an acknowledgement")
        .clone();
    let long = overlong_tag(held.as_bytes());
    put_bytes(&mut hostile, &EventId::of(&long).to_string(), &long);
    let err = honest.refuses(hostile);
    assert!(
        matches!(&err, SyncError::Event(e) if *e == non_canonical()),
        "{err:?}"
    );

    // The same for a new event, never seen in its canonical form.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let fresh = alert_action(
        &honest.net.s,
        at(HOUR).plus_ms(7),
        Body::Ack {
            alert: honest.panic,
        },
    );
    let long = overlong_tag(fresh.as_bytes());
    put_bytes(&mut hostile, &EventId::of(&long).to_string(), &long);
    let err = honest.refuses(hostile);
    assert!(
        matches!(&err, SyncError::Event(e) if *e == non_canonical()),
        "{err:?}"
    );
}

#[test]
fn hostile_alert_under_another_authors_id_is_refused() {
    // S signs an alert carrying the id of M's panic, hoping to replace it in everyone's view.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let t = at(HOUR);
    let event = Event {
        author: honest.net.s.public(),
        at: t.plus_ms(-1),
        doc: honest.id.clone(),
        body: Body::Alert(alert_body(
            honest.panic,
            AlertKind::Alert,
            "oaxaca",
            "org-a",
            None,
        )),
    };
    let bytes = forge(&event, &honest.net.s);
    put_bytes(&mut hostile, &EventId::of(&bytes).to_string(), &bytes);
    let err = honest.refuses(hostile);
    assert!(
        matches!(err, SyncError::Event(VerifyError::Invalid(_))),
        "{err:?}"
    );
}

/// Commits a put of `event` at its key, with `options`.
fn put_event_with(doc: &mut Automerge, event: &SignedEvent, options: CommitOptions) {
    let mut tx = doc.transaction();
    tx.put(
        ROOT,
        event.id().to_string(),
        ScalarValue::Bytes(event.as_bytes().to_vec()),
    )
    .expect("put");
    tx.commit_with(options);
}

#[test]
fn hostile_history_is_checked_change_by_change() {
    let only_events = || SyncError::InvalidChange("only new events may be added".into());
    let same = |a: &SyncError, b: &SyncError| format!("{a:?}") == format!("{b:?}");

    // Junk put in one change and deleted in the next: the net effect is nothing, but the junk
    // would stay in the history every node keeps and passes on.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let mut tx = hostile.transaction();
    tx.put(ROOT, "junk", "x".repeat(1024)).expect("put");
    tx.commit();
    let mut tx = hostile.transaction();
    tx.delete(ROOT, "junk").expect("delete");
    tx.commit();
    assert_eq!(hostile.get(ROOT, "junk").expect("reads"), None);
    let err = honest.refuses(hostile);
    assert!(same(&err, &only_events()), "{err:?}");

    // The same with junk bytes: they are not an event.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    put_bytes(&mut hostile, "junk", &[0xee; 1024]);
    let mut tx = hostile.transaction();
    tx.delete(ROOT, "junk").expect("delete");
    tx.commit();
    let err = honest.refuses(hostile);
    assert!(
        matches!(err, SyncError::Event(VerifyError::Malformed(_))),
        "{err:?}"
    );

    // A nested object, made and deleted again.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let mut tx = hostile.transaction();
    let map = tx
        .put_object(ROOT, "nested", ObjType::Map)
        .expect("put map");
    tx.put(&map, "x", 1i64).expect("put in map");
    tx.commit();
    let mut tx = hostile.transaction();
    tx.delete(ROOT, "nested").expect("delete");
    tx.commit();
    let err = honest.refuses(hostile);
    assert!(same(&err, &only_events()), "{err:?}");

    // Junk under a valid event's key, overwritten by the event in the next change: the net
    // effect is a valid put.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    let event = alert_action(
        &honest.net.s,
        at(HOUR).plus_ms(7),
        Body::Ack {
            alert: honest.panic,
        },
    );
    put_bytes(&mut hostile, &event.id().to_string(), b"junk");
    put_bytes(&mut hostile, &event.id().to_string(), event.as_bytes());
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::Event(_)), "{err:?}");

    // A valid event put and deleted again.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    put_bytes(&mut hostile, &event.id().to_string(), event.as_bytes());
    let mut tx = hostile.transaction();
    tx.delete(ROOT, event.id().to_string()).expect("delete");
    tx.commit();
    let err = honest.refuses(hostile);
    assert!(same(&err, &only_events()), "{err:?}");

    // A valid event in a change that carries a commit message.
    let extra = || SyncError::InvalidChange("change carries extra data".into());
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    put_event_with(
        &mut hostile,
        &event,
        CommitOptions::default().with_message("hello"),
    );
    let err = honest.refuses(hostile);
    assert!(same(&err, &extra()), "{err:?}");

    // An empty change that carries a message.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    hostile.empty_commit(CommitOptions::default().with_message("hello"));
    let err = honest.refuses(hostile);
    assert!(same(&err, &extra()), "{err:?}");

    // A valid event in a change with extra bytes after its operations.
    let honest = Honest::new();
    let mut scratch = honest.hostile_copy();
    put_event_with(&mut scratch, &event, CommitOptions::default());
    let mut expanded = scratch.get_last_local_change().expect("a change").decode();
    expanded.extra_bytes = b"smuggled".to_vec();
    let mut hostile = honest.hostile_copy();
    hostile
        .apply_changes([automerge::Change::from(expanded)])
        .expect("applies");
    let err = honest.refuses(hostile);
    assert!(same(&err, &extra()), "{err:?}");

    // Without the message or extra bytes, the same event is accepted.
    let mut honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    put_event_with(&mut hostile, &event, CommitOptions::default());
    let received = sync_raw_into(&mut hostile, &mut honest.doc, &honest.roster).expect("accepted");
    assert_eq!(ids(&received), ids(std::slice::from_ref(&event)));
}

// ---------------------------------------------------------------------------------------------
// 6. Views
// ---------------------------------------------------------------------------------------------

#[test]
fn alert_lifecycle() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = alert_id(&net.m, t);
    let events = [
        panic_event(&net.m, t),
        alert_action(&net.s, t.plus_ms(MIN), Body::Ack { alert: id }),
        alert_action(
            &net.s,
            t.plus_ms(2 * MIN),
            Body::Assign {
                alert: id,
                assignee: net.m.public(),
            },
        ),
        alert_action(
            &net.s,
            t.plus_ms(3 * MIN),
            Body::Resolve {
                alert: id,
                note: "safe at home".into(),
            },
        ),
    ];
    let now = t.plus_ms(HOUR);
    let statuses: Vec<String> = (1..=events.len())
        .map(|n| {
            let list = view::alerts(&roster, &events[..n], now);
            assert_eq!(list.len(), 1);
            list[0].status.clone()
        })
        .collect();
    assert_eq!(statuses, ["open", "acknowledged", "assigned", "resolved"]);

    // The order events arrive in does not matter.
    let reversed: Vec<&SignedEvent> = events.iter().rev().collect();
    let list = view::alerts(&roster, reversed, now);
    assert_eq!(list, view::alerts(&roster, &events, now));
    let alert = &list[0];
    assert_eq!(alert.id, id.to_string());
    assert_eq!(alert.kind, AlertKind::Panic);
    assert_eq!(alert.author, net.m.public().to_string());
    assert_eq!(alert.author_name.as_deref(), Some("Mario"));
    assert_eq!(alert.created_at, t.rfc3339());
    assert_eq!(alert.doc, DocId::alerts("oaxaca", t).to_string());
    assert_eq!(alert.assignee, Some(net.m.public().to_string()));
    let actions: Vec<&str> = alert.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["raised", "acknowledged", "assigned", "resolved"]);
    let event_ids: Vec<String> = events.iter().map(|e| e.id().to_string()).collect();
    let history_ids: Vec<String> = alert.history.iter().map(|h| h.event.clone()).collect();
    assert_eq!(history_ids, event_ids);
    assert_eq!(alert.history[1].by, net.s.public().to_string());
    assert_eq!(alert.history[1].by_name.as_deref(), Some("Sofia"));
    assert_eq!(alert.history[2].detail, Some(net.m.public().to_string()));
    let resolution = alert.resolution.as_ref().expect("resolved");
    assert_eq!(resolution.detail.as_deref(), Some("safe at home"));
    assert_eq!(alert.acknowledgements.len(), 1);
}

/// An event as a node holds it after it was stored, whatever its time: bypasses the field
/// checks of signing (a view folds what documents hold, which older rules may have let in).
fn stored(key: &SecretKey, t: Timestamp, doc: DocId, body: Body) -> SignedEvent {
    let event = Event {
        author: key.public(),
        at: t,
        doc,
        body,
    };
    SignedEvent::decode_trusted(&forge(&event, key)).expect("forged bytes decode")
}

#[test]
fn alerts_fold_acks_and_receipts_dated_at_the_ends_of_time() {
    // Delays are differences of peer-supplied times; at i64::MIN and i64::MAX they must
    // saturate, not overflow (a panic in debug builds, a wrong sign in release).
    let net = Net::new();
    let roster = net.roster();
    for (raised, late) in [
        (at(0), Timestamp(i64::MIN)),
        (Timestamp(i64::MIN), Timestamp(i64::MAX)),
        (Timestamp(i64::MAX), Timestamp(i64::MIN)),
    ] {
        let doc = DocId::alerts("oaxaca", raised);
        let receipts = DocId::receipts_for(&doc).expect("an alerts document");
        let panic_id = alert_id(&net.m, raised);
        let events = [
            stored(
                &net.m,
                raised,
                doc.clone(),
                Body::Alert(alert_body(
                    panic_id,
                    AlertKind::Panic,
                    "oaxaca",
                    "org-a",
                    None,
                )),
            ),
            stored(&net.s, late, doc.clone(), Body::Ack { alert: panic_id }),
            stored(
                &net.n,
                late,
                receipts,
                Body::Held {
                    alerts: vec![panic_id],
                },
            ),
        ];
        let views = view::alerts(&roster, &events, at(0));
        assert_eq!(views.len(), 1);
        let v = &views[0];
        let expected = late.0.saturating_sub(raised.0);
        assert_eq!(v.first_ack_after_ms, Some(expected));
        assert_eq!(v.held_by.len(), 1);
        assert_eq!(v.held_by[0].after_ms, expected);
    }
}

#[test]
fn acknowledgements_count_each_person_once() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = alert_id(&net.m, t);
    let events = [
        panic_event(&net.m, t),
        alert_action(&net.s, t.plus_ms(1), Body::Ack { alert: id }),
        alert_action(&net.s, t.plus_ms(2), Body::Ack { alert: id }),
        alert_action(&net.a, t.plus_ms(3), Body::Ack { alert: id }),
    ];
    let list = view::alerts(&roster, &events, t.plus_ms(HOUR));
    let acks: Vec<&str> = list[0]
        .acknowledgements
        .iter()
        .map(|a| a.by.as_str())
        .collect();
    let (s, a) = (net.s.public().to_string(), net.a.public().to_string());
    assert_eq!(acks, [s.as_str(), a.as_str()]);
    assert_eq!(
        list[0].acknowledgements[0].event,
        events[1].id().to_string()
    );
    assert_eq!(list[0].status, "acknowledged");
}

#[test]
fn actions_refer_to_alerts_of_their_own_document() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let id = alert_id(&net.m, t);
    // A resolve for the same record id but in another region's document is not about it.
    let elsewhere = sign(
        &net.s,
        t.plus_ms(1),
        DocId::alerts("chiapas", t),
        Body::Resolve {
            alert: id,
            note: "wrong".into(),
        },
    );
    let list = view::alerts(&roster, &[panic_event(&net.m, t), elsewhere], t);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, "open");
    assert_eq!(list[0].history.len(), 1);
}

#[test]
fn concurrent_missed_checkins_fold_into_one_alert() {
    let net = Net::new();
    let roster = net.roster();
    let due = at(HOUR);
    let id = AlertBody::missed_checkin_id(&net.m.public(), due);
    let by_node = missed_event(&net.n, due.plus_ms(10 * MIN), net.m.public(), due, "org-a");
    let by_contact = missed_event(&net.s, due.plus_ms(11 * MIN), net.m.public(), due, "org-a");
    assert_ne!(by_node.id(), by_contact.id());
    let resolve = alert_action(
        &net.n,
        due.plus_ms(20 * MIN),
        Body::Resolve {
            alert: id,
            note: "checked in".into(),
        },
    );
    let now = due.plus_ms(HOUR);
    for events in [
        vec![by_node.clone(), by_contact.clone()],
        vec![by_contact.clone(), by_node.clone()],
    ] {
        let list = view::alerts(&roster, &events, now);
        assert_eq!(list.len(), 1, "one alert");
        assert_eq!(list[0].id, id.to_string());
        assert_eq!(list[0].kind, AlertKind::MissedCheckin);
        assert_eq!(list[0].subject, Some(net.m.public().to_string()));
        // The earliest raiser is the author, whatever the arrival order.
        assert_eq!(list[0].author, net.n.public().to_string());
        assert_eq!(list[0].history.len(), 1);
        assert_eq!(list[0].status, "open");
    }
    let list = view::alerts(&roster, &[by_contact, by_node, resolve], now);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, "resolved");
}

#[test]
fn alerts_by_a_revoked_key_after_revocation_are_hidden() {
    let net = Net::new();
    let revoked_at = at(2 * HOUR);
    let mut roster_events = net.roster_events();
    roster_events.push(net.revoke(&net.m, revoked_at));
    let roster = Roster::from_events(&roster_events);
    let before = panic_event(&net.m, revoked_at.plus_ms(-MIN));
    let after = panic_event(&net.m, revoked_at.plus_ms(MIN));
    let ack_after = alert_action(
        &net.m,
        revoked_at.plus_ms(2 * MIN),
        Body::Ack {
            alert: alert_id(&net.m, revoked_at.plus_ms(-MIN)),
        },
    );
    let now = revoked_at.plus_ms(HOUR);
    let events = [before, after, ack_after];
    let list = view::alerts(&roster, &events, now);
    let shown: Vec<String> = list.iter().map(|a| a.id.clone()).collect();
    assert_eq!(
        shown,
        [alert_id(&net.m, revoked_at.plus_ms(-MIN)).to_string()]
    );
    assert_eq!(list[0].status, "open", "the late acknowledgement is hidden");
    // Before the revocation was known, both showed.
    assert_eq!(view::alerts(&net.roster(), &events, now).len(), 2);
    // Events by unknown keys never show.
    let stranger = panic_event(&net.x, at(HOUR));
    assert!(view::alerts(&roster, &[stranger], now).is_empty());
}

#[test]
fn alerts_are_listed_newest_first_and_expire() {
    let net = Net::new();
    let roster = net.roster();
    let t = at(HOUR);
    let mut expiring = alert_body(
        alert_id(&net.s, t),
        AlertKind::Alert,
        "oaxaca",
        "org-a",
        None,
    );
    expiring.expires_at = Some(t.plus_ms(MIN));
    let old = sign(&net.s, t, DocId::alerts("oaxaca", t), Body::Alert(expiring));
    let new = panic_event(&net.m, t.plus_ms(2 * MIN));
    let list = view::alerts(&roster, &[old.clone(), new.clone()], t.plus_ms(HOUR));
    let shown: Vec<String> = list.iter().map(|a| a.id.clone()).collect();
    assert_eq!(
        shown,
        [
            alert_id(&net.m, t.plus_ms(2 * MIN)).to_string(),
            alert_id(&net.s, t).to_string()
        ]
    );
    assert_eq!(list[1].status, "expired");
    assert_eq!(list[0].status, "open");
    // Not yet expired.
    let list = view::alerts(&roster, &[old], t);
    assert_eq!(list[0].status, "open");
}

#[test]
fn latest_checkin_wins_and_overdue_follows_next_due() {
    let net = Net::new();
    let roster = net.roster();
    let t1 = at(HOUR);
    let t2 = at(3 * HOUR);
    let first = checkin_event(&net.m, t1, CheckinStatus::Danger, Some(t1.plus_ms(HOUR)));
    let second = checkin_event(&net.m, t2, CheckinStatus::Ok, Some(t2.plus_ms(HOUR)));
    let by_s = checkin_event(&net.s, t1, CheckinStatus::NeedHelp, None);
    for events in [
        vec![first.clone(), second.clone(), by_s.clone()],
        vec![by_s.clone(), second.clone(), first.clone()],
    ] {
        let list = view::checkins(&roster, &events, t2.plus_ms(MIN));
        assert_eq!(list.len(), 2);
        // Sorted by name: Mario, Sofia.
        let m = &list[0];
        assert_eq!(m.member, net.m.public().to_string());
        assert_eq!(m.name, "Mario");
        assert_eq!(m.status, CheckinStatus::Ok);
        assert_eq!(m.at, t2.rfc3339());
        assert_eq!(m.next_due, Some(t2.plus_ms(HOUR).rfc3339()));
        assert!(!m.overdue);
        assert_eq!(m.security_contacts, ["Sofia".to_string()]);
        assert_eq!(list[1].name, "Sofia");
        assert!(!list[1].overdue, "no next check-in set, never overdue");
    }
    let events = [first, second];
    let overdue = view::checkins(&roster, &events, t2.plus_ms(HOUR + 1));
    assert!(overdue[0].overdue);
    let exactly_due = view::checkins(&roster, &events, t2.plus_ms(HOUR));
    assert!(!exactly_due[0].overdue);
    // Check-ins by strangers are left out.
    let stranger = checkin_event(&net.x, t1, CheckinStatus::Ok, None);
    assert!(view::checkins(&roster, &[stranger], t2).is_empty());
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
        Body::Shelter(ShelterBody {
            id,
            org: org.into(),
            name: "Casa Refugio".into(),
            region: "oaxaca".into(),
            capacity,
            services: vec!["legal".into(), "medical".into()],
            accepts: vec!["women".into(), "children".into()],
            contact: "+52 951 000 0000".into(),
            status: ShelterStatus::Open,
        }),
    )
}

fn occupancy_event(
    key: &SecretKey,
    t: Timestamp,
    shelter: RecordId,
    org: &str,
    delta: i32,
) -> SignedEvent {
    sign(
        key,
        t,
        DocId::shelters("oaxaca"),
        Body::Occupancy {
            shelter,
            org: org.into(),
            region: "oaxaca".into(),
            delta,
        },
    )
}

#[test]
fn shelter_occupancy_counts_the_operator_only() {
    let net = Net::new();
    let roster = net.roster();
    let id = rid("casa");
    let mut events = vec![
        shelter_event(&net.a, at(HOUR), id, "org-a", 10),
        occupancy_event(&net.a, at(HOUR + 1), id, "org-a", 3),
        occupancy_event(&net.s, at(HOUR + 2), id, "org-a", 2),
        occupancy_event(&net.n, at(HOUR + 3), id, "org-a", -1),
    ];
    let list = view::shelters(&roster, &events);
    assert_eq!(list.len(), 1);
    let s = &list[0];
    assert_eq!(s.id, id.to_string());
    assert_eq!((s.capacity, s.occupancy, s.available), (10, 4, 6));
    assert_eq!(s.status, ShelterStatus::Open);
    assert_eq!(s.org, "org-a");
    assert_eq!(s.updated_at, at(HOUR).rfc3339());

    // Another organisation's responder may not count for the shelter...
    let foreign = occupancy_event(&net.b, at(HOUR + 4), id, "org-a", 5);
    assert!(matches!(
        roster.authorize(foreign.event()),
        Err(AuthError::Forbidden(_))
    ));
    // ...nor may a member of the operator, or a stranger.
    let by_member = occupancy_event(&net.m, at(HOUR + 5), id, "org-a", 5);
    assert!(matches!(
        roster.authorize(by_member.event()),
        Err(AuthError::Forbidden(_))
    ));
    let by_stranger = occupancy_event(&net.x, at(HOUR + 6), id, "org-a", 5);
    // Under its own organisation it is allowed, but it is not the operator's count.
    let own_org = occupancy_event(&net.b, at(HOUR + 7), id, "org-b", 5);
    assert_eq!(roster.authorize(own_org.event()), Ok(()));
    events.extend([foreign, by_member, by_stranger, own_org]);
    let list = view::shelters(&roster, &events);
    assert_eq!((list[0].occupancy, list[0].available), (4, 6));

    // Six more arrive: full.
    events.push(occupancy_event(&net.s, at(HOUR + 8), id, "org-a", 6));
    let list = view::shelters(&roster, &events);
    assert_eq!((list[0].occupancy, list[0].available), (10, 0));
    assert_eq!(list[0].status, ShelterStatus::Full);
    // Beyond capacity stays full with nothing available.
    events.push(occupancy_event(&net.s, at(HOUR + 9), id, "org-a", 2));
    let list = view::shelters(&roster, &events);
    assert_eq!((list[0].occupancy, list[0].available), (12, 0));
    assert_eq!(list[0].status, ShelterStatus::Full);
    // Departures free places again; occupancy never goes below zero.
    events.push(occupancy_event(&net.s, at(HOUR + 10), id, "org-a", -100));
    let list = view::shelters(&roster, &events);
    assert_eq!((list[0].occupancy, list[0].available), (0, 10));
    assert_eq!(list[0].status, ShelterStatus::Open);
}

#[test]
fn shelter_description_newest_wins_and_is_written_by_its_org() {
    let net = Net::new();
    let roster = net.roster();
    let id = rid("casa");
    let first = shelter_event(&net.a, at(HOUR), id, "org-a", 10);
    let update = shelter_event(&net.s, at(2 * HOUR), id, "org-a", 20);
    for events in [
        vec![first.clone(), update.clone()],
        vec![update.clone(), first.clone()],
    ] {
        let list = view::shelters(&roster, &events);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].capacity, 20);
        assert_eq!(list[0].updated_at, at(2 * HOUR).rfc3339());
    }
    // A member may not describe a shelter; nor may anyone for another organisation.
    let by_member = shelter_event(&net.m, at(HOUR), rid("m"), "org-a", 5);
    assert!(matches!(
        roster.authorize(by_member.event()),
        Err(AuthError::Forbidden(_))
    ));
    let for_other = shelter_event(&net.a, at(HOUR), rid("o"), "org-b", 5);
    assert!(matches!(
        roster.authorize(for_other.event()),
        Err(AuthError::Forbidden(_))
    ));
    assert_eq!(view::shelters(&roster, &[by_member, for_other]).len(), 0);
}

#[test]
fn another_organisation_cannot_take_over_a_shelter() {
    let net = Net::new();
    let roster = net.roster();
    let id = rid("casa");
    let mut events = vec![
        shelter_event(&net.a, at(HOUR), id, "org-a", 10),
        occupancy_event(&net.a, at(HOUR + 1), id, "org-a", 3),
    ];
    let before = view::shelters(&roster, &events);
    assert_eq!(before.len(), 1);

    // B, org-b's admin, describes org-a's shelter id as org-b's, later: allowed by the roster
    // (org-b writes for org-b), and B counts people for it under org-b.
    let takeover = sign(
        &net.b,
        at(2 * HOUR),
        DocId::shelters("oaxaca"),
        Body::Shelter(ShelterBody {
            id,
            org: "org-b".into(),
            name: "Cerrado".into(),
            region: "oaxaca".into(),
            capacity: 1,
            services: Vec::new(),
            accepts: Vec::new(),
            contact: "+52 951 999 9999".into(),
            status: ShelterStatus::Closed,
        }),
    );
    assert_eq!(roster.authorize(takeover.event()), Ok(()));
    events.push(takeover);
    events.push(occupancy_event(&net.b, at(2 * HOUR + 1), id, "org-b", 1));

    // The shelter stays org-a's as it was, whatever the order the events come in; org-b's
    // description under the same id is a shelter of org-b's, not a change to org-a's.
    let reversed: Vec<SignedEvent> = events.iter().rev().cloned().collect();
    for events in [&events, &reversed] {
        let list = view::shelters(&roster, events);
        assert_eq!(list.len(), 2);
        let s = list
            .iter()
            .find(|s| s.org == "org-a")
            .expect("org-a's shelter");
        assert_eq!(s, &before[0]);
        assert_eq!(s.name.as_str(), "Casa Refugio");
        assert_eq!((s.capacity, s.occupancy, s.available), (10, 3, 7));
        assert_eq!(s.status, ShelterStatus::Open);
        assert_eq!(s.contact, "+52 951 000 0000");
        let b = list
            .iter()
            .find(|s| s.org == "org-b")
            .expect("org-b's own entry");
        assert_eq!((b.name.as_str(), b.occupancy), ("Cerrado", 1));
    }

    // Backdating does not help: an org-b description claiming the earliest time changes
    // nothing of org-a's.
    let backdated = sign(
        &net.b,
        Timestamp(0),
        DocId::shelters("oaxaca"),
        Body::Shelter(ShelterBody {
            id,
            org: "org-b".into(),
            name: "Antes".into(),
            region: "oaxaca".into(),
            capacity: 0,
            services: Vec::new(),
            accepts: Vec::new(),
            contact: String::new(),
            status: ShelterStatus::Closed,
        }),
    );
    events.push(backdated);
    let list = view::shelters(&roster, &events);
    assert_eq!(list.iter().find(|s| s.org == "org-a"), Some(&before[0]));

    // Org-a's own later description still applies.
    events.push(shelter_event(&net.s, at(3 * HOUR), id, "org-a", 20));
    let list = view::shelters(&roster, &events);
    let a = list
        .iter()
        .find(|s| s.org == "org-a")
        .expect("org-a's shelter");
    assert_eq!(a.capacity, 20);
    assert_eq!(a.updated_at, at(3 * HOUR).rfc3339());
}

// ---------------------------------------------------------------------------------------------
// Wire
// ---------------------------------------------------------------------------------------------

#[test]
fn signed_events_travel_in_client_requests() {
    let net = Net::new();
    let events = vec![
        checkin_event(&net.m, at(HOUR), CheckinStatus::Ok, None),
        panic_event(&net.m, at(HOUR)),
    ];
    let request = ClientRequest::V0(ClientRequestV0::Submit {
        events: events.clone(),
    });
    let bytes = postcard::to_stdvec(&request).expect("encodes");
    let ClientRequest::V0(ClientRequestV0::Submit { events: back }) =
        postcard::from_bytes::<ClientRequest>(&bytes).expect("decodes")
    else {
        panic!("wrong request");
    };
    assert_eq!(back, events);

    // A tampered event inside the request makes it undecodable.
    let sig_byte = bytes.len() - 1;
    let mut tampered = bytes.clone();
    tampered[sig_byte] ^= 1;
    assert!(postcard::from_bytes::<ClientRequest>(&tampered).is_err());
}

/// A missed check-in cannot hide a panic by claiming its id, and only the member's own
/// organisation raises one.
#[test]
fn missed_checkins_cannot_shadow_a_panic() {
    let net = Net::new();
    let roster = net.roster();
    let panic = panic_event(&net.m, at(2 * HOUR));
    let panic_id = alert_id(&net.m, at(2 * HOUR));
    // Org-a's node cannot claim the panic's id for a missed check-in: the id must derive
    // from the member and due time.
    let shadow = SignedEvent::sign(
        Event {
            author: net.n.public(),
            at: at(HOUR),
            doc: DocId::alerts("oaxaca", at(HOUR)),
            body: Body::Alert(AlertBody {
                due: Some(at(0)),
                ..alert_body(
                    panic_id,
                    AlertKind::MissedCheckin,
                    "oaxaca",
                    "org-a",
                    Some(net.m.public()),
                )
            }),
        },
        &net.n,
    );
    assert!(shadow.is_err());
    // Even under a correctly derived id, a missed check-in never hides a panic in the view.
    let honest_missed = missed_event(&net.n, at(HOUR), net.m.public(), at(0), "org-a");
    for events in [
        vec![panic.clone(), honest_missed.clone()],
        vec![honest_missed, panic],
    ] {
        let alerts = view::alerts(&roster, &events, at(3 * HOUR));
        assert!(alerts
            .iter()
            .any(|a| a.kind == AlertKind::Panic && a.author == net.m.public().to_string()));
    }
    // Org-b's admin may not raise a missed check-in about org-a's member at all.
    let foreign = missed_event(&net.b, at(HOUR), net.m.public(), at(0), "org-a");
    assert!(matches!(
        roster.authorize(foreign.event()),
        Err(AuthError::Forbidden(_))
    ));
}

#[test]
fn bundles_open_only_for_their_recipients_and_only_unaltered() {
    use crate::bundle::{open, seal, BundleError, Contents};
    let exporter = key("exporter");
    let (c, d, outsider) = (key("node-c"), key("node-d"), key("outsider"));
    let net = Net::new();
    let contents = Contents {
        docs: vec![(
            DocId::roster(),
            vec![
                net.genesis.as_bytes().to_vec(),
                net.add_m.as_bytes().to_vec(),
            ],
        )],
    };
    let bytes = seal(&contents, &exporter, &[c.public(), d.public()], at(0)).expect("seal");
    for node in [&c, &d] {
        let opened = open(&bytes, node).expect("open");
        assert_eq!(opened.contents, contents);
        assert_eq!(opened.exporter, exporter.public());
        assert_eq!(opened.created, at(0));
    }
    assert_eq!(open(&bytes, &outsider).unwrap_err(), BundleError::NotForUs);
    // The event text is not in the file in clear.
    let needle = net.add_m.as_bytes();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    // Any altered byte is refused.
    for pos in (0..bytes.len()).step_by(7) {
        let mut altered = bytes.clone();
        altered[pos] ^= 0x01;
        assert!(open(&altered, &c).is_err(), "altered byte {pos} accepted");
    }
    assert!(open(b"not a bundle", &c).is_err());
    // Two exports of the same contents are different bundles.
    let again = seal(&contents, &exporter, &[c.public()], at(0)).expect("seal");
    assert_ne!(
        open(&again, &c).expect("open").id,
        open(&bytes, &c).expect("open").id
    );
}

#[test]
fn bundles_take_their_time_and_randomness_from_the_caller() {
    use crate::bundle::{open, seal_with_randomness, SealRandomness};
    let exporter = key("exporter");
    let node = key("node-c");
    let net = Net::new();
    let contents = crate::bundle::Contents {
        docs: vec![(DocId::roster(), vec![net.genesis.as_bytes().to_vec()])],
    };
    let randomness = || SealRandomness {
        id: [1; 16],
        content_key: [2; 32],
        nonce: [3; 12],
        ephemeral_secret: [4; 32],
    };
    let created = Timestamp(1_700_000_000_000);
    let seal = |r: &SealRandomness| {
        seal_with_randomness(&contents, &exporter, &[node.public()], created, r).expect("seal")
    };
    let (bytes, id) = seal(&randomness());
    assert_eq!(id, [1; 16]);
    assert_eq!(
        seal(&randomness()).0,
        bytes,
        "the same arguments give the same bundle"
    );
    let opened = open(&bytes, &node).expect("open");
    assert_eq!((opened.id, opened.created), (id, created));
    assert_eq!(opened.contents, contents);
    let mut other = randomness();
    other.nonce = [5; 12];
    assert_ne!(seal(&other).0, bytes);
    assert!(
        !format!("{:?}", randomness()).contains("2, 2"),
        "secrets are not printed"
    );
}

#[test]
fn sealed_payloads_take_their_randomness_from_the_caller() {
    let (a, b) = (key("alice"), key("beatriz"));
    let context = b"context";
    let seal = |k: [u8; 32], e: [u8; 32]| {
        crate::sealed::seal_with_randomness(
            b"Mario, 3 people",
            &[a.public(), b.public()],
            context,
            k,
            e,
        )
        .expect("seals")
    };
    let sealed = seal([7; 32], [8; 32]);
    assert_eq!(seal([7; 32], [8; 32]), sealed);
    assert_ne!(seal([7; 32], [9; 32]), sealed);
    for me in [&a, &b] {
        let opened = crate::sealed::open(&sealed, me, context).expect("opens");
        assert_eq!(opened.as_deref(), Some(&b"Mario, 3 people"[..]));
    }
}

/// A whole document handed over by a peer (the roster a joining node adopts) is checked op by
/// op, as sync is: anything but valid events is refused.
#[test]
fn documents_loaded_from_peers_are_checked_op_by_op() {
    use automerge::transaction::Transactable;
    let net = Net::new();
    let mut honest = Document::new(DocId::roster());
    honest.insert(&[net.genesis.clone(), net.add_m.clone()]);
    let loaded = Document::load_from_peer(DocId::roster(), &honest.save(), &Roster::default())
        .expect("an honest roster loads");
    assert_eq!(loaded.len(), 2);

    let mut raw = automerge::Automerge::load(&honest.save()).expect("load");
    let mut tx = raw.transaction();
    tx.put(automerge::ROOT, "x", "y").expect("put");
    tx.commit();
    let refused = Document::load_from_peer(DocId::roster(), &raw.save(), &Roster::default());
    assert!(
        matches!(refused, Err(SyncError::InvalidChange(_))),
        "{refused:?}"
    );
    assert!(Document::load_from_peer(DocId::roster(), b"garbage", &Roster::default()).is_err());
}

// ---------------------------------------------------------------------------------------------
// Delivery receipts
// ---------------------------------------------------------------------------------------------

fn held_event(key: &SecretKey, t: Timestamp, alerts: Vec<RecordId>) -> SignedEvent {
    let receipts = DocId::receipts_for(&DocId::alerts("oaxaca", t));
    sign(
        key,
        t,
        receipts.expect("an alerts document"),
        Body::Held { alerts },
    )
}

#[test]
fn receipts_are_written_by_nodes_in_receipt_documents_only() {
    let net = Net::new();
    let roster = net.roster();
    let p = panic_event(&net.m, at(HOUR));
    let id = alert_id(&net.m, at(HOUR));
    assert_eq!(
        roster.authorize(held_event(&net.n, at(HOUR + 1), vec![id]).event()),
        Ok(())
    );
    // People do not sign receipts, strangers neither.
    for who in [&net.a, &net.s, &net.m] {
        assert!(matches!(
            roster.authorize(held_event(who, at(HOUR + 1), vec![id]).event()),
            Err(AuthError::Forbidden(_))
        ));
    }
    assert!(matches!(
        roster.authorize(held_event(&net.x, at(HOUR + 1), vec![id]).event()),
        Err(AuthError::UnknownAuthor(_))
    ));
    // Field rules: non-empty, increasing, bounded, and only in a receipts document.
    let bad = |alerts: Vec<RecordId>, doc: DocId| {
        SignedEvent::sign(
            Event {
                author: net.n.public(),
                at: at(HOUR),
                doc,
                body: Body::Held { alerts },
            },
            &net.n,
        )
    };
    let alerts_doc = DocId::alerts("oaxaca", at(HOUR));
    let receipts_doc = DocId::receipts_for(&alerts_doc).expect("an alerts document");
    assert_eq!(
        receipts_doc.as_str(),
        format!("receipts/oaxaca/{}", at(HOUR).month())
    );
    assert_eq!(receipts_doc.collection(), crate::ids::Collection::Receipts);
    assert_eq!(
        receipts_doc.as_str().parse::<DocId>(),
        Ok(receipts_doc.clone())
    );
    assert_eq!(DocId::receipts_for(&receipts_doc), None);
    assert!(bad(vec![], receipts_doc.clone()).is_err());
    let mut two = vec![rid("a"), rid("b")];
    two.sort();
    let mut reversed = two.clone();
    reversed.reverse();
    assert!(bad(reversed, receipts_doc.clone()).is_err());
    assert!(bad(vec![rid("a"), rid("a")], receipts_doc.clone()).is_err());
    assert!(bad(two.clone(), receipts_doc.clone()).is_ok());
    let too_many: BTreeSet<RecordId> = (0..=crate::event::MAX_HELD)
        .map(|i| rid(&i.to_string()))
        .collect();
    assert!(bad(too_many.into_iter().collect(), receipts_doc).is_err());
    // Not in the alerts document itself: an alert's document keeps its few writers.
    assert!(bad(two.clone(), alerts_doc).is_err());
    assert!(bad(two, DocId::shelters("oaxaca")).is_err());
    // The receipt goes in the receipts document paired with the alert's.
    assert_eq!(
        DocId::receipts_for(&p.event().doc),
        Some(
            held_event(&net.n, at(HOUR + 1), vec![id])
                .event()
                .doc
                .clone()
        )
    );
}

#[test]
fn alert_view_counts_each_nodes_receipt_once() {
    let net = Net::new();
    // A second node of org-b, added by its admin.
    let nb = key("node-b");
    let add_nb = sign(
        &net.b,
        at(4 * MIN),
        DocId::roster(),
        Body::AddNode {
            org: "org-b".into(),
            node: nb.public(),
            addrs: vec![],
        },
    );
    let mut roster_events = net.roster_events();
    roster_events.push(add_nb);
    let roster = Roster::from_events(&roster_events);
    let p = panic_event(&net.m, at(HOUR));
    let id = alert_id(&net.m, at(HOUR));
    let other = rid("not-an-alert-here");
    let mut ids = vec![id, other];
    ids.sort();
    let events = vec![
        p,
        held_event(&net.n, at(HOUR + 40), vec![id]),
        // A second receipt by the same node does not count twice.
        held_event(&net.n, at(HOUR + 90), ids.clone()),
        // A receipt in another month's receipts document is not for this alert (dated before
        // that month, it is refused at decode now; the view holds its own line all the same).
        stored(
            &nb,
            at(HOUR + 1_000),
            DocId::receipts_for(&DocId::alerts("oaxaca", at(HOUR).plus_ms(40 * 24 * HOUR)))
                .expect("an alerts document"),
            Body::Held { alerts: vec![id] },
        ),
        held_event(&nb, at(HOUR + 2_000), ids),
        alert_action(&net.s, at(HOUR + 40_000), Body::Ack { alert: id }),
    ];
    let list = view::alerts(&roster, &events, at(2 * HOUR));
    assert_eq!(
        list.len(),
        1,
        "a receipt naming an unknown id makes no alert"
    );
    let a = &list[0];
    assert_eq!(a.network_nodes, 2);
    let held: Vec<(&str, i64, bool)> = a
        .held_by
        .iter()
        .map(|r| (r.org.as_str(), r.after_ms, r.security_contact_node))
        .collect();
    // org-a has Sofia, security contact for Oaxaca; org-b has none.
    assert_eq!(held, vec![("org-a", 40, true), ("org-b", 2_000, false)]);
    assert_eq!(a.held_by[0].node, net.n.public().to_string());
    assert_eq!(a.first_ack_after_ms, Some(40_000));

    // A revoked node's later receipt is not counted.
    let mut with_revocation = roster_events.clone();
    with_revocation.push(sign(
        &net.b,
        at(HOUR + 1_000),
        DocId::roster(),
        Body::Revoke {
            key: nb.public(),
            reason: "seized".into(),
        },
    ));
    let roster = Roster::from_events(&with_revocation);
    let list = view::alerts(&roster, &events, at(2 * HOUR));
    assert_eq!(list[0].held_by.len(), 1);
    assert_eq!(list[0].network_nodes, 1);
}

// ---------------------------------------------------------------------------------------------
// Sealed shelter requests
// ---------------------------------------------------------------------------------------------

#[test]
fn sealed_opens_for_each_recipient_and_nobody_else() {
    let (a, b, c, x) = (key("alice"), key("beatriz"), key("carla"), key("stranger"));
    let context = b"request 1";
    let sealed = crate::sealed::seal(
        b"Mario, 3 people",
        &[a.public(), b.public(), c.public(), a.public()],
        context,
    )
    .expect("seals");
    for who in [&a, &b, &c] {
        assert_eq!(
            crate::sealed::open(&sealed, who, context).expect("well formed"),
            Some(b"Mario, 3 people".to_vec())
        );
    }
    assert_eq!(crate::sealed::open(&sealed, &x, context), Ok(None));
    // Duplicates are sealed once; the count is all that shows.
    assert_eq!(crate::sealed::recipients(&sealed), Ok(3));
    // Neither the recipients' keys nor the text appear in the bytes.
    for k in [&a, &b, &c] {
        let pk = k.public();
        assert!(!sealed.windows(32).any(|w| w == pk.as_bytes()));
    }
    assert!(!sealed.windows(5).any(|w| w == b"Mario"));
    // Another context does not open it: it cannot be moved to another request.
    assert_eq!(crate::sealed::open(&sealed, &a, b"request 2"), Ok(None));
    // A flipped byte is refused, or opens to nothing, or (when it damaged another
    // recipient's wrapped key) to the same text; never to other text. Flips in the ciphertext
    // and ephemeral key never open.
    let mut opened_anyway = 0;
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        if let Ok(Some(text)) = crate::sealed::open(&bad, &a, context) {
            assert_eq!(text, b"Mario, 3 people", "byte {i}");
            opened_anyway += 1;
        }
    }
    assert!(
        opened_anyway <= 2 * 48,
        "only other recipients' wrapped keys may be hit"
    );
    assert!(crate::sealed::seal(b"x", &[], context).is_err());
    assert!(crate::sealed::open(b"garbage", &a, context).is_err());
    // Two seals of the same text differ (fresh keys).
    let again = crate::sealed::seal(b"Mario, 3 people", &[a.public()], context).expect("seals");
    let once = crate::sealed::seal(b"Mario, 3 people", &[a.public()], context).expect("seals");
    assert_ne!(again, once);
}

fn request_event(node: &SecretKey, t: Timestamp, id: RecordId, sealed: Vec<u8>) -> SignedEvent {
    sign(
        node,
        t,
        DocId::shelters("oaxaca"),
        Body::ShelterRequest(crate::event::ShelterRequestBody {
            id,
            shelter: rid("casa"),
            org: "org-a".into(),
            region: "oaxaca".into(),
            sealed,
        }),
    )
}

fn decision_event(key: &SecretKey, t: Timestamp, request: RecordId, accepted: bool) -> SignedEvent {
    sign(
        key,
        t,
        DocId::shelters("oaxaca"),
        Body::ShelterDecision {
            request,
            shelter: rid("casa"),
            org: "org-a".into(),
            region: "oaxaca".into(),
            accepted,
        },
    )
}

#[test]
fn shelter_requests_are_relayed_by_nodes_and_decided_by_the_operators_admins() {
    use crate::event::ShelterRequestPayload;
    let net = Net::new();
    let roster = net.roster();
    let id = rid("request");
    let shelter = rid("casa");
    let note = "two children, one needs insulin";
    let payload = ShelterRequestPayload::sign(&net.m, &id, &shelter, "Mario", 3, note);
    assert!(payload.verify(&id, &shelter));
    let mut forged = payload.clone();
    forged.people = 30;
    assert!(!forged.verify(&id, &shelter), "the count is signed");
    let mut renamed = payload.clone();
    renamed.name = "Alice".into();
    assert!(!renamed.verify(&id, &shelter), "so is the name");
    assert!(
        !payload.verify(&rid("other"), &shelter),
        "so is the request id"
    );

    let context = crate::event::ShelterRequestBody::context(&id, &shelter, "org-a");
    let plain = postcard::to_stdvec(&payload).expect("encodes");
    let sealed =
        crate::sealed::seal(&plain, &[net.a.public(), net.m.public()], &context).expect("seals");
    let request = request_event(&net.n, at(HOUR), id, sealed.clone());
    assert_eq!(roster.authorize(request.event()), Ok(()));
    // The member does not sign it (that would name them), nor does anyone but a node.
    for who in [&net.m, &net.a] {
        assert!(matches!(
            roster.authorize(request_event(who, at(HOUR), id, sealed.clone()).event()),
            Err(AuthError::Forbidden(_))
        ));
    }
    // The stored event names neither the requester nor the note.
    assert!(!request
        .as_bytes()
        .windows(32)
        .any(|w| w == net.m.public().as_bytes()));
    assert!(!request
        .as_bytes()
        .windows(8)
        .any(|w| w == &note.as_bytes()[..8]));
    // Too large a sealed part is refused.
    assert!(SignedEvent::sign(
        Event {
            author: net.n.public(),
            at: at(HOUR),
            doc: DocId::shelters("oaxaca"),
            body: Body::ShelterRequest(crate::event::ShelterRequestBody {
                id,
                shelter,
                org: "org-a".into(),
                region: "oaxaca".into(),
                sealed: vec![0; crate::event::MAX_SEALED_BYTES + 1],
            }),
        },
        &net.n,
    )
    .is_err());

    // Decisions: admins of the shelter's organisation only.
    let accept = decision_event(&net.a, at(HOUR + MIN), id, true);
    assert_eq!(roster.authorize(accept.event()), Ok(()));
    for who in [&net.s, &net.m, &net.n, &net.b] {
        assert!(matches!(
            roster.authorize(decision_event(who, at(HOUR + MIN), id, true).event()),
            Err(AuthError::Forbidden(_))
        ));
    }

    let decline = decision_event(&net.a, at(HOUR + 2 * MIN), id, false);
    let events = vec![
        shelter_event(&net.a, at(HOUR - MIN), shelter, "org-a", 10),
        request.clone(),
        accept,
    ];
    let list = view::shelter_requests(&roster, &events);
    assert_eq!(list.len(), 1);
    let r = &list[0];
    assert_eq!(r.id, id.to_string());
    assert_eq!(r.shelter_name.as_deref(), Some("Casa Refugio"));
    assert_eq!(r.via_node, net.n.public().to_string());
    assert_eq!(
        r.decision.as_ref().map(|d| d.action.as_str()),
        Some("accepted")
    );
    let sealed_back = data_encoding::BASE64
        .decode(r.sealed.as_bytes())
        .expect("base64");
    let opened = crate::sealed::open(&sealed_back, &net.a, &context)
        .expect("well formed")
        .expect("the admin can read it");
    let back: ShelterRequestPayload = postcard::from_bytes(&opened).expect("decodes");
    assert_eq!(back, payload);
    assert_eq!(
        crate::sealed::open(&sealed_back, &net.s, &context),
        Ok(None)
    );
    // The latest decision counts.
    let mut later = events.clone();
    later.push(decline);
    assert_eq!(
        view::shelter_requests(&roster, &later)[0]
            .decision
            .as_ref()
            .map(|d| d.action.as_str()),
        Some("declined")
    );
}

/// A new organisation's admin signs its node's first `AddNode` before the `AddOrg` that admits
/// them (the join flow), so the fold applies it late, after the node's later announcement.
/// The later announcement must still win.
#[test]
fn the_latest_address_announcement_wins_whatever_order_the_fold_applies() {
    let net = Net::new();
    let nb = key("node-b");
    let announce = |t: i64, addr: &str| {
        sign(
            &net.b,
            at(t),
            DocId::roster(),
            Body::AddNode {
                org: "org-b".into(),
                node: nb.public(),
                addrs: vec![addr.into()],
            },
        )
    };
    // add_org_b is at 3 minutes: the first announcement precedes it.
    let mut events = net.roster_events();
    events.push(announce(2 * MIN + 30_000, "/ip4/10.0.0.2/tcp/4717"));
    events.push(announce(10 * MIN, "/ip4/10.0.0.1/tcp/4717/p2p-circuit"));
    let roster = Roster::from_events(&events);
    let node = roster.nodes.get(&nb.public()).expect("node-b");
    assert_eq!(
        node.addrs,
        vec!["/ip4/10.0.0.1/tcp/4717/p2p-circuit".to_string()]
    );
    assert_eq!(node.added_at, at(2 * MIN + 30_000));
    // Same result in any arrival order.
    events.reverse();
    assert_eq!(Roster::from_events(&events), roster);
}
