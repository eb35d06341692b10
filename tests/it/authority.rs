//! The authority model across nodes: whether an event counts does not depend on the order in
//! which nodes learnt of it.

use protocol::event::{Body, CheckinBody, CheckinStatus, Event, SignedEvent};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::wire::ClientResponseV0;
use tests::{pin_member_to, wait_converged, wait_for, Member, Node, TestDir};

/// A check-in by `key` with `note`, dated `at`, under sequence number `seq`, written by hand
/// as a thief holding the key would.
fn checkin_by_hand(key: &SecretKey, org: &str, at: Timestamp, seq: u64, note: &str) -> SignedEvent {
    let sealed =
        protocol::private::CheckinPrivate::without_code(CheckinStatus::Ok, note.to_string())
            .seal(&key.public(), at, &[key.public()])
            .expect("seal");
    let event = Event {
        author: key.public(),
        at,
        seq,
        doc: DocId::checkins(org, at),
        body: Body::Checkin(CheckinBody {
            next_due: None,
            sealed,
        }),
    };
    SignedEvent::sign(event, key).expect("sign")
}

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
///
/// Finding: revocation trusted the dates authors put on their events, so the thief counted
/// by backdating. The revocation now names the last of her events it accepts: the thief's
/// check-in dated before the revocation counts nowhere either.
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
    let revoked = Timestamp::now();
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
    // The thief also writes one by hand, dated before the revocation.
    let backdated = checkin_by_hand(
        &bea.secret_key(),
        "red-oax",
        revoked.plus_ms(-2_000),
        1_000,
        "atrasada",
    );
    assert!(
        matches!(
            b.submit_as(&bea.secret_key(), vec![backdated]),
            Ok(ClientResponseV0::Stored { .. })
        ),
        "B, which has not learnt of the revocation, stores it"
    );
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
    assert!(!on_a.to_string().contains("atrasada"), "{on_a}");
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

/// A key used from two devices (a phone copied, a key taken) gives itself away: two different
/// events under one sequence number. Her organisation's node raises an alert for its admins
/// and says so in `members`; a node of another organisation does not raise it.
#[test]
fn a_key_used_from_two_devices_raises_the_cloned_key_alert() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    bea.run(&["checkin", "--note", "en casa"]).ok();
    let key = bea.key();
    let cloned = |node: &Node| {
        node.tejido(&["members", "--json"])
            .json()
            .as_array()
            .is_some_and(|l| {
                l.iter()
                    .any(|m| m["key"] == key.as_str() && m["cloned"] == true)
            })
    };
    assert!(!cloned(&a), "one device so far");
    // A copy of her device: the same key, the same count of events.
    let copy = Member {
        home: t.path("home-bea-copy"),
    };
    let status = std::process::Command::new("cp")
        .args(["-a"])
        .arg(&bea.home)
        .arg(&copy.home)
        .status()
        .expect("cp");
    assert!(status.success());
    bea.run(&["checkin", "--note", "sigo en casa"]).ok();
    copy.run(&["checkin", "--note", "otra mano"]).ok();
    let alert = wait_for("A to raise the cloned-key alert", || {
        let alerts = a.tejido(&["alerts", "--json"]).json();
        alerts.as_array().and_then(|l| {
            l.iter()
                .find(|al| al["kind"] == "cloned-key" && al["subject"] == key.as_str())
                .cloned()
        })
    });
    assert_eq!(alert["org"], "red-oax", "{alert}");
    assert_eq!(alert["severity"], "severe", "{alert}");
    assert!(cloned(&a));
    assert!(a.log().contains("a key is in use on two devices"));
    // B holds the alert (it replicates), but only her organisation's node raised it.
    wait_converged(&[&a, &b]);
    let on_b = b.tejido(&["alerts", "--json"]).json();
    let raised: Vec<_> = on_b
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|al| al["kind"] == "cloned-key")
        .collect();
    assert_eq!(raised.len(), 1, "{on_b}");
    assert_eq!(raised[0]["author"], a.id().as_str(), "{on_b}");
}

