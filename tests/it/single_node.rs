//! One node, end to end, as its operator and members use it.

use tests::{tejido, wait_for, Member, Node, TestDir};

fn alert_by_id<'a>(alerts: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    alerts
        .as_array()
        .expect("alerts array")
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no alert {id} in {alerts}"))
}

/// Invite and join, check in, panic, list, acknowledge, assign, resolve, shelters.
#[test]
fn member_lifecycle_on_one_node() {
    let t = TestDir::new();
    let node = Node::start(&t, "a", "red-oax");
    let ana = Member::join(&t, "ana", &node.invite("Ana", "security-contact", "oaxaca"));
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));

    let me = bea.json(&["whoami"]);
    assert_eq!(me["name"], "Bea");
    assert_eq!(me["role"], "member");
    assert_eq!(me["org"], "red-oax");

    let checkin = bea.json(&["checkin", "--next", "6h", "--note", "todo bien"]);
    assert_eq!(checkin["level"], "stored");
    assert_eq!(checkin["stored_by"][0], node.id());

    let panic = bea.json(&["panic", "--note", "me siguen"]);
    assert_eq!(panic["level"], "stored");
    let id = panic["id"].as_str().expect("panic id").to_string();

    // The security contact sees the panic with the fields responders use.
    let alerts = ana.json(&["alerts", "--open"]);
    let alert = alert_by_id(&alerts, &id);
    assert_eq!(alert["kind"], "panic");
    assert_eq!(alert["severity"], "extreme");
    assert_eq!(alert["region"], "oaxaca");
    assert_eq!(alert["text"], "me siguen");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["author"], me["key"]);
    assert!(alert["created_at"]
        .as_str()
        .expect("created_at")
        .ends_with('Z'));
    assert_eq!(alert["acknowledgements"].as_array().expect("acks").len(), 0);

    ana.run(&["alert", "ack", &id[..8]]).ok();
    ana.run(&["alert", "ack", &id]).ok();
    let alert = alert_by_id(&bea.json(&["alerts"]), &id).clone();
    assert_eq!(alert["status"], "acknowledged");
    assert_eq!(
        alert["acknowledgements"].as_array().expect("acks").len(),
        1,
        "one ack per person"
    );
    assert_eq!(alert["acknowledgements"][0]["by_name"], "Ana");

    let bea_key = me["key"].as_str().expect("key");
    ana.run(&["alert", "assign", &id, bea_key]).ok();
    ana.run(&["alert", "resolve", &id, "--note", "acompañada a casa"])
        .ok();
    let alert = alert_by_id(&bea.json(&["alerts"]), &id).clone();
    assert_eq!(alert["status"], "resolved");
    assert_eq!(alert["assignee"], bea_key);
    assert_eq!(alert["resolution"]["detail"], "acompañada a casa");
    let actions: Vec<&str> = alert["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        actions,
        [
            "raised",
            "acknowledged",
            "acknowledged",
            "assigned",
            "resolved"
        ],
        "the whole signed history"
    );
    assert!(ana
        .json(&["alerts", "--open"])
        .as_array()
        .expect("alerts")
        .iter()
        .all(|a| a["id"] != id.as_str()));

    // A member may not resolve, nor broadcast a region-wide alert.
    let refused = bea.run(&[
        "alert",
        "send",
        "--severity",
        "severe",
        "--region",
        "oaxaca",
        "retén en la carretera",
    ]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("refused"), "{refused:?}");
    let sent = ana.json(&[
        "alert",
        "send",
        "--severity",
        "severe",
        "--region",
        "oaxaca",
        "retén en la carretera",
    ]);
    assert_eq!(sent["level"], "stored");

    // Check-ins: the latest per member, with who to call.
    let checkins = ana.json(&["checkins"]);
    let bea_row = checkins
        .as_array()
        .expect("checkins")
        .iter()
        .find(|c| c["name"] == "Bea")
        .expect("Bea's check-in")
        .clone();
    assert_eq!(bea_row["status"], "ok");
    assert_eq!(bea_row["note"], "todo bien");
    assert_eq!(bea_row["overdue"], false);
    assert_eq!(bea_row["security_contacts"][0], "Ana");
    assert!(ana
        .json(&["checkins", "--overdue"])
        .as_array()
        .expect("list")
        .is_empty());

    // Shelters: added by a security contact of the operator organisation; occupancy counts.
    ana.run(&[
        "shelter",
        "add",
        "--name",
        "Casa Luna",
        "--region",
        "oaxaca",
        "--capacity",
        "10",
        "--service",
        "psychosocial",
        "--accepts",
        "women",
        "--accepts",
        "children",
    ])
    .ok();
    let shelters = bea.json(&["shelters", "--available"]);
    let shelter_id = shelters[0]["id"].as_str().expect("shelter id").to_string();
    ana.run(&["shelter", "update", &shelter_id[..8], "--arrive", "7"])
        .ok();
    ana.run(&["shelter", "update", &shelter_id[..8], "--leave", "2"])
        .ok();
    let shelters = bea.json(&["shelters"]);
    assert_eq!(shelters[0]["occupancy"], 5);
    assert_eq!(shelters[0]["available"], 5);
    assert_eq!(
        shelters[0]["accepts"],
        serde_json::json!(["women", "children"])
    );
    let refused = bea.run(&["shelter", "update", &shelter_id[..8], "--arrive", "1"]);
    assert_ne!(
        refused.code,
        Some(0),
        "a member outside the operator's responders may not count"
    );
    ana.run(&["shelter", "update", &shelter_id[..8], "--arrive", "5"])
        .ok();
    assert!(
        bea.json(&["shelters", "--available"])
            .as_array()
            .expect("list")
            .is_empty(),
        "a full shelter is not available"
    );

    // The operator sees the same through the local socket.
    let status = node.status();
    assert_eq!(status["members"], 3);
    assert_eq!(status["alerts"], 2);
    assert_eq!(status["shelters"], 1);
    assert_eq!(status["checkins"], 1);
    let op_alerts = node.tejido(&["alerts", "--json"]).json();
    assert_eq!(op_alerts.as_array().expect("alerts").len(), 2);
}

