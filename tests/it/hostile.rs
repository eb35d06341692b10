//! Peers that should get nothing or be believed in nothing, driven in-process (their messages
//! are crafted by hand) against real `tejidod` processes.

use std::time::Duration;

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use futures::StreamExt;
use libp2p::request_response::{self, Message, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId};
use protocol::event::{
    AlertBody, AlertKind, Body, Certainty, Event, Severity, SignedEvent, Urgency,
};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::wire::{
    ClientRequestV0, ClientResponseV0, NodeContact, SyncRequestV0, SyncResponseV0,
};
use tests::peer::SyncPeer;
use tests::{node_args, pin_member_to, wait_converged, Member, Node, TestDir};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub(crate) fn node_addr(node: &Node) -> (PeerId, Multiaddr) {
    let status = node.status();
    let peer: PeerId = status["peer_id"]
        .as_str()
        .expect("peer_id")
        .parse()
        .expect("peer id");
    let addr: Multiaddr = status["listen_addrs"][0]
        .as_str()
        .expect("addr")
        .parse()
        .expect("multiaddr");
    (peer, addr)
}

/// A key with a valid libp2p identity but not in the roster connects to a node: it is
/// disconnected after the handshake and no request of it gets an answer.
#[test]
fn outsider_gets_no_answer() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    bea.json(&["panic", "--note", "secreto"]);
    let (peer, addr) = node_addr(&a);

    let rt = runtime();
    let outsider = SecretKey::generate();
    let summary = rt.block_on(SyncPeer::new(&outsider).expect("peer").request(
        peer,
        &addr,
        SyncRequestV0::Summary {
            docs: Vec::new(),
            now: None,
        },
    ));
    assert!(summary.is_err(), "an outsider got a summary: {summary:?}");

    // The member protocol is closed to it too.
    let answers = rt
        .block_on(daemon::net::request_all(
            &outsider,
            &[NodeContact {
                key: a.id().parse().expect("key"),
                addrs: vec![addr.to_string()],
            }],
            ClientRequestV0::Alerts {
                region: None,
                open_only: false,
            },
        ))
        .expect("request");
    assert!(
        answers.iter().all(|(_, r)| r.is_err()),
        "an outsider got an answer: {answers:?}"
    );
    assert!(a.status()["refused_connections"].as_u64().expect("counter") >= 2);
}

/// Joins `a`'s network as a node of organisation `evil` from in-process keys.
pub(crate) fn join_as_node(
    rt: &tokio::runtime::Runtime,
    a: &Node,
    node: &SecretKey,
    admin: &SecretKey,
) {
    rt.block_on(tests::peer::join_as_node(
        &a.invite_node(),
        "evil",
        node,
        admin,
    ))
    .expect("joining as a node");
}

/// Runs automerge sync of `doc` with the node until neither side has more to say; returns
/// the first refusal, if any.
pub(crate) async fn sync_raw(
    peer: &mut SyncPeer,
    node: PeerId,
    addr: &Multiaddr,
    id: &DocId,
    doc: &mut automerge::Automerge,
    state: &mut automerge::sync::State,
) -> Result<(), String> {
    for _ in 0..50 {
        let Some(msg) = doc.generate_sync_message(state) else {
            return Ok(());
        };
        match peer
            .request(
                node,
                addr,
                SyncRequestV0::Sync {
                    doc: id.clone(),
                    msg: msg.encode(),
                },
            )
            .await?
        {
            SyncResponseV0::Sync {
                msg: Some(reply), ..
            } => {
                let reply = automerge::sync::Message::decode(&reply).map_err(|e| e.to_string())?;
                doc.receive_sync_message(state, reply)
                    .map_err(|e| e.to_string())?;
            }
            SyncResponseV0::Sync { msg: None, .. } => {}
            SyncResponseV0::Refused { reason } => return Err(reason),
            SyncResponseV0::Summary { .. } => return Err("unexpected summary".into()),
        }
    }
    Err("sync did not settle".into())
}

pub(crate) fn put_raw(doc: &mut automerge::Automerge, bytes: &[u8]) -> String {
    let key = protocol::event::EventId::of(bytes).to_string();
    let mut tx = doc.transaction();
    tx.put(
        automerge::ROOT,
        key.clone(),
        automerge::ScalarValue::Bytes(bytes.to_vec()),
    )
    .expect("put");
    tx.commit();
    key
}

/// Node A, node C that dials only A, and Bea, a member who uses A.
pub(crate) fn a_and_c(t: &TestDir) -> (Node, Node, Member) {
    let a = Node::start(t, "a", "red-oax");
    let c = Node::start_with(t, "c", &node_args("casa-chis"));
    c.join_network(&a.invite_node());
    let bea = Member::join(t, "bea", &a.invite("Bea", "member", "oaxaca"));
    pin_member_to(&bea, &a);
    (a, c, bea)
}

