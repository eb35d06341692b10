//! On-disk format versions: a data directory of format 2 (`tests/fixtures/data-v2`, made by
//! `tests/fixtures/make-data.sh`) is brought to format 3 and opens with every record, before
//! and after its full saves move to their files; one of format 1 (`tests/fixtures/data-v1`, whose events carry no sequence number)
//! and one newer than the binary are refused untouched.

use std::path::Path;

use serde_json::Value;
use tests::{copy_dir, tejidod, Node, TestDir};

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/data-v2")
}

fn expected(name: &str) -> Value {
    let path = fixture().join("expected").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("expected file")).expect("json")
}

fn by<'a>(list: &'a Value, field: &str) -> std::collections::BTreeMap<String, &'a Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| (v[field].as_str().unwrap_or("").to_string(), v))
        .collect()
}

/// Starts a copy of the fixture (retention off: the fixture's months age, its records do not).
fn start_copy(t: &TestDir, name: &str) -> Node {
    copy_dir(&fixture().join("node"), &t.path(name)).expect("copying the fixture");
    // The fixture's unacknowledged panic would escalate while it is younger than
    // `notify.max_age`, adding events to the documents compared below.
    let config = t.path(name).join("config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\n[escalation]\nenabled = false\n");
    std::fs::write(&config, text).expect("config");
    Node::start_with(
        t,
        name,
        &[
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--retain-alerts",
            "36500d",
            "--retain-checkins",
            "36500d",
        ],
    )
}

#[test]
fn a_data_directory_of_format_2_is_migrated_and_opens_with_every_record() {
    let t = TestDir::new();
    assert_eq!(
        std::fs::read_to_string(fixture().join("node/format")).expect("format"),
        "tejido-data 2\n",
        "the fixture is of format 2"
    );
    let mut node = start_copy(&t, "node");

    // Every document, with every event: the same heads for all but the roster, where the
    // node may announce its new address.
    let heads = node.heads();
    let docs = node.tejido(&["docs", "--json"]).json();
    let now = by(&docs, "doc");
    let before = expected("docs.json");
    for (doc, old) in by(&before, "doc") {
        let new = now.get(&doc).unwrap_or_else(|| panic!("{doc} is gone"));
        assert!(
            new["events"].as_u64() >= old["events"].as_u64(),
            "{doc}: {new} against {old}"
        );
        if doc != "roster" {
            let old_heads: Vec<String> = old["heads"]
                .as_array()
                .expect("heads")
                .iter()
                .map(|h| h.as_str().unwrap_or("").to_string())
                .collect();
            assert_eq!(heads[&doc], old_heads, "{doc}");
        }
    }
    let alerts = node.tejido(&["alerts", "--json"]).json();
    let alerts = by(&alerts, "id");
    let old_alerts = expected("alerts.json");
    assert!(old_alerts.as_array().expect("alerts").len() >= 2);
    for (id, old) in by(&old_alerts, "id") {
        let new = alerts
            .get(&id)
            .unwrap_or_else(|| panic!("alert {id} is gone"));
        for field in ["text", "kind", "status", "region", "author", "created_at"] {
            assert_eq!(new[field], old[field], "alert {id}: {field}");
        }
        assert_eq!(new["history"], old["history"], "alert {id}");
    }
    for (list, key) in [
        ("shelters", "id"),
        ("members", "key"),
        ("checkins", "member"),
    ] {
        let now = node.tejido(&[list, "--json"]).json();
        let old = expected(&format!("{list}.json"));
        let (now, old) = (by(&now, key), by(&old, key));
        assert!(!old.is_empty(), "the fixture has {list}");
        for (k, v) in old {
            let new = now.get(&k).unwrap_or_else(|| panic!("{list}: {k} is gone"));
            assert_eq!(new["name"], v["name"], "{list}: {k}");
        }
    }

    // Migrated to format 3 with a copy of the store kept, every document's save in its file.
    assert!(node.log().contains("migrating"), "{}", node.log());
    let dir = t.path("node");
    assert_eq!(
        std::fs::read_to_string(dir.join("format")).expect("format"),
        "tejido-data 3\n"
    );
    assert!(dir.join("store.format-2").is_dir());
    let saves = || {
        std::fs::read_dir(dir.join("store/saves"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    assert!(
        saves() >= before.as_array().map_or(0, Vec::len),
        "{}",
        saves()
    );
    // Killed and started again, and stopped and started again (the shutdown compacts into
    // the files), it reads the same documents from them.
    let port = node.port();
    node.restart_on(&port);
    node.stop_and_restart_on(&port);
    assert!(
        saves() >= before.as_array().map_or(0, Vec::len),
        "{}",
        saves()
    );
    let again = node.tejido(&["alerts", "--json"]).json();
    assert_eq!(
        again.as_array().map(Vec::len),
        expected("alerts.json").as_array().map(Vec::len)
    );
    let now = node.heads();
    for (doc, then) in heads.iter().filter(|(doc, _)| *doc != "roster") {
        assert_eq!(
            now.get(doc),
            Some(then),
            "{doc}: the same document from its file"
        );
    }
    assert_eq!(
        node.log().matches("migrating the data directory").count(),
        1,
        "migrated once, over three starts"
    );
}

#[test]
fn a_data_directory_of_format_1_is_refused_untouched() {
    let t = TestDir::new();
    let dir = t.path("node");
    let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/data-v1/node");
    copy_dir(&v1, &dir).expect("copying the fixture");
    assert!(!dir.join("format").exists(), "the fixture is of format 1");
    let out = tejidod(&[
        "--data-dir",
        &dir.display().to_string(),
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("data format 1"), "{stderr}");
    assert!(!dir.join("format").exists(), "nothing changed");
    assert!(!dir.join("store.format-1").exists());
}

#[test]
fn a_data_directory_newer_than_the_binary_is_refused_untouched() {
    let t = TestDir::new();
    let dir = t.path("node");
    copy_dir(&fixture().join("node"), &dir).expect("copying the fixture");
    std::fs::write(dir.join("format"), "tejido-data 99\n").expect("write");
    let out = tejidod(&[
        "--data-dir",
        &dir.display().to_string(),
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("newer than this tejidod"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("format")).expect("format"),
        "tejido-data 99\n"
    );
    assert!(!dir.join("store.format-99").exists());
}
