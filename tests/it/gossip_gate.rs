//! Being allowed at the gate is not being a node. The gate admits every
//! member key and the one-time identity of every pending invite; these tests show that only
//! active nodes get gossip, sync, identify and the relay, that an invite identity can redeem and
//! nothing else, and that it is gone as soon as its invite is used. Every peer here is an
//! in-process libp2p swarm holding a key that a captor could hold (a seized member device, an
//! intercepted invite code), against real `tejidod` processes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use libp2p::request_response::{self, Message, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, Multiaddr, PeerId, Swarm};
use protocol::ids::SecretKey;
use protocol::wire::{
    ClientRequest, ClientRequestV0, ClientResponse, ClientResponseV0, ErrorKind, InviteCode,
    NodeContact, SyncRequestV0,
};
use tests::peer::SyncPeer;
use tests::{Member, Node, TestDir};

use crate::door::member_key;
use crate::hostile::{a_and_c, gossip_swarm, node_addr, runtime};
use crate::safety::run_with_stdin;

/// How long a watcher keeps listening after a real node has received a gossiped alert: a few
/// gossipsub heartbeats (1 s each), time enough for anything sent to the watcher to arrive.
const GRACE: Duration = Duration::from_secs(3);

/// The one-time identity inside an invite code.
fn invite_identity(code: &str) -> SecretKey {
    InviteCode::decode(code).expect("invite code").identity()
}

/// The gossip counter of a node: alerts it accepted from gossip.
fn gossip_accepted(node: &Node) -> u64 {
    node.status()["gossip_accepted"].as_u64().unwrap_or(0)
}

/// Where a gossip watcher stands with the node.
#[derive(Debug)]
enum Standing {
    /// The node told the watcher it is subscribed to the alerts topic: they speak gossipsub.
    Subscribed,
    /// The node does not speak gossipsub with the watcher.
    NotSupported,
}

/// Drives `watcher` (subscribed to the alerts topic, dialling node A at `a_peer`, built in
/// `rt`) until it is connected and knows where it stands with A: A's subscription, or A
/// refusing gossipsub. The connection must stay open (the watcher is allowed, only not served).
fn standing(
    rt: &tokio::runtime::Runtime,
    watcher: &mut Swarm<gossipsub::Behaviour>,
    a_peer: PeerId,
) -> Standing {
    rt.block_on(async {
        let deadline = tokio::time::sleep(tests::WAIT);
        tokio::pin!(deadline);
        let mut connected = false;
        let mut standing = None;
        loop {
            if let (true, Some(standing)) = (connected, standing.take()) {
                return standing;
            }
            tokio::select! {
                _ = &mut deadline => panic!("the watcher never learnt where it stands with the node"),
                event = watcher.select_next_some() => match event {
                    SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == a_peer => connected = true,
                    SwarmEvent::Behaviour(gossipsub::Event::Subscribed { peer_id, .. }) if peer_id == a_peer => {
                        standing = Some(Standing::Subscribed)
                    }
                    SwarmEvent::Behaviour(gossipsub::Event::GossipsubNotSupported { peer_id }) if peer_id == a_peer => {
                        standing = Some(Standing::NotSupported)
                    }
                    SwarmEvent::ConnectionClosed { peer_id, .. } if peer_id == a_peer => {
                        panic!("the node closed the watcher's connection: it must be allowed, only not served")
                    }
                    _ => {}
                },
            }
        }
    })
}

