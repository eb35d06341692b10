//! tejido-bench: measures Tejido on this machine and prints a table and one JSON line per
//! figure to stdout (progress goes to stderr). It measures, it never asserts on times.
//!
//! ```text
//! cargo run --release -p tejido-bench -- [--quick] [--no-build] [--only micro,chain,mesh,month,idle,startup,flood,roster,sim]
//! ```
//!
//! In order: micro-benchmarks and verify+apply throughput in-process (before any node runs),
//! the roster fold of a chain of hostile links (child processes, abandoned past 60 s), then a
//! chain of 10 real `tejidod` processes on 127.0.0.1 (alert latency, convergence of K events,
//! catch-up of a restarted node, memory), alert latency on random sparse meshes of 10, 50 and
//! 100 nodes and a line of 50 running inside this process, a month of check-ins of 500
//! members in one node (start-up and memory), the idle cost of a node with 5 peers (bytes and
//! CPU), a trusted node flooding a node's sync protocol while a member raises panics, then
//! start-up of one node on 10000 events. The simulated network (`sim.rs`) runs 1,000 nodes'
//! sync sessions in virtual time.
//!
//! Nodes are started, attached to and stopped with the integration tests' process harness
//! (the `tests` crate, here `harness`); what only the benchmark needs is in `cluster.rs`.
//! Figures are medians with p90/p99 where there are trials; where a comparison is made, the
//! ratio is against a baseline measured in the same run.

mod client;
mod cluster;
mod flood;
mod mesh;
mod micro;
mod report;
mod roster;
mod scenarios;
mod sim;
mod solo;
mod workload;

use std::process::ExitCode;

use serde_json::json;

use crate::report::Report;
use crate::scenarios::{Chain, Opts};

