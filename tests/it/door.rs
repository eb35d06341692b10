//! One door for peer input: what a trusted node gone bad or a member's device sends cannot
//! crash, stall or grow a node (real `tejidod` processes; hostile peers in-process).

use std::time::Duration;

use automerge::sync::SyncDoc;
use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use protocol::event::{AlertKind, SignedEvent};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::wire::SyncResponseV0;
use protocol::wire::{ClientRequestV0, ClientResponseV0, DocSummary, NodeContact, SyncRequestV0};
use tests::{wait_converged, wait_for, Member, Node, TestDir};

use tests::peer::SyncPeer;

use crate::hostile::{a_and_c, alert_in, gossip_swarm, join_as_node, node_addr, runtime};

/// A sync message whose one `have` entry carries `bloom` as its filter: automerge 0.12 parses
/// such a filter without checking it.
fn bloom_bomb(bloom: &[u8]) -> Vec<u8> {
    let doc = automerge::Automerge::new();
    let mut state = automerge::sync::State::new();
    let mut msg = doc
        .generate_sync_message(&mut state)
        .expect("a first message");
    // Heads the node does not have: it then answers by testing its changes against the filter
    // (a peer with no heads is sent the whole document instead).
    msg.heads = vec![automerge::ChangeHash([7; 32])];
    msg.have = vec![automerge::sync::Have {
        last_sync: Vec::new(),
        bloom: automerge::sync::BloomFilter::try_from(bloom).expect("automerge takes it"),
    }];
    msg.encode()
}

/// Finding: a trusted node took any node down with a 10-byte bloom filter (a division by zero
/// when the node generated its reply), or made it reserve 16 GiB. Both messages now leave the
/// node running: it keeps serving its members and converging with others, and counts the
/// peer's fault.
#[test]
fn bloom_filter_bombs_from_a_trusted_node_leave_it_serving() {
    let t = TestDir::new();
    let (mut a, c, bea) = a_and_c(&t);
    let rt = runtime();
    let evil_node = SecretKey::generate();
    let evil_admin = SecretKey::generate();
    join_as_node(&rt, &a, &evil_node, &evil_admin);
    let (a_peer, a_addr) = node_addr(&a);
    let mut peer = SyncPeer::new(&evil_node).expect("peer");
    // num_entries 1, bits per entry 0, probes 7; then probes = u32::MAX.
    let bombs = [
        bloom_bomb(&[1, 0, 7]),
        bloom_bomb(&[1, 10, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0]),
    ];
    for (i, msg) in bombs.into_iter().enumerate() {
        for doc in [DocId::roster(), DocId::alerts("oaxaca", Timestamp::now())] {
            let answer = rt.block_on(peer.request(
                a_peer,
                &a_addr,
                SyncRequestV0::Sync {
                    doc: doc.clone(),
                    msg: msg.clone(),
                },
            ));
            assert!(
                answer.is_ok(),
                "bomb {i} for {doc}: the node did not answer ({answer:?})"
            );
            assert!(a.is_running(), "bomb {i} for {doc} took the node down");
        }
    }
    let status = a.status();
    assert!(
        status["peer_faults"].as_u64().expect("faults") >= 1,
        "the hostile node's faults are counted: {status}"
    );
    // The node still serves its members and converges with the honest node.
    let panic = bea.json(&["panic", "--note", "sigo aquí"]);
    let id = panic["id"].as_str().expect("id").to_string();
    wait_for("the panic on C", || {
        let alerts = c.tejido(&["alerts", "--json"]).json();
        alerts
            .as_array()?
            .iter()
            .any(|x| x["id"] == id.as_str())
            .then_some(())
    });
    wait_converged(&[&a, &c]);
    assert!(a.is_running());
}

fn documents(node: &Node) -> u64 {
    node.status()["documents"].as_u64().expect("documents")
}