/// Calls `raise` every half second on another thread until node `c`, a real node connected
/// to A, has accepted an alert by gossip, driving `watcher` meanwhile and for [`GRACE`] after;
/// returns the messages the watcher received.
fn watch_gossip(
    rt: &tokio::runtime::Runtime,
    watcher: &mut Swarm<gossipsub::Behaviour>,
    c: &Node,
    raise: impl Fn(usize) + Sync,
) -> Vec<gossipsub::Message> {
    let mut messages = Vec::new();
    let before = gossip_accepted(c);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..30 {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                raise(i);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        rt.block_on(async {
            let deadline = tokio::time::sleep(tests::WAIT);
            tokio::pin!(deadline);
            let mut check = tokio::time::interval(Duration::from_millis(300));
            loop {
                tokio::select! {
                    _ = &mut deadline => {
                        done.store(true, Ordering::SeqCst);
                        panic!("no alert reached the real node by gossip");
                    }
                    event = watcher.select_next_some() => {
                        if let SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) = event {
                            messages.push(message);
                        }
                    }
                    _ = check.tick() => {
                        if gossip_accepted(c) > before {
                            done.store(true, Ordering::SeqCst);
                            break;
                        }
                    }
                }
            }
            let grace = tokio::time::sleep(GRACE);
            tokio::pin!(grace);
            loop {
                tokio::select! {
                    _ = &mut grace => break,
                    event = watcher.select_next_some() => {
                        if let SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) = event {
                            messages.push(message);
                        }
                    }
                }
            }
        });
    });
    messages
}

/// Fails the test if `messages` holds anything, showing the first.
fn assert_none(messages: &[gossipsub::Message], who: &str) {
    assert!(
        messages.is_empty(),
        "{who} received {} gossiped alert(s), the first: {:?}",
        messages.len(),
        messages
            .first()
            .and_then(|m| protocol::event::SignedEvent::decode(&m.data).ok())
            .map(|e| e.event().body.clone())
    );
}

/// Someone who intercepted an unredeemed invite code derives its identity, which the node
/// admits, and subscribes to the alerts topic. Panics are raised: the real node C receives
/// them by gossip; the invite identity receives nothing, and the node never even speaks
/// gossipsub with it.
#[test]
fn an_invite_identity_subscribing_to_gossip_receives_no_alert() {
    let t = TestDir::new();
    let (a, c, bea) = a_and_c(&t);
    let code = a.invite("Ana", "member", "oaxaca");
    let identity = invite_identity(&code);
    let (a_peer, a_addr) = node_addr(&a);
    let rt = runtime();
    let mut watcher = {
        let _in_runtime = rt.enter();
        gossip_swarm(&identity, a_peer, &a_addr)
    };
    let standing = standing(&rt, &mut watcher, a_peer);
    let messages = watch_gossip(&rt, &mut watcher, &c, |i| {
        bea.json(&["panic", "--note", &format!("auxilio {i}")]);
    });
    assert_none(&messages, "the invite identity");
    assert!(
        matches!(standing, Standing::NotSupported),
        "the node speaks gossipsub with an invite identity: {standing:?}"
    );
    // The invite is still good: the identity may redeem it.
    let ana = Member::join(&t, "ana", &code);
    assert_eq!(ana.json(&["whoami"])["name"], "Ana");
}

/// A captor holding a member's device listens to gossip with the member's own key while the
/// member checks in under duress and raises panics. The real node C receives the panics by
/// gossip; the member's key receives nothing at all (the duress alert is not gossiped in the
/// first place, `safety_net::a_duress_alert_is_never_gossiped`).
#[test]
fn a_members_key_subscribing_to_gossip_receives_nothing_of_its_own_alerts() {
    let t = TestDir::new();
    let (a, c, bea) = a_and_c(&t);
    let set = run_with_stdin(&bea, &["duress", "set"], "9999\n");
    assert!(set.ok().contains("Duress code set"), "{set:?}");
    let key = member_key(&bea);
    let (a_peer, a_addr) = node_addr(&a);
    let rt = runtime();
    let mut watcher = {
        let _in_runtime = rt.enter();
        gossip_swarm(&key, a_peer, &a_addr)
    };
    let standing = standing(&rt, &mut watcher, a_peer);
    let messages = watch_gossip(&rt, &mut watcher, &c, |i| {
        let note = format!("todo bien {i}");
        bea.run(&["checkin", "--code", "9999", "--note", &note])
            .ok();
        bea.json(&["panic", "--note", &format!("auxilio {i}")]);
    });
    assert_none(
        &messages,
        "during her duress check-ins and panics, the member's key",
    );
    assert!(
        matches!(standing, Standing::NotSupported),
        "the node speaks gossipsub with a member's key: {standing:?}"
    );
}

