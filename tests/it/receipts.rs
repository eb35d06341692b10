//! Delivery receipts signed by nodes, seen from another node, and `tejido watch` following an
//! alert's life across a node restart.

use serde_json::Value;
use tests::{pin_member_to, wait_converged, wait_for, Member, Node, Stream, TestDir};

fn watch_json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("watch line is not JSON ({e}): {line}"))
}

/// A panic raised at A is held by all three nodes; the two whose receipts tell Bea something
/// sign one (A, of her organisation, and C, of Oaxaca's security contact), B, of an
/// organisation with neither, signs none. The sender's `panic --wait` reports "held by 2 of
/// 2" and the security contact's acknowledgement, and the security contact's `watch` on C
/// shows the alert arriving, acknowledged and, after C restarted, resolved.
#[test]
fn receipts_reach_the_sender_and_watch_follows_the_alert_across_a_restart() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    let mut c = Node::start(&t, "c", "colectiva-gro");
    b.join_network(&a.invite_node());
    c.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    pin_member_to(&bea, &a);
    // The security contact for Oaxaca works at the third organisation and uses its node.
    let sol = Member::join(&t, "sol", &c.invite("Sol", "security-contact", "oaxaca"));
    pin_member_to(&sol, &c);
    wait_converged(&[&a, &b, &c]);

    let sol_home = sol.home.to_str().expect("utf-8").to_string();
    let mut watch = Stream::start(&[
        "--home", &sol_home, "watch", "--region", "oaxaca", "--json", "--every", "300ms",
    ]);

    let bea_home = bea.home.clone();
    let panic = std::thread::spawn(move || {
        let bea = Member { home: bea_home };
        bea.run(&["panic", "--note", "me siguen", "--wait", "60s"])
    });
    let arrived = watch_json(&watch.wait_line("the panic in the watch stream", |l| {
        watch_json(l)["change"] == "new"
    }));
    assert_eq!(arrived["alert"]["kind"], "panic");
    assert_eq!(arrived["alert"]["text"], "me siguen");
    let id = arrived["alert"]["id"].as_str().expect("id").to_string();
    sol.run(&["alert", "ack", &id]).ok();

    let out = panic.join().expect("panic thread");
    let printed = out.ok();
    assert!(
        printed.contains("held by 2 of 2 node(s), each with a signed receipt"),
        "{printed}"
    );
    assert!(
        printed.contains("held by a node of a security contact for oaxaca (colectiva-gro)"),
        "{printed}"
    );
    assert!(printed.contains("acknowledged by Sol after"), "{printed}");

    // The receipts as another node computes them: one per expected node, each signed by it.
    let shown = sol.json(&["alert", "show", &id]);
    assert_eq!(shown["network_nodes"], 2);
    let held = shown["held_by"].as_array().expect("receipts");
    let mut nodes: Vec<&str> = held
        .iter()
        .map(|r| r["node"].as_str().expect("node"))
        .collect();
    nodes.sort();
    let mut expected = vec![a.id(), c.id()];
    expected.sort();
    assert_eq!(nodes, expected);
    // B holds the alert but signed nothing: the receipts document everywhere holds A's and
    // C's receipts only.
    wait_converged(&[&a, &b, &c]);
    let on_b = b.tejido(&["alerts", "--json"]).json();
    assert!(on_b.to_string().contains(id.as_str()), "{on_b}");
    for node in [&a, &b, &c] {
        let docs = node.tejido(&["docs", "--json"]).json();
        let receipts: Vec<u64> = docs
            .as_array()
            .expect("docs")
            .iter()
            .filter(|d| {
                d["doc"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("receipts/"))
            })
            .map(|d| d["events"].as_u64().expect("events"))
            .collect();
        assert_eq!(receipts, vec![2], "{docs}");
    }
    for r in held {
        let contact = r["org"] == "colectiva-gro";
        assert_eq!(r["security_contact_node"], contact, "{r}");
        assert!(r["after_ms"].as_i64().expect("after") >= 0);
    }
    assert!(shown["first_ack_after_ms"].as_i64().is_some());
    let text = sol.run(&["alert", "show", &id[..8]]).ok().to_string();
    assert!(text.contains("held by 2 of 2 node(s)"), "{text}");

    watch.wait_line("the acknowledgement in the watch stream", |l| {
        let v = watch_json(l);
        v["change"] == "changed"
            && v["alert"]["id"] == id.as_str()
            && v["alert"]["status"] == "acknowledged"
    });

    // The node the watch talks to restarts; the stream goes on.
    let port = c.port();
    c.kill9();
    std::thread::sleep(std::time::Duration::from_millis(500));
    c.restart_on(&port);
    wait_for("C to serve again", || {
        c.tejido(&["status", "--json"])
            .code
            .filter(|code| *code == 0)
    });
    sol.run(&["alert", "resolve", &id, "--note", "a salvo"])
        .ok();
    watch.wait_line("the resolution after the restart", |l| {
        let v = watch_json(l);
        v["alert"]["id"] == id.as_str() && v["alert"]["status"] == "resolved"
    });
    assert!(watch.is_running(), "watch survived the restart");
    // Nothing was printed twice for the same state.
    let arrivals = watch
        .seen
        .iter()
        .filter(|l| watch_json(l)["change"] == "new")
        .count();
    assert_eq!(arrivals, 1, "{:#?}", watch.seen);
}