/// Finding: a summary naming invented documents made a node create each of them (and a sync
/// state for each): one 17 MiB summary left some 150,000 empty documents in memory. Now a
/// summary over the limit is refused whole, and documents of regions nobody declared are not
/// even remembered: the node's document count is unchanged and its memory bounded.
#[test]
fn a_summary_of_invented_documents_changes_nothing() {
    let t = TestDir::new();
    let (a, c, _bea) = a_and_c(&t);
    let rt = runtime();
    let evil_node = SecretKey::generate();
    let evil_admin = SecretKey::generate();
    join_as_node(&rt, &a, &evil_node, &evil_admin);
    wait_converged(&[&a, &c]);
    let docs_before = documents(&a);
    let rss_before = a.rss_kib();
    let (a_peer, a_addr) = node_addr(&a);
    let mut peer = SyncPeer::new(&evil_node).expect("peer");
    let invented = |n: usize, prefix: &str| -> Vec<DocSummary> {
        (0..n)
            .map(|i| DocSummary {
                doc: format!("alerts/{prefix}-{i}/2026-11")
                    .parse()
                    .expect("doc id"),
                heads: vec![[(i % 251) as u8; 32]],
            })
            .collect()
    };
    let answer = rt
        .block_on(peer.request(
            a_peer,
            &a_addr,
            SyncRequestV0::Summary {
                docs: invented(100_000, "inventada"),
                now: None,
            },
        ))
        .expect("an answer");
    assert!(
        matches!(answer, SyncResponseV0::Refused { .. }),
        "{answer:?}"
    );
    // Under the limit, but every region invented: nothing is kept either.
    let answer = rt
        .block_on(peer.request(
            a_peer,
            &a_addr,
            SyncRequestV0::Summary {
                docs: invented(15_000, "falsa"),
                now: None,
            },
        ))
        .expect("an answer");
    assert!(
        matches!(answer, SyncResponseV0::Summary { .. }),
        "{answer:?}"
    );
    assert_eq!(documents(&a), docs_before);
    let rss_after = a.rss_kib();
    assert!(
        rss_after < rss_before + 32 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
    wait_converged(&[&a, &c]);
}

pub(crate) fn member_key(member: &Member) -> SecretKey {
    let bytes: [u8; 32] = std::fs::read(member.home.join("member.key"))
        .expect("key")
        .try_into()
        .expect("32 bytes");
    SecretKey::from_bytes(bytes)
}

fn panic_in(author: &SecretKey, region: &str, at: Timestamp) -> SignedEvent {
    alert_in(author, AlertKind::Panic, region, "red-oax", "pánico", at)
}

/// Finding: a member could make every node hold documents without bound (a panic may name any
/// region; one request of 64 events made 64 documents). Regions are declared in the roster:
/// a panic for an undeclared region is refused with a plain message, and nothing is created.
#[test]
fn a_member_cannot_make_documents_for_invented_regions() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let docs_before = documents(&a);
    let run = bea.run(&["panic", "--region", "inventada", "--note", "x"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr.contains("declared") && run.stderr.contains("inventada"),
        "a plain refusal: {run:?}"
    );
    assert_eq!(bea.queued(), 0, "a refused record is not queued for ever");

    let key = member_key(&bea);
    let start = Timestamp::now();
    let events: Vec<SignedEvent> = (0..64)
        .map(|i| panic_in(&key, &format!("region-{i}"), start.plus_ms(i)))
        .collect();
    let rt = runtime();
    let answers = rt
        .block_on(daemon::net::request_all(
            &key,
            &[NodeContact {
                key: a.id().parse().expect("key"),
                addrs: vec![node_addr(&a).1.to_string()],
            }],
            ClientRequestV0::Submit { events },
        ))
        .expect("request");
    assert!(
        matches!(
            answers.first(),
            Some((_, Ok(ClientResponseV0::Error { .. })))
        ),
        "{answers:?}"
    );
    assert_eq!(documents(&a), docs_before);
    // The member's own region works.
    bea.json(&["panic", "--note", "de verdad"]);
    assert_eq!(documents(&a), docs_before + 1);
}

/// Finding: gossip bypassed the client rate limit: a member could publish self-signed panics
/// without limit, and every node showed them. Gossip is for nodes: the node does not speak
/// gossipsub with a member's key at all, so whatever the member publishes reaches no one, and
/// nothing shows.
#[test]
fn a_member_publishing_on_gossip_is_rejected() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let key = member_key(&bea);
    let (a_peer, a_addr) = node_addr(&a);
    let rt = runtime();
    let _in_runtime = rt.enter();
    let mut swarm = gossip_swarm(&key, a_peer, &a_addr);
    rt.block_on(async {
        let deadline = tokio::time::sleep(Duration::from_secs(60));
        tokio::pin!(deadline);
        let mut refused = false;
        let mut sent = 0;
        let mut check = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = &mut deadline => panic!("the member never learnt that the node refuses it gossip"),
                event = swarm.select_next_some() => match event {
                    SwarmEvent::Behaviour(libp2p::gossipsub::Event::Subscribed { peer_id, .. }) if peer_id == a_peer => {
                        panic!("the node speaks gossipsub with a member")
                    }
                    SwarmEvent::Behaviour(libp2p::gossipsub::Event::GossipsubNotSupported { peer_id }) if peer_id == a_peer => {
                        refused = true
                    }
                    _ => {}
                },
                _ = check.tick() => {
                    // Publishing reaches no one: the node is no gossip peer of the member's.
                    let panic = panic_in(&key, "oaxaca", Timestamp::now().plus_ms(sent));
                    sent += 1;
                    let published = swarm
                        .behaviour_mut()
                        .publish(daemon::gossip::alerts_topic(), panic.to_bytes());
                    assert!(published.is_err(), "a member's gossip found a peer");
                    if refused && sent >= 3 {
                        break;
                    }
                }
            }
        }
    });
    assert_eq!(a.status()["gossip_accepted"], 0);
    let alerts = a.tejido(&["alerts", "--json"]).json();
    assert_eq!(alerts.as_array().map(Vec::len), Some(0), "{alerts}");
}

