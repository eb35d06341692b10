//! Bridges: alerts leave the network by email, webhook and a program, once, durably, and a
//! duress alert only to the member's own contacts in the words agreed with them.
//!
//! The servers are real and local: a minimal SMTP server and an HTTP server that checks the
//! webhook's HMAC, each on 127.0.0.1 port 0 in a thread of the test; the program is a shell
//! script that appends what it reads to a file.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tests::{tejidod, wait_for, Member, Node, TestDir};

/// What the local servers received.
type Inbox = Arc<Mutex<Vec<String>>>;

/// A minimal SMTP server: enough of RFC 5321 to receive mail from lettre without TLS. Each
/// message's data (headers and body) goes to the inbox. Returns its port.
fn smtp_server() -> (u16, Inbox) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
    let port = listener.local_addr().expect("addr").port();
    let inbox: Inbox = Arc::default();
    let out = inbox.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let out = out.clone();
            std::thread::spawn(move || {
                let mut w = stream.try_clone().expect("clone");
                let mut r = BufReader::new(stream);
                let _ = w.write_all(b"220 test ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("DATA") {
                        let _ = w.write_all(b"354 go on\r\n");
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" {
                                break;
                            }
                            data.push_str(&l);
                        }
                        out.lock().expect("inbox").push(data);
                        b"250 queued\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply);
                }
            });
        }
    });
    (port, inbox)
}

/// An HTTP server that answers 200 to a POST whose `x-tejido-signature` is the HMAC-SHA256
/// of its body under `key` and 401 otherwise, or 503 while `up` is false. Bodies with a good
/// signature go to the inbox; the count of bad ones to `bad`.
fn webhook_server(key: &'static [u8], up: Arc<AtomicBool>) -> (u16, Inbox, Arc<Mutex<u32>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind http");
    let port = listener.local_addr().expect("addr").port();
    let inbox: Inbox = Arc::default();
    let bad = Arc::new(Mutex::new(0));
    let (out, bad_out) = (inbox.clone(), bad.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut r = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            let mut signature = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                    break;
                }
                let lower = l.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("x-tejido-signature:") {
                    signature = v.trim().to_string();
                }
            }
            let mut body = vec![0u8; length];
            let _ = r.read_exact(&mut body);
            let status = if !up.load(Ordering::SeqCst) {
                "503 Service Unavailable"
            } else if signature == daemon::bridge::signature(key, &body) {
                out.lock()
                    .expect("inbox")
                    .push(String::from_utf8_lossy(&body).into_owned());
                "200 OK"
            } else {
                *bad_out.lock().expect("bad") += 1;
                "401 Unauthorized"
            };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (port, inbox, bad)
}

/// A program for an exec bridge: appends what it reads to `out`, one JSON a line; fails
/// (exit 1) while `gate` is given and does not exist.
fn exec_script(t: &TestDir, name: &str, gate: Option<&Path>) -> (PathBuf, PathBuf) {
    let out = t.path(&format!("{name}.jsonl"));
    let script = t.path(&format!("{name}.sh"));
    let check = gate.map_or(String::new(), |g| {
        format!(
            "[ -e '{}' ] || {{ echo 'gateway not ready' >&2; exit 1; }}\n",
            g.display()
        )
    });
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{check}cat >> '{}'\necho >> '{}'\n",
            out.display(),
            out.display()
        ),
    )
    .expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (script, out)
}

/// The JSON lines a script wrote so far.
fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Appends `text` to the node's config.toml and restarts it on its port.
fn configure(node: &mut Node, text: &str) {
    let port = node.port();
    let path = node.dir.join("config.toml");
    let mut config = std::fs::read_to_string(&path).expect("config.toml");
    config.push_str(text);
    std::fs::write(&path, config).expect("config.toml");
    node.restart_on(&port);
}

/// An alert as the member's node shows it (`alert show --json`).
fn show(member: &Member, id: &str) -> Value {
    member.json(&["alert", "show", id])
}

