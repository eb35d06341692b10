//! Signing and decoding events: signatures, tampering, field bounds, canonical encodings and
//! derived alert ids.

use super::*;

#[test]
fn sign_encode_decode_round_trip() {
    let net = Net::new();
    let event = checkin_event(&net.m, at(HOUR), CheckinStatus::Ok, Some(at(2 * HOUR)));
    let decoded = SignedEvent::decode(&event.to_bytes()).expect("own event decodes");
    assert_eq!(decoded, event);
    assert_eq!(decoded.event(), event.event());
    assert_eq!(decoded.id(), event.id());
    assert_eq!(decoded.id(), EventId::of(&event.to_bytes()));
    assert_eq!(decoded.to_bytes(), event.to_bytes());

    // The hand-built envelope has the same encoding as the crate's.
    assert_eq!(forge(event.event(), &net.m), event.to_bytes());

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
    let trusted = SignedEvent::decode_trusted(&event.to_bytes()).expect("decodes");
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
    let original = event.to_bytes();
    // Decoded first, so that its signature is remembered (`verify_cache`): no flip rides on it.
    assert!(SignedEvent::decode(&original).is_ok());
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

    let mut trailing = event.to_bytes();
    trailing.push(0);
    assert!(matches!(
        SignedEvent::decode(&trailing),
        Err(VerifyError::Malformed(_))
    ));

    let truncated = &event.to_bytes()[..event.to_bytes().len() - 1];
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
        seq: (at(HOUR)).0 as u64,
        doc: DocId::roster(),
        body: Body::Revoke {
            key: net.s.public(),
            reason: "forged".into(),
            last: 0,
        },
    };
    let forged = forge(&event, &net.m);
    assert_eq!(SignedEvent::decode(&forged), Err(VerifyError::BadSignature));
    // The same event properly signed decodes.
    assert!(SignedEvent::decode(&forge(&event, &net.a)).is_ok());
}

#[test]
fn a_remembered_key_still_refuses_what_it_did_not_sign() {
    let net = Net::new();
    let msg = b"a message";
    let sig = net.a.sign(msg);
    // Checked twice: the second check uses the remembered key and decides alike.
    assert!(net.a.public().verify(msg, &sig));
    assert!(net.a.public().verify(msg, &sig));
    assert!(crate::verify_cache::cached().0 >= 1);
    let mut flipped = sig;
    flipped[7] ^= 1;
    assert!(!net.a.public().verify(msg, &flipped));
    assert!(!net.a.public().verify(b"another message", &sig));
    assert!(!net.m.public().verify(msg, &sig));
    // A signature over the same message by the remembered key verifies under it only.
    assert!(net.m.public().verify(msg, &net.m.sign(msg)));
    // A full cache starts over rather than grow.
    for i in 0..crate::verify_cache::CAPACITY + 1 {
        let k = key(&format!("k{i}"));
        assert!(!k.public().verify(msg, &sig));
    }
    assert!(crate::verify_cache::cached().0 <= crate::verify_cache::CAPACITY);
    assert!(net.a.public().verify(msg, &sig));
}

#[test]
fn an_event_decoded_before_decodes_alike_and_its_forgeries_are_still_refused() {
    let net = Net::new();
    let event = Event {
        author: net.a.public(),
        at: at(HOUR),
        seq: (at(HOUR)).0 as u64,
        doc: DocId::roster(),
        body: Body::Revoke {
            key: net.s.public(),
            reason: "seized".into(),
            last: 0,
        },
    };
    let good = forge(&event, &net.a);
    let first = SignedEvent::decode(&good).expect("valid");
    let remembered = crate::verify_cache::cached().1;
    assert!(remembered >= 1);
    // Decoded again (as an alert is, by gossip then by sync): the same event, same id.
    let again = SignedEvent::decode(&good).expect("still valid");
    assert_eq!(again.id(), first.id());
    assert_eq!(again.event(), first.event());
    assert_eq!(crate::verify_cache::cached().1, remembered);
    // The same event under another key's signature, or with a flipped signature bit, is new
    // bytes and checked again.
    assert_eq!(
        SignedEvent::decode(&forge(&event, &net.m)),
        Err(VerifyError::BadSignature)
    );
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(SignedEvent::decode(&flipped).is_err());
}

