//! The simulated network (`--only sim`): 1,000 nodes' sync sessions and documents in virtual
//! time (`daemon::sim`), on a seeded random graph of 6 to 8 trusted peers per node. The
//! figures are virtual times and bytes, the same for the same seed on any machine; only the
//! wall-clock rows depend on this one.
//!
//! `TEJIDO_BENCH_SIM_SEED` (default 16) and `TEJIDO_BENCH_SIM_NODES` (default 1000).

use daemon::sim::{self, AlertFigures, Day, Params};

use crate::report::{Figure, Goal, Report};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

/// Runs every part and adds its figures.
pub(crate) fn sim(report: &mut Report) {
    let seed: u64 = env_or("TEJIDO_BENCH_SIM_SEED", 16);
    let nodes: usize = env_or("TEJIDO_BENCH_SIM_NODES", 1000);
    // The group names the seed, so that the table says which network it measured.
    let group: &'static str =
        Box::leak(format!("simulated network of {nodes}, seed {seed}").into_boxed_str());
    let aim = Params {
        nodes,
        ..Params::network(seed)
    };
    eprintln!("simulated network: {nodes} nodes, seed {seed}");

    eprintln!("  alerts at 100 ms per link, 5 % loss, gossip and sync");
    let (run, cpu) = sim::alerts(&aim, 6, 30);
    eprintln!(
        "  ({} links, mean degree {:.2}, {:.0} s simulated, {} messages, {:.1} s wall, {:.1} s in the real code)",
        run.links,
        run.mean_degree,
        run.virtual_s,
        run.messages,
        cpu.wall.as_secs_f64(),
        cpu.real_code.as_secs_f64()
    );
    alert_figures(report, group, "100 ms", &run.alerts, true);
    report.add(
        Figure::single(
            "sim_summary_bytes_per_node_minute",
            group,
            "anti-entropy summaries, per node per minute",
            "B",
            run.summary_bytes_per_node_minute,
        )
        .with("seed", seed),
    );
    report.add(
        Figure::single(
            "sim_alerts_wall",
            group,
            "wall time of that run (this machine)",
            "s",
            cpu.wall.as_secs_f64(),
        )
        .with("real_code_s", cpu.real_code.as_secs_f64())
        .with("messages", run.messages)
        .with("virtual_s", run.virtual_s),
    );

    eprintln!("  alerts at 100 ms per link, 5 % loss, sync only (no gossip)");
    let sync_only = Params {
        gossip: false,
        ..aim.clone()
    };
    let (run, _) = sim::alerts(&sync_only, 4, 30);
    alert_figures(report, group, "100 ms, sync only", &run.alerts, false);

    eprintln!("  alerts at 100 ms per link, 5 % loss, sync only, 3 to 4 peers per node");
    let sparse = Params {
        degree: (3, 4),
        ..sync_only.clone()
    };
    let (run, _) = sim::alerts(&sparse, 4, 30);
    alert_figures(
        report,
        group,
        "100 ms, sync only, 3-4 peers",
        &run.alerts,
        false,
    );

    eprintln!("  alerts at 50-300 ms per link, 5 % loss");
    let varied = Params {
        latency_ms: (50, 300),
        ..aim.clone()
    };
    let (run, _) = sim::alerts(&varied, 4, 30);
    alert_figures(report, group, "50-300 ms", &run.alerts, false);

    let short_backoff = Params {
        max_dial_backoff: std::time::Duration::from_secs(30),
        ..varied.clone()
    };
    for (minutes, params, what) in [
        (10, &varied, ""),
        (60, &varied, ""),
        (60, &short_backoff, ", dial back-off at most 30 s"),
    ] {
        eprintln!("  partition in halves for {minutes} minutes{what}, then heal (50-300 ms)");
        let (run, cpu) = sim::partition(params, minutes, 5, 20);
        let tag = if what.is_empty() { "" } else { "_backoff30" };
        let part = |id: &str, label: &str, v: Option<f64>| {
            Figure::single(
                format!("sim_partition_{minutes}{tag}_{id}"),
                group,
                format!("partition of {minutes} min{what}, after the heal: {label}"),
                "s",
                ms(v) / 1000.0,
            )
            .with("cut_links", run.cut_links)
            .with("alerts_per_side", run.alerts_per_side)
            .with("seed", seed)
        };
        report.add(part("reconnected", "every cut link up", run.reconnected_ms));
        report.add(part(
            "all_visible",
            "every alert on every node",
            run.all_visible_ms,
        ));
        report.add(part("converged", "all documents equal", run.converged_ms));
        report.add(
            Figure::single(
                format!("sim_partition_{minutes}{tag}_bytes"),
                group,
                format!("partition of {minutes} min{what}: bytes per node, heal to converged"),
                "B",
                run.heal_bytes_per_node,
            )
            .with("wall_s", cpu.wall.as_secs_f64()),
        );
    }

    let day = Day::default_day();
    eprintln!(
        "  a node back after a day offline: {} events that day, 7 peers (50-300 ms)",
        day.events()
    );
    let (run, cpu) = sim::catch_up(&varied, &day, 7, 30);
    report.add(
        Figure::single(
            "sim_catch_up",
            group,
            format!("catch-up after a day offline ({} events)", run.day_events),
            "s",
            ms(run.caught_up_ms) / 1000.0,
        )
        .with("prior_events", run.prior_events)
        .with("peers", run.peers)
        .with("largest_message", run.largest_message)
        .with("oversized", run.oversized)
        .with("wall_s", cpu.wall.as_secs_f64())
        .with("real_code_s", cpu.real_code.as_secs_f64()),
    );
    report.add(Figure::single(
        "sim_catch_up_received",
        group,
        "catch-up: bytes sent to the node until then",
        "B",
        run.received_bytes as f64,
    ));
    report.add(Figure::single(
        "sim_catch_up_sent",
        group,
        "catch-up: bytes sent, all nodes",
        "B",
        run.sent_bytes as f64,
    ));
}