/// A trusted node that turns hostile sends a forged change and an out-of-role change: the
/// node refuses both, stores neither, and a third node never receives them.
#[test]
fn hostile_trusted_node_is_refused_and_not_relayed() {
    let t = TestDir::new();
    let (a, c, bea) = a_and_c(&t);
    let panic = bea.json(&["panic", "--note", "auxilio"]);
    let panic_id = panic["id"].as_str().expect("id").to_string();

    let rt = runtime();
    let evil_node = SecretKey::generate();
    let evil_admin = SecretKey::generate();
    join_as_node(&rt, &a, &evil_node, &evil_admin);
    let (a_peer, a_addr) = node_addr(&a);
    let mut peer = SyncPeer::new(&evil_node).expect("peer");

    // First an honest exchange, so the hostile copy shares the node's history.
    let now = Timestamp::now();
    let doc_id = DocId::alerts("oaxaca", now);
    let mut doc = automerge::Automerge::new();
    let mut state = automerge::sync::State::new();
    rt.block_on(sync_raw(
        &mut peer, a_peer, &a_addr, &doc_id, &mut doc, &mut state,
    ))
    .expect("honest sync");
    let held: Vec<String> = automerge::ReadDoc::keys(&doc, automerge::ROOT).collect();
    assert!(
        !held.is_empty(),
        "the hostile node, still trusted, received the alerts document"
    );
    let rejected_before = a.status()["rejected_changes"].as_u64().expect("counter");

    // 1. A forged change: Bea's panic with its text altered (the signature no longer holds).
    let forged = forged_panic(&evil_admin);
    put_raw(&mut doc, &forged);
    let refused = rt.block_on(sync_raw(
        &mut peer, a_peer, &a_addr, &doc_id, &mut doc, &mut state,
    ));
    assert!(refused.is_err(), "a forged change was accepted");

    // 2. An out-of-role change: a node raising a panic (only members raise panics).
    let mut doc2 = automerge::Automerge::new();
    let mut state2 = automerge::sync::State::new();
    rt.block_on(sync_raw(
        &mut peer,
        a_peer,
        &a_addr,
        &doc_id,
        &mut doc2,
        &mut state2,
    ))
    .expect("honest sync");
    let out_of_role = alert_by(&evil_node, AlertKind::Panic, "pánico de un nodo");
    put_raw(&mut doc2, &out_of_role.to_bytes());
    let refused = rt.block_on(sync_raw(
        &mut peer,
        a_peer,
        &a_addr,
        &doc_id,
        &mut doc2,
        &mut state2,
    ));
    let reason = refused.expect_err("an out-of-role change was accepted");
    assert!(reason.contains("not allowed"), "{reason}");

    assert!(a.status()["rejected_changes"].as_u64().expect("counter") >= rejected_before + 2);
    // Neither is stored by A, nor relayed to C; the honest panic is everywhere, with the
    // receipt of A, the one node of Bea's organisation (C's has no security contact for
    // Oaxaca, so C signs none).
    tests::wait_for("the receipt", || {
        let shown = bea.json(&["alert", "show", &panic_id]);
        (shown["held_by"].as_array().map(Vec::len) == Some(1) && shown["network_nodes"] == 1)
            .then_some(())
    });
    wait_converged(&[&a, &c]);
    for node in [&a, &c] {
        let alerts = node.tejido(&["alerts", "--json"]).json();
        let ids: Vec<&str> = alerts
            .as_array()
            .expect("alerts")
            .iter()
            .map(|x| x["id"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(ids, [panic_id.as_str()], "only the honest panic");
        let docs = node.tejido(&["docs", "--json"]).json();
        let events = |doc: &str| -> u64 {
            docs.as_array()
                .expect("docs")
                .iter()
                .filter(|d| d["doc"] == doc)
                .map(|d| d["events"].as_u64().unwrap_or(0))
                .sum()
        };
        // The panic alone in its document; A's receipt for it in theirs (C signs none).
        assert_eq!(events(doc_id.as_str()), 1);
        let receipts = DocId::receipts_for(&doc_id).expect("an alerts document");
        assert_eq!(events(receipts.as_str()), 1);
    }
    // The refusals are logged with the peer.
    let log = a.log();
    assert!(
        log.contains("refused sync message")
            && log.contains(
                &daemon::net::peer_id_of(&evil_node.public())
                    .expect("peer")
                    .to_string()
            )
    );
}

/// A member whose device floods the node is throttled, then disconnected; the node's memory
/// stays bounded and it keeps serving everyone else.
#[test]
fn flooding_member_is_throttled_and_memory_stays_bounded() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let flood = Member::join(&t, "flood", &a.invite("Flood", "member", "oaxaca"));
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let key_bytes: [u8; 32] = std::fs::read(flood.home.join("member.key"))
        .expect("key")
        .try_into()
        .expect("32 bytes");
    let key = SecretKey::from_bytes(key_bytes);
    let (peer, addr) = node_addr(&a);
    let rss_before = a.rss_kib();

    let rt = runtime();
    let (served, throttled, failed) = rt.block_on(async {
        let behaviour: request_response::cbor::Behaviour<
            protocol::wire::ClientRequest,
            protocol::wire::ClientResponse,
        > = daemon::net::request_response_behaviour(
            protocol::wire::CLIENT_PROTOCOL,
            ProtocolSupport::Outbound,
        );
        let mut swarm =
            daemon::net::build_swarm(&key, behaviour, Duration::from_secs(60)).expect("swarm");
        swarm.add_peer_address(peer, addr.clone());
        let total = 2000;
        let mut sent = 0;
        let (mut served, mut throttled, mut failed) = (0, 0, 0);
        let deadline = tokio::time::sleep(Duration::from_secs(60));
        tokio::pin!(deadline);
        while served + throttled + failed < total {
            // Keep up to 64 requests in flight: a flood, as fast as the node answers.
            while sent < total && sent - (served + throttled + failed) < 64 {
                swarm.behaviour_mut().send_request(
                    &peer,
                    protocol::wire::ClientRequest::V0(ClientRequestV0::Whoami),
                );
                sent += 1;
            }
            let event = tokio::select! {
                _ = &mut deadline => break,
                event = swarm.select_next_some() => event,
            };
            match event {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message:
                        Message::Response {
                            response: protocol::wire::ClientResponse::V0(r),
                            ..
                        },
                    ..
                }) => match r {
                    ClientResponseV0::Profile { .. } => served += 1,
                    ClientResponseV0::Error { message, .. } if message.contains("too many") => {
                        throttled += 1
                    }
                    other => panic!("unexpected answer {other:?}"),
                },
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure { .. }) => {
                    failed += 1
                }
                _ => {}
            }
        }
        (served, throttled, failed)
    });
    assert!(served >= 1, "the first requests are served");
    assert!(
        throttled >= 1,
        "the flood is throttled: {served} served, {failed} failed"
    );
    assert!(
        failed >= 1,
        "and the peer is disconnected: {served} served, {throttled} throttled"
    );
    let status = a.status();
    assert!(status["throttled_requests"].as_u64().expect("counter") >= throttled);
    // Memory stays bounded, and the node keeps serving others.
    let rss_after = a.rss_kib();
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    assert_eq!(bea.json(&["whoami"])["name"], "Bea");
}

