//! The figures of single nodes and small stars of real `tejidod` processes: start-up on a
//! data set (10,000 events, and a month of check-ins of 500 members) with the memory after it,
//! and the idle cost of a node with 5 peers.

use std::time::{Duration, Instant};

use anyhow::bail;
use protocol::ids::Timestamp;

use crate::client::Client;
use crate::cluster::{node_args, start_node, wrap_from_env, Bins, NodeProc, WireMeter};
use crate::report::{Figure, Goal, Report};
use crate::scenarios::{heads, mib, ms, register_member, Opts, G_MEM, G_START, REGION};
use crate::workload::submits;

/// Starts a stopped node `trials` times: the time from exec until `Status` answers (which must
/// satisfy `holds`, or the data was not loaded) and the RSS half a second later.
async fn restarts(
    node: &mut NodeProc,
    bins: &Bins,
    trials: usize,
    holds: impl Fn(&protocol::control::Status) -> bool,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut times = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..trials {
        node.spawn(bins)?;
        let (took, status) = node.wait_status().await?;
        if !holds(&status) {
            bail!("after a restart, {} does not hold its data", node.name);
        }
        times.push(ms(took));
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss.push(node.mem().map_or(f64::NAN, |m| mib(m.rss_kb)));
        node.shutdown().await?;
    }
    Ok((times, rss))
}

/// Figure 6: exec of `tejidod` on a data directory holding `k` events until `Status`
/// answers, against the same on an empty (initialised) data directory.
pub(crate) async fn startup(
    bins: &Bins,
    dir: &std::path::Path,
    report: &mut Report,
    opts: &Opts,
) -> anyhow::Result<()> {
    const K: usize = 10_000;
    let trials = if opts.quick { 3 } else { 7 };
    let args = ["--listen", "/ip4/127.0.0.1/tcp/0", "--connect", "bootstrap"];
    let mut empty = start_node(
        bins,
        dir,
        "empty",
        &[&["--org", "empty"][..], &args].concat(),
    )
    .await?;
    empty.shutdown().await?;
    let mut base = Vec::new();
    for _ in 0..trials {
        empty.spawn(bins)?;
        base.push(ms(empty.wait_status().await?.0));
        empty.shutdown().await?;
    }
    let base = report.add(Figure::from_samples(
        "startup_empty_ms",
        G_START,
        "baseline: exec until Status answers, empty data dir",
        "ms",
        &base,
    ));
    let mut solo = start_node(
        bins,
        dir,
        "loaded",
        &[&["--org", "loaded"][..], &args].concat(),
    )
    .await?;
    let writer = register_member(&solo, "loaded").await?;
    let mut client = Client::connect(&writer.key, &solo.contact()).await?;
    let events = writer.mixed(REGION, K, "start-up");
    client.pipeline(submits(&events, 64), 4).await?;
    drop(client);
    let store_bytes = solo.status().await?.store_bytes;
    solo.shutdown().await?;
    let (times, rss) = restarts(&mut solo, bins, trials, |s| s.checkins + s.alerts >= K).await?;
    report.add(
        Figure::from_samples(
            "startup_10k_ms",
            G_START,
            "exec until Status answers, 10000 events on disk",
            "ms",
            &times,
        )
        .against(&base)
        .target(Goal::AtMost(300.0))
        .with("store_bytes", store_bytes),
    );
    report.add(Figure::from_samples(
        "rss_loaded_10k_mib",
        G_MEM,
        "RSS after start-up with 10000 events (idle)",
        "MiB",
        &rss,
    ));
    Ok(())
}

const G_MONTH: &str = "8. a month of check-ins";
const G_IDLE: &str = "9. idle cost";

