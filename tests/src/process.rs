//! The process harness shared by the integration tests and `tejido-bench`: where the
//! workspace's binaries are (building them first), one `tejidod` on a data directory (start,
//! wait until it listens, attach to one running inside this process, kill -9, shutdown), its
//! operator socket (`daemon::control::call`), and what `/proc` tells of it (memory, CPU).
//!
//! Everything here returns errors instead of panicking; the tests' `Node` wraps it and
//! panics, the benchmark passes the errors on.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use libp2p::{Multiaddr, PeerId};
use protocol::control::{DocInfo, Request, Response, Status};
use protocol::ids::PublicKey;
use protocol::wire::NodeContact;

/// How long a node may take to answer on its socket and listen after exec.
pub const START_DEADLINE: Duration = Duration::from_secs(60);

/// The workspace's binaries, in the target directory of the running executable's profile.
#[derive(Clone, Debug)]
pub struct Bins {
    /// `target/<profile>`.
    pub dir: PathBuf,
    /// `tejidod`.
    pub tejidod: PathBuf,
    /// `tejido`.
    pub tejido: PathBuf,
}

impl Bins {
    /// Finds the binaries of the running executable's profile (it lives in `target/<profile>`
    /// or, for a test, in `target/<profile>/deps`), building them first with `build` (a no-op
    /// when they are current).
    pub fn locate(build: bool) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("own path")?;
        let mut dir = exe.parent().context("own directory")?;
        if dir.file_name().is_some_and(|n| n == "deps") {
            dir = dir.parent().context("target directory")?;
        }
        let bins = Self {
            dir: dir.to_path_buf(),
            tejidod: dir.join("tejidod"),
            tejido: dir.join("tejido"),
        };
        if build {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "--bins", "-p", "tejido-daemon", "-p", "tejido-cli"]);
            // Cargo sets package variables for the processes it runs; passed on to the nested
            // build they change build-script fingerprints and force rebuilds.
            for (name, _) in std::env::vars() {
                if name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR"
                {
                    cmd.env_remove(name);
                }
            }
            if bins.is_release() {
                cmd.arg("--release");
            }
            let status = cmd.status().context("running cargo build")?;
            if !status.success() {
                bail!("building tejidod and tejido failed");
            }
        }
        for b in [&bins.tejidod, &bins.tejido] {
            if !b.exists() {
                bail!("{} is missing: build it first", b.display());
            }
        }
        Ok(bins)
    }

    /// Whether these are release builds.
    pub fn is_release(&self) -> bool {
        self.dir.file_name().is_some_and(|n| n == "release")
    }

    /// A `tejido` command: no home or data directory from the environment, English output
    /// whatever the machine's locale, nothing on standard input.
    pub fn tejido_command(&self) -> Command {
        let mut cmd = Command::new(&self.tejido);
        cmd.env_remove("TEJIDO_HOME")
            .env_remove("TEJIDO_DATA_DIR")
            .env("TEJIDO_LANG", "en")
            .stdin(Stdio::null());
        cmd
    }
}

/// The binaries of this test run, built once (panics if they cannot be).
pub fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| Bins::locate(true).unwrap_or_else(|e| panic!("{e:#}")))
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own: usable from plain
/// tests and from inside another runtime alike.
pub fn block_on<F>(f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the harness")
                .block_on(f)
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// `tejidod` arguments of a fresh node of `org` (besides `--data-dir`): TCP on 127.0.0.1 at a
/// port the OS picks, dialling only its bootstrap peers.
pub fn node_args(org: &str) -> [&str; 6] {
    [
        "--org",
        org,
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--connect",
        "bootstrap",
    ]
}

/// Memory of a process, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mem {
    /// Resident now (VmRSS).
    pub rss_kb: u64,
    /// Peak resident since start or since the last [`NodeProc::reset_peak`] (VmHWM).
    pub hwm_kb: u64,
}

/// Reads VmRSS and VmHWM of a process.
pub fn mem_of(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some(Mem {
        rss_kb: field("VmRSS:")?,
        hwm_kb: field("VmHWM:")?,
    })
}

/// CPU time (user + system) a process has used, in seconds (`/proc/PID/stat`, 100 Hz ticks).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// One `tejidod` on a data directory: a process this harness execs, or a node running inside
/// this process that it attached to (then only the socket methods apply).
pub struct NodeProc {
    /// Short name (`a`, `n0`...).
    pub name: String,
    /// Data directory.
    pub dir: PathBuf,
    /// Arguments besides `--data-dir`.
    pub args: Vec<String>,
    /// A command that runs `tejidod` (a profiler such as `heaptrack`, `ip netns exec NS`).
    pub wrap: Vec<String>,
    /// Written to the process's standard input at every start (a passphrase).
    pub input: Option<String>,
    /// The process's `RUST_LOG`.
    pub rust_log: String,
    /// Node key, known once it listened.
    pub key: PublicKey,
    /// TCP port it listens on, known once it listened.
    pub port: u16,
    /// When the current process was exec'd.
    pub started: Instant,
    child: Option<Child>,
    log: PathBuf,
}