/// The bridges named in an alert's `notified` list.
fn notified(alert: &Value) -> Vec<String> {
    alert["notified"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| n["bridge"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A bridge's figures in `status --json`.
fn bridge_status(node: &Node, name: &str) -> Value {
    node.status()["bridges"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["name"] == name).cloned())
        .unwrap_or(Value::Null)
}

/// Mail data with quoted-printable soft line breaks joined, so words read whole.
fn unfolded(mail: &str) -> String {
    mail.replace("=\r\n", "")
}

/// A panic reaches the security contacts by email, by a webhook that checks its signature,
/// and through a program; each delivery is a signed event in the alert's history that the
/// sender sees, `status` counts them, and `bridge test` sends a test message through each.
#[test]
fn a_panic_is_delivered_by_email_webhook_and_exec_and_shown_to_the_sender() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    let (smtp_port, mails) = smtp_server();
    let up = Arc::new(AtomicBool::new(true));
    let (http_port, hooks, bad) = webhook_server(b"clave-del-webhook", up);
    let key_file = t.path("hook.key");
    std::fs::write(&key_file, "clave-del-webhook\n").expect("key");
    let (script, out) = exec_script(&t, "sms", None);
    configure(
        &mut node,
        &format!(
            r#"
[notify]
claim_wait = "1s"

[[bridge]]
name = "guardia-correo"
kind = "email"
regions = ["oaxaca"]
smtp = "127.0.0.1:{smtp_port}"
starttls = false
from = "alertas@example.org"
to = ["guardia@example.org"]

[[bridge]]
name = "guardia-hook"
kind = "webhook"
url = "http://127.0.0.1:{http_port}/alertas"
secret_file = "{}"

[[bridge]]
name = "guardia-sms"
kind = "exec"
kinds = ["panic"]
command = ["{}"]

[[bridge]]
name = "otra-region"
kind = "exec"
regions = ["guerrero"]
command = ["{}"]
"#,
            key_file.display(),
            script.display(),
            script.display()
        ),
    );

    let panic = bea.json(&["panic", "--note", "me siguen desde el mercado"]);
    let id = panic["id"].as_str().expect("id").to_string();

    let alert = wait_for("three notifications in the alert's history", || {
        let a = show(&bea, &id);
        (notified(&a).len() == 3).then_some(a)
    });
    let mut names = notified(&alert);
    names.sort();
    assert_eq!(names, ["guardia-correo", "guardia-hook", "guardia-sms"]);
    let history: Vec<&str> = alert["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(history.iter().filter(|a| **a == "notified").count(), 3);
    assert_eq!(alert["notified"][0]["node"], node.id().as_str());

    // What each contact received: what, where, who and how to acknowledge, in Spanish.
    let mail = wait_for("the email", || mails.lock().unwrap().first().cloned());
    let mail = unfolded(&mail);
    for needle in [
        "Bea",
        "oaxaca",
        "me siguen desde el mercado",
        "tejido alert ack",
        "guardia@example.org",
    ] {
        assert!(mail.contains(needle), "{needle:?} not in {mail}");
    }
    let hook: Value = serde_json::from_str(&hooks.lock().unwrap()[0]).expect("the webhook's JSON");
    assert_eq!(hook["alert"], id.as_str());
    assert_eq!(hook["kind"], "panic");
    assert_eq!(hook["region"], "oaxaca");
    assert_eq!(hook["who"], "Bea");
    assert!(
        hook["message"].as_str().unwrap().contains("PÁNICO"),
        "{hook}"
    );
    assert_eq!(*bad.lock().unwrap(), 0, "every webhook signature held");
    let sms = lines(&out);
    assert_eq!(
        sms.len(),
        1,
        "the bridge for guerrero was not used: {sms:?}"
    );
    assert_eq!(sms[0]["bridge"], "guardia-sms");
    assert_eq!(sms[0]["text"], "me siguen desde el mercado");

    // The sender's own view says it, and status counts it.
    let shown = bea
        .run(&["--lang", "en", "alert", "show", &id])
        .ok()
        .to_string();
    assert!(
        shown.contains("notified guardia-correo by email"),
        "{shown}"
    );
    assert_eq!(bridge_status(&node, "guardia-hook")["delivered"], 1);
    assert_eq!(bridge_status(&node, "otra-region")["delivered"], 0);

    // bridge test: one message through each bridge, or the one named.
    let test = node
        .tejido(&["bridge", "test", "guardia-hook", "--json"])
        .json();
    assert_eq!(test["results"][0]["ok"], true, "{test}");
    let last: Value = serde_json::from_str(hooks.lock().unwrap().last().unwrap()).unwrap();
    assert_eq!(last["test"], true);
    let all = node.tejido(&["bridge", "test"]);
    assert_eq!(all.code, Some(0), "{all:?}");
    assert_eq!(mails.lock().unwrap().len(), 2);
    let missing = node.tejido(&["bridge", "test", "no-existe"]);
    assert_eq!(missing.code, Some(1));
}

/// A node killed with -9 while a notification is due (its SMS gateway is down, the attempt
/// failed and is recorded) delivers it after the restart, once, with the attempts before the
/// crash still counted.
#[test]
fn a_notification_due_at_a_crash_is_delivered_once_after_restart() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    let gate = t.path("gateway-up");
    let (script, out) = exec_script(&t, "sms", Some(&gate));
    configure(
        &mut node,
        &format!(
            "\n[notify]\nclaim_wait = \"1s\"\n\n[[bridge]]\nname = \"guardia-sms\"\nkind = \"exec\"\ncommand = [\"{}\"]\n",
            script.display()
        ),
    );
    let first = bea.json(&["panic", "--note", "primera"]);
    let first = first["id"].as_str().expect("id").to_string();
    wait_for("a failed attempt recorded", || {
        let b = bridge_status(&node, "guardia-sms");
        (b["pending_attempts"].as_u64() >= Some(1)).then_some(())
    });
    let port = node.port();
    node.restart_on(&port);
    let after = bridge_status(&node, "guardia-sms");
    assert_eq!(after["pending"], 1, "the outbox survived: {after}");
    assert!(after["pending_attempts"].as_u64() >= Some(1), "{after}");
    assert!(lines(&out).is_empty());

    std::fs::write(&gate, "").expect("gate");
    wait_for("the delivery after the restart", || {
        (notified(&show(&bea, &first)) == ["guardia-sms"]).then_some(())
    });
    // A second panic after the first's delivery: had the first been sent again, it would be
    // in the file before the second.
    node.restart_on(&port);
    let second = bea.json(&["panic", "--note", "segunda"]);
    let second = second["id"].as_str().expect("id").to_string();
    wait_for("the second delivery", || {
        (lines(&out).len() >= 2).then_some(())
    });
    let sent: Vec<Value> = lines(&out).iter().map(|l| l["alert"].clone()).collect();
    assert_eq!(sent, [Value::from(first), Value::from(second)]);
}

/// A duress alert goes only through the bridge of the member's own security contacts, in the
/// words agreed with them, never through a broadcast bridge, and no message says duress; her
/// panic right after it, the control, goes through both.
#[test]
fn a_duress_alert_reaches_only_own_contacts_and_never_says_duress() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    let (all_script, all_out) = exec_script(&t, "todas", None);
    let (own_script, own_out) = exec_script(&t, "guardia", None);
    configure(
        &mut node,
        &format!(
            r#"
[notify]
claim_wait = "1s"

[[bridge]]
name = "lista-todas"
kind = "exec"
command = ["{}"]

[[bridge]]
name = "guardia-propia"
kind = "exec"
audience = "own-contacts"
duress_wording = "Recordatorio: llamar a {{name}} por la cita en {{region}}"
command = ["{}"]
"#,
            all_script.display(),
            own_script.display()
        ),
    );
    let set = crate::safety::run_with_stdin(&bea, &["duress", "set"], "9999\n");
    assert!(set.ok().contains("Duress code set"), "{set:?}");
    bea.run(&["checkin", "--code", "9999", "--note", "todo bien"])
        .ok();
    wait_for("the duress alert through the own contacts' bridge", || {
        (!lines(&own_out).is_empty()).then_some(())
    });
    bea.json(&["panic", "--note", "control"]);
    wait_for("the panic through both bridges", || {
        (lines(&all_out).len() == 1 && lines(&own_out).len() == 2).then_some(())
    });
    let broadcast = lines(&all_out);
    assert_eq!(broadcast[0]["kind"], "panic", "{broadcast:?}");
    let own = lines(&own_out);
    assert_eq!(own[0]["kind"], "notice");
    assert_eq!(
        own[0]["message"],
        "Recordatorio: llamar a Bea por la cita en oaxaca"
    );
    assert_eq!(own[1]["kind"], "panic");
    for path in [&all_out, &own_out] {
        let text = std::fs::read_to_string(path).unwrap().to_lowercase();
        assert!(!text.contains("duress"), "{text}");
        assert!(!text.contains("coacci"), "{text}");
    }
}

