//! Backups: a running node's backup restored on a fresh directory is the same node to its
//! peers, catches up what it missed and serves its members; a wrong passphrase or a damaged
//! backup is refused and leaves nothing behind.

use std::path::Path;

use tests::{node_args, tejidod, wait_converged, wait_for, Member, Node, TestDir};

const PASSPHRASE: &str = "una frase de paso bastante larga\n";

fn write_passphrase(t: &TestDir, name: &str, text: &str) -> String {
    let path = t.path(name);
    std::fs::write(&path, text).expect("passphrase file");
    path.display().to_string()
}

fn alert_texts(node: &Node) -> Vec<String> {
    node.tejido(&["alerts", "--json"])
        .json()
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["text"].as_str().unwrap_or("").to_string())
        .collect()
}

fn checkin_names(node: &Node) -> Vec<String> {
    node.tejido(&["checkins", "--json"])
        .json()
        .as_array()
        .expect("checkins")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_node_restored_from_its_backup_is_the_same_node_and_catches_up() {
    let t = TestDir::new();
    let a = Node::start_with(&t, "a", &node_args("red-oax"));
    let mut b = Node::start_with(&t, "b", &node_args("casa-chis"));
    b.join_network(&a.invite_node());
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    let sol = Member::join(&t, "sol", &b.invite("Sol", "security-contact", "chiapas"));
    bea.json(&["panic", "--note", "antes de la copia"]);
    wait_converged(&[&a, &b]);

    let pass = write_passphrase(&t, "pass", PASSPHRASE);
    let file = t.path("b.tejido-backup");
    let file_arg = file.display().to_string();
    let written = b.tejido(&["backup", "--to", &file_arg, "--passphrase-file", &pass]);
    assert!(written.ok().contains("backup of node"), "{written:#?}");
    let bytes = std::fs::read(&file).expect("the backup");
    assert!(bytes.starts_with(b"TJB0"));
    for needle in [&b"antes de la copia"[..], b"Sol", b"casa-chis"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the backup holds {:?} in clear",
            String::from_utf8_lossy(needle)
        );
    }

    // Written after the backup: Sol's check-in reaches A before B's machine is lost, and a
    // panic reaches A while B is gone. The restored node gets both back from A.
    sol.json(&["checkin", "--note", "despues de la copia"]);
    wait_converged(&[&a, &b]);
    let b_id = b.id();
    let b_port = b.port();
    b.kill9();
    bea.json(&["panic", "--note", "mientras b no esta"]);

    let listen = format!("/ip4/127.0.0.1/tcp/{b_port}");
    let restored = Node::start_with(
        &t,
        "b-new",
        &[
            "--restore",
            &file_arg,
            "--passphrase-file",
            &pass,
            "--listen",
            &listen,
            "--connect",
            "bootstrap",
        ],
    );
    assert_eq!(restored.id(), b_id, "the restored node has the same key");
    assert!(restored.log().contains("restored"), "{}", restored.log());
    wait_converged(&[&a, &restored]);
    let texts = alert_texts(&restored);
    for text in ["antes de la copia", "mientras b no esta"] {
        assert!(texts.iter().any(|t| t == text), "{text} missing: {texts:?}");
    }
    assert!(checkin_names(&restored).iter().any(|n| n == "Sol"));
    wait_for("A to see the restored node as its peer", || {
        a.connected().contains(&b_id).then_some(())
    });

    // Its member reaches it as before, and what she writes reaches A.
    let stored = sol.json(&["checkin", "--note", "de vuelta"]);
    assert_eq!(stored["level"], "stored", "{stored}");
    wait_converged(&[&a, &restored]);
}

#[test]
fn a_wrong_passphrase_or_a_damaged_backup_changes_nothing() {
    let t = TestDir::new();
    let a = Node::start(&t, "a", "red-oax");
    let bea = Member::join(&t, "bea", &a.invite("Bea", "member", "oaxaca"));
    bea.json(&["panic", "--note", "nota"]);
    let pass = write_passphrase(&t, "pass", PASSPHRASE);
    let wrong = write_passphrase(&t, "wrong", "otra frase de paso cualquiera\n");
    let file = t.path("a.tejido-backup");
    a.tejido(&[
        "backup",
        "--to",
        &file.display().to_string(),
        "--passphrase-file",
        &pass,
    ])
    .ok();
    let bytes = std::fs::read(&file).expect("backup");
    let truncated = t.path("truncated.tejido-backup");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let flipped = t.path("flipped.tejido-backup");
    let mut altered = bytes.clone();
    let at = altered.len() - 100;
    altered[at] ^= 0x40;
    std::fs::write(&flipped, &altered).expect("write");

    let parent = t.path("restores");
    std::fs::create_dir(&parent).expect("dir");
    let target = parent.join("node");
    let target_arg = target.display().to_string();
    for (backup, passphrase, says) in [
        (&file, &wrong, "wrong passphrase"),
        (&truncated, &pass, "damaged"),
        (&flipped, &pass, "damaged"),
    ] {
        let out = tejidod(&[
            "--data-dir",
            &target_arg,
            "--restore",
            &backup.display().to_string(),
            "--passphrase-file",
            passphrase,
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "restored from {}", backup.display());
        assert!(stderr.contains(says), "{}: {stderr}", backup.display());
        assert!(
            entries(&parent).is_empty(),
            "left behind: {:?}",
            entries(&parent)
        );
    }

    // A directory that holds something is never restored into.
    std::fs::create_dir(&target).expect("dir");
    std::fs::write(target.join("notes.txt"), b"mine").expect("write");
    let out = tejidod(&[
        "--data-dir",
        &target_arg,
        "--restore",
        &file.display().to_string(),
        "--passphrase-file",
        &pass,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(entries(&target), ["notes.txt"]);

    // A passphrase too short for a backup is refused by the node.
    let short = write_passphrase(&t, "short", "corta\n");
    let refused = a.tejido(&[
        "backup",
        "--to",
        &t.path("x").display().to_string(),
        "--passphrase-file",
        &short,
    ]);
    assert_eq!(refused.code, Some(1));
    assert!(!t.path("x").exists());
}
