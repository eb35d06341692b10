//! Test harness: real `tejidod` processes on 127.0.0.1 with port 0, driven by the real
//! `tejido` binary, each in its own temporary directory.
//!
//! Waits poll observable state (the operator socket, CLI output) with a deadline; nothing
//! sleeps to synchronise. Every process started is killed when its handle drops.
//!
//! [`process`] and [`peer`] are the parts `tejido-bench` shares: binaries, a node process and
//! its operator socket, an in-process sync peer. What is here wraps them for tests, which
//! panic on failure and read the CLI's JSON.

pub mod peer;
pub mod process;

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use process::{bins, block_on, node_args, NodeProc};

/// How long a wait may take before the test fails. Generous: CI machines are shared.
pub const WAIT: Duration = Duration::from_secs(60);

/// The directory holding the workspace's binaries, built once per test run.
pub fn bin_dir() -> &'static Path {
    &bins().dir
}

/// A command's result.
#[derive(Debug)]
pub struct Run {
    /// Exit code (None if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "command failed: {self:#?}");
        &self.stdout
    }
    /// Parses stdout as JSON after asserting success.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }
}

/// Runs `tejido` with `args`.
pub fn tejido(args: &[&str]) -> Run {
    let out = bins()
        .tejido_command()
        .args(args)
        .output()
        .expect("running tejido");
    Run::from(out)
}

/// Polls `f` until it returns `Some`, failing the test after [`WAIT`].
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// A temporary directory for one test.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// A fresh directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("tejido-test-")
                .tempdir()
                .expect("tempdir"),
        }
    }
    /// A path inside it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

/// A running `tejidod` (a [`NodeProc`] that panics on failure).
pub struct Node {
    /// Its data directory.
    pub dir: PathBuf,
    proc: NodeProc,
}

impl Node {
    /// Starts a fresh node of `org` listening on 127.0.0.1, port chosen by the OS.
    pub fn start(t: &TestDir, name: &str, org: &str) -> Self {
        Self::start_with(t, name, &["--org", org, "--listen", "/ip4/127.0.0.1/tcp/0"])
    }

    /// Starts a node with the given arguments (besides `--data-dir`).
    pub fn start_with(t: &TestDir, name: &str, args: &[&str]) -> Self {
        Self::start_with_input(t, name, args, None)
    }

    /// Starts a node that reads `input` (e.g. a passphrase) on its standard input.
    pub fn start_with_input(t: &TestDir, name: &str, args: &[&str], input: Option<&str>) -> Self {
        let mut proc = NodeProc::new(t.dir.path(), name, args);
        proc.input = input.map(str::to_string);
        Self::spawned(proc)
    }

    /// Starts a node inside the network namespace `ns` (which the caller created).
    pub fn start_in_netns(t: &TestDir, name: &str, ns: &str, args: &[&str]) -> Self {
        let mut proc = NodeProc::new(t.dir.path(), name, args);
        proc.wrap = ["ip", "netns", "exec", ns].map(str::to_string).to_vec();
        Self::spawned(proc)
    }

    /// Starts a node under `wrap` (a command that runs `tejidod` with `args`, such as `env
    /// NAME=VALUE`).
    pub fn start_wrapped(t: &TestDir, name: &str, wrap: &[&str], args: &[&str]) -> Self {
        let mut proc = NodeProc::new(t.dir.path(), name, args);
        proc.wrap = wrap.iter().map(|s| s.to_string()).collect();
        Self::spawned(proc)
    }