/// Two nodes of two organisations, each with a bridge of the same name to the same contact:
/// the contact hears of the panic once, and the node that did not deliver says why.
#[test]
fn two_nodes_with_a_bridge_for_the_same_contact_notify_once() {
    let t = TestDir::new();
    let mut a = Node::start(&t, "a", "red-oax");
    let mut b = Node::start(&t, "b", "casa-chis");
    b.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let up = Arc::new(AtomicBool::new(true));
    let (port, hooks, _) = webhook_server(b"compartida", up);
    let key_file = t.path("hook.key");
    std::fs::write(&key_file, "compartida").expect("key");
    let bridge = format!(
        "\n[notify]\nclaim_wait = \"3s\"\ntakeover = \"10m\"\n\n[[bridge]]\nname = \"guardia-oaxaca\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/\"\nsecret_file = \"{}\"\n",
        key_file.display()
    );
    configure(&mut a, &bridge);
    configure(&mut b, &bridge);
    tests::wait_for("the nodes connected", || {
        (!a.connected().is_empty() && !b.connected().is_empty()).then_some(())
    });
    let panic = bea.json(&["panic", "--note", "una sola vez"]);
    let id = panic["id"].as_str().expect("id").to_string();
    wait_for("one node delivered and the other stood down", || {
        let (sa, sb) = (
            bridge_status(&a, "guardia-oaxaca"),
            bridge_status(&b, "guardia-oaxaca"),
        );
        let delivered =
            sa["delivered"].as_u64().unwrap_or(0) + sb["delivered"].as_u64().unwrap_or(0);
        let skipped = sa["skipped"].as_u64().unwrap_or(0) + sb["skipped"].as_u64().unwrap_or(0);
        (delivered == 1 && skipped == 1).then_some(())
    });
    assert_eq!(
        hooks.lock().unwrap().len(),
        1,
        "one message for one contact"
    );
    let alert = wait_for("the notification on the sender's node", || {
        let a = show(&bea, &id);
        (notified(&a).len() == 1).then_some(a)
    });
    assert_eq!(notified(&alert), ["guardia-oaxaca"]);
}