/// A panic the node acknowledged survives `kill -9` right after.
#[test]
fn acknowledged_panic_survives_kill9() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");
    let port = node.port();
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    let panic = bea.json(&["panic", "--note", "ayuda"]);
    assert_eq!(panic["level"], "stored");
    node.kill9();
    node.restart_on(&port);
    let alerts = node.tejido(&["alerts", "--json"]).json();
    alert_by_id(&alerts, panic["id"].as_str().expect("id"));
    // And the member still reaches it: the roster survived too.
    assert_eq!(bea.json(&["whoami"])["name"], "Bea");
}

/// A key the roster does not know gets nothing: the connection is closed after the handshake.
#[test]
fn unregistered_key_is_refused() {
    let t = TestDir::new();
    let node = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    bea.json(&["panic", "--note", "secreto"]);

    // A stranger with the node's address (copied profile) but their own key.
    let stranger = t.path("home-stranger");
    std::fs::create_dir_all(&stranger).expect("mkdir");
    std::fs::copy(bea.home.join("profile.json"), stranger.join("profile.json"))
        .expect("copy profile");
    std::fs::write(stranger.join("member.key"), [7u8; 32]).expect("key");
    let run = tejido(&[
        "--home",
        stranger.to_str().expect("path"),
        "alerts",
        "--json",
    ]);
    assert_eq!(run.code, Some(3), "unreachable, not served: {run:?}");
    assert!(!run.stdout.contains("secreto"));
    assert!(
        node.status()["refused_connections"]
            .as_u64()
            .expect("counter")
            >= 1
    );

    // Its check-in is not stored either, and an invite cannot be used twice.
    let code = node.invite("Cleo", "member", "oaxaca");
    Member::join(&t, "cleo", &code);
    let again = tejido(&[
        "--home",
        t.path("home-dup").to_str().expect("path"),
        "join",
        &code,
    ]);
    assert_ne!(again.code, Some(0), "{again:?}");
    assert_eq!(node.status()["members"], 3);
}

