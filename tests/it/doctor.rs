//! `tejido doctor`: it reports a trusted node that cannot be reached and a peer whose clock is
//! off (an in-process node of the network whose summaries say a time ten minutes ahead), says
//! what to do, and exits 1 for them; a healthy node exits 0.

use protocol::ids::{SecretKey, Timestamp};
use protocol::wire::{SyncRequestV0, SyncResponseV0};
use serde_json::Value;
use tests::peer::{join_as_node, SyncPeer};
use tests::{node_args, wait_for, Node, TestDir};

use crate::hostile::{node_addr, runtime};

fn findings<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

#[test]
fn doctor_reports_an_unreachable_peer_and_a_skewed_clock() {
    let t = TestDir::new();
    let a = Node::start_with(&t, "a", &node_args("red-oax"));
    let mut b = Node::start_with(&t, "b", &node_args("casa-chis"));
    b.join_network(&a.invite_node());
    let b_id = b.id();
    wait_for("A and B to connect", || {
        a.connected().contains(&b_id).then_some(())
    });

    // Healthy as far as peers and clocks go (the disk is the test machine's, whatever it is).
    let healthy = a.tejido(&["doctor", "--json"]);
    let report: Value = serde_json::from_str(&healthy.stdout).expect("json");
    assert_eq!(report["node"]["peers"][0]["reached"], "direct", "{report}");
    for check in ["node", "peer", "clock", "admin-key"] {
        assert!(
            findings(&report, check).iter().all(|f| f["level"] == "ok"),
            "{check}: {report}"
        );
    }
    assert!(report["node"]["disk_free_bytes"]
        .as_u64()
        .is_some_and(|f| f > 0));
    let encryption = findings(&report, "encryption");
    assert_eq!(encryption[0]["level"], "warn", "encryption at rest is off");
    assert_eq!(findings(&report, "admin-key")[0]["level"], "ok");

    // A node of the network whose clock is ten minutes ahead says so in its summary.
    let (a_peer, a_addr) = node_addr(&a);
    let node_key = SecretKey::generate();
    let admin = SecretKey::generate();
    let rt = runtime();
    rt.block_on(join_as_node(
        &a.invite_node(),
        "colectiva-gro",
        &node_key,
        &admin,
    ))
    .expect("joins as a node");
    let mut skewed = SyncPeer::new(&node_key).expect("peer");
    let ahead = Timestamp::now().plus_ms(10 * 60 * 1000);
    let answer = rt
        .block_on(skewed.request(
            a_peer,
            &a_addr,
            SyncRequestV0::Summary {
                docs: Vec::new(),
                now: Some(ahead),
            },
        ))
        .expect("an answer");
    // The node says its own time back, close to this machine's.
    let SyncResponseV0::Summary {
        now: Some(theirs), ..
    } = answer
    else {
        panic!("expected a summary with a time: {answer:?}");
    };
    assert!((theirs.0 - Timestamp::now().0).abs() < 60_000);

    let skew = node_key.public().to_string();
    let report = a.tejido(&["doctor", "--json"]);
    assert_eq!(
        report.code,
        Some(1),
        "a skewed clock needs fixing: {report:#?}"
    );
    let report: Value = serde_json::from_str(&report.stdout).expect("json");
    let peer = report["node"]["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .find(|p| p["key"] == skew.as_str())
        .expect("the skewed node is listed")
        .clone();
    let offset = peer["clock_offset_ms"].as_i64().expect("an offset");
    assert!((9 * 60_000..11 * 60_000).contains(&offset), "{offset}");
    let clock = findings(&report, "clock");
    let bad: Vec<_> = clock.iter().filter(|f| f["level"] == "problem").collect();
    assert_eq!(bad.len(), 1, "{clock:?}");
    assert!(bad[0]["message"]
        .as_str()
        .expect("message")
        .contains("ahead"));
    assert!(bad[0]["advice"]
        .as_str()
        .expect("advice")
        .contains("5 minutes"));

    // B and the in-process node go away: doctor says they are unreachable, and what to check.
    // (The in-process peer's connection lives in its runtime's tasks: both go.)
    drop(skewed);
    drop(rt);
    b.kill9();
    let report = wait_for("doctor to see both unreachable", || {
        let run = a.tejido(&["doctor", "--json"]);
        let report: Value = serde_json::from_str(&run.stdout).ok()?;
        let gone = report["node"]["peers"]
            .as_array()?
            .iter()
            .all(|p| p["reached"].is_null());
        gone.then_some(report)
    });
    let unreachable: Vec<_> = findings(&report, "peer")
        .into_iter()
        .filter(|f| f["level"] == "problem")
        .collect();
    assert_eq!(
        unreachable.len(),
        2,
        "B and the in-process node: {unreachable:?}"
    );
    assert!(unreachable
        .iter()
        .any(|f| f["message"].as_str().unwrap_or("").contains(&b_id[..8])));
    let human = a.tejido(&["doctor"]);
    assert_eq!(human.code, Some(1));
    assert!(human.stdout.contains("unreachable"), "{}", human.stdout);
    assert!(human.stdout.contains("FIX"), "{}", human.stdout);

    // A node that is not running: doctor says so and what to do.
    let stopped = Node::start_with(&t, "c", &node_args("otra-org"));
    let dir = stopped.dir.clone();
    drop(stopped);
    let run = tests::tejido(&["--data-dir", &dir.display().to_string(), "doctor"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("does not answer"), "{run:#?}");
}
