//! Crash safety: a node under a steady stream of writes is killed with SIGKILL at random
//! moments, many times; after each restart every acknowledged write is there, the store
//! opens, and the node syncs with its peer.
//!
//! A node sends its changes to peers before its store flush (only acknowledgements wait for
//! it), so with a peer a lost write could come back by sync before the check and hide the
//! loss; the same schedule therefore also runs on a node alone.
//!
//! `TEJIDO_CRASH_CYCLES` sets the number of cycles (default 20; the soak runs 1000).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tests::{pin_member_to, wait_converged, Lcg, Member, Node, TestDir};

#[test]
fn acknowledged_writes_survive_repeated_kill9() {
    kill9_under_writes(true);
}

/// Without a peer, nothing lost can come back by sync: what the node shows after each
/// restart is what its own store kept.
#[test]
fn acknowledged_writes_survive_repeated_kill9_alone() {
    kill9_under_writes(false);
}

fn kill9_under_writes(with_peer: bool) {
    let cycles: usize = tests::knob("TEJIDO_CRASH_CYCLES", 20);
    let seed: u64 = tests::knob("TEJIDO_CRASH_SEED", 0x7e71d0);
    let t = TestDir::new();
    let mut a = Node::start(&t, "a", "red-oax");
    let b = with_peer.then(|| {
        let b = Node::start(&t, "b", "casa-chis");
        b.join_network(&a.invite_node());
        b
    });
    let port = a.port();
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    pin_member_to(&bea, &a);

    // The writer: panics with numbered notes; those the node acknowledged are recorded.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, home) = (acked.clone(), stop.clone(), bea.home.clone());
        std::thread::spawn(move || {
            let bea = Member { home };
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let note = format!("w{i}");
                let run = bea.run(&["panic", "--note", &note]);
                if run.code == Some(0) {
                    acked.lock().expect("lock").push(note);
                }
                i += 1;
                // A steady stream, not a flood: keeps long soaks' stores to a size a small
                // node holds.
                std::thread::sleep(Duration::from_millis(25));
            }
        })
    };

    let mut rng = Lcg(seed);
    for cycle in 0..cycles {
        // The fault schedule: run for a random while, then kill without warning.
        std::thread::sleep(Duration::from_millis(50 + rng.next(400)));
        let before: Vec<String> = acked.lock().expect("lock").clone();
        a.kill9();
        a.restart_on(&port);
        let alerts = a.tejido(&["alerts", "--json"]).json();
        let texts: Vec<&str> = alerts
            .as_array()
            .expect("alerts")
            .iter()
            .filter_map(|x| x["text"].as_str())
            .collect();
        for note in &before {
            assert!(
                texts.contains(&note.as_str()),
                "cycle {cycle} (seed {seed}): acknowledged {note} lost"
            );
        }
        if (cycle + 1) % 10 == 0 {
            eprintln!(
                "crash cycle {}: {} acknowledged writes all present",
                cycle + 1,
                before.len()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= cycles,
        "the writer made progress: {} writes",
        acked.len()
    );
    let Some(b) = b else { return };
    // The node still syncs: its peer ends with the same documents.
    wait_converged(&[&a, &b]);
    let alerts = b.tejido(&["alerts", "--json"]).json();
    assert!(alerts.as_array().expect("alerts").len() >= acked.len());
}

/// A node stopped by its operator compacts its documents at shutdown; restarted, it holds
/// every event it had and converges with a peer that went on writing meanwhile. The same
/// node killed with SIGKILL after more writes (nothing compacted) starts from its chunks,
/// compacts them on its first tick and converges again.
#[test]
fn a_node_restarted_after_compaction_at_shutdown_converges() {
    let t = TestDir::new();
    let mut a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let port = a.port();
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    pin_member_to(&bea, &a);
    let panic = |member: &Member, note: String| {
        assert_eq!(
            member.run(&["panic", "--note", &note]).code,
            Some(0),
            "{note}"
        );
    };
    for i in 0..20 {
        panic(&bea, format!("a{i}"));
    }
    wait_converged(&[&a, &b]);
    a.stop_and_restart_on(&port);
    let texts = |node: &Node| -> Vec<String> {
        let alerts = node.tejido(&["alerts", "--json"]).json();
        alerts
            .as_array()
            .expect("alerts")
            .iter()
            .filter_map(|x| x["text"].as_str().map(str::to_string))
            .collect()
    };
    let held = texts(&a);
    for i in 0..20 {
        assert!(
            held.contains(&format!("a{i}")),
            "a{i} survives the compaction"
        );
    }
    // Written on b while a restarts: a gets them by sync.
    let cruz = Member::join(&t, "cruz", &b.invite("Cruz", "member", "chiapas"));
    pin_member_to(&cruz, &b);
    for i in 0..5 {
        panic(&cruz, format!("b{i}"));
    }
    wait_converged(&[&a, &b]);
    for i in 0..5 {
        panic(&bea, format!("c{i}"));
    }
    a.kill9();
    a.restart_on(&port);
    wait_converged(&[&a, &b]);
    let held = texts(&a);
    for note in (0..20)
        .map(|i| format!("a{i}"))
        .chain((0..5).map(|i| format!("b{i}")))
        .chain((0..5).map(|i| format!("c{i}")))
    {
        assert!(held.contains(&note), "{note} held after both restarts");
    }
}