/// The node's answer to an identify request from `key`, or why there was none.
fn identify_as(key: &SecretKey, peer: PeerId, addr: &Multiaddr) -> Result<Vec<String>, String> {
    let rt = runtime();
    rt.block_on(async {
        let behaviour = libp2p::identify::Behaviour::new(libp2p::identify::Config::new(
            "/tejido/id/1".into(),
            daemon::net::keypair(key).public(),
        ));
        let mut swarm = daemon::net::build_swarm(key, behaviour, Duration::from_secs(60))
            .expect("swarm");
        swarm
            .dial(addr.clone().with(libp2p::multiaddr::Protocol::P2p(peer)))
            .expect("dial");
        let deadline = tokio::time::sleep(tests::WAIT);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return Err("no identify answer and no refusal".to_string()),
                event = swarm.select_next_some() => match event {
                    SwarmEvent::Behaviour(libp2p::identify::Event::Received { peer_id, info, .. }) if peer_id == peer => {
                        let mut told: Vec<String> = info.listen_addrs.iter().map(|a| a.to_string()).collect();
                        told.extend(info.protocols.iter().map(|p| p.to_string()));
                        return Ok(told);
                    }
                    SwarmEvent::Behaviour(libp2p::identify::Event::Error { peer_id, error, .. }) if peer_id == peer => {
                        return Err(error.to_string());
                    }
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        panic!("the node refused the connection: it must be allowed, only not served ({error})")
                    }
                    _ => {}
                },
            }
        }
    })
}

/// An invite identity, which the node admits so that it can redeem, asks for everything else:
/// a sync summary, identify (the node's addresses and protocols), the member requests. The
/// node speaks neither sync nor identify with it, and refuses every client request but
/// redemption, which still works afterwards.
#[test]
fn an_invite_identity_can_redeem_and_nothing_else() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    bea.json(&["panic", "--note", "secreto"]);
    let code = a.invite("Ana", "member", "oaxaca");
    let identity = invite_identity(&code);
    let (a_peer, a_addr) = node_addr(&a);
    let rt = runtime();

    let summary = rt.block_on(SyncPeer::new(&identity).expect("peer").request(
        a_peer,
        &a_addr,
        SyncRequestV0::Summary {
            docs: Vec::new(),
            now: None,
        },
    ));
    assert!(
        summary.is_err(),
        "the node speaks sync with an invite identity: {summary:?}"
    );

    let told = identify_as(&identity, a_peer, &a_addr);
    assert!(
        told.is_err(),
        "the node told an invite identity its addresses and protocols: {told:?}"
    );

    let contact = [NodeContact {
        key: a.id().parse().expect("key"),
        addrs: vec![a_addr.to_string()],
    }];
    for request in [
        ClientRequestV0::Whoami,
        ClientRequestV0::Alerts {
            region: None,
            open_only: false,
        },
        ClientRequestV0::Directory { region: None },
        ClientRequestV0::ShelterRequests,
    ] {
        let answers = rt
            .block_on(daemon::net::request_all(
                &identity,
                &contact,
                request.clone(),
            ))
            .expect("request");
        assert!(
            matches!(
                answers.as_slice(),
                [(
                    _,
                    Ok(ClientResponseV0::Error {
                        kind: ErrorKind::Forbidden,
                        ..
                    })
                )]
            ),
            "{request:?} from an invite identity: {answers:?}"
        );
    }

    // Redemption is what it is for, and it still works.
    let ana = Member::join(&t, "ana", &code);
    assert_eq!(ana.json(&["whoami"])["name"], "Ana");
}

/// A client swarm holding `key` that keeps its connection to the node open (the CLI closes
/// its own right after the answer; a hostile holder of the identity would not).
fn lingering_client(
    key: &SecretKey,
) -> Swarm<request_response::cbor::Behaviour<ClientRequest, ClientResponse>> {
    let behaviour = daemon::net::request_response_behaviour(
        protocol::wire::CLIENT_PROTOCOL,
        ProtocolSupport::Outbound,
    );
    daemon::net::build_swarm(key, behaviour, Duration::from_secs(600)).expect("swarm")
}

