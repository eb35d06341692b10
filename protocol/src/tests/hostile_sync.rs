//! Sync with hostile peers: every kind of invalid change and message is refused and rolled
//! back.

use super::*;

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
    put_bytes(&mut hostile, &other.id().to_string(), &event.to_bytes());
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
        &event.to_bytes(),
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
        seq: (at(HOUR).plus_ms(7)).0 as u64,
        doc: honest.id.clone(),
        body: Body::Resolve {
            alert: honest.panic,
            note: "all fine".into(),
            checkin: None,
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
    put_bytes(&mut hostile, &event.id().to_string(), &event.to_bytes());
    let err = honest.refuses(hostile);
    assert!(
        matches!(err, SyncError::Auth(AuthError::Forbidden(_))),
        "{err:?}"
    );
    assert!(err.is_peer_fault());

    // An event by a key revoked before it was written is stored, as by a node that stored it
    // before it learnt of the revocation, and counts nowhere: whether a document syncs does
    // not depend on when a revocation arrived.
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
        Body::Ack {
            alert: honest.panic,
        },
    );
    put_bytes(&mut hostile, &event.id().to_string(), &event.to_bytes());
    let Honest {
        roster, mut doc, ..
    } = honest;
    sync_raw_into(&mut hostile, &mut doc, &roster).expect("stored");
    assert!(doc.events().iter().any(|e| e.id() == event.id()));
    let alerts = view::alerts(&roster, doc.events().iter(), at(2 * HOUR));
    let panic = alerts
        .iter()
        .find(|a| a.kind == AlertKind::Panic)
        .expect("the panic");
    assert!(panic
        .history
        .iter()
        .all(|h| h.event != event.id().to_string()));
}

#[test]
fn hostile_event_of_another_document_is_refused() {
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    // Correctly signed and allowed, but it belongs in the check-ins document.
    let event = checkin_event(&honest.net.m, at(HOUR).plus_ms(7), CheckinStatus::Ok, None);
    put_bytes(&mut hostile, &event.id().to_string(), &event.to_bytes());
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
    put_bytes(&mut hostile, &good.id().to_string(), &good.to_bytes());
    put_bytes(&mut hostile, &bad.id().to_string(), &bad.to_bytes());
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
        ScalarValue::Bytes(event.to_bytes()),
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
    put_bytes(&mut hostile, &victim.to_string(), &other.to_bytes());
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
    put_bytes(&mut raw, &event.id().to_string(), &event.to_bytes());
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
    let long = overlong_tag(&held.to_bytes());
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
    let long = overlong_tag(&fresh.to_bytes());
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
        seq: (t.plus_ms(-1)).0 as u64,
        doc: honest.id.clone(),
        body: Body::Alert(Box::new(alert_body(
            honest.panic,
            AlertKind::Alert,
            "oaxaca",
            "org-a",
            None,
        ))),
    };
    let bytes = forge(&event, &honest.net.s);
    put_bytes(&mut hostile, &EventId::of(&bytes).to_string(), &bytes);
    let err = honest.refuses(hostile);
    assert!(
        matches!(err, SyncError::Event(VerifyError::Invalid(_))),
        "{err:?}"
    );
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
    put_bytes(&mut hostile, &event.id().to_string(), &event.to_bytes());
    let err = honest.refuses(hostile);
    assert!(matches!(err, SyncError::Event(_)), "{err:?}");

    // A valid event put and deleted again.
    let honest = Honest::new();
    let mut hostile = honest.hostile_copy();
    put_bytes(&mut hostile, &event.id().to_string(), &event.to_bytes());
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