/// A panic by `author` whose text was altered after signing: the signature no longer holds.
fn forged_panic(author: &SecretKey) -> Vec<u8> {
    let genuine = alert_by(author, AlertKind::Panic, "falsa alarma AAAA");
    let mut forged = genuine.to_bytes();
    let pos = forged
        .windows(4)
        .position(|w| w == b"AAAA")
        .expect("text in bytes");
    forged[pos] = b'B';
    forged
}

/// An alert of `kind` by `author` of the organisation "evil", now (signed, so valid unless
/// the roster says otherwise).
pub(crate) fn alert_by(author: &SecretKey, kind: AlertKind, text: &str) -> SignedEvent {
    alert_in(author, kind, "oaxaca", "evil", text, Timestamp::now())
}

/// An alert of `kind` by `author` for `region` and `org` at `at`, with the id derived from
/// author and time.
pub(crate) fn alert_in(
    author: &SecretKey,
    kind: AlertKind,
    region: &str,
    org: &str,
    text: &str,
    at: Timestamp,
) -> SignedEvent {
    SignedEvent::sign(
        Event {
            author: author.public(),
            at,
            seq: (at).0 as u64,
            doc: DocId::alerts(region, at),
            body: Body::Alert(Box::new(AlertBody {
                id: AlertBody::id_for(&author.public(), at),
                kind,
                severity: Severity::Extreme,
                urgency: Urgency::Immediate,
                certainty: Certainty::Observed,
                region: region.into(),
                org: org.into(),
                text: text.into(),
                expires_at: None,
                subject: None,
                due: None,
            })),
        },
        author,
    )
    .expect("sign")
}

/// An in-process gossipsub peer holding `key`, subscribed to the alerts topic and dialling the
/// node at `addr` (call inside a runtime).
pub(crate) fn gossip_swarm(
    key: &SecretKey,
    node: PeerId,
    addr: &Multiaddr,
) -> libp2p::Swarm<libp2p::gossipsub::Behaviour> {
    let mut swarm = daemon::net::build_swarm(
        key,
        daemon::gossip::behaviour(key).expect("gossipsub"),
        Duration::from_secs(60),
    )
    .expect("swarm");
    swarm
        .behaviour_mut()
        .subscribe(&daemon::gossip::alerts_topic())
        .expect("subscribe");
    swarm
        .dial(addr.clone().with(libp2p::multiaddr::Protocol::P2p(node)))
        .expect("dial");
    swarm
}