impl NodeProc {
    /// A node with data directory `dir/name` and log `dir/name.log`, not started.
    pub fn new(dir: &Path, name: &str, args: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            dir: dir.join(name),
            args: args.iter().map(|s| s.to_string()).collect(),
            wrap: Vec::new(),
            input: None,
            rust_log: "warn".into(),
            key: PublicKey::from_bytes([0; 32]),
            port: 0,
            started: Instant::now(),
            child: None,
            log: dir.join(format!("{name}.log")),
        }
    }

    /// Execs the node and waits until it listens.
    pub async fn launch(&mut self, bins: &Bins) -> anyhow::Result<()> {
        self.spawn(bins)?;
        self.wait_listening().await
    }

    /// A node running inside this process, with its data directory at `dir/name`: waits until
    /// it answers `Status` with a listen address.
    pub async fn attach(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let mut node = Self::new(dir, name, &[]);
        node.wait_listening().await?;
        Ok(node)
    }

    /// Execs the process (without waiting for it).
    pub fn spawn(&mut self, bins: &Bins) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .context("log file")?;
        self.started = Instant::now();
        let mut cmd = match self.wrap.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(&bins.tejidod);
                cmd
            }
            None => Command::new(&bins.tejidod),
        };
        let mut child = cmd
            .arg("--data-dir")
            .arg(&self.dir)
            .args(&self.args)
            .env("RUST_LOG", &self.rust_log)
            .stdin(if self.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting tejidod")?;
        if let (Some(input), Some(mut stdin)) = (&self.input, child.stdin.take()) {
            use std::io::Write;
            stdin
                .write_all(input.as_bytes())
                .context("writing to tejidod")?;
        }
        self.child = Some(child);
        Ok(())
    }

    /// Fails if the process this harness started has exited.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(code)) = child.try_wait() {
                bail!("{} exited with {code}: {}", self.name, self.log_tail());
            }
        }
        Ok(())
    }

    /// Polls the socket until `Status` answers; returns the time since exec and the status.
    pub async fn wait_status(&mut self) -> anyhow::Result<(Duration, Status)> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(status) = self.status().await {
                return Ok((self.started.elapsed(), status));
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer on its socket within {} s: {}",
                    self.name,
                    START_DEADLINE.as_secs(),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    /// Waits until `Status` shows a listen address, and learns the node's key and port.
    pub async fn wait_listening(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let (_, status) = self.wait_status().await?;
            if let Some(addr) = status.listen_addrs.first() {
                self.port = addr
                    .rsplit('/')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .context("listen address without a port")?;
                self.key = status.node_id.parse().context("node id")?;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{} is not listening after 60 s", self.name);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the node's log.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The operator socket.
    pub fn socket(&self) -> PathBuf {
        daemon::control::socket_path(&self.dir)
    }

    /// One operator request; an `Error` answer is an error.
    pub async fn call(&self, request: &Request) -> anyhow::Result<Response> {
        match daemon::control::call(&self.socket(), request).await? {
            Response::Error { message } => bail!("{}: {message}", self.name),
            other => Ok(other),
        }
    }

    /// `Status`.
    pub async fn status(&self) -> anyhow::Result<Status> {
        match self.call(&Request::Status).await? {
            Response::Status(s) => Ok(*s),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    /// `Docs`.
    pub async fn docs(&self) -> anyhow::Result<Vec<DocInfo>> {
        match self.call(&Request::Docs).await? {
            Response::Docs { docs } => Ok(docs),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    /// How a member reaches this node.
    pub fn contact(&self) -> NodeContact {
        NodeContact {
            key: self.key,
            addrs: vec![format!("/ip4/127.0.0.1/tcp/{}", self.port)],
        }
    }

    /// The node's libp2p peer id and TCP address, for an in-process peer to dial.
    pub fn peer_addr(&self) -> anyhow::Result<(PeerId, Multiaddr)> {
        let peer = daemon::net::peer_id_of(&self.key).context("node key is not a peer id")?;
        let addr = format!("/ip4/127.0.0.1/tcp/{}", self.port).parse()?;
        Ok((peer, addr))
    }

    /// Replaces the `--listen` argument by `/ip4/127.0.0.1/tcp/PORT`, for the next start.
    pub fn set_listen_port(&mut self, port: u16) {
        let mut args = Vec::new();
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if a == "--listen" {
                it.next();
            } else {
                args.push(a.clone());
            }
        }
        args.push("--listen".into());
        args.push(format!("/ip4/127.0.0.1/tcp/{port}"));
        self.args = args;
    }

    /// Process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Memory now.
    pub fn mem(&self) -> Option<Mem> {
        mem_of(self.pid()?)
    }

    /// CPU seconds used so far by the current process.
    pub fn cpu(&self) -> f64 {
        self.pid().and_then(cpu_secs).unwrap_or(f64::NAN)
    }

    /// Resets VmHWM to the current RSS (`echo 5 > /proc/PID/clear_refs`).
    pub fn reset_peak(&self) {
        if let Some(pid) = self.pid() {
            let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        }
    }

    /// `tejido --data-dir DIR args...`, returning its trimmed standard output.
    pub fn cli(&self, bins: &Bins, args: &[&str]) -> anyhow::Result<String> {
        let out = bins
            .tejido_command()
            .arg("--data-dir")
            .arg(&self.dir)
            .args(args)
            .output()
            .context("running tejido")?;
        if !out.status.success() {
            bail!(
                "tejido {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the node to stop over its socket and waits for the process to exit.
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        let _ = self.call(&Request::Shutdown).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(child) = self.child.as_mut() {
            if child.try_wait()?.is_some() {
                self.child = None;
                break;
            }
            if Instant::now() > deadline {
                self.kill9();
                bail!("{} did not stop within 30 s", self.name);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}