/// A month of check-ins: `members` members of one organisation (500, or 100 with --quick),
/// each checking in every 6 hours for 30 days, loaded into one node through the client
/// protocol; then the node is restarted and its start-up time and memory measured.
pub(crate) async fn month(
    bins: &Bins,
    dir: &std::path::Path,
    report: &mut Report,
    opts: &Opts,
) -> anyhow::Result<()> {
    const DAYS: i64 = 30;
    const PER_DAY: i64 = 4;
    let members = if opts.quick { 100 } else { 500 };
    let trials = if opts.quick { 3 } else { 7 };
    // Keep every check-in whatever the date.
    let args = [&node_args("month")[..], &["--retain-checkins", "90d"]].concat();
    let mut node = start_node(bins, dir, "month", &args).await?;
    let loading = Instant::now();
    let mut total = 0;
    for m in 0..members {
        let writer = register_member(&node, "month").await?;
        // Nobody may write before they were added (the roster refuses it), and members are
        // added now: a member's month of check-ins is dated from now on, a millisecond apart
        // (the count and sizes of a month, in one document of this month). Each says the
        // next is due in six hours: nobody is overdue.
        let first = Timestamp::now().plus_ms(1);
        let events: Vec<_> = (0..DAYS * PER_DAY)
            .map(|j| {
                let at = first.plus_ms(j);
                writer.checkin(at, format!("member {m} check-in {j}: todo bien"))
            })
            .collect();
        total += events.len();
        let mut client = Client::connect(&writer.key, &node.contact()).await?;
        client.pipeline(submits(&events, 64), 4).await?;
    }
    let status = node.status().await?;
    if status.checkins < total {
        bail!("the node holds {} of {total} check-ins", status.checkins);
    }
    eprintln!(
        "  {members} members, {total} check-ins loaded in {:.1} s",
        loading.elapsed().as_secs_f64()
    );
    let loaded_rss = node.mem().map_or(f64::NAN, |m| mib(m.rss_kb));
    let store_bytes = status.store_bytes;
    node.shutdown().await?;
    wrap_from_env(&mut node, "TEJIDO_BENCH_MONTH_WRAP");
    let (times, rss) = restarts(&mut node, bins, trials, |s| s.checkins >= total).await?;
    // The node idle with its month: the dead man's switch looks at every member's latest
    // check-in every 2 s.
    node.spawn(bins)?;
    node.wait_status().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let window = Duration::from_secs(if opts.quick { 10 } else { 20 });
    let cpu_before = node.cpu();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let secs = started.elapsed().as_secs_f64();
    let idle_cpu = (node.cpu() - cpu_before) / secs * 100.0;
    let idle_rss = node.mem().map_or(f64::NAN, |m| mib(m.rss_kb));
    node.shutdown().await?;
    let label = format!("{members} members x 4 check-ins a day x 30 days ({total} check-ins)");
    report.add(
        Figure::single(
            "month_idle_cpu_percent",
            G_MONTH,
            format!("CPU of the node idle, {secs:.0} s, {label}"),
            "% of a core",
            idle_cpu,
        )
        .target(Goal::AtMost(1.0))
        .with("rss_after_idle_mib", idle_rss),
    );
    report.add(
        Figure::from_samples(
            "month_rss_mib",
            G_MONTH,
            format!("RSS after start-up, {label}"),
            "MiB",
            &rss,
        )
        .target(Goal::AtMost(64.0 * 1_000_000.0 / 1_048_576.0))
        .with("members", members)
        .with("checkins", total)
        .with("rss_while_loading_mib", loaded_rss),
    );
    report.add(
        Figure::from_samples(
            "month_startup_ms",
            G_MONTH,
            format!("exec until Status answers, {label}"),
            "ms",
            &times,
        )
        .target(Goal::AtMost(300.0))
        .with("store_bytes", store_bytes),
    );
    Ok(())
}

