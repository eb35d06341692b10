//! Documents: insertion, save and load, and sync between honest nodes.

use super::*;

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
    assert_eq!(ids(empty.events()), ids(net.roster_events()));
    assert_eq!(Roster::from_events(empty.events().iter()), net.roster());

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
    assert_eq!(ids(honest.events()), ids(net.roster_events()));
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
                checkin: None,
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
    put_bytes(&mut hostile, &refused.id().to_string(), &refused.to_bytes());
    sync_raw_into(&mut hostile, &mut honest.doc, &honest.roster).expect_err("forbidden");
    assert!(!honest.doc.contains(refused.id()));
}

#[test]
fn a_check_in_document_holds_its_events_only_in_automerge_and_answers_as_any_other() {
    let net = Net::new();
    let t = at(HOUR);
    let id = DocId::checkins("org-a", t);
    let checkins: Vec<SignedEvent> = (0..4)
        .map(|i| checkin_event(&net.m, t.plus_ms(i), CheckinStatus::Ok, None))
        .collect();
    let mut doc = Document::new(id.clone());
    assert!(!doc.keeps_events());
    assert_eq!(doc.insert(&checkins[..1]), 1);
    let first_heads = doc.heads();
    assert_eq!(doc.insert(&checkins[1..3]), 2);
    assert!(doc.kept_events().is_empty(), "nothing decoded is held");
    assert_eq!(ids(doc.events()), ids(&checkins[..3]));
    assert_eq!(doc.each_event().count(), 3);
    assert_eq!(doc.len(), 3);
    assert!(checkins[..3].iter().all(|e| doc.contains(e.id())));
    assert!(!doc.contains(checkins[3].id()));
    // Decoded events are the events stored, down to their bytes and their document.
    for e in doc.each_event() {
        let original = checkins
            .iter()
            .find(|c| c.id() == e.id())
            .expect("one of them");
        assert_eq!(e.to_bytes(), original.to_bytes());
        assert_eq!(e.event().doc, id);
    }
    let since: Vec<EventId> = doc
        .events_since(&first_heads)
        .iter()
        .map(|e| e.id())
        .collect();
    assert_eq!(
        since.into_iter().collect::<BTreeSet<_>>(),
        ids(&checkins[1..3])
    );

    // Loaded and synced check-in documents hold the same, decoded on demand too.
    let loaded = Document::load(id.clone(), &[doc.save()]).expect("loads");
    assert!(loaded.kept_events().is_empty());
    assert_eq!(ids(loaded.events()), ids(&checkins[..3]));
    assert_eq!(loaded.len(), 3);
    // The same from the form a node stores (columns not compressed); each event read back
    // carries the id of its bytes, taken from its key.
    let from_store = Document::load(id.clone(), &[doc.save_for_store()]).expect("loads");
    assert_eq!(from_store.heads(), doc.heads());
    assert_eq!(ids(from_store.events()), ids(&checkins[..3]));
    for e in from_store.each_event() {
        assert_eq!(e.id(), EventId::of(&e.to_bytes()));
    }
    let mut peer = Document::new(id.clone());
    peer.insert(&checkins[3..]);
    sync_docs(&mut peer, &mut doc, &net.roster()).expect("syncs");
    assert_eq!(ids(doc.events()), ids(&checkins));
    assert_eq!(ids(peer.events()), ids(&checkins));
    assert_eq!((doc.len(), peer.len()), (4, 4));

    // A refused message leaves the events, ids and heads as they were.
    let heads = doc.heads();
    let mut hostile = Automerge::load(&doc.save())
        .expect("loads")
        .with_actor(ActorId::from(b"hostile".as_slice()));
    let mut forged_event = checkins[0].event().clone();
    forged_event.at = t.plus_ms(9);
    let forged = forge(&forged_event, &net.s);
    put_bytes(&mut hostile, &EventId::of(&forged).to_string(), &forged);
    sync_raw_into(&mut hostile, &mut doc, &net.roster()).expect_err("a forged check-in");
    assert_eq!(doc.heads(), heads);
    assert_eq!(ids(doc.events()), ids(&checkins));
    assert_eq!(doc.len(), 4);
    assert!(!doc.contains(EventId::of(&forged)));
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

/// A stored chunk of more changes than one batch (what one sync message of a catch-up
/// brought) loads in batches to the same document, after a full save and after another
/// chunk.
#[test]
fn a_stored_chunk_of_many_changes_loads_in_batches() {
    use crate::doc::APPLY_BATCH;
    let net = Net::new();
    let t = at(HOUR);
    let id = DocId::alerts("oaxaca", t);
    let mut doc = Document::new(id.clone());
    let event = |i: i64| alert_event(&net.s, t.plus_ms(i), AlertKind::Alert, "org-a");
    for i in 0..10 {
        doc.insert(&[event(i)]);
    }
    let snapshot = doc.save();
    let at_snapshot = doc.heads();
    let many = 3 * APPLY_BATCH as i64 + 7;
    for i in 10..10 + many {
        doc.insert(&[event(i)]);
    }
    let big = doc.save_after(&at_snapshot);
    let at_big = doc.heads();
    doc.insert(&[event(10_000)]);
    let last = doc.save_after(&at_big);

    let loaded =
        Document::load(id.clone(), &[snapshot.clone(), big.clone(), last.clone()]).expect("loads");
    assert_eq!(loaded.heads(), doc.heads());
    assert_eq!(ids(loaded.events()), ids(doc.events()));
    assert_eq!(loaded.len(), 11 + many as usize);
    // The first chunk may be changes too (a document never compacted).
    let mut all = Document::new(id.clone());
    let events: Vec<_> = doc.events().to_vec();
    for e in &events {
        all.insert(std::slice::from_ref(e));
    }
    let whole = all.save_after(&[]);
    let from_changes = Document::load(id.clone(), &[whole]).expect("loads");
    assert_eq!(from_changes.heads(), all.heads());
    assert_eq!(from_changes.len(), events.len());
}

/// A whole document handed over by a peer (the roster a joining node adopts) is checked op by
/// op, as sync is: anything but valid events is refused.
#[test]
fn documents_loaded_from_peers_are_checked_op_by_op() {
    use automerge::transaction::Transactable;
    let net = Net::new();
    let mut honest = Document::new(DocId::roster());
    honest.insert(&[net.genesis.clone(), net.declare.clone(), net.add_m.clone()]);
    let loaded = Document::load_from_peer(DocId::roster(), &honest.save(), &Roster::default())
        .expect("an honest roster loads");
    assert_eq!(loaded.len(), 3);

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

/// Start-up reads each stored document once: `load_each` shows every event once, as `load`
/// would hold it, and refuses a stored value that is not an event.
#[test]
fn load_each_shows_every_event_once_as_load_holds_them() {
    let net = Net::new();
    let t = at(HOUR);
    let checkins_id = DocId::checkins("org-a", t);
    let checkins: Vec<SignedEvent> = (0..5)
        .map(|i| checkin_event(&net.m, t.plus_ms(i), CheckinStatus::Ok, None))
        .collect();
    let mut doc = Document::new(checkins_id.clone());
    doc.insert(&checkins[..3]);
    let snapshot = doc.save_for_store();
    let heads = doc.heads();
    doc.insert(&checkins[3..]);
    let chunks = [snapshot, doc.save_after(&heads)];

    let alerts_id = DocId::alerts("oaxaca", t);
    let mut alerts = Document::new(alerts_id.clone());
    alerts.insert(&[
        panic_event(&net.m, t),
        alert_action(
            &net.s,
            t.plus_ms(1),
            Body::Ack {
                alert: alert_id(&net.m, t),
            },
        ),
    ]);

    for (id, chunks) in [
        (checkins_id, chunks.to_vec()),
        (alerts_id, vec![alerts.save()]),
    ] {
        let mut seen = Vec::new();
        let each = Document::load_each(id.clone(), &chunks, |e| {
            assert_eq!(e.event().doc, id);
            assert_eq!(e.id(), EventId::of(&e.to_bytes()));
            seen.push(e.id());
        })
        .expect("loads");
        let loaded = Document::load(id.clone(), &chunks).expect("loads");
        assert_eq!(seen.len(), loaded.len(), "each event once");
        assert_eq!(
            seen.into_iter().collect::<BTreeSet<_>>(),
            ids(loaded.events())
        );
        assert_eq!(each.heads(), loaded.heads());
        assert_eq!(each.len(), loaded.len());
        assert_eq!(each.kept_events().len(), loaded.kept_events().len());
        assert!(loaded.events().iter().all(|e| each.contains(e.id())));
    }

    // A stored value that is not an event, under an id's key or any other, fails the load.
    for key in [EventId::of(b"junk").to_string(), "junk".to_string()] {
        let mut raw = Automerge::load(&doc.save()).expect("loads");
        put_bytes(&mut raw, &key, b"not an event");
        let err = Document::load_each(DocId::checkins("org-a", t), &[raw.save()], |_| {})
            .expect_err("not an event");
        assert!(err.to_string().contains("not an event"), "{err}");
    }
}