/// The first alert (fresh sync states) alone, then the medians of the others.
fn alert_figures(
    report: &mut Report,
    group: &'static str,
    what: &str,
    alerts: &[AlertFigures],
    targets: bool,
) {
    let Some((first, rest)) = alerts.split_first() else {
        return;
    };
    let id = what.replace([' ', ',', '-'], "_");
    let seconds = |f: &dyn Fn(&AlertFigures) -> Option<f64>| -> Vec<f64> {
        rest.iter().map(|a| ms(f(a)) / 1000.0).collect()
    };
    report.add(
        Figure::single(
            format!("sim_{id}_first_t99"),
            group,
            format!("{what}: first alert, 99 % of nodes"),
            "s",
            ms(first.t99_ms) / 1000.0,
        )
        .with("t50_s", ms(first.t50_ms) / 1000.0)
        .with("t100_s", ms(first.t100_ms) / 1000.0)
        .with(
            "bytes_per_node",
            first.gossip_bytes_per_node + first.sync_bytes_per_node,
        ),
    );
    for (key, label, f) in [
        (
            "t50",
            "50 % of nodes",
            (&|a: &AlertFigures| a.t50_ms) as &dyn Fn(&AlertFigures) -> Option<f64>,
        ),
        ("t99", "99 % of nodes", &|a: &AlertFigures| a.t99_ms),
        ("t100", "100 % of nodes", &|a: &AlertFigures| a.t100_ms),
        ("stored99", "stored by sync on 99 %", &|a: &AlertFigures| {
            a.stored99_ms
        }),
        ("settled", "quiet again", &|a: &AlertFigures| a.settled_ms),
    ] {
        let mut fig = Figure::from_samples(
            format!("sim_{id}_{key}"),
            group,
            format!("{what}: alert at {label}"),
            "s",
            &seconds(f),
        );
        if targets && key == "t99" {
            fig = fig.target(Goal::AtMost(2.0));
        }
        report.add(fig);
    }
    let bytes: Vec<f64> = rest
        .iter()
        .map(|a| a.gossip_bytes_per_node + a.sync_bytes_per_node)
        .collect();
    let gossip: Vec<f64> = rest.iter().map(|a| a.gossip_bytes_per_node).collect();
    let requests: Vec<f64> = rest.iter().map(|a| a.sync_requests_per_node).collect();
    let mut fig = Figure::from_samples(
        format!("sim_{id}_bytes"),
        group,
        format!("{what}: bytes sent per node per alert"),
        "B",
        &bytes,
    )
    .with(
        "per_alert",
        rest.iter()
            .map(|a| {
                serde_json::json!({
                    "t50_s": ms(a.t50_ms) / 1000.0,
                    "t99_s": ms(a.t99_ms) / 1000.0,
                    "t100_s": ms(a.t100_ms) / 1000.0,
                    "gossip_bytes": a.gossip_bytes_per_node,
                    "sync_bytes": a.sync_bytes_per_node,
                })
            })
            .collect::<Vec<_>>(),
    )
    .with(
        "sync_requests_per_node",
        crate::report::percentile(&sorted(requests), 0.5),
    );
    if targets {
        fig = fig.target(Goal::AtMost(2048.0));
    }
    report.add(fig);
    if gossip.iter().any(|g| *g > 0.0) {
        report.add(Figure::from_samples(
            format!("sim_{id}_gossip_bytes"),
            group,
            format!("{what}: of which gossip"),
            "B",
            &gossip,
        ));
    }
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}
