//! The authority model across nodes: whether an event counts does not depend on the order in
//! which nodes learnt of it.

use tests::{pin_member_to, wait_converged, wait_for, Member, Node, TestDir};

fn is_revoked_on(node: &Node, key: &str) -> bool {
    node.tejido(&["members", "--json"])
        .json()
        .as_array()
        .is_some_and(|list| list.iter().any(|m| m["key"] == key && m["revoked"] == true))
}

/// Finding: a node that stored a stolen key's event before it learnt of the key's
/// revocation kept that change, the nodes that knew refused every message containing it, and
/// the two never replicated that document again. Now every node stores it and no view counts
/// it: afterwards the three nodes hold the same heads and show the same check-ins.
#[test]
fn a_stolen_key_racing_its_revocation_splits_nothing() {
    let t = TestDir::new();
    let mut a = Node::start(&t, "a", "red-oax");
    let mut b = Node::start(&t, "b", "casa-chis");
    let mut c = Node::start(&t, "c", "colectiva-gro");
    b.join_network(&a.invite_node());
    c.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    bea.run(&["checkin", "--note", "antes"]).ok();
    wait_converged(&[&a, &b, &c]);
    let key = bea.key();
    let ports = (a.port(), b.port(), c.port());

    // B is away while her organisation revokes her key; C learns of it.
    b.kill9();
    a.tejido(&["revoke", &key, "--reason", "teléfono robado"])
        .ok();
    wait_for("C to learn of the revocation", || {
        is_revoked_on(&c, &key).then_some(())
    });
    // The thief reaches B alone, which has not learnt of it yet, and B stores her check-in.
    a.kill9();
    c.kill9();
    b.restart_on(&ports.1);
    pin_member_to(&bea, &b);
    let stolen = bea.json(&["checkin", "--note", "después"]);
    assert_eq!(stolen["stored_by"], serde_json::json!([b.id()]), "{stolen}");
    // Everyone meets again: the same events, the same heads, the same views.
    a.restart_on(&ports.0);
    c.restart_on(&ports.2);
    let heads = wait_converged(&[&a, &b, &c]);
    assert!(heads.keys().any(|d| d.starts_with("checkins/red-oax/")));
    let latest = |node: &Node| {
        node.tejido(&["checkins", "--json"])
            .json()
            .as_array()
            .expect("checkins")
            .iter()
            .find(|c| c["member"] == key.as_str())
            .map(|c| c["at"].clone())
    };
    let on_a = a.tejido(&["checkins", "--json"]).json();
    assert!(on_a.to_string().contains("antes"), "{on_a}");
    assert!(!on_a.to_string().contains("después"), "{on_a}");
    wait_for("B to learn of the revocation", || {
        is_revoked_on(&b, &key).then_some(())
    });
    assert_eq!(latest(&a), latest(&b));
    assert_eq!(latest(&a), latest(&c));
}

/// Whoever holds an admin key can add an organisation, a node or an admin: every node tells
/// its operator when one appears (status, log).
#[test]
fn every_node_tells_its_operator_of_a_new_organisation_node_or_admin() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    wait_converged(&[&a, &b]);
    // What B found when it joined is not news to B; what A saw appear is.
    let news = |n: &Node| -> Vec<String> {
        n.status()["roster_news"]
            .as_array()
            .expect("news")
            .iter()
            .map(|l| l.as_str().unwrap_or("").to_string())
            .collect()
    };
    assert!(news(&a)
        .iter()
        .any(|l| l == "organisation casa-chis joined the network"));
    assert!(news(&b).is_empty(), "{:?}", news(&b));
    let c = Node::start(&t, "c", "colectiva-gro");
    c.join_network(&a.invite_node());
    let seen = wait_for("B to hear of the new organisation", || {
        let lines = news(&b);
        lines
            .iter()
            .any(|l| l == "organisation colectiva-gro joined the network")
            .then_some(lines)
    });
    assert!(seen
        .iter()
        .any(|l| l.starts_with("node ") && l.ends_with(" of colectiva-gro was added")));
    assert!(seen
        .iter()
        .any(|l| l.starts_with("admin ") && l.ends_with(" of colectiva-gro was added")));
    assert!(b.log().contains("the roster changed"));
    drop(c);
}