/// With the node down, a check-in is queued on the device and delivered by the next command
/// once the node is back.
#[test]
fn queued_checkin_is_delivered_when_node_returns() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");
    let port = node.port();
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    node.kill9();

    let run = bea.run(&["checkin", "--status", "need-help", "--note", "sin señal"]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stdout.contains("queued on this device"), "{run:?}");
    assert_eq!(bea.queued(), 1);

    node.restart_on(&port);
    bea.run(&["alerts"]).ok();
    assert_eq!(bea.queued(), 0);
    let checkins = node.tejido(&["checkins", "--json"]).json();
    assert_eq!(checkins[0]["note"], "sin señal");
    assert_eq!(checkins[0]["status"], "need-help");
}

/// Wrong flags, a broken config, a locked data directory and a bad invite code get one clear
/// line and change nothing.
#[test]
fn bad_input_gets_clear_errors() {
    let t = TestDir::new();
    let usage = tejido(&["checkin", "--status", "fine"]);
    assert_eq!(usage.code, Some(2));
    assert!(usage.stderr.contains("ok, need-help, danger"), "{usage:?}");

    let bad_code = tejido(&[
        "--home",
        t.path("h").to_str().expect("path"),
        "join",
        "tj0notbase32!",
    ]);
    assert_eq!(bad_code.code, Some(1));
    assert!(bad_code.stderr.contains("invite code"), "{bad_code:?}");
    assert!(!t.path("h").join("profile.json").exists());

    let node = Node::start(&t, "a", "red-oax");
    // A second daemon on the same data directory is refused while the first runs.
    let second = tests::tejidod(&[
        "--data-dir",
        node.dir.to_str().expect("path"),
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
    ]);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("in use"),
        "{second:?}"
    );
    assert_eq!(node.status()["members"], 1);
    drop(node);

    // A relay address that names no peer is refused before anything starts.
    let no_peer = tests::tejidod(&[
        "--data-dir",
        t.path("a").to_str().expect("path"),
        "--relay-via",
        "/ip4/192.0.2.1/tcp/4717",
    ]);
    assert!(!no_peer.status.success());
    assert!(
        String::from_utf8_lossy(&no_peer.stderr).contains("--relay-via")
            && String::from_utf8_lossy(&no_peer.stderr).contains("/p2p/PEER_ID"),
        "{no_peer:?}"
    );

    // A broken config.toml is named in the error.
    let dir = t.path("a");
    std::fs::write(dir.join("config.toml"), "org = [unclosed").expect("write");
    let broken = tests::tejidod(&["--data-dir", dir.to_str().expect("path")]);
    assert!(!broken.status.success());
    assert!(
        String::from_utf8_lossy(&broken.stderr).contains("config.toml"),
        "{broken:?}"
    );

    // Operator commands without a running node say so.
    let down = tejido(&["--data-dir", dir.to_str().expect("path"), "status"]);
    assert_eq!(down.code, Some(1));
    assert!(down.stderr.contains("is tejidod running"), "{down:?}");
}

