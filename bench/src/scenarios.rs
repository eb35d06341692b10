//! The figures measured on real processes: a chain of `tejidod` nodes on 127.0.0.1 (each
//! `--connect bootstrap`, each joined to the previous one's network with `tejido invite node`
//! and `tejido join`), a member writing to node 0 over one libp2p connection, and the operator
//! sockets polled in-process (start-up, a month of check-ins and the idle cost are in `solo.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use protocol::control::{Request, Response};
use protocol::event::Role;
use protocol::ids::{SecretKey, Timestamp};
use protocol::wire::{ClientRequestV0, ClientResponseV0, InviteCode, NodeContact};
use serde_json::json;

use crate::client::Client;
use crate::cluster::{node_args, start_node, wrap_from_env, Bins, NodeProc, WireMeter};
use crate::report::{Figure, Goal, Report};
use crate::workload::{per_doc, submits, Writer};

/// Nodes in the chain.
pub(crate) const CHAIN: usize = 10;
/// The member's home region; alerts of the latency trials go to its document.
pub(crate) const REGION: &str = "bench";
/// How often the last node's socket is polled during a latency trial.
const LATENCY_POLL: Duration = Duration::from_millis(1);
/// How often sockets are polled while waiting for convergence.
const CONVERGE_POLL: Duration = Duration::from_millis(2);
/// Requests in flight at once on the member's connection.
const WINDOW: usize = 16;

const G_LAT: &str = "1. alert latency, 10-node chain";
const G_CONV: &str = "2. convergence, 10-node chain";
const G_CATCH: &str = "3. catch-up after a restart";
pub(crate) const G_MEM: &str = "4. memory";
pub(crate) const G_START: &str = "6. start-up";

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(crate) fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Options of a run.
pub(crate) struct Opts {
    /// The short run.
    pub(crate) quick: bool,
}

/// The chain, its member and the member's connection to node 0.
pub(crate) struct Chain {
    /// Node 0 first.
    pub(crate) nodes: Vec<NodeProc>,
    writer: Writer,
    client: Client,
    bins: Bins,
}

/// Registers a new member of `org` on `node` the way `tejido join` does (operator invite, then
/// `Redeem` from the invite's one-time identity), keeping the member's key in-process.
pub(crate) async fn register_member(node: &NodeProc, org: &str) -> anyhow::Result<Writer> {
    let code = match node
        .call(&Request::InviteMember {
            name: "bench member".into(),
            role: Role::Member,
            region: Some(REGION.into()),
            ttl_secs: 3600,
        })
        .await?
    {
        Response::Invite { code, .. } => code,
        other => bail!("unexpected answer to an invite: {other:?}"),
    };
    let invite = InviteCode::decode(&code).map_err(|e| anyhow::anyhow!("{e}"))?;
    let InviteCode::V0 {
        node: node_key,
        addrs,
        ..
    } = &invite;
    let key = SecretKey::generate();
    let proof = key.sign(&invite.proof_message(&key.public())).to_vec();
    let contact = NodeContact {
        key: *node_key,
        addrs: addrs.clone(),
    };
    let answers = daemon::net::request_all(
        &invite.identity(),
        &[contact],
        ClientRequestV0::Redeem {
            member: key.public(),
            proof,
        },
    )
    .await?;
    match answers.into_iter().next() {
        Some((_, Ok(ClientResponseV0::Profile { .. }))) => Ok(Writer {
            key,
            org: org.to_string(),
        }),
        other => bail!("redeeming the member invite failed: {other:?}"),
    }
}

/// Each document's sorted heads on a node.
pub(crate) async fn heads(node: &NodeProc) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    Ok(node
        .docs()
        .await?
        .into_iter()
        .map(|d| (d.doc, d.heads))
        .collect())
}

