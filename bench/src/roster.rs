//! The roster fold (`protocol::roster::Roster::from_events`) of a chain of N links, each an
//! `AddMember` of the next admin by the previous one: dated honestly (each after the event
//! that added its author), then dated by a hostile admin (each before it), against which the
//! fold's retry of events whose author is not known yet goes once round per link.
//!
//! Each (size, dating) runs in a child process (this executable with `--roster-child`), which
//! signs the chain and folds it several times, printing one line per fold; a fold that takes
//! more than [`LIMIT`] is abandoned (the child is killed) and the size reported as skipped, so
//! a quadratic fold cannot hang the run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use protocol::event::{Body, Event, Role, SignedEvent};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::roster::Roster;

use crate::report::{Figure, Report};

const G_ROSTER: &str = "11. roster fold";
/// The longest a single fold may take before its size is skipped.
const LIMIT: Duration = Duration::from_secs(60);
/// Time a child may take to sign its chain before the first fold.
const SIGNING: Duration = Duration::from_secs(180);
/// A child stops starting folds after this much folding (it always folds once).
const BUDGET: Duration = Duration::from_secs(30);

/// The chain: genesis by admin 0, then link k (1..=n), admin k-1 adding admin k. Honest: link
/// k at base + k ms, after the link that added its author. Hostile: link k at base - k ms,
/// before it (genesis at base), so that sorting by time puts every link before its author's.
fn chain(n: usize, hostile: bool) -> anyhow::Result<Vec<SignedEvent>> {
    let base = Timestamp::now();
    let keys: Vec<SecretKey> = (0..=n).map(|_| SecretKey::generate()).collect();
    let sign = |author: &SecretKey, at: Timestamp, body: Body| {
        let event = Event {
            author: author.public(),
            at,
            // Every link's time is distinct: the time in ms numbers each author's events.
            seq: at.0 as u64,
            doc: DocId::roster(),
            body,
        };
        SignedEvent::sign(event, author).map_err(|e| anyhow::anyhow!("signing: {e:?}"))
    };
    let mut events = vec![sign(
        &keys[0],
        base,
        Body::Genesis {
            network: "bench".into(),
            org: "org".into(),
            node: SecretKey::generate().public(),
            admin_name: "admin 0".into(),
            consent: None,
        },
    )?];
    for k in 1..=n {
        let offset = if hostile { -(k as i64) } else { k as i64 };
        events.push(sign(
            &keys[k - 1],
            base.plus_ms(offset),
            Body::AddMember {
                org: "org".into(),
                member: keys[k].public(),
                name: format!("admin {k}"),
                role: Role::Admin,
                region: None,
            },
        )?);
    }
    Ok(events)
}

/// The child: `--roster-child N honest|hostile`. Prints `ready`, then one line per fold:
/// milliseconds and the number of members the fold found.
pub(crate) fn child(n: usize, dating: &str) -> anyhow::Result<()> {
    let events = chain(n, dating == "hostile")?;
    println!("ready");
    let started = Instant::now();
    for trial in 0.. {
        if trial > 0 && (trial >= 5 || started.elapsed() > BUDGET) {
            break;
        }
        let t = Instant::now();
        let roster = Roster::from_events(&events);
        let took = t.elapsed();
        println!("{} {}", took.as_secs_f64() * 1e3, roster.members.len());
    }
    Ok(())
}

/// What became of one (size, dating).
enum Folds {
    /// Fold times in ms.
    Done(Vec<f64>),
    /// A fold took longer than [`LIMIT`].
    Skipped,
}

/// Runs the child for `n` links and collects its folds.
fn folds(n: usize, dating: &str) -> anyhow::Result<Folds> {
    let exe = std::env::current_exe().context("own path")?;
    let mut child = Command::new(exe)
        .args(["--roster-child", &n.to_string(), dating])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the fold")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut times = Vec::new();
    let mut wait = SIGNING;
    let outcome = loop {
        match lines.recv_timeout(wait) {
            Ok(line) if line == "ready" => wait = LIMIT,
            Ok(line) => {
                let mut parts = line.split_whitespace();
                let ms: f64 = parts.next().and_then(|v| v.parse().ok()).context("ms")?;
                let members: usize = parts.next().and_then(|v| v.parse().ok()).context("n")?;
                // Every admin of the chain, the first one included.
                if members != n + 1 {
                    bail!(
                        "the fold of {n} {dating} links found {members} members, not {}",
                        n + 1
                    );
                }
                times.push(ms);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break Folds::Done(times),
            Err(mpsc::RecvTimeoutError::Timeout) if wait == LIMIT => break Folds::Skipped,
            Err(mpsc::RecvTimeoutError::Timeout) => bail!("signing {n} links took over 180 s"),
        }
    };
    let _ = child.kill();
    let status = child.wait()?;
    if let Folds::Done(times) = &outcome {
        if !status.success() || times.is_empty() {
            bail!("the fold of {n} {dating} links failed ({status})");
        }
    }
    Ok(outcome)
}

/// The sizes to fold: `TEJIDO_BENCH_ROSTER` (comma-separated), or 1000, 5000 and 50000.
fn sizes() -> Vec<usize> {
    std::env::var("TEJIDO_BENCH_ROSTER")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1000, 5000, 50_000])
}

/// The roster figures: for each size, the honest fold (baseline) and the hostile one.
pub(crate) fn roster(report: &mut Report) -> anyhow::Result<()> {
    let mut hostile_skipped = false;
    for n in sizes() {
        eprintln!("  {n} links");
        let honest = match folds(n, "honest")? {
            Folds::Done(times) => times,
            Folds::Skipped => {
                report.add(skipped(n, "honest"));
                continue;
            }
        };
        let honest = report.add(Figure::from_samples(
            format!("roster_fold_honest_{n}_ms"),
            G_ROSTER,
            format!("baseline: fold {n} honestly dated links"),
            "ms",
            &honest,
        ));
        // A larger chain takes longer still: do not start it once a smaller one was skipped.
        let tried = !hostile_skipped;
        let hostile = if tried {
            folds(n, "hostile")?
        } else {
            Folds::Skipped
        };
        match hostile {
            Folds::Done(times) => {
                report.add(
                    Figure::from_samples(
                        format!("roster_fold_hostile_{n}_ms"),
                        G_ROSTER,
                        format!("fold {n} links each dated before its author"),
                        "ms",
                        &times,
                    )
                    .against(&honest)
                    .with("links", n),
                );
            }
            Folds::Skipped => {
                hostile_skipped = true;
                let mut figure = skipped(n, "hostile");
                if !tried {
                    figure = figure.with("note", "not started: a smaller chain took over 60 s");
                }
                report.add(figure);
            }
        }
    }
    Ok(())
}

/// The figure of a fold abandoned after [`LIMIT`].
fn skipped(n: usize, dating: &str) -> Figure {
    Figure::from_samples(
        format!("roster_fold_{dating}_{n}_ms"),
        G_ROSTER,
        format!("fold {n} {dating} links (skipped: over 60 s)"),
        "ms",
        &[],
    )
    .with("skipped", "over 60 s")
    .with("links", n)
}
