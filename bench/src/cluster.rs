//! Real `tejidod` processes on 127.0.0.1 and what can be observed of them from outside: the
//! operator socket (in-process, `daemon::control::call`), the `tejido` CLI, memory from
//! `/proc/PID/status`, and TCP payload bytes from `ss -tinpH` (the kernel's `tcp_info`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use protocol::control::{DocInfo, Request, Response, Status};
use protocol::ids::PublicKey;
use protocol::wire::NodeContact;

/// The release binaries next to this one.
#[derive(Clone, Debug)]
pub(crate) struct Bins {
    /// `tejidod`.
    pub(crate) tejidod: PathBuf,
    /// `tejido`.
    pub(crate) tejido: PathBuf,
}

impl Bins {
    /// Finds the binaries beside this executable, building them first unless `build` is false
    /// (the same `cargo build` the integration tests run; a no-op when they are current).
    pub(crate) fn locate(build: bool) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("own path")?;
        let dir = exe.parent().context("own directory")?.to_path_buf();
        let release = dir.file_name().is_some_and(|n| n == "release");
        if !release {
            eprintln!("warning: not a release build; figures will not mean much");
        }
        if build {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "--bins", "-p", "tejido-daemon", "-p", "tejido-cli"]);
            if release {
                cmd.arg("--release");
            }
            let status = cmd.status().context("running cargo build")?;
            if !status.success() {
                bail!("building tejidod and tejido failed");
            }
        }
        let bins = Self {
            tejidod: dir.join("tejidod"),
            tejido: dir.join("tejido"),
        };
        for b in [&bins.tejidod, &bins.tejido] {
            if !b.exists() {
                bail!("{} is missing: build it or drop --no-build", b.display());
            }
        }
        Ok(bins)
    }
}

/// Memory of a process, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Mem {
    /// Resident now.
    pub(crate) rss_kb: u64,
    /// Peak resident since start or since the last [`NodeProc::reset_peak`].
    pub(crate) hwm_kb: u64,
}

