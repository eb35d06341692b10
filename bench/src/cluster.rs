//! What the benchmark adds to the shared process harness (`harness::process`, the tests'
//! crate): how it starts its nodes, and TCP payload bytes between them from `ss -tinpH` (the
//! kernel's `tcp_info`).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use anyhow::Context;
pub(crate) use harness::process::{node_args, Bins, NodeProc};

/// Starts a benchmark node at `dir/name` with `args` (besides `--data-dir`) and waits until
/// it listens: logs at `TEJIDO_BENCH_LOG`'s level (warn by default), and no per-member rate
/// limit (the benchmark's one client writes thousands of requests over one connection; the
/// limit is not what is measured).
pub(crate) async fn start_node(
    bins: &Bins,
    dir: &Path,
    name: &str,
    args: &[&str],
) -> anyhow::Result<NodeProc> {
    let mut node = NodeProc::new(dir, name, args);
    node.args.extend(bench_limits_except(args));
    // The networks the benchmark builds are founded letting one organisation admit another
    // (admissions are not what is measured; a node that joins ignores it).
    if !args.contains(&"--consent") {
        node.args.extend(["--consent".to_string(), "1".to_string()]);
    }
    node.rust_log = std::env::var("TEJIDO_BENCH_LOG").unwrap_or_else(|_| "warn".into());
    node.launch(bins).await?;
    Ok(node)
}

/// Runs the node's next starts under the command in the environment variable `var`, if set (a
/// profiler such as `heaptrack -o FILE`; the node's memory figures are then the wrapper's).
pub(crate) fn wrap_from_env(node: &mut NodeProc, var: &str) {
    if let Ok(wrap) = std::env::var(var) {
        node.wrap = wrap.split_whitespace().map(str::to_string).collect();
    }
}

/// The limits a benchmark node runs with: far above the defaults, since the rate limits are
/// not what is measured (the flood benchmark measures them on a node of its own).
pub(crate) const BENCH_LIMITS: [&str; 8] = [
    "--client-rate",
    "1000000",
    "--sync-rate",
    "1000000",
    "--member-events-per-minute",
    "1000000000",
    "--member-docs-per-minute",
    "1000000",
];

/// [`BENCH_LIMITS`] but for the settings `args` gives itself (a node measured with the default
/// limits names them).
fn bench_limits_except(args: &[&str]) -> Vec<String> {
    BENCH_LIMITS
        .chunks(2)
        .filter(|pair| !args.contains(&pair[0]))
        .flatten()
        .map(|s| s.to_string())
        .collect()
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
