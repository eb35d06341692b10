//! When the internet is cut: bundles carried between nodes on a file.

use protocol::bundle::{seal, Contents};
use protocol::ids::{SecretKey, Timestamp};
use tests::{pin_member_to, wait_converged, Member, Node, TestDir};

fn alert_texts(node: &Node) -> Vec<String> {
    let alerts = node.tejido(&["alerts", "--json"]).json();
    alerts
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["text"].as_str().map(str::to_string))
        .collect()
}

/// Waits until `node` signed its delivery receipt for the alert with this text.
fn wait_receipt(node: &Node, text: &str) {
    let me = node.id();
    tests::wait_for("the node's receipt", || {
        let alerts = node.tejido(&["alerts", "--json"]).json();
        alerts
            .as_array()
            .expect("alerts")
            .iter()
            .any(|a| {
                a["text"] == text
                    && a["held_by"]
                        .as_array()
                        .is_some_and(|r| r.iter().any(|r| r["node"] == me.as_str()))
            })
            .then_some(())
    });
}

/// An alert moves from A to C through a file only (A and C never connect); a tampered,
/// foreign or replayed bundle is refused and changes nothing.
#[test]
fn alert_crosses_by_file_and_bad_bundles_are_refused() {
    let t = TestDir::new();
    let (a, mut b, c) = tests::line_of_three(&t);
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    pin_member_to(&bea, &a);
    wait_converged(&[&a, &b, &c]);
    // The link is cut: B, the only node between A and C, goes down.
    b.kill9();
    bea.json(&["panic", "--note", "cortaron internet en la sierra"]);
    assert!(!alert_texts(&c).contains(&"cortaron internet en la sierra".to_string()));
    wait_receipt(&a, "cortaron internet en la sierra");

    let file = t.path("usb-bundle.tejido");
    let c_id = c.id();
    let out = a.tejido(&[
        "export",
        "--to",
        file.to_str().expect("path"),
        "--for",
        &c_id,
    ]);
    assert!(out.ok().contains("encrypted to 1 node"), "{out:?}");
    let first_bundle = out
        .stdout
        .split("bundle ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .expect("the bundle id")
        .to_string();
    let clean = std::fs::read(&file).expect("bundle");
    assert!(
        !clean.windows(6).any(|w| w == b"sierra"),
        "the bundle is encrypted"
    );

    // Tampered: one byte changed; refused, nothing applied.
    let tampered = t.path("tampered.tejido");
    let mut bytes = clean.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&tampered, &bytes).expect("write");
    let heads_before = c.heads();
    let refused = c.tejido(&["import", tampered.to_str().expect("path")]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("altered"), "{refused:?}");
    assert_eq!(c.heads(), heads_before);

    // Foreign: well formed and addressed to C, but signed by a node outside the network.
    let foreign = t.path("foreign.tejido");
    let outsider = SecretKey::generate();
    let sealed = seal(
        &Contents::default(),
        &outsider,
        &[c_id.parse().expect("key")],
        Timestamp::now(),
    )
    .expect("seal");
    std::fs::write(&foreign, sealed).expect("write");
    let refused = c.tejido(&["import", foreign.to_str().expect("path")]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("not a trusted node"), "{refused:?}");
    assert_eq!(c.heads(), heads_before);

    // Not for this node: B's copy would not open at A.
    let refused = a.tejido(&["import", file.to_str().expect("path")]);
    assert!(
        refused.stderr.contains("not made for this node"),
        "{refused:?}"
    );

    // The real bundle carries the panic.
    let done = c.tejido(&["import", file.to_str().expect("path")]);
    assert!(done.ok().contains("imported"), "{done:?}");
    assert!(alert_texts(&c).contains(&"cortaron internet en la sierra".to_string()));
    let a_id = a.id();
    assert!(!c.connected().contains(&a_id), "A and C never connected");

    // Replayed: refused.
    let again = c.tejido(&["import", file.to_str().expect("path")]);
    assert_ne!(again.code, Some(0));
    assert!(again.stderr.contains("imported before"), "{again:?}");

    // The next trip carries only what is new since the first bundle.
    bea.json(&["panic", "--note", "segunda noticia"]);
    wait_receipt(&a, "segunda noticia");
    let second = t.path("second.tejido");
    let path = second.to_str().expect("path");
    let out = a.tejido(&[
        "export",
        "--to",
        path,
        "--for",
        &c_id,
        "--since",
        &first_bundle,
    ]);
    // The new panic and A's receipt for it, in the alerts and receipts documents.
    assert!(out.ok().contains(": 2 events of 2 documents"), "{out:?}");
    c.tejido(&["import", path]).ok();
    assert!(alert_texts(&c).contains(&"segunda noticia".to_string()));
    let unknown = a.tejido(&[
        "export",
        "--to",
        path,
        "--since",
        "00112233445566778899aabbccddeeff",
    ]);
    assert!(unknown.stderr.contains("made no bundle"), "{unknown:?}");

    // One document in automerge's own format, readable by other automerge tools.
    let doc_file = t.path("roster.automerge");
    c.tejido(&[
        "export-doc",
        "roster",
        "--raw",
        "--to",
        doc_file.to_str().expect("path"),
    ])
    .ok();
    let doc = automerge::Automerge::load(&std::fs::read(&doc_file).expect("doc"))
        .expect("automerge loads it");
    let events = automerge::ReadDoc::keys(&doc, automerge::ROOT).count();
    let listed = c.tejido(&["docs", "--json"]).json();
    let roster_events = listed
        .as_array()
        .expect("docs")
        .iter()
        .find(|d| d["doc"] == "roster")
        .expect("roster")["events"]
        .clone();
    assert_eq!(serde_json::json!(events), roster_events);
}