/// Sends `request` from `swarm` to the node and waits for the answer, then for the node to
/// close the connection. Returns the answer and whether the node closed it within
/// `close_within`.
async fn ask_and_linger(
    swarm: &mut Swarm<request_response::cbor::Behaviour<ClientRequest, ClientResponse>>,
    peer: PeerId,
    addr: &Multiaddr,
    request: ClientRequestV0,
    close_within: Duration,
) -> (ClientResponseV0, bool) {
    swarm.add_peer_address(peer, addr.clone());
    let id = swarm
        .behaviour_mut()
        .send_request(&peer, ClientRequest::V0(request));
    let deadline = tokio::time::sleep(tests::WAIT);
    tokio::pin!(deadline);
    let answer = loop {
        tokio::select! {
            _ = &mut deadline => panic!("no answer"),
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: Message::Response { request_id, response: ClientResponse::V0(r) },
                    ..
                }) if request_id == id => break r,
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                    panic!("the request failed: {error}")
                }
                _ => {}
            },
        }
    };
    let closing = tokio::time::sleep(close_within);
    tokio::pin!(closing);
    loop {
        tokio::select! {
            _ = &mut closing => return (answer, false),
            event = swarm.select_next_some() => {
                if let SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } = event {
                    if peer_id == peer {
                        return (answer, true);
                    }
                }
            }
        }
    }
}

/// Whether the node still admits `key`: a request from it gets any answer at all.
fn admitted(a: &Node, key: &SecretKey) -> bool {
    let (_, a_addr) = node_addr(a);
    let contact = [NodeContact {
        key: a.id().parse().expect("key"),
        addrs: vec![a_addr.to_string()],
    }];
    let answers = runtime()
        .block_on(daemon::net::request_all(
            key,
            &contact,
            ClientRequestV0::Whoami,
        ))
        .expect("request");
    answers.iter().any(|(_, r)| r.is_ok())
}

/// Once its invite is used, an invite identity is gone: the node closes the connection it
/// redeemed on (the newcomer gets the answer first) and admits the identity no more. An
/// expired invite's identity is disconnected on the node's tick, without asking anything.
#[test]
fn a_redeemed_invite_identity_is_disconnected_and_no_longer_allowed() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let (a_peer, a_addr) = node_addr(&a);
    let rt = runtime();

    let code = a.invite("Ana", "member", "oaxaca");
    let invite = InviteCode::decode(&code).expect("invite");
    let identity = invite.identity();
    let ana = SecretKey::generate();
    let redeem = ClientRequestV0::Redeem {
        member: ana.public(),
        proof: ana.sign(&invite.proof_message(&ana.public())).to_vec(),
    };
    let (answer, closed) = rt.block_on(async {
        let mut swarm = lingering_client(&identity);
        ask_and_linger(&mut swarm, a_peer, &a_addr, redeem, Duration::from_secs(20)).await
    });
    assert!(
        matches!(&answer, ClientResponseV0::Profile { profile, .. } if profile.name == "Ana"),
        "the newcomer gets the answer: {answer:?}"
    );
    assert!(closed, "the node keeps a used invite's connection open");
    assert!(
        !admitted(&a, &identity),
        "a used invite's identity is still admitted"
    );
    assert!(admitted(&a, &ana), "the newcomer herself is");

    // An invite that expires while its identity holds a connection, asking nothing more.
    let short = a
        .tejido(&[
            "invite", "member", "--name", "Eva", "--region", "oaxaca", "--ttl", "5s",
        ])
        .ok()
        .trim()
        .to_string();
    let identity = invite_identity(&short);
    let (answer, closed) = rt.block_on(async {
        let mut swarm = lingering_client(&identity);
        ask_and_linger(
            &mut swarm,
            a_peer,
            &a_addr,
            ClientRequestV0::Whoami,
            tests::WAIT,
        )
        .await
    });
    assert!(
        matches!(
            answer,
            ClientResponseV0::Error {
                kind: ErrorKind::Forbidden,
                ..
            }
        ),
        "{answer:?}"
    );
    assert!(closed, "the node keeps an expired invite's connection open");
    assert!(
        !admitted(&a, &identity),
        "an expired invite's identity is still admitted"
    );
}

