//! Figure 1 on a random sparse mesh (or a line) of many nodes running inside this process: one tokio
//! runtime, each node with its own sled store, operator socket and libp2p swarm on 127.0.0.1
//! (real TCP, Noise, Yamux, gossipsub and sync), driven exactly like the process chain.
//!
//! Node `i` joins through an invite of a random earlier node and also dials two other random
//! earlier nodes (bootstrap peers), so every node has about six links and the graph is
//! connected; in a line, node `i` joins through node `i - 1` only. A member of node 0 raises a panic; every node marks the moment it shows the alert
//! (a gossip hint or a synced change) with a `tejido::visible` trace event, which a tracing
//! layer here records, so nothing polls the nodes while they work. The figure is the time
//! until the last node shows it. Between trials the network settles: every node shows every
//! expected delivery receipt for the alert ("held by n of m" complete), and all hold the same
//! heads.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use libp2p::Multiaddr;
use protocol::control::{Request, Response};
use protocol::ids::Timestamp;
use protocol::wire::{ClientRequestV0, ClientResponseV0};
use tokio::sync::oneshot;
use tracing::field::{Field, Visit};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::client::Client;
use crate::cluster::{node_args, NodeProc};
use crate::report::{Figure, Report};
use crate::scenarios::{register_member, Opts, REGION};
use harness::process::mem_of;

const G_MESH: &str = "1b. alert latency, in-process nodes";

/// How the nodes are linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Node i joins through a random earlier node and dials two more.
    Mesh,
    /// Node i joins through node i - 1 and dials nobody else.
    Line,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Mesh => "mesh",
            Shape::Line => "line",
        }
    }

    /// `10`, `line50`: a size, after `line` for a line.
    pub(crate) fn parse(text: &str) -> Option<(Shape, usize)> {
        match text.trim().strip_prefix("line") {
            Some(n) => Some((Shape::Line, n.parse().ok()?)),
            None => Some((Shape::Mesh, text.trim().parse().ok()?)),
        }
    }
}
/// Bootstrap links each node adds besides the node that invited it.
const EXTRA_LINKS: usize = 2;

/// A node running on this process's runtime.
struct MeshNode {
    node: NodeProc,
    peer_id: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for MeshNode {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A small deterministic generator (xorshift64*), so every run builds the same graph.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

async fn start_node(dir: &Path, i: usize, bootstrap: Vec<Multiaddr>) -> anyhow::Result<MeshNode> {
    let name = format!("n{i}");
    let data = dir.join(&name);
    let org = format!("org{i}");
    let args = daemon::config::Args::try_parse_from(
        [
            &["tejidod", "--data-dir", data.to_str().context("data dir")?][..],
            &node_args(&org),
            // One organisation's consent admits the next, as for the process nodes
            // (`cluster::start_node`): every node of the mesh is its own organisation.
            &["--network", "bench", "--consent", "1"],
            &crate::cluster::BENCH_LIMITS,
        ]
        .concat(),
    )?;
    let mut config = daemon::config::load(args)?;
    // No welcome text on the benchmark's standard output.
    config.fresh = false;
    config.bootstrap.extend(bootstrap);
    let (stop, stopped) = oneshot::channel::<()>();
    let label = name.clone();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = daemon::run(config, shutdown).await {
            eprintln!("  {label} stopped: {e:#}");
        }
    });
    let node = NodeProc::attach(dir, &name).await?;
    let peer_id = node.status().await?.peer_id;
    Ok(MeshNode {
        node,
        peer_id,
        stop: Some(stop),
    })
}

/// Starts `n` nodes and links them; returns them with each node's links (indices).
async fn build(
    dir: &Path,
    n: usize,
    shape: Shape,
) -> anyhow::Result<(Vec<MeshNode>, Vec<Vec<usize>>)> {
    let mut rng = Rng(0x7e71_d05e_ed00 ^ n as u64);
    let mut nodes: Vec<MeshNode> = Vec::new();
    let mut links: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let parent = match shape {
            _ if i == 0 => 0,
            Shape::Mesh => rng.below(i),
            Shape::Line => i - 1,
        };
        let mut extra = Vec::new();
        while shape == Shape::Mesh && i > EXTRA_LINKS && extra.len() < EXTRA_LINKS {
            let j = rng.below(i);
            if j != parent && !extra.contains(&j) {
                extra.push(j);
            }
        }
        let bootstrap = extra
            .iter()
            .map(|&j| {
                let m = &nodes[j];
                format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", m.node.port, m.peer_id)
                    .parse::<Multiaddr>()
                    .context("bootstrap address")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let node = start_node(dir, i, bootstrap).await?;
        if i > 0 {
            let code = match nodes[parent]
                .node
                .call(&Request::InviteNode { ttl_secs: 3600 })
                .await?
            {
                Response::Invite { code, .. } => code,
                other => bail!("unexpected answer to a node invite: {other:?}"),
            };
            let joined = node.node.call(&Request::JoinNetwork { code }).await?;
            if let Response::Error { message, .. } = joined {
                bail!("n{i} could not join: {message}");
            }
        }
        let mut linked = extra;
        if i > 0 {
            linked.insert(0, parent);
        }
        links.push(linked);
        nodes.push(node);
    }
    Ok((nodes, links))
}

/// When each node first showed each alert: alert id -> node key -> when.
static SEEN: OnceLock<Mutex<HashMap<String, HashMap<String, Instant>>>> = OnceLock::new();

fn seen() -> &'static Mutex<HashMap<String, HashMap<String, Instant>>> {
    SEEN.get_or_init(Default::default)
}