    fn spawned(mut proc: NodeProc) -> Self {
        proc.rust_log = std::env::var("TEJIDO_TEST_LOG").unwrap_or_else(|_| "info".into());
        let mut node = Self {
            dir: proc.dir.clone(),
            proc,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let proc = &mut self.proc;
        proc.spawn(bins())
            .and_then(|()| block_on(proc.wait_listening()))
            .unwrap_or_else(|e| panic!("starting {}: {e:#}", proc.name));
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        self.proc.log()
    }

    /// `tejido --data-dir DIR args...`.
    pub fn tejido(&self, args: &[&str]) -> Run {
        let mut all = vec!["--data-dir", self.dir.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        tejido(&all)
    }

    /// `status --json`.
    pub fn status(&self) -> Value {
        self.tejido(&["status", "--json"]).json()
    }

    /// The node's key.
    pub fn id(&self) -> String {
        self.status()["node_id"]
            .as_str()
            .expect("node_id")
            .to_string()
    }

    /// The TCP port it listens on.
    pub fn port(&self) -> String {
        let status = self.status();
        let addr = status["listen_addrs"][0].as_str().expect("listen addr");
        addr.rsplit('/').next().expect("port").to_string()
    }

    /// A one-time member invite code.
    pub fn invite(&self, name: &str, role: &str, region: &str) -> String {
        self.tejido(&[
            "invite", "member", "--name", name, "--role", role, "--region", region,
        ])
        .ok()
        .trim()
        .to_string()
    }

    /// A one-time invite code for another organisation's node.
    pub fn invite_node(&self) -> String {
        self.tejido(&["invite", "node"]).ok().trim().to_string()
    }

    /// Joins the network of `code` (a node invite).
    pub fn join_network(&self, code: &str) {
        self.tejido(&["join", code]).ok();
    }

    /// Agrees, as this node's organisation, to admit `org`, and waits until `inviter` (the
    /// node whose invite the new organisation's node will use) has heard of it: from three
    /// organisations on, one does not admit another alone.
    pub fn approve(&self, org: &str, inviter: &Node) {
        self.tejido(&["org", "approve", org]).ok();
        let mine = self.status()["org"].as_str().expect("org").to_string();
        wait_for("the inviting node to hear of the approval", || {
            let orgs = inviter.tejido(&["orgs", "--json"]).json();
            orgs["pending"]
                .as_array()?
                .iter()
                .any(|p| {
                    p["change"]["approve"]["org"] == org
                        && p["agreed"]
                            .as_array()
                            .is_some_and(|a| a.contains(&mine.as_str().into()))
                })
                .then_some(())
        });
    }

    /// Each document's sorted heads.
    pub fn heads(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let docs = self.tejido(&["docs", "--json"]).json();
        docs.as_array()
            .expect("docs")
            .iter()
            .map(|d| {
                let heads = d["heads"]
                    .as_array()
                    .expect("heads")
                    .iter()
                    .map(|h| h.as_str().unwrap_or("").to_string())
                    .collect();
                (d["doc"].as_str().unwrap_or("").to_string(), heads)
            })
            .collect()
    }

    /// Keys of the nodes this node is connected to now.
    pub fn connected(&self) -> Vec<String> {
        self.status()["connected_peers"]
            .as_array()
            .expect("connected_peers")
            .iter()
            .map(|p| p.as_str().unwrap_or("").to_string())
            .collect()
    }

    /// Submits events signed by `key` over the member protocol, as a member's device would,
    /// and returns the node's answer.
    pub fn submit_as(
        &self,
        key: &protocol::ids::SecretKey,
        events: Vec<protocol::event::SignedEvent>,
    ) -> Result<protocol::wire::ClientResponseV0, daemon::net::NodeError> {
        let status = self.status();
        let contact = protocol::wire::NodeContact {
            key: status["node_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("key"),
            addrs: vec![status["listen_addrs"][0]
                .as_str()
                .expect("addr")
                .to_string()],
        };
        let mut answers = block_on(daemon::net::request_all(
            key,
            &[contact],
            protocol::wire::ClientRequestV0::Submit { events },
        ))
        .expect("request");
        answers.pop().expect("an answer").1
    }

    /// Stops the process as an operator would (the node's shutdown: its documents compacted
    /// into their save files and flushed).
    pub fn stop(&mut self) {
        let proc = &mut self.proc;
        block_on(proc.shutdown()).unwrap_or_else(|e| panic!("stopping {}: {e:#}", proc.name));
    }

    /// Kills the process with SIGKILL (no shutdown, no flush).
    pub fn kill9(&mut self) {
        self.proc.kill9();
    }

    /// Starts the node again on the same data directory and TCP port.
    pub fn restart_on(&mut self, port: &str) {
        self.kill9();
        self.proc.set_listen_port(port.parse().expect("a TCP port"));
        self.spawn();
    }

    /// Stops the process as an operator would (the node's shutdown: its documents compacted
    /// and flushed) and starts it again on the same data directory and TCP port.
    pub fn stop_and_restart_on(&mut self, port: &str) {
        let proc = &mut self.proc;
        block_on(proc.shutdown()).unwrap_or_else(|e| panic!("stopping {}: {e:#}", proc.name));
        self.proc.set_listen_port(port.parse().expect("a TCP port"));
        self.spawn();
    }

    /// The resident memory of the process, in KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        self.proc.mem().expect("a running node's memory").rss_kb
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.is_running()
    }

    /// The harness's process handle (the operator socket, memory, CPU).
    pub fn proc(&self) -> &NodeProc {
        &self.proc
    }
}

/// A member's device: a home directory for `tejido --home`.
pub struct Member {
    /// The home directory.
    pub home: PathBuf,
}

impl Member {
    /// A member who redeemed `code`.
    pub fn join(t: &TestDir, name: &str, code: &str) -> Self {
        let member = Self {
            home: t.path(&format!("home-{name}")),
        };
        member.run(&["join", code]).ok();
        member
    }

    /// `tejido --home H args...`.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--home", self.home.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        tejido(&all)
    }

    /// `tejido --home H args... --json`, parsed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        self.run(&all).json()
    }

