//! Shelters across nodes: occupancy counted concurrently at two nodes adds up; a request for
//! places is carried by every node but readable only by the shelter's admins and the
//! requester.

use serde_json::Value;
use tests::{pin_member_to, wait_converged, wait_for, Member, Node, TestDir};

fn shelter_on(node: &Node, id: &str) -> Value {
    node.tejido(&["shelters", "--json"])
        .json()
        .as_array()
        .expect("shelters")
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Casa Refugio in Oaxaca, added by `by` with `capacity` places; its id.
pub(crate) fn add_shelter(by: &Member, capacity: &str) -> String {
    by.json(&[
        "shelter",
        "add",
        "--name",
        "Casa Refugio",
        "--region",
        "oaxaca",
        "--capacity",
        capacity,
    ])["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Two security contacts of the shelter's organisation, each using a different node, record
/// arrivals and departures at the same time; both nodes end with the sum of all of them.
#[test]
fn concurrent_occupancy_at_two_nodes_adds_up() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let sol = Member::join(&t, "sol", &a.invite("Sol", "security-contact", "oaxaca"));
    let rita = Member::join(&t, "rita", &a.invite("Rita", "security-contact", "oaxaca"));
    pin_member_to(&sol, &a);
    let id = add_shelter(&sol, "20");
    wait_converged(&[&a, &b]);
    pin_member_to(&rita, &b);

    let run = |m: &Member, moves: Vec<&'static str>| {
        let home = m.home.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            let m = Member { home };
            for mv in moves {
                m.run(&["shelter", "update", &id, mv, "1"]).ok();
            }
        })
    };
    // Sol: 6 arrive; Rita: 5 arrive, 2 leave. 6 + 5 - 2 = 9 people.
    let s = run(&sol, vec!["--arrive"; 6]);
    let r = run(
        &rita,
        vec![
            "--arrive", "--leave", "--arrive", "--arrive", "--leave", "--arrive", "--arrive",
        ],
    );
    s.join().expect("sol");
    r.join().expect("rita");
    wait_converged(&[&a, &b]);
    for node in [&a, &b] {
        let shelter = shelter_on(node, &id);
        assert_eq!(shelter["occupancy"], 9, "{shelter}");
        assert_eq!(shelter["available"], 11, "{shelter}");
    }
}

fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            files_contain(&p, needle)
        } else {
            std::fs::read(&p).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        }
    })
}

/// Bea (casa-chis, node B) asks for places at red-oax's shelter. The third node C holds the
/// request but cannot read it, nor can its members; red-oax's admin reads who asked and the
/// note, accepts, and Bea sees the answer.
#[test]
fn a_shelter_request_is_carried_by_a_third_node_that_cannot_read_it() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    let c = Node::start(&t, "c", "colectiva-gro");
    b.join_network(&a.invite_node());
    c.join_network(&a.invite_node());
    let ana = Member::join(&t, "ana", &a.invite("Ana", "admin", "oaxaca"));
    pin_member_to(&ana, &a);
    let bea = Member::join(&t, "bea", &b.invite("Bea", "member", "chiapas"));
    pin_member_to(&bea, &b);
    let cleo = Member::join(&t, "cleo", &c.invite("Cleo", "security-contact", "oaxaca"));
    pin_member_to(&cleo, &c);
    let shelter = add_shelter(&ana, "8");
    wait_converged(&[&a, &b, &c]);

    let note = "dos niñas, una necesita insulina";
    let sent = bea.run(&[
        "shelter",
        "request",
        &shelter[..8],
        "--people",
        "3",
        "--note",
        note,
    ]);
    assert!(
        sent.ok()
            .contains("Only the admins of red-oax and you can read"),
        "{sent:#?}"
    );
    wait_for("the request at C", || {
        let text = cleo.run(&["shelter", "requests"]).ok().to_string();
        text.contains("1 more request is sealed to others")
            .then_some(())
    });
    wait_converged(&[&a, &b, &c]);

    // The third node holds it...
    let listed: Value = c.tejido(&["docs", "--json"]).json();
    assert!(listed.to_string().contains("shelters/oaxaca"), "{listed}");
    let exported = t.path("c-shelters.automerge");
    c.tejido(&[
        "export-doc",
        "shelters/oaxaca",
        "--to",
        exported.to_str().expect("utf-8"),
    ])
    .ok();
    let doc = std::fs::read(&exported).expect("exported doc");
    // ...but neither who asked nor the note is in it (the roster names Bea as a member, so
    // her key and name are elsewhere in C's files; the note is nowhere).
    let bea_key: protocol::ids::PublicKey = bea.key().parse().expect("key");
    for needle in [note.as_bytes(), b"insulina", bea_key.as_bytes(), b"Bea"] {
        assert!(
            !doc.windows(needle.len()).any(|w| w == needle),
            "the shelters document holds {needle:?}"
        );
    }
    assert!(
        !files_contain(&c.dir, b"insulina"),
        "C's files hold the note"
    );
    assert_eq!(cleo.json(&["shelter", "requests"]), serde_json::json!([]));
    let refused = cleo.run(&["shelter", "accept", &shelter[..8]]);
    assert_ne!(refused.code, Some(0));

    // The shelter's admin reads it, signature checked, and accepts.
    let seen = ana.json(&["shelter", "requests"]);
    let seen = &seen[0];
    assert_eq!(seen["requester_name"], "Bea");
    assert_eq!(seen["requester"], bea.key().as_str());
    assert_eq!(seen["people"], 3);
    assert_eq!(seen["note"], note);
    assert_eq!(seen["signature_ok"], true);
    assert_eq!(seen["shelter_name"], "Casa Refugio");
    assert_eq!(seen["via_node"], b.id().as_str());
    let id = seen["id"].as_str().expect("id").to_string();
    ana.run(&["shelter", "accept", &id[..8]]).ok();

    // Bea sees the answer through her own node.
    let answered = wait_for("the decision at B", || {
        let mine = bea.json(&["shelter", "requests"]);
        (mine[0]["decision"]["action"] == "accepted").then_some(mine)
    });
    assert_eq!(answered[0]["note"], note);
    assert_eq!(answered[0]["decision"]["by_name"], "Ana");
}