impl Chain {
    /// Starts `n` fresh nodes, measures their idle memory, joins them into a chain and
    /// registers a member on node 0.
    pub(crate) async fn start(
        bins: &Bins,
        dir: &std::path::Path,
        n: usize,
        report: &mut Report,
    ) -> anyhow::Result<Self> {
        let mut nodes = Vec::new();
        for i in 0..n {
            let org = format!("org{i}");
            nodes.push(
                start_node(
                    bins,
                    dir,
                    &format!("n{i}"),
                    &[&node_args(&org)[..], &["--network", "bench"]].concat(),
                )
                .await?,
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle: Vec<f64> = nodes
            .iter()
            .filter_map(|n| n.mem())
            .map(|m| mib(m.rss_kb))
            .collect();
        report.add(Figure::from_samples(
            "idle_rss_fresh_node_mib",
            G_MEM,
            "idle RSS of a fresh node (VmRSS, 1 s after start)",
            "MiB",
            &idle,
        ));
        let setup = Instant::now();
        for i in 1..n {
            let code = nodes[i - 1].cli(bins, &["invite", "node"])?;
            nodes[i].cli(bins, &["join", &code])?;
        }
        let writer = register_member(&nodes[0], "org0").await?;
        // Wait until every node has the same roster and each is connected to its predecessor.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let first = heads(&nodes[0]).await?.remove("roster");
            let mut ok = first.is_some();
            for node in &nodes[1..] {
                ok = ok && heads(node).await?.remove("roster") == first;
            }
            for i in 1..n {
                let status = nodes[i].status().await?;
                ok = ok
                    && status
                        .connected_peers
                        .contains(&nodes[i - 1].key.to_string());
            }
            if ok {
                break;
            }
            if Instant::now() > deadline {
                bail!("the chain did not form within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!(
            "  chain of {n} formed in {:.1} s (joins, member, roster everywhere)",
            setup.elapsed().as_secs_f64()
        );
        let client = Client::connect(&writer.key, &nodes[0].contact()).await?;
        Ok(Self {
            nodes,
            writer,
            client,
            bins: bins.clone(),
        })
    }

    fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(|n| n.pid()).collect()
    }
}

/// Polls `socket` on its own thread until an alert with id `id` shows; returns when the answer
/// that showed it arrived.
fn spawn_alert_poller(
    socket: PathBuf,
    id: String,
) -> std::thread::JoinHandle<anyhow::Result<Instant>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let request = Request::Alerts {
            region: Some(REGION.into()),
            open_only: false,
        };
        loop {
            let response = rt.block_on(daemon::control::call(&socket, &request))?;
            let now = Instant::now();
            if let Response::Alerts { alerts } = response {
                if alerts.iter().any(|a| a.id == id) {
                    return Ok(now);
                }
            }
            if now > deadline {
                bail!("the alert did not reach the last node within 30 s");
            }
            std::thread::sleep(LATENCY_POLL);
        }
    })
}