/// A trusted node that turns hostile publishes a forged alert, an out-of-role alert and
/// garbage on the gossip topic: the node rejects all three, counts them, logs the peer, and
/// forwards none of them to the next node, where none shows. (That the node does forward to
/// the next node what it accepts is shown first, with valid alerts from the same peer.)
#[test]
fn hostile_gossip_is_rejected_and_never_forwarded() {
    let t = TestDir::new();
    let (a, c, bea) = a_and_c(&t);

    let rt = runtime();
    let evil_node = SecretKey::generate();
    let evil_admin = SecretKey::generate();
    join_as_node(&rt, &a, &evil_node, &evil_admin);
    wait_converged(&[&a, &c]);
    let (a_peer, a_addr) = node_addr(&a);

    let forged = forged_panic(&evil_admin);
    // Only members raise panics: a node's panic is out of its role.
    let out_of_role = alert_by(&evil_node, AlertKind::Panic, "pánico de un nodo");
    let messages = [
        forged,
        out_of_role.to_bytes(),
        b"not an event at all".to_vec(),
    ];

    let _in_runtime = rt.enter();
    let mut swarm = gossip_swarm(&evil_node, a_peer, &a_addr);
    let rejected_before = a.status()["gossip_rejected"].as_u64().expect("counter");
    let accepted = |n: &Node| n.status()["gossip_accepted"].as_u64().unwrap_or(0);
    let c_accepted_before = accepted(&c);
    rt.block_on(async {
        // 1. Once A is subscribed, publish valid alerts (the hostile node's admin may broadcast
        //    them) until one reaches C through A: A forwards what it accepts.
        // 2. Then the three bad messages, and wait until A has judged them.
        let deadline = tokio::time::sleep(Duration::from_secs(60));
        tokio::pin!(deadline);
        let mut subscribed = false;
        let mut forwarding = false;
        let mut valid = 0;
        let mut check = tokio::time::interval(Duration::from_millis(300));
        loop {
            tokio::select! {
                _ = &mut deadline => panic!("A never judged the gossip (forwarding seen: {forwarding})"),
                event = swarm.select_next_some() => {
                    if let SwarmEvent::Behaviour(libp2p::gossipsub::Event::Subscribed { peer_id, .. }) = event {
                        subscribed |= peer_id == a_peer;
                    }
                }
                _ = check.tick() => {
                    if !subscribed {
                        continue;
                    }
                    if !forwarding {
                        if accepted(&c) > c_accepted_before {
                            forwarding = true;
                            for m in &messages {
                                swarm
                                    .behaviour_mut()
                                    .publish(daemon::gossip::alerts_topic(), m.clone())
                                    .expect("publish");
                            }
                        } else {
                            let alert = alert_by(&evil_admin, AlertKind::Alert, &format!("aviso válido {valid}"));
                            valid += 1;
                            let _ = swarm
                                .behaviour_mut()
                                .publish(daemon::gossip::alerts_topic(), alert.to_bytes());
                        }
                    } else if a.status()["gossip_rejected"].as_u64().unwrap_or(0)
                        >= rejected_before + 3
                    {
                        break;
                    }
                }
            }
        }
    });

    // An honest panic still goes through, by gossip and by sync.
    let honest = bea.json(&["panic", "--note", "auxilio"]);
    let honest_id = honest["id"].as_str().expect("id").to_string();
    tests::wait_for("the honest panic on C", || {
        let alerts = c.tejido(&["alerts", "--json"]).json();
        (alerts[0]["id"] == honest_id.as_str()).then_some(())
    });
    wait_converged(&[&a, &c]);
    for node in [&a, &c] {
        let alerts = node.tejido(&["alerts", "--json"]).json();
        let texts: Vec<&str> = alerts
            .as_array()
            .expect("alerts")
            .iter()
            .map(|x| x["text"].as_str().unwrap_or(""))
            .collect();
        assert!(texts.contains(&"auxilio"), "{texts:?}");
        assert!(
            !texts
                .iter()
                .any(|t| t.contains("alarma") || t.contains("pánico de un nodo")),
            "{texts:?}"
        );
    }
    // C, to which A forwards what it accepts, never saw the hostile messages.
    assert_eq!(c.status()["gossip_rejected"], 0);
    let log = a.log();
    assert!(
        log.contains("refused gossiped alert")
            && log.contains(
                &daemon::net::peer_id_of(&evil_node.public())
                    .expect("peer")
                    .to_string()
            ),
        "the refusals are logged with the peer"
    );
}