/// Wiping is opt-in; with `--yes` it destroys a member's key and a node's keys and store, and
/// the node stops.
#[test]
fn wipe_destroys_keys_and_data() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    bea.json(&["checkin", "--note", "antes de cruzar"]);

    let refused = bea.run(&["wipe"]);
    assert_eq!(refused.code, Some(1));
    assert!(
        bea.home.join("member.key").exists(),
        "nothing removed without --yes"
    );
    let wiped = bea.run(&["wipe", "--yes"]);
    assert!(wiped.ok().contains("wiped"), "{wiped:?}");
    assert!(!bea.home.exists());
    assert!(bea.run(&["whoami"]).stderr.contains("no member key"));

    assert_eq!(node.tejido(&["wipe"]).code, Some(1));
    assert!(node.dir.join("node.key").exists());
    node.tejido(&["wipe", "--yes"]).ok();
    wait_for("the node to stop", || (!node.is_running()).then_some(()));
    assert!(!node.dir.join("node.key").exists());
    assert!(!node.dir.join("admin.key").exists());
    assert!(!node.dir.join("store").exists());
}

/// Shell completions and the manual page come from the command definitions.
#[test]
fn completions_and_man_page() {
    let bash = tejido(&["completions", "bash"]);
    assert!(bash.ok().contains("checkin"), "{bash:?}");
    let man = tejido(&["man"]);
    assert!(
        man.ok().starts_with(".ie") || man.stdout.contains(".TH"),
        "{man:?}"
    );
    assert!(man.stdout.contains("panic"));
}

/// `tejido demo` tells the whole story with real processes and cleans up after itself.
#[test]
fn demo_shows_a_panic_arriving_and_acknowledged() {
    let run = tejido(&["demo"]);
    let out = run.ok();
    assert!(out.contains("stored by 3 of 3 node(s)"), "{out}");
    assert!(out.contains("acknowledged"), "{out}");
    assert!(out.contains("Sol"), "{out}");
}

fn http_get(addr: &str) -> String {
    http_raw(addr, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// Sends `request` as it is and reads the answer until the server closes the connection.
fn http_raw(addr: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("metrics connect");
    stream.write_all(request).expect("write");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// Prometheus metrics on loopback, when asked for: documents, events, changes applied and
/// refused; never on another address.
#[test]
fn metrics_on_loopback() {
    let t = TestDir::new();
    let node = Node::start_with(
        &t,
        "a",
        &[
            "--org",
            "red-oax",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--metrics",
            "127.0.0.1:0",
        ],
    );
    let addr = node.status()["metrics_addr"]
        .as_str()
        .expect("metrics address")
        .to_string();
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    bea.json(&["panic", "--note", "métricas"]);
    let refused = bea.run(&[
        "alert",
        "send",
        "--severity",
        "minor",
        "--region",
        "oaxaca",
        "no me toca",
    ]);
    assert_ne!(refused.code, Some(0));
    // The panic, and this node's delivery receipt for it in the receipts document.
    let body = wait_for("metrics to show the panic and its receipt", || {
        let body = http_get(&addr);
        body.contains("tejido_events{collection=\"receipts\"} 1")
            .then_some(body)
    });
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        body.contains("tejido_events{collection=\"alerts\"} 1"),
        "{body}"
    );
    assert!(body.contains("# TYPE tejido_changes_applied_total counter"));
    assert!(body.contains("tejido_documents 3"), "{body}");
    assert!(body.contains("tejido_control_queue_depth 0"), "{body}");
    assert!(body.contains("tejido_changes_rejected_total 1"), "{body}");
    assert!(
        body.contains("tejido_sync_lag_peers{doc=\"roster\"} 0"),
        "{body}"
    );
    // What is not an HTTP request gets a 400, and the endpoint goes on answering.
    let garbage = http_raw(&addr, b"\x16\x03\x01\x02\x00 not http\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
    assert!(http_get(&addr).contains("tejido_documents 3"));

    let exposed = tests::tejidod(&[
        "--data-dir",
        t.path("b").to_str().expect("path"),
        "--metrics",
        "0.0.0.0:9464",
    ]);
    assert!(!exposed.status.success());
    assert!(
        String::from_utf8_lossy(&exposed.stderr).contains("loopback only"),
        "{exposed:?}"
    );
    assert!(!t.path("b").exists(), "a refused start writes nothing");
}
