//! A trusted node flooding a target node's sync protocol, while an honest member raises
//! panics on it at a steady pace.
//!
//! Two real `tejidod` processes on 127.0.0.1: the target A, and B, which joined A's network
//! and dials only A. The flooding node is an in-process libp2p peer (`harness::peer`, as in
//! the hostile-peer tests) holding a node key that A's network trusts (it redeemed a node
//! invite of A). It keeps [`WINDOW`] requests of `/tejido/sync/1` in flight as fast as A
//! answers: summaries naming [`DOCS_PER_SUMMARY`] invented documents with invented heads, and
//! sync messages (an empty document's first message) for further invented documents, each
//! request naming new ones. The flooding key's peer id is larger than A's, so that A drives
//! the exchange of every document a summary names (see `form`). The flood stops at [`FLOOD_MAX_REQUESTS`] requests, after
//! [`FLOOD_MAX_TIME`], or when the member's panics are done, whichever comes first.
//!
//! The member raises a panic every [`PACE`] over one open client connection to A; each
//! panic is timed until A answers `Stored` and until B's operator socket shows it. The same
//! trials run first without the flood (the baselines), then with it; A's peak RSS (VmHWM,
//! reset before each phase) is taken at the end of each.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use automerge::sync::SyncDoc;
use harness::peer::{join_as_node, Outcome, SyncPeer};
use libp2p::{Multiaddr, PeerId};
use protocol::control::{Request, Response};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::wire::{
    ClientRequestV0, ClientResponseV0, DocSummary, SyncRequestV0, SyncResponseV0,
};

use crate::client::Client;
use crate::cluster::{node_args, start_node, Bins, NodeProc};
use crate::report::{Figure, Report};
use crate::scenarios::{register_member, Opts, REGION};
use crate::workload::Writer;

const G_FLOOD: &str = "10. sync flood by a trusted node";
/// Requests of the flood in flight at once.
const WINDOW: usize = 32;
/// Invented documents named by each summary of the flood.
const DOCS_PER_SUMMARY: usize = 256;
/// The flood's bounds.
const FLOOD_MAX_REQUESTS: u64 = 200_000;
const FLOOD_MAX_TIME: Duration = Duration::from_secs(90);
/// One panic every so often.
const PACE: Duration = Duration::from_millis(250);
/// How long a panic may take to show on B before it counts as not shown.
const VISIBLE_DEADLINE: Duration = Duration::from_secs(20);

/// What the flooding peer did.
#[derive(Default)]
struct FloodCounts {
    sent: AtomicU64,
    answered: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
    /// Why the first failed request failed.
    first_failure: std::sync::Mutex<Option<String>>,
}

/// The flood's request number `i`: summaries and sync messages alternate, each naming
/// documents no request named before.
fn flood_request(i: u64, empty_msg: &[u8], now: Timestamp) -> SyncRequestV0 {
    if i.is_multiple_of(2) {
        let docs = (0..DOCS_PER_SUMMARY as u64)
            .map(|j| {
                let n = i * DOCS_PER_SUMMARY as u64 + j;
                let mut head = [0u8; 32];
                head[..8].copy_from_slice(&n.to_le_bytes());
                head[8] = 0xf1;
                DocSummary {
                    doc: DocId::alerts(&format!("flood{n}"), now),
                    heads: vec![head],
                }
            })
            .collect();
        SyncRequestV0::Summary { docs, now: None }
    } else {
        SyncRequestV0::Sync {
            doc: DocId::alerts(&format!("floodsync{i}"), now),
            msg: empty_msg.to_vec(),
        }
    }
}

/// Floods `target` from its own thread and runtime until `stop`, or a bound.
fn spawn_flood(
    key: SecretKey,
    target: (PeerId, Multiaddr),
    stop: Arc<AtomicBool>,
    counts: Arc<FloodCounts>,
) -> std::thread::JoinHandle<anyhow::Result<Duration>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let mut peer = SyncPeer::new(&key)?;
            peer.add_address(target.0, &target.1);
            let empty_msg = automerge::Automerge::new()
                .generate_sync_message(&mut automerge::sync::State::new())
                .context("an empty document's first sync message")?
                .encode();
            let now = Timestamp::now();
            let started = Instant::now();
            let mut in_flight = 0;
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && started.elapsed() < FLOOD_MAX_TIME {
                while in_flight < WINDOW && i < FLOOD_MAX_REQUESTS {
                    peer.send(target.0, flood_request(i, &empty_msg, now));
                    i += 1;
                    in_flight += 1;
                    counts.sent.fetch_add(1, Ordering::Relaxed);
                }
                if in_flight == 0 {
                    break;
                }
                let Ok(outcome) =
                    tokio::time::timeout(Duration::from_millis(500), peer.next_outcome()).await
                else {
                    continue;
                };
                in_flight -= 1;
                match outcome {
                    Outcome::Answer(_, SyncResponseV0::Refused { .. }) => {
                        counts.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Outcome::Answer(..) => {
                        counts.answered.fetch_add(1, Ordering::Relaxed);
                    }
                    Outcome::Failed(_, why) => {
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut first) = counts.first_failure.lock() {
                            first.get_or_insert(why);
                        }
                    }
                }
            }
            Ok(started.elapsed())
        })
    })
}