/// Reads VmRSS and VmHWM.
pub(crate) fn mem_of(pid: u32) -> Option<Mem> {
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
pub(crate) fn cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// `tejidod` arguments of a fresh benchmark node of `org` (besides `--data-dir`): TCP on
/// 127.0.0.1 at a port the OS picks, dialling only its bootstrap peers.
pub(crate) fn node_args(org: &str) -> [&str; 6] {
    [
        "--org",
        org,
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--connect",
        "bootstrap",
    ]
}

/// One `tejidod`.
pub(crate) struct NodeProc {
    /// Short name (`n0`...).
    pub(crate) name: String,
    /// Data directory.
    pub(crate) dir: PathBuf,
    /// Arguments besides `--data-dir`.
    pub(crate) args: Vec<String>,
    child: Option<Child>,
    log: PathBuf,
    /// Node key.
    pub(crate) key: PublicKey,
    /// TCP port it listens on.
    pub(crate) port: u16,
    /// When the current process was exec'd.
    pub(crate) started: Instant,
    /// A command that runs `tejidod` (a profiler such as `heaptrack`), if any.
    pub(crate) wrap: Vec<String>,
}

impl NodeProc {
    /// Starts a node on `dir` and waits until it answers `Status` with a listen address.
    pub(crate) async fn start(
        bins: &Bins,
        dir: &Path,
        name: &str,
        args: &[&str],
    ) -> anyhow::Result<Self> {
        let mut node = Self::unstarted(dir, name, args);
        node.spawn(bins)?;
        node.wait_listening().await?;
        Ok(node)
    }

    /// A node running inside this process, with its data directory at `dir/name`: waits until
    /// it answers `Status` with a listen address.
    pub(crate) async fn attach(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let mut node = Self::unstarted(dir, name, &[]);
        node.wait_listening().await?;
        Ok(node)
    }

    /// A node at `dir/name` whose key and port are not known yet.
    fn unstarted(dir: &Path, name: &str, args: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            dir: dir.join(name),
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
            log: dir.join(format!("{name}.log")),
            key: PublicKey::from_bytes([0; 32]),
            port: 0,
            started: Instant::now(),
            wrap: Vec::new(),
        }
    }

    /// Execs the process (without waiting for it).
    pub(crate) fn spawn(&mut self, bins: &Bins) -> anyhow::Result<()> {
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
        let child = cmd
            .arg("--data-dir")
            .arg(&self.dir)
            .args(&self.args)
            // The benchmark's one client writes thousands of requests over one connection;
            // the per-member rate limit is not what is measured.
            .args(["--client-rate", "1000000"])
            .env(
                "RUST_LOG",
                std::env::var("TEJIDO_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting tejidod")?;
        self.child = Some(child);
        Ok(())
    }

    /// Polls the socket until `Status` answers; returns the time since exec and the status.
    pub(crate) async fn wait_status(&mut self) -> anyhow::Result<(Duration, Status)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(status) = self.status().await {
                return Ok((self.started.elapsed(), status));
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(code)) = child.try_wait() {
                    bail!("{} exited with {code}: {}", self.name, self.log_tail());
                }
            }
            if Instant::now() > deadline {
                bail!("{} did not answer on its socket within 60 s", self.name);
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    async fn wait_listening(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
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

    /// The last lines of the node's log.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The operator socket.
    pub(crate) fn socket(&self) -> PathBuf {
        daemon::control::socket_path(&self.dir)
    }

    /// One operator request.
    pub(crate) async fn call(&self, request: &Request) -> anyhow::Result<Response> {
        match daemon::control::call(&self.socket(), request).await? {
            Response::Error { message } => bail!("{}: {message}", self.name),
            other => Ok(other),
        }
    }

    /// `Status`.
    pub(crate) async fn status(&self) -> anyhow::Result<Status> {
        match self.call(&Request::Status).await? {
            Response::Status(s) => Ok(*s),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    /// `Docs`.
    pub(crate) async fn docs(&self) -> anyhow::Result<Vec<DocInfo>> {
        match self.call(&Request::Docs).await? {
            Response::Docs { docs } => Ok(docs),
            other => bail!("unexpected answer {other:?}"),
        }
    }

    /// How a member reaches this node.
    pub(crate) fn contact(&self) -> NodeContact {
        NodeContact {
            key: self.key,
            addrs: vec![format!("/ip4/127.0.0.1/tcp/{}", self.port)],
        }
    }

    /// Process id, while running.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Memory now.
    pub(crate) fn mem(&self) -> Option<Mem> {
        mem_of(self.pid()?)
    }

    /// CPU seconds used so far by the current process.
    pub(crate) fn cpu(&self) -> f64 {
        self.pid().and_then(cpu_secs).unwrap_or(f64::NAN)
    }

    /// Resets VmHWM to the current RSS (`echo 5 > /proc/PID/clear_refs`).
    pub(crate) fn reset_peak(&self) {
        if let Some(pid) = self.pid() {
            let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        }
    }

    /// `tejido --data-dir DIR args...`, returning stdout.
    pub(crate) fn cli(&self, bins: &Bins, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(&bins.tejido)
            .arg("--data-dir")
            .arg(&self.dir)
            .args(args)
            .env_remove("TEJIDO_HOME")
            .env_remove("TEJIDO_DATA_DIR")
            .stdin(Stdio::null())
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
    pub(crate) fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the node to stop over its socket and waits for the process to exit.
    pub(crate) async fn shutdown(&mut self) -> anyhow::Result<()> {
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

/// One TCP socket's counters.
#[derive(Clone, Debug)]
struct SockInfo {
    pid: u32,
    bytes_acked: u64,
}

/// TCP sockets of the given processes: (local, peer) -> counters.
fn tcp_sockets(pids: &HashSet<u32>) -> anyhow::Result<HashMap<(String, String), SockInfo>> {
    let out = Command::new("ss")
        .args(["-tinpH", "state", "established"])
        .output()
        .context("running ss")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut socks = HashMap::new();
    let mut current: Option<((String, String), u32)> = None;
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            // "Recv-Q Send-Q Local:Port Peer:Port users:((\"tejidod\",pid=N,fd=M))"
            let cols: Vec<&str> = line.split_whitespace().collect();
            let addrs: Vec<&str> = cols
                .iter()
                .copied()
                .filter(|c| c.contains(':') && !c.starts_with("users"))
                .collect();
            let pid = line
                .split("pid=")
                .nth(1)
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse::<u32>().ok());
            current = match (addrs.as_slice(), pid) {
                ([local, peer, ..], Some(pid)) if pids.contains(&pid) => {
                    Some(((local.to_string(), peer.to_string()), pid))
                }
                _ => None,
            };
        } else if let Some((key, pid)) = current.take() {
            let acked = line
                .split_whitespace()
                .find_map(|t| t.strip_prefix("bytes_acked:"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            socks.insert(
                key,
                SockInfo {
                    pid,
                    bytes_acked: acked,
                },
            );
        }
    }
    Ok(socks)
}

/// Bytes the nodes sent each other over TCP between two snapshots (payload acknowledged by the
/// peer, counted once on the sending side; TCP/IP headers are not included).
pub(crate) struct WireMeter {
    pids: HashSet<u32>,
    before: HashMap<(String, String), SockInfo>,
}

impl WireMeter {
    /// Takes the first snapshot.
    pub(crate) fn start(pids: impl IntoIterator<Item = u32>) -> anyhow::Result<Self> {
        let pids: HashSet<u32> = pids.into_iter().collect();
        let before = tcp_sockets(&pids)?;
        Ok(Self { pids, before })
    }

    /// Also counts processes started since the first snapshot (a restarted node).
    pub(crate) fn add_pids(&mut self, pids: impl IntoIterator<Item = u32>) {
        self.pids.extend(pids);
    }

    /// Bytes sent between nodes since the first snapshot (sockets opened since count from 0;
    /// sockets closed since are lost, which the node-to-node connections are not).
    pub(crate) fn node_to_node_bytes(&self) -> anyhow::Result<u64> {
        let now = tcp_sockets(&self.pids)?;
        let locals: HashSet<&String> = now.keys().map(|(l, _)| l).collect();
        let mut total = 0;
        for ((local, peer), info) in &now {
            // Both ends belong to nodes: an inter-node connection, not a member's client.
            if !locals.contains(peer) {
                continue;
            }
            let before = self
                .before
                .get(&(local.clone(), peer.clone()))
                .filter(|b| b.pid == info.pid)
                .map_or(0, |b| b.bytes_acked);
            total += info.bytes_acked.saturating_sub(before);
        }
        Ok(total)
    }
}
