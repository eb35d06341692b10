//! A seized node: with encryption at rest, its files hold no record in clear, and its keys and
//! data open only with the passphrase.

use std::io::Write;
use std::process::{Command, Stdio};

use tests::{Member, Node, TestDir};

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn encrypted_node_keeps_nothing_in_clear() {
    let t = TestDir::new();
    let pass = "tejido social 2026\n";
    let args = [
        "--org",
        "red-oax",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--encrypt",
        "--passphrase-fd",
        "0",
    ];
    let mut node = Node::start_with_input(&t, "a", &args, Some(pass));
    let port = node.port();
    let zen = Member::join(&t, "zen", &node.invite("Zenaida", "member", "oaxaca"));
    let panic = zen.json(&["panic", "--note", "texto-secreto-de-zenaida"]);
    zen.json(&["checkin", "--note", "nota-privada-de-zenaida"]);
    // Stopped, so that the documents' full saves are in their files too.
    node.stop();

    let mut files = Vec::new();
    files_under(&node.dir, &mut files);
    assert!(files.len() > 3);
    assert!(
        files
            .iter()
            .any(|f| f.parent().is_some_and(|p| p.ends_with("store/saves"))),
        "a full save is among the files: {files:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).expect("read");
        for needle in [&b"texto-secreto"[..], b"nota-privada", b"Zenaida"] {
            assert!(
                !contains(&bytes, needle),
                "{} holds {:?} in clear",
                file.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }
    assert!(std::fs::read(node.dir.join("node.key"))
        .expect("key")
        .starts_with(b"TJE0"));

    // A wrong passphrase opens nothing, and says so.
    let mut wrong = Command::new(tests::bin_dir().join("tejidod"))
        .args([
            "--data-dir",
            node.dir.to_str().expect("path"),
            "--passphrase-fd",
            "0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tejidod");
    wrong
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"not the passphrase\n")
        .expect("write");
    let out = wrong.wait_with_output().expect("wait");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"),
        "{out:?}"
    );

    // The right one opens everything.
    node.restart_on(&port);
    let alerts = node.tejido(&["alerts", "--json"]).json();
    assert!(alerts
        .as_array()
        .expect("alerts")
        .iter()
        .any(|a| a["id"] == panic["id"]));
    assert_eq!(zen.json(&["whoami"])["name"], "Zenaida");
}

/// A node under systemd has no terminal: with encryption at rest it reads its passphrase from
/// the `tejido-passphrase` credential (`LoadCredential=`, `$CREDENTIALS_DIRECTORY`), on its
/// first start and on every start after, and keeps its keys sealed.
#[test]
fn a_service_without_a_terminal_runs_encrypted_from_its_credential() {
    let t = TestDir::new();
    let creds = t.path("credentials");
    std::fs::create_dir_all(&creds).expect("dir");
    std::fs::write(creds.join("tejido-passphrase"), "frase de servicio 2026\n").expect("write");
    let env = format!("CREDENTIALS_DIRECTORY={}", creds.display());
    let args = [
        "--org",
        "red-oax",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--encrypt",
    ];
    let mut node = Node::start_wrapped(&t, "a", &["env", &env], &args);
    let port = node.port();
    let zen = Member::join(&t, "zen", &node.invite("Zenaida", "member", "oaxaca"));
    zen.json(&["checkin", "--note", "nota-de-servicio"]);
    node.kill9();
    assert!(std::fs::read(node.dir.join("node.key"))
        .expect("key")
        .starts_with(b"TJE0"));
    // Started again the same way, it opens its data; without the credential it refuses to.
    let out = Command::new(tests::bin_dir().join("tejidod"))
        .arg("--data-dir")
        .arg(&node.dir)
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(Stdio::null())
        .output()
        .expect("tejidod");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tejido-passphrase"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut again = Node::start_wrapped(
        &t,
        "a",
        &["env", &env],
        &["--listen", &format!("/ip4/127.0.0.1/tcp/{port}")],
    );
    let checkins = again.tejido(&["checkins", "--json"]).json();
    assert!(
        checkins.to_string().contains("nota-de-servicio"),
        "{checkins}"
    );
    again.kill9();
}