/// Polls B's socket on its own thread until alert `id` shows; `None` after the deadline.
fn spawn_visible_poller(
    socket: PathBuf,
    id: String,
) -> std::thread::JoinHandle<anyhow::Result<Option<Instant>>> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let deadline = Instant::now() + VISIBLE_DEADLINE;
        let request = Request::Alerts {
            region: Some(REGION.into()),
            open_only: false,
        };
        loop {
            let response = rt.block_on(daemon::control::call(&socket, &request))?;
            let now = Instant::now();
            if let Response::Alerts { alerts } = response {
                if alerts.iter().any(|a| a.id == id) {
                    return Ok(Some(now));
                }
            }
            if now > deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

/// One phase: `trials` panics at [`PACE`]; store and visible latencies in ms, panics not
/// shown on B in time, and A's peak RSS in MiB.
struct Phase {
    store: Vec<f64>,
    visible: Vec<f64>,
    not_visible: usize,
    peak_mib: f64,
}

async fn phase(
    a: &NodeProc,
    b: &NodeProc,
    writer: &Writer,
    client: &mut Client,
    trials: usize,
    tag: &str,
) -> anyhow::Result<Phase> {
    a.reset_peak();
    let mut out = Phase {
        store: Vec::new(),
        visible: Vec::new(),
        not_visible: 0,
        peak_mib: 0.0,
    };
    let mut prev = Timestamp(0);
    let mut next = Instant::now();
    for t in 0..trials {
        tokio::time::sleep_until(next.into()).await;
        next += PACE;
        let (event, id) = writer.next_panic(REGION, &mut prev, format!("{tag} panic {t}"));
        let poller = spawn_visible_poller(b.socket(), id);
        let start = Instant::now();
        let answer = client
            .request(ClientRequestV0::Submit {
                events: vec![event],
            })
            .await?;
        if !matches!(answer.response, ClientResponseV0::Stored { .. }) {
            bail!("the target did not store the panic: {:?}", answer.response);
        }
        out.store.push(answer.took.as_secs_f64() * 1e3);
        let seen = tokio::task::spawn_blocking(move || poller.join())
            .await?
            .map_err(|_| anyhow::anyhow!("poller panicked"))??;
        match seen {
            Some(at) => out
                .visible
                .push(at.saturating_duration_since(start).as_secs_f64() * 1e3),
            None => out.not_visible += 1,
        }
    }
    out.peak_mib = a.mem().map_or(f64::NAN, |m| m.hwm_kb as f64 / 1024.0);
    Ok(out)
}

/// A, B and the member, formed: B and the flooding node in A's roster, B connected to A.
async fn form(bins: &Bins, dir: &Path) -> anyhow::Result<(NodeProc, NodeProc, Writer, SecretKey)> {
    // The target runs with the default sync budget: that is what the flood measures.
    let rate = daemon::config::DEFAULT_SYNC_RATE.to_string();
    let net = ["--network", "bench", "--sync-rate", rate.as_str()];
    let a = start_node(
        bins,
        dir,
        "target",
        &[&node_args("flood-a")[..], &net].concat(),
    )
    .await?;
    // Of two nodes, the one with the smaller peer id drives the exchanges a summary calls
    // for: a flooding key with the larger id makes A start one for every invented document,
    // the same in every run.
    let a_peer = a.peer_addr()?.0;
    let evil = loop {
        let key = SecretKey::generate();
        if daemon::net::peer_id_of(&key.public()).is_some_and(|p| p > a_peer) {
            break key;
        }
    };
    let b = start_node(bins, dir, "second", &node_args("flood-b")).await?;
    let code = a.cli(bins, &["invite", "node"])?;
    b.cli(bins, &["join", &code])?;
    let writer = register_member(&a, "flood-a").await?;
    let code = a.cli(bins, &["invite", "node"])?;
    join_as_node(&code, "flood-evil", &evil, &SecretKey::generate()).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let roster = |docs: Vec<protocol::control::DocInfo>| {
            docs.into_iter()
                .find(|d| d.doc == "roster")
                .map(|d| d.heads)
        };
        let same = roster(a.docs().await?) == roster(b.docs().await?);
        let connected = b
            .status()
            .await?
            .connected_peers
            .contains(&a.key.to_string());
        // A, B and the flooding node.
        let evil_known = a.status().await?.nodes >= 3;
        if same && connected && evil_known {
            return Ok((a, b, writer, evil));
        }
        if Instant::now() > deadline {
            bail!(
                "the flood's network did not form within 60 s \
                 (roster {same}, B connected {connected}, flooder known {evil_known})"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The flood figures.
pub(crate) async fn flood(
    bins: &Bins,
    dir: &Path,
    report: &mut Report,
    opts: &Opts,
) -> anyhow::Result<()> {
    let trials = if opts.quick { 20 } else { 40 };
    let (a, b, writer, evil) = form(bins, dir).await?;
    let mut client = Client::connect(&writer.key, &a.contact()).await?;
    // Warm-up: the first panics of a fresh network create its documents.
    phase(&a, &b, &writer, &mut client, 3, "warm-up").await?;
    let calm = phase(&a, &b, &writer, &mut client, trials, "calm").await?;

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(FloodCounts::default());
    let flooder = spawn_flood(evil, a.peer_addr()?, stop.clone(), counts.clone());
    // Start measuring once the target answers the flood.
    let deadline = Instant::now() + Duration::from_secs(20);
    while counts.answered.load(Ordering::Relaxed) + counts.refused.load(Ordering::Relaxed) == 0 {
        if flooder.is_finished() || Instant::now() > deadline {
            stop.store(true, Ordering::Relaxed);
            let why = tokio::task::spawn_blocking(move || flooder.join()).await?;
            bail!(
                "the target never answered the flood: {:?}",
                why.map(|r| r.err())
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let flooded = phase(&a, &b, &writer, &mut client, trials, "flood").await;
    stop.store(true, Ordering::Relaxed);
    let flood_secs = tokio::task::spawn_blocking(move || flooder.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the flooding peer panicked"))??
        .as_secs_f64();
    let flooded = flooded?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = a.mem().map_or(f64::NAN, |m| m.rss_kb as f64 / 1024.0);
    let documents_after = a.status().await?.documents;
    let sent = counts.sent.load(Ordering::Relaxed);
    let answered = counts.answered.load(Ordering::Relaxed);
    let refused = counts.refused.load(Ordering::Relaxed);
    let failed = counts.failed.load(Ordering::Relaxed);
    let first_failure = counts
        .first_failure
        .lock()
        .ok()
        .and_then(|f| f.clone())
        .unwrap_or_default();

    let store = report.add(Figure::from_samples(
        "flood_calm_store_ms",
        G_FLOOD,
        "baseline: panic until Stored on A, no flood",
        "ms",
        &calm.store,
    ));
    report.add(
        Figure::from_samples(
            "flood_store_ms",
            G_FLOOD,
            "panic until Stored on A, A flooded",
            "ms",
            &flooded.store,
        )
        .against(&store)
        .with("pace_ms", PACE.as_millis() as u64),
    );
    let visible = report.add(
        Figure::from_samples(
            "flood_calm_visible_ms",
            G_FLOOD,
            "baseline: panic on A until shown on B, no flood",
            "ms",
            &calm.visible,
        )
        .with("not_shown_within_20s", calm.not_visible),
    );
    report.add(
        Figure::from_samples(
            "flood_visible_ms",
            G_FLOOD,
            "panic on A until shown on B, A flooded",
            "ms",
            &flooded.visible,
        )
        .against(&visible)
        .with("not_shown_within_20s", flooded.not_visible),
    );
    let calm_rss = report.add(Figure::single(
        "flood_calm_peak_rss_mib",
        G_FLOOD,
        "baseline: peak RSS of A, panics only",
        "MiB",
        calm.peak_mib,
    ));
    report.add(
        Figure::single(
            "flood_peak_rss_mib",
            G_FLOOD,
            "peak RSS of A, panics and the flood",
            "MiB",
            flooded.peak_mib,
        )
        .against(&calm_rss)
        .with("rss_1s_after_flood_mib", rss_after)
        .with("documents_after_flood", documents_after)
        .with("flood_requests_sent", sent)
        .with("flood_answered", answered)
        .with("flood_refused", refused)
        .with("flood_failed", failed)
        .with("flood_first_failure", first_failure)
        .with("flood_seconds", flood_secs)
        .with("docs_per_summary", DOCS_PER_SUMMARY)
        .with("window", WINDOW),
    );
    report.add(Figure::single(
        "flood_requests_per_s",
        G_FLOOD,
        "  flood requests answered by A per second",
        "req/s",
        (answered + refused) as f64 / flood_secs,
    ));
    Ok(())
}
