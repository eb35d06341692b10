//! Several organisations' nodes replicating peer to peer.

use tests::{pin_member_to, wait_converged, wait_for, Member, Node, TestDir};

fn has_alert(node: &Node, id: &str) -> bool {
    node.tejido(&["alerts", "--json"])
        .json()
        .as_array()
        .expect("alerts")
        .iter()
        .any(|a| a["id"] == id)
}

fn alert_status(node: &Node, id: &str) -> Option<String> {
    let alerts = node.tejido(&["alerts", "--json"]).json();
    alerts
        .as_array()?
        .iter()
        .find(|a| a["id"] == id)
        .map(|a| a["status"].as_str().unwrap_or("").to_string())
}

/// A line A - B - C where A and C never connect: a panic on A shows on C, and an
/// acknowledgement made on C shows on A.
#[test]
fn line_of_three_relays_both_ways() {
    let t = TestDir::new();
    let (a, b, c) = tests::line_of_three(&t);
    wait_converged(&[&a, &b, &c]);
    assert_eq!(a.status()["nodes"], 3, "the roster reached A through B");

    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let sol = Member::join(&t, "sol", &c.invite("Sol", "security-contact", "oaxaca"));
    pin_member_to(&bea, &a);
    pin_member_to(&sol, &c);

    let panic = bea.json(&["panic", "--note", "nos rodean"]);
    assert_eq!(panic["stored_by"].as_array().expect("stored_by").len(), 1);
    let id = panic["id"].as_str().expect("id").to_string();
    wait_for("the panic to reach C", || has_alert(&c, &id).then_some(()));

    sol.run(&["alert", "ack", &id]).ok();
    wait_for("C's acknowledgement to reach A", || {
        (alert_status(&a, &id).as_deref() == Some("acknowledged")).then_some(())
    });
    let alerts = a.tejido(&["alerts", "--json"]).json();
    let alert = alerts
        .as_array()
        .expect("alerts")
        .iter()
        .find(|x| x["id"] == id.as_str())
        .expect("alert")
        .clone();
    assert_eq!(alert["acknowledgements"][0]["by_name"], "Sol");

    // A and C never connected: everything went through B.
    let c_id = c.id();
    let a_id = a.id();
    assert!(!a.connected().contains(&c_id));
    assert!(!c.connected().contains(&a_id));
    let peers = a.tejido(&["peers", "--json"]).json();
    let c_row = peers
        .as_array()
        .expect("peers")
        .iter()
        .find(|p| p["key"] == c_id.as_str())
        .expect("C in A's peers")
        .clone();
    assert_eq!(c_row["last_sync"], serde_json::Value::Null);
    wait_converged(&[&a, &b, &c]);
}