/// Finding: any admin could add an organisation, and nothing removed or suspended one. In a
/// network of three, one organisation alone cannot admit a fourth: its node's join is refused
/// until a second organisation approves. Two organisations suspend one; the suspended
/// organisation's node is cut off and gets nothing new, while the others carry on.
#[test]
fn organisations_are_admitted_and_suspended_only_by_several() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    let c = Node::start(&t, "c", "colectiva-gro");
    b.join_network(&a.invite_node());
    c.join_network(&a.invite_node());
    wait_converged(&[&a, &b, &c]);

    // A alone invites a fourth organisation's node: refused, and nothing is admitted.
    let d = Node::start(&t, "d", "intrusa");
    let code = a.invite_node();
    let refused = d.tejido(&["join", &code]);
    assert_ne!(refused.code, Some(0), "{refused:#?}");
    assert!(
        refused.stderr.contains("org approve intrusa"),
        "{refused:#?}"
    );
    let orgs = |n: &Node| n.tejido(&["orgs", "--json"]).json();
    assert!(
        !orgs(&a).to_string().contains("\"intrusa\""),
        "{}",
        orgs(&a)
    );
    // B agrees; the same invite now works.
    let agreed = b.tejido(&["org", "approve", "intrusa"]);
    assert!(agreed.ok().contains("1 of the 2"), "{agreed:#?}");
    wait_for("A to learn of B's approval", || {
        orgs(&a)["pending"]
            .as_array()?
            .iter()
            .any(|p| p["agreed"] == serde_json::json!(["casa-chis"]))
            .then_some(())
    });
    d.join_network(&code);
    wait_for("every node to hold the fourth organisation", || {
        [&a, &b, &c]
            .iter()
            .all(|n| orgs(n)["orgs"].as_array().is_some_and(|l| l.len() == 4))
            .then_some(())
    });

    // A and B suspend D's organisation: its node is cut off.
    a.tejido(&["org", "suspend", "intrusa"]).ok();
    assert!(
        !orgs(&a).to_string().contains("\"suspended\""),
        "A alone does not suspend"
    );
    b.tejido(&["org", "suspend", "intrusa"]).ok();
    let d_id = d.id();
    wait_for("A, B and C to cut D off", || {
        [&a, &b, &c]
            .iter()
            .all(|n| !n.connected().contains(&d_id))
            .then_some(())
    });
    for n in [&a, &b, &c] {
        let status = orgs(n)["orgs"]
            .as_array()
            .expect("orgs")
            .iter()
            .find(|o| o["org"] == "intrusa")
            .map(|o| o["status"].clone());
        assert_eq!(status, Some(serde_json::json!("suspended")));
    }
    // A member of A raises a panic: B and C get it, D does not.
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "red-oax"));
    bea.run(&["panic", "--note", "auxilio"]).ok();
    for n in [&b, &c] {
        wait_for("the panic on B and C", || {
            n.tejido(&["alerts", "--json"])
                .json()
                .to_string()
                .contains("auxilio")
                .then_some(())
        });
    }
    wait_converged(&[&a, &b, &c]);
    let on_d = d.tejido(&["alerts", "--json"]).json();
    assert!(!on_d.to_string().contains("auxilio"), "{on_d}");
    assert!(!d
        .connected()
        .iter()
        .any(|p| [a.id(), b.id(), c.id()].contains(p)));
}

/// Finding: the admin key sat beside the node key on every node, so a seized node gave away
/// its organisation's authority. The operator moves it to their own device; the node runs on
/// without it (and restarts without it), and roster changes are signed by the command line.
#[test]
fn the_admin_key_can_live_off_the_node() {
    let t = TestDir::new();
    let mut a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let key_file = t.path("operator-admin.key");
    let key_path = key_file.to_str().expect("utf-8").to_string();
    a.tejido(&["admin-key", "move-out", "--to", &key_path]).ok();
    assert_eq!(std::fs::read(&key_file).expect("key file").len(), 32);
    assert!(
        !a.dir.join("admin.key").exists(),
        "the node no longer holds it"
    );
    let port = a.port();
    a.kill9();
    a.restart_on(&port);

    let key = bea.key();
    let without = a.tejido(&["revoke", &key]);
    assert_ne!(without.code, Some(0), "{without:#?}");
    assert!(without.stderr.contains("admin key"), "{without:#?}");
    assert!(!is_revoked_on(&a, &key));
    a.tejido(&[
        "--admin-key",
        &key_path,
        "revoke",
        &key,
        "--reason",
        "robado",
    ])
    .ok();
    assert!(is_revoked_on(&a, &key));
    a.tejido(&["--admin-key", &key_path, "region", "chiapas"])
        .ok();
    let members = a.tejido(&["members", "--json"]).json();
    assert!(members.to_string().contains("Bea"), "{members}");
    // Only roster changes are signed off the node.
    let other = a.tejido(&["--admin-key", &key_path, "alerts"]);
    assert_ne!(other.code, Some(0), "{other:#?}");
}