    /// This member's key.
    pub fn key(&self) -> String {
        self.json(&["whoami"])["key"]
            .as_str()
            .expect("key")
            .to_string()
    }

    /// This member's secret key, read from the home directory, for tests that sign as her.
    pub fn secret_key(&self) -> protocol::ids::SecretKey {
        let bytes: [u8; 32] = std::fs::read(self.home.join("member.key"))
            .expect("key")
            .try_into()
            .expect("32 bytes");
        protocol::ids::SecretKey::from_bytes(bytes)
    }

    /// Files waiting in the offline queue.
    pub fn queued(&self) -> usize {
        std::fs::read_dir(self.home.join("queue"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// A long-running `tejido` command (e.g. `watch`) whose output lines are read as they come.
/// The process is killed when this drops.
pub struct Stream {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line read so far.
    pub seen: Vec<String>,
}

impl Stream {
    /// Starts `tejido args...`.
    pub fn start(args: &[&str]) -> Self {
        let mut child = bins()
            .tejido_command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tejido");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one satisfies `f`, failing the test after [`WAIT`].
    pub fn wait_line(&mut self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if f(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("timed out waiting for {what}; read: {:#?}", self.seen),
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until every node holds the same documents with the same heads, and returns them.
pub fn wait_converged(nodes: &[&Node]) -> std::collections::BTreeMap<String, Vec<String>> {
    wait_for("nodes to converge", || {
        let first = nodes[0].heads();
        nodes[1..]
            .iter()
            .all(|n| n.heads() == first)
            .then_some(first)
    })
}

/// Rewrites a member's list of known nodes to the given node only (a member who knows one
/// node), so that what other nodes see came through replication.
pub fn pin_member_to(member: &Member, node: &Node) {
    let path = member.home.join("profile.json");
    let mut saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("profile")).expect("json");
    let id = node.id();
    let nodes = saved["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["key"] == id.as_str())
        .cloned()
        .collect();
    saved["nodes"] = Value::Array(nodes);
    // The device then takes it for a node of its own organisation (it talks to no other).
    saved["profile"]["org_nodes"] = Value::Array(vec![Value::String(id.clone())]);
    std::fs::write(&path, serde_json::to_string(&saved).expect("json")).expect("write profile");
}

/// A small deterministic generator for fault schedules, so that a failing schedule can be
/// replayed from its seed.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number below `below`.
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Three organisations' nodes in a line A - B - C: B joined A's network, C joined through B,
/// and each dials only its bootstrap peers, so A and C never connect.
pub fn line_of_three(t: &TestDir) -> (Node, Node, Node) {
    let node = |name: &str, org: &str| Node::start_with(t, name, &node_args(org));
    let (a, b, c) = (
        node("a", "red-oax"),
        node("b", "casa-chis"),
        node("c", "colectiva-gro"),
    );
    b.join_network(&a.invite_node());
    c.join_network(&b.invite_node());
    (a, b, c)
}

/// Runs `tejidod` with `args` to completion (for starts that must fail).
pub fn tejidod(args: &[&str]) -> Output {
    std::process::Command::new(&bins().tejidod)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running tejidod")
}

/// Copies a data directory: its files and directories, not its operator socket.
pub use daemon::format::copy_dir;

/// Runs `ip ARGS` (iproute2, as root), failing the test if it fails.
pub fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("running ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test knob from the environment (soak lengths, seeds), or its default.
pub fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