/// The swarm of an in-process peer that can listen and dial through a relay.
fn relay_peer(key: &SecretKey) -> Swarm<libp2p::relay::client::Behaviour> {
    libp2p::SwarmBuilder::with_existing_identity(daemon::net::keypair(key))
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .expect("tcp")
        .with_relay_client(libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("relay client")
        .with_behaviour(|_, relay| relay)
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// Listens on `swarm` through the relay at `circuit`: whether the relay accepted the
/// reservation (or the listener closed).
async fn reserve(
    swarm: &mut Swarm<libp2p::relay::client::Behaviour>,
    circuit: &Multiaddr,
) -> Result<(), String> {
    swarm
        .listen_on(circuit.clone())
        .expect("listen on the circuit");
    let deadline = tokio::time::sleep(tests::WAIT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return Err("no answer to the reservation".into()),
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(libp2p::relay::client::Event::ReservationReqAccepted { .. }) => return Ok(()),
                SwarmEvent::ListenerClosed { reason, .. } => return Err(format!("listener closed: {reason:?}")),
                _ => {}
            },
        }
    }
}

/// Dials `target` from `dialler` through the relay, driving `target` (which holds a reservation
/// there) meanwhile: whether a connection came up.
async fn dial_through(
    dialler: &mut Swarm<libp2p::relay::client::Behaviour>,
    target: &mut Swarm<libp2p::relay::client::Behaviour>,
    circuit: &Multiaddr,
) -> Result<(), String> {
    let target_peer = *target.local_peer_id();
    dialler
        .dial(
            circuit
                .clone()
                .with(libp2p::multiaddr::Protocol::P2p(target_peer)),
        )
        .expect("dial");
    let deadline = tokio::time::sleep(tests::WAIT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return Err("no connection and no refusal".into()),
            event = dialler.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == target_peer => return Ok(()),
                SwarmEvent::OutgoingConnectionError { error, .. } => return Err(error.to_string()),
                _ => {}
            },
            _ = target.select_next_some() => {}
        }
    }
}

/// A relay node (`--relay-server`) serves nodes only. A member's key asking for a reservation
/// is refused, and cannot open a circuit to a node either; a node's reservation is accepted,
/// and another node reaches it through the relay.
#[test]
fn the_relay_serves_nodes_only() {
    let t = TestDir::new();
    let r = Node::start_with(
        &t,
        "r",
        &[
            "--org",
            "red-oax",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--relay-server",
        ],
    );
    let bea = Member::join(&t, "bea", &r.invite("Bea", "member", "oaxaca"));
    let member = member_key(&bea);
    let rt = runtime();
    let (node_1, node_2) = (SecretKey::generate(), SecretKey::generate());
    for (node, org) in [(&node_1, "evil-uno"), (&node_2, "evil-dos")] {
        rt.block_on(tests::peer::join_as_node(
            &r.invite_node(),
            org,
            node,
            &SecretKey::generate(),
        ))
        .expect("joining as a node");
    }
    let (r_peer, r_addr) = node_addr(&r);
    let circuit = r_addr
        .with(libp2p::multiaddr::Protocol::P2p(r_peer))
        .with(libp2p::multiaddr::Protocol::P2pCircuit);

    rt.block_on(async {
        let mut by_member = relay_peer(&member);
        let reserved = reserve(&mut by_member, &circuit).await;
        assert!(
            reserved.is_err(),
            "the relay accepted a member's reservation"
        );

        let mut first = relay_peer(&node_1);
        reserve(&mut first, &circuit)
            .await
            .expect("the relay accepts a node's reservation");

        let mut member_dialler = relay_peer(&member);
        let reached = dial_through(&mut member_dialler, &mut first, &circuit).await;
        assert!(
            reached.is_err(),
            "the relay opened a circuit from a member's key to a node"
        );

        let mut second = relay_peer(&node_2);
        dial_through(&mut second, &mut first, &circuit)
            .await
            .expect("a node reaches another node through the relay");
    });
}