/// Records the nodes' `tejido::visible` events (a node marks an alert it now shows, from
/// gossip or sync) with the time they happened: no polling disturbs the nodes.
struct Visible;

#[derive(Default)]
struct VisibleFields {
    node: Option<String>,
    alert: Option<String>,
}

impl Visit for VisibleFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "node" => self.node = Some(format!("{value:?}")),
            "alert" => self.alert = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Visible {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        let now = Instant::now();
        let mut fields = VisibleFields::default();
        event.record(&mut fields);
        if let (Some(node), Some(alert), Ok(mut seen)) = (fields.node, fields.alert, seen().lock())
        {
            seen.entry(alert).or_default().entry(node).or_insert(now);
        }
    }
}

/// Installs the recorder of `tejido::visible` events, and a log of the nodes on standard
/// error at `log`'s level when given (TEJIDO_BENCH_LOG).
pub(crate) fn install_tracing(log: Option<String>) {
    let visible = Visible.with_filter(filter_fn(|m| m.target() == "tejido::visible"));
    let fmt = log.map(|filter| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(EnvFilter::new(filter))
    });
    tracing_subscriber::registry()
        .with(visible)
        .with(fmt)
        .init();
}

/// Waits until every node in `keys` marked alert `id` visible; returns when each did.
async fn wait_visible(keys: &[String], id: &str) -> anyhow::Result<Vec<Instant>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(seen) = seen().lock() {
            if let Some(nodes) = seen.get(id) {
                let times: Vec<Instant> =
                    keys.iter().filter_map(|k| nodes.get(k)).copied().collect();
                if times.len() == keys.len() {
                    return Ok(times);
                }
            }
        }
        if Instant::now() > deadline {
            bail!("not every node showed the alert within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until every node shows every expected receipt for alert `id` and all hold the same
/// heads for every document; returns when it saw that.
async fn settle(nodes: &[MeshNode], id: &str) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let request = Request::Alerts {
        region: Some(REGION.into()),
        open_only: false,
    };
    let mut held_everywhere = 0;
    loop {
        while held_everywhere < nodes.len() {
            let Response::Alerts { alerts } = nodes[held_everywhere].node.call(&request).await?
            else {
                bail!("unexpected answer to Alerts");
            };
            // Every receipt expected (every node's, before receipts were limited to the nodes
            // of the alert's organisation and its region's security contacts).
            let settled = alerts
                .iter()
                .find(|a| a.id == id)
                .is_some_and(|a| a.network_nodes > 0 && a.held_by.len() >= a.network_nodes);
            if !settled {
                break;
            }
            held_everywhere += 1;
        }
        let mut first = None;
        let mut same = held_everywhere == nodes.len();
        for m in nodes.iter().filter(|_| same) {
            let heads: Vec<(String, Vec<String>)> = m
                .node
                .docs()
                .await?
                .into_iter()
                .map(|d| (d.doc, d.heads))
                .collect();
            match &first {
                None => first = Some(heads),
                Some(f) => {
                    if *f != heads {
                        same = false;
                        break;
                    }
                }
            }
        }
        if same {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("the mesh did not settle within 120 s of an alert");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Alert latency to every node of `n` nodes linked as `shape`, in this process.
pub(crate) async fn mesh(
    dir: &Path,
    n: usize,
    shape: Shape,
    report: &mut Report,
    opts: &Opts,
) -> anyhow::Result<()> {
    let kind = shape.name();
    let setup = Instant::now();
    let rss_before = mem_of(std::process::id()).map(|m| m.rss_kb).unwrap_or(0);
    let (nodes, links) = build(dir, n, shape).await?;
    let writer = register_member(&nodes[0].node, "org0").await?;
    // Every node has node 0's roster and is connected to each node it linked to.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let mut heads = Vec::new();
        for m in &nodes {
            let docs = m.node.docs().await?;
            heads.push(
                docs.into_iter()
                    .find(|d| d.doc == "roster")
                    .map(|d| d.heads),
            );
        }
        let same_roster = heads.iter().all(|h| h.is_some() && *h == heads[0]);
        let mut linked = true;
        for (i, m) in nodes.iter().enumerate() {
            let connected = m.node.status().await?.connected_peers;
            linked &= links[i]
                .iter()
                .all(|&j| connected.contains(&nodes[j].node.key.to_string()));
        }
        if same_roster && linked {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the {kind} of {n} did not form within 300 s (roster {same_roster}, links {linked})"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let edges: usize = links.iter().map(Vec::len).sum();
    eprintln!(
        "  {kind} of {n} formed in {:.1} s ({edges} links)",
        setup.elapsed().as_secs_f64()
    );
    // Let gossipsub build its mesh (heartbeats) before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = mem_of(std::process::id()).map(|m| m.rss_kb).unwrap_or(0);

    let mut client = Client::connect(&writer.key, &nodes[0].node.contact()).await?;
    // Node 0 stores the panic; the others are timed.
    let others: Vec<String> = nodes[1..].iter().map(|m| m.node.key.to_string()).collect();
    let (warmup, trials) = if opts.quick { (3, 20) } else { (5, 30) };
    let (mut all, mut half, mut store, mut settled) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut prev = Timestamp(0);
    for t in 0..warmup + trials {
        let (event, id) = writer.next_panic(REGION, &mut prev, format!("mesh trial {t}"));
        let start = Instant::now();
        let answer = client
            .request(ClientRequestV0::Submit {
                events: vec![event],
            })
            .await?;
        if !matches!(answer.response, ClientResponseV0::Stored { .. }) {
            bail!("node 0 did not store the panic: {:?}", answer.response);
        }
        let times = wait_visible(&others, &id).await?;
        let mut after: Vec<f64> = times
            .iter()
            .map(|s| s.saturating_duration_since(start).as_secs_f64() * 1e3)
            .collect();
        after.sort_by(f64::total_cmp);
        // The next trial starts on a quiet network: every node holds the same heads for every
        // document, the alert and every expected delivery receipt for it included.
        let quiet = settle(&nodes, &id).await?;
        if t >= warmup {
            store.push(answer.took.as_secs_f64() * 1e3);
            all.push(after.last().copied().unwrap_or(f64::NAN));
            half.push(after[after.len() / 2]);
            settled.push(quiet.saturating_duration_since(start).as_secs_f64() * 1e3);
        }
    }
    let store = report.add(Figure::from_samples(
        format!("{kind}{n}_store_latency_ms"),
        G_MESH,
        format!("baseline: Submit of 1 panic until Stored, node 0 of {n}"),
        "ms",
        &store,
    ));
    report.add(
        Figure::from_samples(
            format!("{kind}{n}_alert_half_nodes_ms"),
            G_MESH,
            format!("panic on node 0 until shown on half of the other {}", n - 1),
            "ms",
            &half,
        )
        .against(&store),
    );
    let mut last = Figure::from_samples(
        format!("{kind}{n}_alert_all_nodes_ms"),
        G_MESH,
        format!("panic on node 0 until shown on all other {} nodes", n - 1),
        "ms",
        &all,
    )
    .against(&store)
    .with("links", edges)
    .with(
        "how",
        "each node's tejido::visible trace event (gossip hint or sync), in-process",
    );
    if n >= 100 {
        last = last.with("p99_target", "<= 250");
    }
    report.add(last);
    report.add(
        Figure::from_samples(
            format!("{kind}{n}_quiet_ms"),
            G_MESH,
            format!("panic until all {n} nodes hold it and every receipt"),
            "ms",
            &settled,
        )
        .with(
            "note",
            "the nodes of the alert's organisation and of its region's security contacts sign a receipt, which reaches every node",
        ),
    );
    report.add(
        Figure::single(
            format!("{kind}{n}_rss_per_node_mib"),
            G_MESH,
            format!("RSS of the process / {n} nodes, after forming"),
            "MiB",
            rss_after.saturating_sub(rss_before) as f64 / 1024.0 / n as f64,
        )
        .with("process_rss_mib", rss_after as f64 / 1024.0),
    );
    drop(nodes);
    // Give the nodes a moment to close their stores.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(())
}