/// Figure 1 with its baselines.
pub(crate) async fn latency(
    chain: &mut Chain,
    report: &mut Report,
    opts: &Opts,
) -> anyhow::Result<()> {
    let (warmup, trials) = if opts.quick { (5, 20) } else { (5, 40) };
    let last = chain.nodes.last().context("empty chain")?.socket();
    let mut alert = Vec::new();
    let mut store = Vec::new();
    let mut prev = Timestamp(0);
    let mut meter = None;
    for t in 0..warmup + trials {
        if t == warmup {
            meter = Some(WireMeter::start(chain.pids())?);
        }
        let (event, id) = chain
            .writer
            .next_panic(REGION, &mut prev, format!("latency trial {t}"));
        let poller = spawn_alert_poller(last.clone(), id);
        let start = Instant::now();
        let answer = chain
            .client
            .request(ClientRequestV0::Submit {
                events: vec![event],
            })
            .await?;
        let seen = tokio::task::spawn_blocking(move || poller.join())
            .await?
            .map_err(|_| anyhow::anyhow!("poller panicked"))??;
        if !matches!(answer.response, ClientResponseV0::Stored { .. }) {
            bail!("node 0 did not store the panic: {:?}", answer.response);
        }
        if t >= warmup {
            store.push(ms(answer.took));
            alert.push(ms(seen.saturating_duration_since(start)));
        }
        // Let the trailing sync rounds of this alert finish before the next one.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wire = meter.context("no trials")?.node_to_node_bytes()?;
    let mut rtt = Vec::new();
    for _ in 0..40 {
        rtt.push(ms(chain
            .client
            .request(ClientRequestV0::Whoami)
            .await?
            .took));
    }
    let rtt = report.add(Figure::from_samples(
        "whoami_rtt_ms",
        G_LAT,
        "baseline: Whoami round trip to node 0 (open conn.)",
        "ms",
        &rtt,
    ));
    let mut fresh = Vec::new();
    let contact = chain.nodes[0].contact();
    for _ in 0..10 {
        let start = Instant::now();
        let answers = daemon::net::request_all(
            &chain.writer.key,
            std::slice::from_ref(&contact),
            ClientRequestV0::Whoami,
        )
        .await?;
        if !matches!(
            answers.first(),
            Some((_, Ok(ClientResponseV0::Profile { .. })))
        ) {
            bail!("Whoami over a fresh connection failed: {answers:?}");
        }
        fresh.push(ms(start.elapsed()));
    }
    report.add(
        Figure::from_samples(
            "whoami_fresh_connection_ms",
            G_LAT,
            "Whoami with a new connection (net::request_all)",
            "ms",
            &fresh,
        )
        .against(&rtt)
        .with(
            "note",
            "what every CLI command pays: swarm, TCP, Noise, Yamux",
        ),
    );
    let store = report.add(
        Figure::from_samples(
            "store_latency_ms",
            G_LAT,
            "baseline: Submit of 1 panic until Stored, node 0",
            "ms",
            &store,
        )
        .against(&rtt),
    );
    report.add(
        Figure::from_samples(
            "alert_latency_last_node_ms",
            G_LAT,
            "panic on node 0 until visible on node 9 (Alerts)",
            "ms",
            &alert,
        )
        .against(&store)
        .target(Goal::AtMost(5.0))
        .with("p99_target", "<= 30")
        .with("hops", CHAIN - 1)
        .with("poll_interval_ms", ms(LATENCY_POLL))
        .with("reference_automerge_repo_ms", 76),
    );
    report.add(
        Figure::single(
            "alert_wire_bytes",
            G_LAT,
            format!("bytes of one alert on all {} links (mean)", CHAIN - 1),
            "B",
            wire as f64 / trials as f64,
        )
        .target(Goal::AtMost(3000.0))
        .with("trials", trials)
        .with(
            "note",
            "every node-to-node TCP byte while the trials ran: sync, gossip, receipts, and the idle anti-entropy of those seconds",
        ),
    );
    Ok(())
}

/// Waits until each node holds at least `expected` events in each document; returns when each
/// node was first seen complete, measured from `start`.
async fn wait_counts(
    nodes: &[NodeProc],
    expected: &BTreeMap<String, usize>,
    start: Instant,
    timeout: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let mut reached = Vec::new();
    let mut i = 0;
    while i < nodes.len() {
        let docs = nodes[i].docs().await?;
        let missing: usize = expected
            .iter()
            .map(|(doc, want)| {
                let have = docs.iter().find(|d| d.doc == *doc).map_or(0, |d| d.events);
                want.saturating_sub(have)
            })
            .sum();
        if missing == 0 {
            reached.push(start.elapsed());
            i += 1;
            continue;
        }
        if start.elapsed() > timeout {
            bail!(
                "{} still misses {missing} events after {} s",
                nodes[i].name,
                timeout.as_secs()
            );
        }
        tokio::time::sleep(CONVERGE_POLL).await;
    }
    Ok(reached)
}

/// Event counts node 0 should reach once `events` are stored.
async fn expected_after(
    node: &NodeProc,
    events: &[protocol::event::SignedEvent],
) -> anyhow::Result<BTreeMap<String, usize>> {
    let docs = node.docs().await?;
    Ok(per_doc(events)
        .into_iter()
        .map(|(doc, added)| {
            let doc = doc.to_string();
            let before = docs.iter().find(|d| d.doc == doc).map_or(0, |d| d.events);
            (doc, before + added)
        })
        .collect())
}

/// Declares `region` on node 0 (a trial writes to documents of its own) and waits until every
/// node's roster has it: nodes take alerts only for declared regions.
async fn declare_region(nodes: &[NodeProc], region: &str) -> anyhow::Result<()> {
    let answer = nodes[0]
        .call(&protocol::control::Request::DeclareRegion {
            region: region.to_string(),
        })
        .await?;
    if let protocol::control::Response::Error { message } = answer {
        bail!("declaring {region}: {message}");
    }
    let start = Instant::now();
    while !same_heads(nodes, &["roster".to_string()]).await? {
        if start.elapsed() > Duration::from_secs(60) {
            bail!("the roster did not converge after declaring {region}");
        }
        tokio::time::sleep(CONVERGE_POLL).await;
    }
    Ok(())
}

/// Whether every node has node 0's heads for the given documents.
async fn same_heads(nodes: &[NodeProc], docs: &[String]) -> anyhow::Result<bool> {
    let first = heads(&nodes[0]).await?;
    for node in &nodes[1..] {
        let h = heads(node).await?;
        if docs.iter().any(|d| h.get(d) != first.get(d)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One convergence measurement.
struct Convergence {
    total: Duration,
    writes: Duration,
    bytes: u64,
    peaks_mib: Vec<f64>,
    same_heads: bool,
    /// CPU seconds node 0 used until convergence.
    cpu_node0: f64,
    /// CPU seconds all nodes used until convergence.
    cpu_all: f64,
}

async fn converge_once(
    chain: &mut Chain,
    k: usize,
    per_request: usize,
    tag: &str,
) -> anyhow::Result<Convergence> {
    let region = format!("c{k}-{per_request}-{tag}");
    declare_region(&chain.nodes, &region).await?;
    let events = chain.writer.mixed(&region, k, tag);
    let expected = expected_after(&chain.nodes[0], &events).await?;
    let requests = submits(&events, per_request);
    for node in &chain.nodes {
        node.reset_peak();
    }
    let meter = WireMeter::start(chain.pids())?;
    let cpu_before: Vec<f64> = chain.nodes.iter().map(NodeProc::cpu).collect();
    let timeout = Duration::from_secs(if k > 5000 { 300 } else { 90 });
    let start = Instant::now();
    let (writes, reached) = tokio::join!(
        chain.client.pipeline(requests, WINDOW),
        wait_counts(&chain.nodes, &expected, start, timeout)
    );
    let writes = writes?;
    let reached = reached?;
    let cpu: Vec<f64> = chain
        .nodes
        .iter()
        .zip(&cpu_before)
        .map(|(n, b)| n.cpu() - b)
        .collect();
    let bytes = meter.node_to_node_bytes()?;
    let total = reached.iter().copied().max().unwrap_or_default();
    let writes = writes
        .iter()
        .map(|a| a.at.saturating_duration_since(start))
        .max()
        .unwrap_or_default();
    let peaks_mib = chain
        .nodes
        .iter()
        .filter_map(|n| n.mem())
        .map(|m| mib(m.hwm_kb))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let docs: Vec<String> = expected.keys().cloned().collect();
    let same_heads = same_heads(&chain.nodes, &docs).await?;
    Ok(Convergence {
        total,
        writes,
        bytes,
        peaks_mib,
        same_heads,
        cpu_node0: cpu.first().copied().unwrap_or(f64::NAN),
        cpu_all: cpu.iter().sum(),
    })
}

/// Figure 2 (and the memory of figure 4) for one K and batch size.
pub(crate) async fn convergence(
    chain: &mut Chain,
    report: &mut Report,
    k: usize,
    per_request: usize,
    trials: usize,
) -> anyhow::Result<()> {
    let mut runs = Vec::new();
    for t in 0..trials {
        let run = converge_once(chain, k, per_request, &format!("t{t}")).await?;
        eprintln!(
            "    K={k} {per_request}/request trial {t}: {:.3} s (writes {:.3} s), {} KiB between nodes, heads equal: {}",
            run.total.as_secs_f64(),
            run.writes.as_secs_f64(),
            run.bytes / 1024,
            run.same_heads
        );
        runs.push(run);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let secs: Vec<f64> = runs.iter().map(|r| r.total.as_secs_f64()).collect();
    let writes: Vec<f64> = runs.iter().map(|r| r.writes.as_secs_f64()).collect();
    let bytes: Vec<f64> = runs.iter().map(|r| r.bytes as f64).collect();
    let peaks: Vec<f64> = runs
        .iter()
        .map(|r| r.peaks_mib.iter().copied().fold(0.0, f64::max))
        .collect();
    let (target, reference) = match (k, per_request) {
        (1000, 1) => (Some(0.4), Some(4.9)),
        (10_000, 1) => (Some(3.0), Some(64.0)),
        _ => (None, None),
    };
    let writes_fig = report.add(Figure::from_samples(
        format!("writes_k{k}_{per_request}_per_request_s"),
        G_CONV,
        format!("K={k}, {per_request}/request: all Stored on node 0"),
        "s",
        &writes,
    ));
    let mut fig = Figure::from_samples(
        format!("converge_k{k}_{per_request}_per_request_s"),
        G_CONV,
        format!("K={k}, {per_request}/request: all on all {CHAIN} nodes"),
        "s",
        &secs,
    )
    .against(&writes_fig)
    .with("same_heads", runs.iter().all(|r| r.same_heads))
    .with("window", WINDOW);
    if let Some(t) = target {
        fig = fig.target(Goal::AtMost(t));
    }
    if let Some(r) = reference {
        fig = fig.with("reference_automerge_repo_s", r);
    }
    report.add(fig);
    let cpu_all: Vec<f64> = runs.iter().map(|r| r.cpu_all).collect();
    let cpu0: Vec<f64> = runs.iter().map(|r| r.cpu_node0).collect();
    let cpu0 = report.add(Figure::from_samples(
        format!("cpu_node0_k{k}_{per_request}_per_request_s"),
        G_CONV,
        "  CPU time of node 0 until converged",
        "s",
        &cpu0,
    ));
    report.add(
        Figure::from_samples(
            format!("cpu_all_k{k}_{per_request}_per_request_s"),
            G_CONV,
            format!("  CPU time of all {CHAIN} nodes (sum; 2 cores)"),
            "s",
            &cpu_all,
        )
        .against(&cpu0)
        .with(
            "note",
            "utime+stime from /proc/PID/stat; wall time >= this / 2",
        ),
    );
    let bytes_med = crate::report::percentile(
        &{
            let mut b = bytes.clone();
            b.sort_by(f64::total_cmp);
            b
        },
        0.5,
    );
    report.add(
        Figure::single(
            format!("wire_bytes_per_event_k{k}_{per_request}_per_request"),
            G_CONV,
            "  node-to-node TCP bytes per event per hop",
            "B",
            bytes_med / k as f64 / (CHAIN - 1) as f64,
        )
        .with("total_bytes", bytes_med)
        .with(
            "how",
            "ss -ti bytes_acked deltas on node-to-node sockets, payload only, both directions",
        ),
    );
    let mut peak = Figure::from_samples(
        format!("peak_rss_k{k}_{per_request}_per_request_mib"),
        G_MEM,
        format!("peak RSS of the largest node, K={k} {per_request}/request"),
        "MiB",
        &peaks,
    )
    .with(
        "per_node_mib_last_trial",
        json!(runs.last().map(|r| r.peaks_mib.clone()).unwrap_or_default()),
    );
    if k == 10_000 && per_request == 1 {
        peak = peak
            .target(Goal::AtMost(40.0))
            .with("reference_automerge_repo_mib", 550);
    }
    report.add(peak);
    Ok(())
}

/// Figure 3: the last node is killed, `k` events are written on node 0 and reach the others,
/// then the node is restarted on its port; time from exec until its heads equal node 0's.
pub(crate) async fn catch_up(
    chain: &mut Chain,
    report: &mut Report,
    k: usize,
) -> anyhow::Result<()> {
    let last = chain.nodes.len() - 1;
    let port = chain.nodes[last].port;
    let region = format!("cu-{k}");
    declare_region(&chain.nodes, &region).await?;
    chain.nodes[last].kill9();
    let events = chain.writer.mixed(&region, k, "catch-up");
    let expected = expected_after(&chain.nodes[0], &events).await?;
    let start = Instant::now();
    let (writes, reached) = tokio::join!(
        chain.client.pipeline(submits(&events, 64), 4),
        wait_counts(
            &chain.nodes[..last],
            &expected,
            start,
            Duration::from_secs(300)
        )
    );
    writes?;
    reached?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for node in &chain.nodes[..last] {
        node.reset_peak();
    }
    let meter = WireMeter::start(chain.pids())?;
    let (before, rest) = chain.nodes.split_at_mut(last);
    let first = &before[0];
    let node = &mut rest[0];
    node.set_listen_port(port);
    wrap_from_env(node, "TEJIDO_BENCH_RESTART_WRAP");
    node.spawn(&chain.bins)?;
    let (ready, _) = node.wait_status().await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    // Caught up when its heads equal node 0's: the restarted node signs delivery receipts for
    // what it received, and those reach node 0 too, so both move until they meet.
    let caught = loop {
        if heads(node).await? == heads(first).await? {
            break node.started.elapsed();
        }
        if Instant::now() > deadline {
            bail!("the restarted node did not catch up within 300 s");
        }
        tokio::time::sleep(CONVERGE_POLL).await;
    };
    let mem = node.mem().unwrap_or_default();
    let pids = chain.pids();
    let mut meter = meter;
    meter.add_pids(pids);
    let bytes = meter.node_to_node_bytes()?;
    report.add(
        Figure::single(
            format!("catch_up_k{k}_s"),
            G_CATCH,
            format!("restart until heads equal, {k} events missed"),
            "s",
            caught.as_secs_f64(),
        )
        .with("socket_ready_ms", ms(ready))
        .with("bytes_between_nodes", bytes)
        .with("events_per_s", k as f64 / caught.as_secs_f64()),
    );
    report.add(Figure::single(
        format!("catch_up_k{k}_peak_rss_mib"),
        G_MEM,
        format!("peak RSS of the restarted node, catching up {k}"),
        "MiB",
        mib(mem.hwm_kb),
    ));
    let others: Vec<f64> = chain.nodes[..last]
        .iter()
        .filter_map(|n| n.mem())
        .map(|m| mib(m.hwm_kb))
        .collect();
    report.add(Figure::single(
        format!("catch_up_k{k}_others_peak_rss_mib"),
        G_MEM,
        "peak RSS of the largest other node during catch-up",
        "MiB",
        others.iter().copied().fold(0.0, f64::max),
    ));
    Ok(())
}
