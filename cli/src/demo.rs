//! `tejido demo`: a throwaway local network of three nodes, a security contact and a member,
//! which tells the whole story in under a minute: a panic raised on one organisation's node
//! arrives on the others, is acknowledged, and the sender sees who holds it and who answered.
//! Everything runs as real processes on 127.0.0.1 in a temporary directory, removed at the end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Nodes started by the demo, killed when it ends (even on error).
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn tejido(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(sibling("tejido"))
        .args(args)
        .env_remove("TEJIDO_HOME")
        .env_remove("TEJIDO_DATA_DIR")
        .env("TEJIDO_LANG", crate::i18n::lang().tag())
        .output()
        .context("running tejido")?;
    if !out.status.success() {
        anyhow::bail!(
            "tejido {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn start_node(dir: &Path, org: &str, nodes: &mut Nodes) -> anyhow::Result<()> {
    let child = Command::new(sibling("tejidod"))
        .args([
            "--data-dir",
            &dir.to_string_lossy(),
            "--org",
            org,
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting tejidod (build it with: cargo build --release)")?;
    nodes.0.push(child);
    let d = dir.to_string_lossy().into_owned();
    wait_until("a node to start", || {
        tejido(&["--data-dir", &d, "status", "--json"])
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .is_some_and(|s| s["listen_addrs"].as_array().is_some_and(|a| !a.is_empty()))
    })
}

fn say(text: &str) {
    println!("\n== {text}");
}

fn show(command: &str, output: &str) {
    println!("$ {command}");
    print!("{output}");
}

/// Runs the demo.
pub(crate) fn run() -> anyhow::Result<()> {
    let tmp = std::env::temp_dir().join(format!("tejido-demo-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let result = story(&tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    if result.is_ok() {
        say(&tr!("demo-done"));
    }
    result
}

fn story(tmp: &Path) -> anyhow::Result<()> {
    let mut nodes = Nodes(Vec::new());
    let dir = |name: &str| tmp.join(name).to_string_lossy().into_owned();
    let (a, b, c) = (dir("red-oax"), dir("casa-chis"), dir("colectiva-gro"));

    say(&tr!("demo-start"));
    start_node(Path::new(&a), "red-oax", &mut nodes)?;
    start_node(Path::new(&b), "casa-chis", &mut nodes)?;
    start_node(Path::new(&c), "colectiva-gro", &mut nodes)?;

    say(&tr!("demo-invite-nodes"));
    for other in [&b, &c] {
        let code = tejido(&["--data-dir", &a, "invite", "node"])?;
        show(
            &format!("tejido --data-dir {other} join CODE"),
            &tejido(&["--data-dir", other, "join", code.trim()])?,
        );
    }

    say(&tr!("demo-invite-members"));
    let (sol, bea) = (dir("sol"), dir("bea"));
    let code = tejido(&[
        "--data-dir",
        &b,
        "invite",
        "member",
        "--name",
        "Sol",
        "--role",
        "security-contact",
        "--region",
        "oaxaca",
    ])?;
    tejido(&["--home", &sol, "join", code.trim()])?;
    let code = tejido(&[
        "--data-dir",
        &a,
        "invite",
        "member",
        "--name",
        "Bea",
        "--region",
        "oaxaca",
    ])?;
    show(
        "tejido --home bea join CODE",
        &tejido(&["--home", &bea, "join", code.trim()])?,
    );

    say(&tr!("demo-panic"));
    let out = tejido(&["--home", &bea, "panic", "--note", "me están siguiendo"])?;
    show("tejido panic --note \"me están siguiendo\"", &out);
    let alerts: serde_json::Value =
        serde_json::from_str(&tejido(&["--data-dir", &a, "alerts", "--json"])?)?;
    let id = alerts[0]["id"]
        .as_str()
        .context("the panic is on Bea's node")?[..8]
        .to_string();

    say(&tr!("demo-arrived"));
    wait_until("the panic on every node", || {
        [&a, &b, &c]
            .iter()
            .all(|d| tejido(&["--data-dir", d, "alerts", "--json"]).is_ok_and(|o| o.contains(&id)))
    })?;
    show(
        "tejido --home sol alerts --open",
        &tejido(&["--home", &sol, "alerts", "--open"])?,
    );

    say(&tr!("demo-ack"));
    show(
        &format!("tejido --home sol alert ack {id}"),
        &tejido(&["--home", &sol, "alert", "ack", &id])?,
    );
    wait_until("the acknowledgement on Bea's node", || {
        tejido(&["--data-dir", &a, "alerts", "--json"])
            .ok()
            .and_then(|o| serde_json::from_str::<serde_json::Value>(&o).ok())
            .is_some_and(|v| v[0]["status"] == "acknowledged")
    })?;

    say(&tr!("demo-history"));
    show(
        &format!("tejido --home bea alert show {id}"),
        &tejido(&["--home", &bea, "alert", "show", &id])?,
    );
    drop(nodes);
    Ok(())
}