/// A broken bridge entry stops the node at start with an error that names the entry.
#[test]
fn a_broken_bridge_entry_is_refused_at_start_naming_it() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");
    node.kill9();
    let path = node.dir.join("config.toml");
    let good = std::fs::read_to_string(&path).expect("config.toml");
    let dir = node.dir.to_str().expect("utf-8").to_string();
    for (entry, says) in [
        (
            "[[bridge]]\nname = \"guardia-rota\"\nkind = \"email\"\nsmtp = \"127.0.0.1:25\"\nfrom = \"a@example.org\"\n",
            "needs to",
        ),
        (
            "[[bridge]]\nname = \"guardia-rota\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/\"\nsecret_file = \"/no/such/key\"\n",
            "secret_file",
        ),
        (
            "[[bridge]]\nname = \"guardia-rota\"\nkind = \"exec\"\ncommand = [\"/bin/true\"]\nkinds = [\"duress\"]\n",
            "own security contacts",
        ),
    ] {
        std::fs::write(&path, format!("{good}\n{entry}")).expect("config.toml");
        let out = tejidod(&["--data-dir", &dir, "--listen", "/ip4/127.0.0.1/tcp/0"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {entry}");
        assert!(stderr.contains("bridge \"guardia-rota\""), "{stderr}");
        assert!(stderr.contains(says), "{says:?} not in {stderr}");
    }
}

/// A panic nobody acknowledges escalates at its deadline (two seconds here) tier by tier: the
/// organisation's admins, the region's security contacts, the whole network; each step is in
/// the alert's history, and the bridge of each tier hears of it once it is reached.
#[test]
fn an_unacknowledged_panic_escalates_tier_by_tier() {
    let t = TestDir::new();
    let mut node = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &node.invite("Bea", "member", "oaxaca"));
    let (admins, admins_out) = exec_script(&t, "admins", None);
    let (network, network_out) = exec_script(&t, "red", None);
    configure(
        &mut node,
        &format!(
            r#"
[notify]
claim_wait = "1s"

[escalation]
extreme = "2s"

[[bridge]]
name = "admins"
kind = "exec"
tier = 1
command = ["{}"]

[[bridge]]
name = "toda-la-red"
kind = "exec"
tier = 3
command = ["{}"]
"#,
            admins.display(),
            network.display()
        ),
    );
    let panic = bea.json(&["panic", "--note", "nadie contesta"]);
    let id = panic["id"].as_str().expect("id").to_string();
    let alert = wait_for("the third tier", || {
        let a = show(&bea, &id);
        (a["escalation"] == 3).then_some(a)
    });
    let tiers: Vec<&str> = alert["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|h| h["action"] == "escalated")
        .map(|h| h["detail"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(tiers, ["tier 1", "tier 2", "tier 3"]);
    wait_for("the whole network's bridge", || {
        (lines(&network_out).len() == 1).then_some(())
    });
    let first = lines(&admins_out);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0]["escalation"].as_u64() >= Some(1));
    assert!(
        first[0]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("SIN RESPUESTA"),
        "{first:?}"
    );
    assert_eq!(lines(&network_out)[0]["escalation"], 3);
}