/// Finding: node-to-node sync had no rate or budget. A trusted node flooding summaries is
/// refused beyond its budget (`--sync-rate`, here tiny), and the node's timed duties keep
/// their turn meanwhile: a missed check-in is raised during the flood.
#[test]
fn a_sync_flood_is_throttled_and_the_dead_mans_switch_still_fires() {
    let t = TestDir::new();
    let a = Node::start_with(
        &t,
        "a",
        &[
            "--org",
            "red-oax",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--sync-rate",
            "5",
            "--checkin-grace",
            "0s",
        ],
    );
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let rt = runtime();
    let evil_node = SecretKey::generate();
    let evil_admin = SecretKey::generate();
    join_as_node(&rt, &a, &evil_node, &evil_admin);
    let (a_peer, a_addr) = node_addr(&a);
    let mut peer = SyncPeer::new(&evil_node).expect("peer");
    bea.run(&["checkin", "--next", "1s"]).ok();
    let key = bea.key();
    let throttled_before = a.status()["throttled_requests"].as_u64().unwrap_or(0);
    let mut refused = 0;
    let mut missed = false;
    // Flood until the alert shows (or the harness's deadline): the alert must come while the
    // node is being flooded, not after.
    let started = std::time::Instant::now();
    let mut round = 0;
    while !(missed && refused > 0) && started.elapsed() < tests::WAIT {
        let answer = rt.block_on(peer.request(
            a_peer,
            &a_addr,
            SyncRequestV0::Summary {
                docs: Vec::new(),
                now: None,
            },
        ));
        if let Ok(SyncResponseV0::Refused { reason }) = &answer {
            assert!(reason.contains("budget"), "{reason}");
            refused += 1;
        }
        round += 1;
        if round % 20 == 0 {
            let alerts = a.tejido(&["alerts", "--json"]).json();
            missed |= alerts.as_array().is_some_and(|xs| {
                xs.iter()
                    .any(|x| x["kind"] == "missed-checkin" && x["subject"] == key.as_str())
            });
        }
    }
    assert!(
        missed,
        "no missed check-in alert while the node was flooded"
    );
    assert!(refused > 0, "the flood was never refused");
    assert!(
        a.status()["throttled_requests"].as_u64().unwrap_or(0) > throttled_before,
        "throttling is counted"
    );
}

/// A member's events are budgeted (`--member-events-per-minute`, here 2): beyond it a request
/// is refused with a plain message and nothing of it is stored.
#[test]
fn a_member_over_their_event_budget_is_refused() {
    let t = TestDir::new();
    let a = Node::start_with(
        &t,
        "a",
        &[
            "--org",
            "red-oax",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--member-events-per-minute",
            "3",
        ],
    );
    // Joining takes one: the member's first duress tag.
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    bea.run(&["checkin", "--note", "uno"]).ok();
    bea.run(&["checkin", "--note", "dos"]).ok();
    let third = bea.run(&["checkin", "--note", "tres"]);
    assert_ne!(third.code, Some(0), "{third:?}");
    assert!(third.stderr.contains("too many events"), "{third:?}");
    let checkins = a.tejido(&["checkins", "--json"]).json();
    let text = checkins.to_string();
    assert!(text.contains("dos") && !text.contains("tres"), "{text}");
    assert!(a.status()["throttled_requests"].as_u64().unwrap_or(0) >= 1);
}
