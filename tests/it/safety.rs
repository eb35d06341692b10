//! The safety net across nodes: missed check-ins, the directory, an alert's signed history.

use tests::{pin_member_to, wait_converged, wait_for, Member, Node, TestDir};

fn missed_for(node: &Node, key: &str) -> Vec<serde_json::Value> {
    let alerts = node.tejido(&["alerts", "--json"]).json();
    alerts
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["kind"] == "missed-checkin" && a["subject"] == key)
        .cloned()
        .collect()
}

/// A missed check-in raises exactly one alert network-wide, even with three nodes watching,
/// and a late check-in resolves it everywhere.
#[test]
fn missed_checkin_raises_one_alert_and_a_late_checkin_resolves_it() {
    let t = TestDir::new();
    let fast = ["--listen", "/ip4/127.0.0.1/tcp/0", "--checkin-grace", "0s"];
    let a = Node::start_with(&t, "a", &[&["--org", "red-oax"][..], &fast].concat());
    let b = Node::start_with(&t, "b", &[&["--org", "casa-chis"][..], &fast].concat());
    let c = Node::start_with(&t, "c", &[&["--org", "colectiva-gro"][..], &fast].concat());
    b.join_network(&a.invite_node());
    c.join_network(&a.invite_node());
    let sol = Member::join(&t, "sol", &a.invite("Sol", "security-contact", "oaxaca"));
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    pin_member_to(&bea, &a);
    wait_converged(&[&a, &b, &c]);

    // The directory is current on the third node.
    let cleo = Member::join(&t, "cleo", &c.invite("Cleo", "member", "guerrero"));
    let directory = cleo.json(&["directory", "--region", "oaxaca"]);
    assert_eq!(directory[0]["name"], "Sol");
    assert_eq!(directory[0]["role"], "security-contact");
    assert_eq!(directory[0]["org"], "red-oax");

    let key = bea.key();
    bea.run(&["checkin", "--next", "1s", "--note", "salgo a la marcha"])
        .ok();
    let alert = wait_for("the missed check-in alert on C", || {
        missed_for(&c, &key).into_iter().next()
    });
    assert_eq!(alert["region"], "oaxaca");
    assert_eq!(alert["org"], "red-oax");
    assert_eq!(alert["status"], "open");
    // Every node watches; let them all have their chance, then count.
    wait_converged(&[&a, &b, &c]);
    for node in [&a, &b, &c] {
        assert_eq!(
            missed_for(node, &key).len(),
            1,
            "exactly one missed check-in alert"
        );
    }
    // The security contact sees who is overdue.
    let overdue = sol.json(&["checkins", "--overdue"]);
    assert_eq!(overdue[0]["name"], "Bea");
    assert_eq!(overdue[0]["security_contacts"][0], "Sol");

    bea.run(&["checkin", "--note", "ya volví"]).ok();
    for node in [&a, &b, &c] {
        let resolved = wait_for("the alert to resolve", || {
            missed_for(node, &key)
                .into_iter()
                .find(|a| a["status"] == "resolved")
        });
        let note = resolved["resolution"]["detail"].as_str().expect("note");
        assert!(note.starts_with("checked in again at"), "{note}");
    }
    assert!(sol
        .json(&["checkins", "--overdue"])
        .as_array()
        .expect("list")
        .is_empty());

    // The alert's signed history, as a security contact sees it.
    let id = alert["id"].as_str().expect("id");
    let shown = sol.json(&["alert", "show", id]);
    let actions: Vec<&str> = shown["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions.first(), Some(&"raised"));
    assert!(actions.contains(&"resolved"));
    assert_eq!(shown["acknowledgements"].as_array().expect("acks").len(), 0);
}