#[test]
fn decode_checks_fields_after_the_signature() {
    let net = Net::new();
    // Correctly signed, but the alert is in the wrong region's document.
    let event = Event {
        author: net.s.public(),
        at: at(HOUR),
        seq: (at(HOUR)).0 as u64,
        doc: DocId::alerts("chiapas", at(HOUR)),
        body: Body::Alert(Box::new(alert_body(
            alert_id(&net.s, at(HOUR)),
            AlertKind::Alert,
            "oaxaca",
            "org-a",
            None,
        ))),
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
        seq: (at(HOUR)).0 as u64,
        doc: DocId::checkins("org-a", at(HOUR)),
        body: Body::Checkin(CheckinBody {
            next_due: None,
            sealed: sealed_checkin(CheckinStatus::Ok, String::new()),
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
    let with_sealed = |len: usize| Event {
        author: net.m.public(),
        at: at(HOUR),
        seq: (at(HOUR)).0 as u64,
        doc: DocId::checkins("org-a", at(HOUR)),
        body: Body::Checkin(CheckinBody {
            next_due: None,
            sealed: vec![1; len],
        }),
    };
    assert!(SignedEvent::sign(with_sealed(crate::event::MAX_SEALED_BYTES), &net.m).is_ok());
    assert!(matches!(
        SignedEvent::sign(with_sealed(crate::event::MAX_SEALED_BYTES + 1), &net.m),
        Err(VerifyError::Invalid(_))
    ));
    // A note too long for a check-in is refused before it is sealed.
    let long = crate::private::CheckinPrivate::without_code(
        CheckinStatus::Ok,
        "x".repeat(MAX_TEXT_BYTES + 1),
    );
    assert!(long
        .seal(&net.m.public(), at(HOUR), &[net.m.public()])
        .is_err());

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
        seq: (at(HOUR)).0 as u64,
        doc: DocId::alerts("oaxaca", at(HOUR)),
        body: Body::Alert(Box::new(alert)),
    };
    assert!(matches!(
        SignedEvent::sign(event, &net.s),
        Err(VerifyError::Invalid(_))
    ));

    let revoke = Event {
        author: net.a.public(),
        at: at(HOUR),
        seq: (at(HOUR)).0 as u64,
        doc: DocId::roster(),
        body: Body::Revoke {
            key: net.m.public(),
            reason: "r".repeat(MAX_TEXT_BYTES + 1),
            last: 0,
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
            seq: (t).0 as u64,
            doc: doc.clone(),
            body: body.clone(),
        };
        let result = SignedEvent::sign(event, author);
        assert!(
            matches!(result, Err(VerifyError::Invalid(_))),
            "{body:?} in {doc} gave {result:?}"
        );
    };
    let oaxaca_alert = Body::Alert(Box::new(alert_body(
        alert_id(&net.s, t),
        AlertKind::Alert,
        "oaxaca",
        "org-a",
        None,
    )));
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
        next_due: None,
        sealed: sealed_checkin(CheckinStatus::Ok, String::new()),
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
            last: 0,
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
            consent: None,
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
        Body::Alert(Box::new(alert_body(
            AlertBody::missed_checkin_id(&net.m.public(), t),
            AlertKind::MissedCheckin,
            "oaxaca",
            "org-a",
            None,
        ))),
    );
    refused(
        &net.m,
        DocId::alerts("oaxaca", t),
        Body::Alert(Box::new(alert_body(
            alert_id(&net.m, t),
            AlertKind::Panic,
            "oaxaca",
            "org-a",
            Some(net.m.public()),
        ))),
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

#[test]
fn decode_requires_the_canonical_encoding() {
    let net = Net::new();
    let event = checkin_event(&net.m, at(HOUR), CheckinStatus::Ok, None);

    // An over-long envelope tag: postcard reads the same envelope, so without the check the
    // same signed event would have a second byte form and a second id.
    let long = overlong_tag(&event.to_bytes());
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
            .len()
        + postcard::to_stdvec(&event.event().seq)
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
        SignedEvent::decode(&event.to_bytes()).map(|e| e.id()),
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
        seq: (at).0 as u64,
        doc: DocId::alerts("oaxaca", at),
        body: Body::Alert(Box::new(alert_body(id, kind, "oaxaca", "org-a", None))),
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
        seq: (t).0 as u64,
        doc: DocId::alerts("oaxaca", t),
        body: Body::Alert(Box::new(AlertBody::missed_checkin(
            m,
            "org-a",
            "oaxaca",
            t.plus_ms(-HOUR),
        ))),
    };
    assert!(SignedEvent::sign(missed.clone(), &net.n).is_ok());
    // Its fields are the ones its member and due time make: none may be chosen.
    for change in [
        |a: &mut AlertBody| a.severity = Severity::Minor,
        |a: &mut AlertBody| a.text = "nothing to see".into(),
        |a: &mut AlertBody| a.certainty = Certainty::Unknown,
        |a: &mut AlertBody| a.expires_at = Some(Timestamp(1)),
    ] {
        let mut other = missed.clone();
        if let Body::Alert(a) = &mut other.body {
            change(a);
        }
        assert!(matches!(
            SignedEvent::sign(other, &net.n),
            Err(VerifyError::Invalid(_))
        ));
    }
    // Nor may it be noticed before it is due (a backdated copy).
    let mut early = missed.clone();
    early.at = t.plus_ms(-HOUR - 1);
    early.doc = DocId::alerts("oaxaca", early.at);
    assert!(SignedEvent::sign(early, &net.n).is_err());

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

/// A node holds every event of its documents decoded: a month of an organisation is 60,000
/// of them. The large bodies (alerts, shelters, shelter requests, a move's revocation) are
/// boxed so that a check-in does not pay for them, and the signed bytes are not kept.
#[test]
fn an_event_in_memory_stays_small() {
    assert!(
        std::mem::size_of::<Body>() <= 120,
        "{}",
        std::mem::size_of::<Body>()
    );
    assert!(
        std::mem::size_of::<SignedEvent>() <= 264,
        "{}",
        std::mem::size_of::<SignedEvent>()
    );
}