/// Five nodes, one killed and restarted while the others keep writing: all converge to
/// identical heads and nothing is lost.
#[test]
fn five_nodes_converge_after_a_restart() {
    let t = TestDir::new();
    let orgs = ["org-a", "org-b", "org-c", "org-d", "org-e"];
    let mut nodes: Vec<Node> = orgs
        .iter()
        .enumerate()
        .map(|(i, org)| Node::start(&t, &format!("n{i}"), org))
        .collect();
    for i in 1..nodes.len() {
        if i >= 3 {
            nodes[0].approve(orgs[i], &nodes[i - 1]);
        }
        let code = nodes[i - 1].invite_node();
        nodes[i].join_network(&code);
    }
    let members: Vec<Member> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let m = Member::join(
                &t,
                &format!("m{i}"),
                &n.invite(&format!("M{i}"), "member", "oaxaca"),
            );
            pin_member_to(&m, n);
            m
        })
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_converged(&refs);

    let port = nodes[2].port();
    nodes[2].kill9();
    let mut panics = Vec::new();
    for (i, m) in members.iter().enumerate() {
        if i == 2 {
            continue;
        }
        panics.push(
            m.json(&["panic", "--note", &format!("desde {i}")])["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
        m.run(&["checkin", "--note", &format!("bien {i}")]).ok();
    }
    nodes[2].restart_on(&port);
    panics.push(
        members[2].json(&["panic", "--note", "desde 2"])["id"]
            .as_str()
            .expect("id")
            .to_string(),
    );

    let refs: Vec<&Node> = nodes.iter().collect();
    let heads = wait_converged(&refs);
    assert!(heads.keys().any(|d| d.starts_with("alerts/oaxaca/")));
    for node in &nodes {
        let alerts = node.tejido(&["alerts", "--json"]).json();
        for id in &panics {
            assert!(
                alerts
                    .as_array()
                    .expect("alerts")
                    .iter()
                    .any(|a| a["id"] == id.as_str()),
                "{id} missing"
            );
        }
        assert_eq!(node.status()["checkins"], 4);
    }
}

/// After revocation, the revoked member's changes are refused by every node, and its
/// connections are closed.
#[test]
fn revoked_member_is_refused_everywhere() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    wait_converged(&[&a, &b]);
    bea.run(&["whoami"]).ok();
    // Her check-ins go to her own organisation's node only; B holds them by sync.
    assert_eq!(
        bea.json(&["checkin", "--note", "antes"])["stored_by"],
        serde_json::json!([a.id()])
    );

    let key = bea.key();
    a.tejido(&["revoke", &key, "--reason", "teléfono robado"])
        .ok();
    wait_for("B to learn of the revocation", || {
        let members = b.tejido(&["members", "--json"]).json();
        members
            .as_array()?
            .iter()
            .any(|m| m["key"] == key.as_str() && m["revoked"] == true)
            .then_some(())
    });
    let run = bea.run(&["checkin", "--note", "después"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    for node in [&a, &b] {
        let checkins = node.tejido(&["checkins", "--json"]).json();
        assert!(checkins
            .as_array()
            .expect("checkins")
            .iter()
            .all(|c| c["note"] != "después"));
    }
    // What was written before the revocation still counts (B holds it sealed: its note is for
    // her organisation).
    let checkins = a.tejido(&["checkins", "--json"]).json();
    assert!(checkins
        .as_array()
        .expect("checkins")
        .iter()
        .any(|c| c["note"] == "antes"));
    let checkins = b.tejido(&["checkins", "--json"]).json();
    assert!(checkins
        .as_array()
        .expect("checkins")
        .iter()
        .any(|c| c["member"] == key.as_str() && c["note"].is_null()));
    // Only the member's own organisation may revoke them.
    let refused = b.tejido(&["revoke", &a.id()]);
    assert_ne!(refused.code, Some(0));
}

/// The gossip fast path: in the line A - B - C, panics written at A are validated and
/// forwarded by B and accepted by C, which never connects to A. (Sync carries them too; the
/// counters show the gossip copy arrived and was judged valid at each hop.)
#[test]
fn alerts_are_gossiped_across_the_line() {
    let t = TestDir::new();
    let (a, b, c) = tests::line_of_three(&t);
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    pin_member_to(&bea, &a);
    wait_converged(&[&a, &b, &c]);
    // The gossip mesh forms within a few heartbeats of the connections; until then sync alone
    // carries alerts. Send panics until one has come the whole way by gossip.
    let accepted = |n: &Node| n.status()["gossip_accepted"].as_u64().unwrap_or(0);
    let mut sent = 0;
    while accepted(&c) == 0 {
        assert!(sent < 30, "no panic reached C by gossip after {sent} tries");
        bea.json(&["panic", "--note", &format!("prueba {sent}")]);
        sent += 1;
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(accepted(&b) >= 1);
    assert_eq!(
        a.status()["gossip_accepted"],
        0,
        "A published; it judges nothing"
    );
    for n in [&a, &b, &c] {
        assert_eq!(n.status()["gossip_rejected"], 0);
    }
    assert!(!c.connected().contains(&a.id()), "A and C never connected");
    // Every panic is in every document once sync is done.
    wait_converged(&[&a, &b, &c]);
    let alerts = c.tejido(&["alerts", "--json"]).json();
    assert_eq!(alerts.as_array().expect("alerts").len(), sent);
}
