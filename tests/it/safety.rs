//! The safety net across nodes: missed check-ins, the directory, an alert's signed history.

use tests::{pin_member_to, wait_converged, wait_for, Member, Node, TestDir};

pub(crate) fn missed_for(node: &Node, key: &str) -> Vec<serde_json::Value> {
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
    // Finding: a third organisation's node read her note ("salgo a la marcha"). Every node
    // watches her due time; only her organisation (and her region's security contacts) reads
    // how she is and what she said.
    let note_on = |node: &Node| node.tejido(&["checkins", "--json"]).json()[0]["note"].clone();
    assert_eq!(note_on(&a), "salgo a la marcha");
    for node in [&b, &c] {
        assert!(note_on(node).is_null());
    }
    assert_eq!(sol.json(&["checkins"])[0]["note"], "salgo a la marcha");
    assert!(cleo.json(&["checkins"])[0]["note"].is_null());
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

pub(crate) fn run_with_stdin(member: &Member, args: &[&str], input: &str) -> tests::Run {
    use std::io::Write;
    let mut child = std::process::Command::new(tests::bin_dir().join("tejido"))
        .arg("--home")
        .arg(&member.home)
        .args(args)
        .env("TEJIDO_LANG", "en")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tejido");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    tests::Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Files in a home directory with their sizes.
pub(crate) fn listing(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for entry in std::fs::read_dir(dir).expect("home").flatten() {
        let meta = entry.metadata().expect("meta");
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            if meta.is_dir() { 0 } else { meta.len() },
        ));
    }
    out.sort();
    out
}

/// A check-in with the duress code looks and prints exactly like a normal one on the
/// member's device, leaves the same files there, and raises a silent alert that only the
/// security contacts of her region and the admins of her organisation can read.
///
/// Finding (reproduced on the release binaries before): a plain member of another
/// organisation listed the duress alert in `tejido alerts`, and so did every node's operator.
#[test]
fn duress_checkin_looks_normal_and_alerts_silently() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let sol = Member::join(&t, "sol", &b.invite("Sol", "security-contact", "oaxaca"));
    let carlos = Member::join(&t, "carlos", &b.invite("Carlos", "member", "casa-chis"));
    pin_member_to(&bea, &a);
    let set = run_with_stdin(&bea, &["duress", "set"], "9999\n");
    assert!(set.ok().contains("Duress code set"), "{set:?}");
    let key = bea.key();

    bea.run(&["checkin", "--note", "primer check-in"]).ok();
    let before = listing(&bea.home);
    let normal = bea.run(&["checkin", "--code", "1234", "--note", "todo bien"]);
    let after_normal = listing(&bea.home);
    let duress = bea.run(&["checkin", "--code", "9999", "--note", "todo bien"]);
    let after_duress = listing(&bea.home);

    // Same exit code, same words, same files: only the record id differs.
    let mask = |s: &str| {
        s.split_whitespace()
            .enumerate()
            .map(|(i, w)| if i == 1 { "ID" } else { w })
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(normal.code, duress.code);
    assert_eq!(mask(normal.ok()), mask(duress.ok()));
    assert_eq!(normal.stderr, duress.stderr);
    assert_eq!(before, after_normal);
    assert_eq!(after_normal, after_duress);

    // The security contact of her region reads it, on another organisation's node.
    let of_kind = |alerts: serde_json::Value, kind: &str| -> Vec<serde_json::Value> {
        alerts
            .as_array()
            .expect("alerts")
            .iter()
            .filter(|x| x["kind"] == kind)
            .cloned()
            .collect()
    };
    let alert = wait_for("the duress alert, read by the security contact", || {
        of_kind(sol.json(&["alerts"]), "duress").into_iter().next()
    });
    assert_eq!(alert["subject"], key.as_str());
    assert_eq!(alert["region"], "oaxaca");
    wait_converged(&[&a, &b]);
    assert_eq!(
        of_kind(sol.json(&["alerts"]), "duress").len(),
        1,
        "raised once"
    );
    // Her organisation's admin (the operator of A) reads it; B's operator, of another
    // organisation, holds it sealed: not whose, not what.
    assert_eq!(
        of_kind(a.tejido(&["alerts", "--json"]).json(), "duress").len(),
        1
    );
    let on_b = b.tejido(&["alerts", "--json"]).json();
    assert!(of_kind(on_b.clone(), "duress").is_empty(), "{on_b}");
    let sealed = of_kind(on_b, "sealed");
    assert_eq!(sealed.len(), 1);
    assert!(sealed[0]["subject"].is_null() && sealed[0]["text"] == "");
    // A plain member of another organisation sees nothing of it; nor does she.
    for who in [&carlos, &bea] {
        let seen = who.json(&["alerts"]);
        assert!(of_kind(seen.clone(), "duress").is_empty(), "{seen}");
        assert!(of_kind(seen.clone(), "sealed").is_empty(), "{seen}");
    }
    // Her check-ins look like any other to the security contact, who reads them.
    let checkins = sol.json(&["checkins"]);
    let row = checkins
        .as_array()
        .expect("checkins")
        .iter()
        .find(|c| c["name"] == "Bea")
        .expect("Bea")
        .clone();
    assert_eq!(row["status"], "ok");
    assert_eq!(row["note"], "todo bien");
}
