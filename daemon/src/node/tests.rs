//! The node's handlers without a network: a real engine and store in a temporary directory, a
//! swarm that only listens on 127.0.0.1, and the handlers called directly, their actions and
//! held answers read back.

use clap::Parser;
use protocol::control::Request;
use protocol::event::{Body, CheckinBody, CheckinStatus, Event, Role};
use protocol::ids::{DocId, SecretKey, Timestamp};

use super::*;

/// A node of organisation `casa` in `dir`, as `daemon::run` builds it (with its genesis).
fn node(dir: &std::path::Path, extra: &[&str]) -> Node {
    let data = dir.join("node");
    let args = crate::config::Args::try_parse_from(
        [
            &[
                "tejidod",
                "--data-dir",
                data.to_str().expect("utf-8 path"),
                "--org",
                "casa",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
            ][..],
            extra,
        ]
        .concat(),
    )
    .expect("arguments");
    let config = crate::config::load(args).expect("config");
    let mut engine = Engine::open(&config.store_dir(), None).expect("engine");
    engine
        .genesis(
            config.admin_key.as_ref().expect("admin key"),
            config.node_key.public(),
            "red",
            "casa",
            None,
            Timestamp::now(),
        )
        .expect("genesis");
    Node::new(&config, engine).expect("node")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs an operator request through the handler and returns its held answer.
fn operator(node: &mut Node, request: Request) -> Response {
    let (reply, mut answer) = oneshot::channel();
    node.core.handle_command(Command { request, reply });
    let Some(Reply::Operator { reply, response }) = node.core.replies.pop() else {
        panic!("no held answer");
    };
    drop(reply);
    assert!(answer.try_recv().is_err(), "answers wait for the flush");
    response
}

/// Adds a member of `casa` in `region` through the engine, as a redeemed invite does.
fn add_member(node: &mut Node, member: &SecretKey, region: &str) {
    let body = Body::AddMember {
        org: "casa".into(),
        member: member.public(),
        name: "Bea".into(),
        role: Role::Member,
        region: Some(region.into()),
    };
    node.core
        .sign_and_store(Signer::Admin, DocId::roster(), body)
        .expect("member added");
}

#[test]
fn declaring_a_region_is_an_admin_event_and_idempotent() {
    let rt = runtime();
    let _guard = rt.enter();
    let dir = tempfile::tempdir().expect("dir");
    let mut node = node(dir.path(), &[]);
    assert!(!node.core.engine.roster().declares("casa", "oaxaca"));
    let done = operator(
        &mut node,
        Request::DeclareRegion {
            region: "oaxaca".into(),
        },
    );
    assert!(matches!(done, Response::Done { .. }), "{done:?}");
    assert!(node.core.engine.roster().declares("casa", "oaxaca"));
    let roster_events = node.core.engine.roster_bytes().map(|b| b.len());
    // Declaring it again changes nothing.
    operator(
        &mut node,
        Request::DeclareRegion {
            region: "oaxaca".into(),
        },
    );
    assert_eq!(
        node.core.engine.roster_bytes().map(|b| b.len()),
        roster_events
    );
    // A bad slug is refused with a plain message.
    let refused = operator(
        &mut node,
        Request::DeclareRegion {
            region: "Oaxaca de Juárez".into(),
        },
    );
    assert!(
        matches!(&refused, Response::Error { message } if message.contains("a-z")),
        "{refused:?}"
    );
}

#[test]
fn a_flooding_client_is_throttled_then_disconnected() {
    let rt = runtime();
    let _guard = rt.enter();
    let dir = tempfile::tempdir().expect("dir");
    let mut node = node(dir.path(), &["--client-rate", "1"]);
    let peer = crate::net::peer_id_of(&SecretKey::generate().public()).expect("peer id");
    // A burst of three seconds' worth, then refusals, then the disconnection.
    let allowed = (0..100)
        .filter(|_| node.core.allow_client_request(peer))
        .count();
    assert_eq!(allowed, 3);
    assert!(node.core.engine.stats.throttled_requests >= CLIENT_REFUSALS_BEFORE_DISCONNECT as u64);
    assert!(node
        .core
        .actions
        .iter()
        .any(|a| matches!(a, Action::Disconnect(p) if *p == peer)));
}

#[test]
fn the_dead_mans_switch_raises_and_resolves_from_domain_types() {
    let rt = runtime();
    let _guard = rt.enter();
    let dir = tempfile::tempdir().expect("dir");
    let mut node = node(dir.path(), &["--checkin-grace", "0s"]);
    operator(
        &mut node,
        Request::DeclareRegion {
            region: "oaxaca".into(),
        },
    );
    let bea = SecretKey::generate();
    add_member(&mut node, &bea, "oaxaca");
    let checkin = |at: Timestamp, next: Option<Timestamp>| {
        SignedEvent::sign(
            Event {
                author: bea.public(),
                at,
                seq: (at).0 as u64,
                doc: DocId::checkins("casa", at),
                body: Body::Checkin(CheckinBody {
                    next_due: next,
                    sealed: protocol::private::CheckinPrivate::without_code(
                        CheckinStatus::Ok,
                        String::new(),
                    )
                    .seal(&bea.public(), at, &[bea.public()])
                    .expect("seal"),
                }),
            },
            &bea,
        )
        .expect("check-in")
    };
    let now = Timestamp::now();
    node.core
        .engine
        .submit(
            Some(bea.public()),
            vec![checkin(now.plus_ms(-10_000), Some(now.plus_ms(-5_000)))],
            now,
        )
        .expect("stored");
    node.core.on_watch();
    let open = node.core.engine.open_missed_checkins(Timestamp::now());
    assert_eq!(open.len(), 1, "one missed check-in raised");
    assert_eq!(open[0].subject, bea.public());
    // The alert is offered to peers and gossiped (as actions; no peer is connected here, so
    // only the gossip).
    assert!(node
        .core
        .actions
        .iter()
        .any(|a| matches!(a, Action::Publish(_))));
    // Watching again raises nothing more; a later check-in resolves it.
    node.core.on_watch();
    assert_eq!(
        node.core
            .engine
            .open_missed_checkins(Timestamp::now())
            .len(),
        1
    );
    let later = Timestamp::now();
    node.core
        .engine
        .submit(Some(bea.public()), vec![checkin(later, None)], later)
        .expect("stored");
    node.core.on_watch();
    assert!(node
        .core
        .engine
        .open_missed_checkins(Timestamp::now())
        .is_empty());
}

/// The identity inside an invite code the operator asked for, valid for `ttl_secs`.
fn invite_identity(node: &mut Node, ttl_secs: u64) -> libp2p::PeerId {
    // The code carries the node's addresses; the swarm has not reported any here.
    if node.core.listeners.is_empty() {
        node.core.listeners = vec!["/ip4/127.0.0.1/tcp/1".parse().expect("address")];
    }
    let response = operator(
        node,
        Request::InviteMember {
            name: "Ana".into(),
            role: Role::Member,
            region: Some("oaxaca".into()),
            ttl_secs,
        },
    );
    let Response::Invite { code, .. } = response else {
        panic!("no invite: {response:?}");
    };
    let identity = protocol::wire::InviteCode::decode(&code)
        .expect("invite code")
        .identity();
    crate::net::peer_id_of(&identity.public()).expect("peer id")
}

#[test]
fn the_gate_admits_members_and_invites_but_only_nodes_are_served() {
    let rt = runtime();
    let _guard = rt.enter();
    let dir = tempfile::tempdir().expect("dir");
    let mut node = node(dir.path(), &[]);
    // A member without a region: an AddMember signed in the same millisecond as the
    // DeclareRegion it needs may sort before it in the roster fold and be dropped there.
    let bea = SecretKey::generate();
    node.core
        .sign_and_store(
            Signer::Admin,
            DocId::roster(),
            Body::AddMember {
                org: "casa".into(),
                member: bea.public(),
                name: "Bea".into(),
                role: Role::Member,
                region: None,
            },
        )
        .expect("member added");
    let other_node = SecretKey::generate();
    node.core
        .sign_and_store(
            Signer::Admin,
            DocId::roster(),
            Body::AddNode {
                org: "casa".into(),
                node: other_node.public(),
                addrs: Vec::new(),
            },
        )
        .expect("node added");
    let live = invite_identity(&mut node, 3600);
    let expired = invite_identity(&mut node, 0);
    node.core.refresh_gate();

    let peer = |k: &SecretKey| crate::net::peer_id_of(&k.public()).expect("peer id");
    let allowed = &node.core.allowed;
    assert!(allowed.contains(&peer(&bea)) && allowed.contains(&peer(&other_node)));
    assert!(allowed.contains(&live) && !allowed.contains(&expired));
    assert_eq!(
        node.core.nodes,
        HashSet::from([peer(&other_node)]),
        "members and invite identities are admitted, not served"
    );
    assert!(node.core.actions.iter().any(
        |a| matches!(a, Action::ServeNodes(nodes) if *nodes == HashSet::from([peer(&other_node)]))
    ));
    // The expired invite is gone from the store, the live one kept.
    assert_eq!(
        node.core.engine.store().invites().expect("invites").len(),
        1
    );
}

#[test]
fn a_nodes_sequence_numbers_never_repeat_across_a_crash() {
    let dir = tempfile::tempdir().expect("dir");
    let mut used = std::collections::BTreeSet::new();
    let key = SecretKey::generate().public();
    {
        let mut engine = Engine::open(&dir.path().join("store"), None).expect("engine");
        for _ in 0..3 {
            assert!(used.insert(engine.next_seq(&key).expect("seq")));
        }
        // Dropped without a flush of anything but the reservation: as after kill -9.
    }
    let mut engine = Engine::open(&dir.path().join("store"), None).expect("engine");
    let next = engine.next_seq(&key).expect("seq");
    assert!(next > *used.last().expect("used"), "{next} after {used:?}");
    assert_eq!(used.first(), Some(&1), "numbering starts at 1");
}

/// A member's panic signed now in `region`.
fn panic_of(member: &SecretKey, region: &str, at: Timestamp) -> SignedEvent {
    use protocol::event::{AlertBody, AlertKind, Certainty, Severity, Urgency};
    let body = AlertBody {
        id: AlertBody::id_for(&member.public(), at),
        kind: AlertKind::Panic,
        severity: Severity::Extreme,
        urgency: Urgency::Immediate,
        certainty: Certainty::Observed,
        region: region.into(),
        org: "casa".into(),
        text: "auxilio".into(),
        expires_at: None,
        subject: None,
        due: None,
    };
    SignedEvent::sign(
        Event {
            author: member.public(),
            at,
            seq: at.0 as u64,
            doc: DocId::alerts(region, at),
            body: Body::Alert(Box::new(body)),
        },
        member,
    )
    .expect("panic")
}

/// Several member requests in one turn are checked at once and stored together at its end:
/// one automerge change for the document, before the flush that their `Stored` waits for;
/// an acknowledgement of an alert staged earlier in the turn finds it.
#[test]
fn the_requests_of_one_turn_are_one_change_stored_before_the_flush() {
    let rt = runtime();
    let _guard = rt.enter();
    let dir = tempfile::tempdir().expect("dir");
    let mut node = node(dir.path(), &[]);
    operator(
        &mut node,
        Request::DeclareRegion {
            region: "oaxaca".into(),
        },
    );
    let bea = SecretKey::generate();
    add_member(&mut node, &bea, "oaxaca");
    let peer = crate::net::peer_id_of(&bea.public()).expect("peer id");
    let now = Timestamp::now();
    let doc = DocId::alerts("oaxaca", now);
    let panics: Vec<SignedEvent> = (0..3)
        .map(|i| panic_of(&bea, "oaxaca", now.plus_ms(-1_000 + i)))
        .collect();
    let changes_before = node.core.engine.stats.applied_changes;
    let mut answered = Vec::new();
    for p in &panics {
        let answer = node.core.handle_client(
            peer,
            protocol::wire::ClientRequestV0::Submit {
                events: vec![p.clone()],
            },
        );
        let ClientResponseV0::Stored { ids, .. } = answer else {
            panic!("not stored: {answer:?}");
        };
        answered.extend(ids);
    }
    let first = panics[0].event().body.created_alert().expect("an alert");
    let ack = SignedEvent::sign(
        Event {
            author: bea.public(),
            at: now,
            seq: now.0 as u64,
            doc: doc.clone(),
            body: Body::Ack { alert: first },
        },
        &bea,
    )
    .expect("ack");
    let answer = node.core.handle_client(
        peer,
        protocol::wire::ClientRequestV0::Submit {
            events: vec![ack.clone()],
        },
    );
    assert!(
        matches!(answer, ClientResponseV0::Stored { .. }),
        "{answer:?}"
    );
    assert_eq!(
        answered,
        panics.iter().map(|p| p.id()).collect::<Vec<_>>(),
        "each request names its own event"
    );
    // Nothing is in the document yet, and nothing was written.
    assert!(node.core.engine.has_staged());
    assert!(!node.core.engine.has_doc(&doc));
    assert_eq!(node.core.engine.stats.applied_changes, changes_before);

    rt.block_on(node.finish_turn());
    assert!(!node.core.engine.has_staged());
    assert_eq!(
        node.core.engine.stats.applied_changes,
        changes_before + 1,
        "four requests, one change"
    );
    let held: Vec<_> = node
        .core
        .engine
        .docs()
        .filter(|d| *d.id() == doc)
        .flat_map(|d| d.each_event().map(|e| e.id()).collect::<Vec<_>>())
        .collect();
    assert_eq!(held.len(), 4);
    for e in panics.iter().chain([&ack]) {
        assert!(held.contains(&e.id()));
    }
    // The change is on disk: a fresh engine on the same store holds the four events.
    drop(node);
    let reopened = Engine::open(&dir.path().join("node").join("store"), None).expect("reopen");
    let events = reopened
        .docs()
        .find(|d| *d.id() == doc)
        .map_or(0, |d| d.len());
    assert_eq!(events, 4);
}