/// Idle cost: a node with 5 peers (each joined to it, dialling only it) after everything
/// synced, over a window longer than the anti-entropy interval: TCP bytes per second per peer
/// on the node-to-node links, and the CPU the node used.
pub(crate) async fn idle(
    bins: &Bins,
    dir: &std::path::Path,
    report: &mut Report,
    opts: &Opts,
) -> anyhow::Result<()> {
    const PEERS: usize = 5;
    let window = Duration::from_secs(if opts.quick { 31 } else { 61 });
    let start = |i: usize| {
        let org = format!("idle{i}");
        async move { start_node(bins, dir, &format!("idle{i}"), &node_args(&org)).await }
    };
    let hub = start(0).await?;
    let mut nodes = Vec::new();
    for i in 1..=PEERS {
        let node = start(i).await?;
        let code = hub.cli(bins, &["invite", "node"])?;
        node.cli(bins, &["join", &code])?;
        nodes.push(node);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = hub.status().await?;
        let roster = heads(&hub).await?.remove("roster");
        let mut same = true;
        for n in &nodes {
            same = same && heads(n).await?.remove("roster") == roster;
        }
        if status.connected_peers.len() >= PEERS && same {
            break;
        }
        if Instant::now() > deadline {
            bail!("the idle network did not form within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let start-up chatter (address announcements, receipts, the first summaries) pass.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut pids: Vec<u32> = nodes.iter().filter_map(NodeProc::pid).collect();
    pids.extend(hub.pid());
    let meter = WireMeter::start(pids)?;
    let cpu_before = hub.cpu();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let secs = started.elapsed().as_secs_f64();
    let bytes = meter.node_to_node_bytes()? as f64;
    let cpu = (hub.cpu() - cpu_before) / secs * 100.0;
    report.add(
        Figure::single(
            "idle_bytes_per_peer_per_s",
            G_IDLE,
            format!("node-to-node bytes per second per peer, hub with {PEERS} peers, {secs:.0} s"),
            "B/s",
            bytes / PEERS as f64 / secs,
        )
        .target(Goal::AtMost(1024.0))
        .with("bytes", bytes),
    );
    report.add(
        Figure::single(
            "idle_cpu_percent",
            G_IDLE,
            format!("CPU of the hub with {PEERS} peers, idle, {secs:.0} s"),
            "% of a core",
            cpu,
        )
        .target(Goal::AtMost(1.0)),
    );
    Ok(())
}

/// Figure 6b: a start-up after kill -9 on a store that holds a document as a full save and the
/// chunks written after it, what a node killed while it worked keeps (a clean stop compacts
/// every document into one full save). `members` members write half their check-ins, the
/// node stops cleanly (one full save), starts, takes the other half at 64 per request (a
/// chunk per turn) and is killed; then the peak RSS and the time of the next start-up.
pub(crate) async fn crash_restart(
    bins: &Bins,
    dir: &std::path::Path,
    report: &mut Report,
    opts: &Opts,
) -> anyhow::Result<()> {
    const PER_MEMBER: i64 = 300;
    let members = if opts.quick { 20 } else { 40 };
    let args = [&node_args("crashed")[..], &["--retain-checkins", "90d"]].concat();
    let mut node = start_node(bins, dir, "crashed", &args).await?;
    let mut writers = Vec::new();
    for _ in 0..members {
        writers.push(register_member(&node, "crashed").await?);
    }
    let first = Timestamp::now().plus_ms(1);
    let halves: Vec<Vec<Vec<_>>> = (0..2)
        .map(|h| {
            writers
                .iter()
                .enumerate()
                .map(|(m, w)| {
                    (0..PER_MEMBER / 2)
                        .map(|j| {
                            let j = h * PER_MEMBER / 2 + j;
                            w.checkin(first.plus_ms(j), format!("member {m} check-in {j}"))
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let total = (members as i64 * PER_MEMBER) as usize;
    for (h, half) in halves.iter().enumerate() {
        if h == 1 {
            node.shutdown().await?;
            // On the same port, so that the members' contact still reaches it.
            let port = node.port;
            node.set_listen_port(port);
            node.spawn(bins)?;
            node.wait_status().await?;
        }
        for (w, events) in writers.iter().zip(half) {
            let mut client = Client::connect(&w.key, &node.contact()).await?;
            client.pipeline(submits(events, 64), 4).await?;
        }
    }
    if node.status().await?.checkins < total {
        bail!("the node does not hold the {total} check-ins");
    }
    node.kill9();
    let trials = if opts.quick { 1 } else { 3 };
    let mut peaks = Vec::new();
    let mut times = Vec::new();
    for t in 0..trials {
        // Each start-up compacts what it found, so each trial starts from the killed store.
        let name = format!("crashed-copy-{t}");
        harness::copy_dir(&node.dir, &dir.join(&name))?;
        let args: Vec<&str> = node.args.iter().map(String::as_str).collect();
        let mut again = NodeProc::new(dir, &name, &args);
        again.spawn(bins)?;
        let (took, status) = again.wait_status().await?;
        if status.checkins < total {
            bail!(
                "after kill -9 the node holds {} of {total}",
                status.checkins
            );
        }
        times.push(ms(took));
        peaks.push(again.mem().map_or(f64::NAN, |m| mib(m.hwm_kb)));
        again.shutdown().await?;
    }
    let label = format!("{total} check-ins, half in one full save, half in chunks after it");
    report.add(
        Figure::from_samples(
            "crash_restart_peak_rss_mib",
            G_MEM,
            format!("peak RSS of a start-up after kill -9, {label}"),
            "MiB",
            &peaks,
        )
        .with("checkins", total),
    );
    report.add(Figure::from_samples(
        "crash_restart_ms",
        G_START,
        format!("exec until Status answers after kill -9, {label}"),
        "ms",
        &times,
    ));
    Ok(())
}