struct Args {
    quick: bool,
    build: bool,
    only: Option<Vec<String>>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        quick: false,
        build: true,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--no-build" => args.build = false,
            "--only" => {
                let v = it
                    .next()
                    .ok_or("--only needs a list: micro,chain,mesh,month,idle,startup,flood,roster,sim")?;
                args.only = Some(v.split(',').map(str::to_string).collect());
            }
            "-h" | "--help" => {
                return Err(
                    "usage: tejido-bench [--quick] [--no-build] [--only micro,chain,mesh,month,idle,startup,flood,roster,sim]\n\
                     --quick     K = 1000 only and fewer trials (about 2 minutes)\n\
                     --no-build  do not run cargo build for tejidod and tejido first\n\
                     --only      run only these parts"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    // One fold of the roster figures, in a child process so that it can be abandoned.
    let argv: Vec<String> = std::env::args().collect();
    if let [_, flag, n, dating] = argv.as_slice() {
        if flag == "--roster-child" {
            let done = n
                .parse()
                .map_err(anyhow::Error::from)
                .and_then(|n| roster::child(n, dating));
            return match done {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e:#}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let wants = |part: &str| {
        args.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|p| p == part))
    };
    let opts = Opts { quick: args.quick };
    let started = std::time::Instant::now();
    let load_before = loadavg();
    let mut report = Report::default();

    if wants("micro") {
        eprintln!("micro-benchmarks and throughput (in-process)");
        match micro::micro(&mut report, opts.quick) {
            Ok(verify) => {
                if let Err(e) = micro::throughput(&mut report, opts.quick, &verify) {
                    report.fail("throughput", &e);
                }
            }
            Err(e) => report.fail("micro-benchmarks", &e),
        }
    }

    if wants("roster") {
        eprintln!("roster fold of hostile links (in child processes)");
        if let Err(e) = roster::roster(&mut report) {
            report.fail("roster fold", &e);
        }
    }

    if wants("sim") {
        eprintln!("simulated network (in-process, virtual time)");
        sim::sim(&mut report);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if wants("mesh") {
        // In-process nodes log here, at TEJIDO_BENCH_LOG's level (nothing by default).
        mesh::install_tracing(std::env::var("TEJIDO_BENCH_LOG").ok());
        let runs = std::env::var("TEJIDO_BENCH_MESH").unwrap_or_else(|_| {
            if opts.quick {
                "10,50"
            } else {
                "10,50,100,line50"
            }
            .into()
        });
        for (shape, n) in runs.split(',').filter_map(mesh::Shape::parse) {
            eprintln!("alert latency on {n} in-process nodes ({shape:?})");
            let done = match tempfile::Builder::new().prefix("tejido-bench-").tempdir() {
                Ok(dir) => runtime.block_on(mesh::mesh(dir.path(), n, shape, &mut report, &opts)),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = done {
                report.fail(&format!("{shape:?} of {n}"), &e);
            }
        }
    }
    if wants("chain") || wants("startup") || wants("month") || wants("idle") || wants("flood") {
        let bins = match cluster::Bins::locate(args.build) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{e:#} (or drop --no-build)");
                return ExitCode::FAILURE;
            }
        };
        if !bins.is_release() {
            eprintln!("warning: not a release build; figures will not mean much");
        }
        runtime.block_on(async {
            if wants("chain") {
                chain(&bins, &mut report, &opts).await;
            }
            for (part, what) in [("month", "a month of check-ins"), ("idle", "idle cost")] {
                if !wants(part) {
                    continue;
                }
                eprintln!("{what}");
                let dir = match tempfile::Builder::new().prefix("tejido-bench-").tempdir() {
                    Ok(d) => d,
                    Err(e) => {
                        report.fail(what, &e.into());
                        continue;
                    }
                };
                let done = match part {
                    "month" => solo::month(&bins, dir.path(), &mut report, &opts).await,
                    _ => solo::idle(&bins, dir.path(), &mut report, &opts).await,
                };
                if let Err(e) = done {
                    report.fail(what, &e);
                }
                if std::env::var_os("TEJIDO_BENCH_KEEP").is_some() {
                    eprintln!("keeping {}", dir.keep().display());
                }
            }
            if wants("flood") {
                eprintln!("sync flood by a trusted node");
                let done = match tempfile::Builder::new().prefix("tejido-bench-").tempdir() {
                    Ok(dir) => flood::flood(&bins, dir.path(), &mut report, &opts).await,
                    Err(e) => Err(e.into()),
                };
                if let Err(e) = done {
                    report.fail("sync flood", &e);
                }
            }
            if wants("startup") {
                eprintln!("start-up");
                match tempfile::Builder::new().prefix("tejido-bench-").tempdir() {
                    Ok(dir) => {
                        if let Err(e) = solo::startup(&bins, dir.path(), &mut report, &opts).await {
                            report.fail("start-up", &e);
                        }
                        eprintln!("start-up after kill -9");
                        let crashed = solo::crash_restart(&bins, dir.path(), &mut report, &opts);
                        if let Err(e) = crashed.await {
                            report.fail("start-up after kill -9", &e);
                        }
                        if std::env::var_os("TEJIDO_BENCH_KEEP").is_some() {
                            eprintln!("keeping {}", dir.keep().display());
                        }
                    }
                    Err(e) => report.fail("start-up", &e.into()),
                }
            }
        });
    }
    let header = json!({
        "tejido_bench": env!("CARGO_PKG_VERSION"),
        "quick": opts.quick,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "chain_nodes": scenarios::CHAIN,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
    });
    report.print(&header);
    ExitCode::SUCCESS
}

/// `/proc/loadavg` (1, 5 and 15 minutes): other work on the machine skews every figure.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

async fn chain(bins: &cluster::Bins, report: &mut Report, opts: &Opts) {
    let dir = match tempfile::Builder::new().prefix("tejido-bench-").tempdir() {
        Ok(d) => d,
        Err(e) => return report.fail("chain", &e.into()),
    };
    eprintln!(
        "chain of {} nodes in {}",
        scenarios::CHAIN,
        dir.path().display()
    );
    let mut chain = match Chain::start(bins, dir.path(), scenarios::CHAIN, report).await {
        Ok(c) => c,
        Err(e) => return report.fail("chain start", &e),
    };
    eprintln!("1. alert latency");
    if let Err(e) = scenarios::latency(&mut chain, report, opts).await {
        report.fail("alert latency", &e);
    }
    eprintln!("2. convergence");
    let runs: &[(usize, usize, usize)] = if opts.quick {
        &[(1000, 1, 1), (1000, 64, 1)]
    } else {
        &[(1000, 1, 3), (1000, 64, 3), (10_000, 1, 1), (10_000, 64, 1)]
    };
    for &(k, per_request, trials) in runs {
        if let Err(e) = scenarios::convergence(&mut chain, report, k, per_request, trials).await {
            report.fail(&format!("convergence K={k} {per_request}/request"), &e);
        }
    }
    eprintln!("3. catch-up");
    let k = if opts.quick { 1000 } else { 10_000 };
    if let Err(e) = scenarios::catch_up(&mut chain, report, k).await {
        report.fail("catch-up", &e);
    }
    if std::env::var_os("TEJIDO_BENCH_KEEP").is_some() {
        eprintln!("keeping {}", dir.keep().display());
    }
}
