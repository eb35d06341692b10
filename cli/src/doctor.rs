//! `tejido --data-dir DIR doctor`: one screen of what usually goes wrong with a node and what
//! to do about it. The node answers what it knows (`Request::Doctor`: peers and how they are
//! reached, their clocks, disk, encryption, bridges, configuration warnings); this adds what
//! the data directory itself shows (the admin key), and says when the node does not answer.
//! Each check is a [`Finding`]: ok, a warning, or a problem with what to do. The run exits 1
//! when there is a problem, so that scripts and monitoring can use it.

use std::path::Path;

use protocol::control::{Doctor, Request, Response};
use serde::Serialize;

use crate::output::{clean, short, Printer};
use crate::Exit;

/// Clocks further apart than this make events refused: nodes refuse events dated more than
/// five minutes ahead of their own clock.
const CLOCK_BOUND_MS: i64 = 5 * 60 * 1000;
/// Clocks further apart than this deserve a look before they reach the bound.
const CLOCK_WARN_MS: i64 = 30 * 1000;
/// Free space under which the node may soon stop writing (or under twice the store's size:
/// a compaction writes a document anew before the old chunks go).
const DISK_PROBLEM_BYTES: u64 = 512 << 20;
/// Free space under which to plan for more (or under ten times the store's size).
const DISK_WARN_BYTES: u64 = 2 << 30;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Level {
    Ok,
    Warn,
    Problem,
}

/// One check's result.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Finding {
    /// What was checked: node, peer, clock, disk, store, encryption, admin-key, bridges,
    /// config, format.
    pub(crate) check: &'static str,
    pub(crate) level: Level,
    /// What was found, in the user's language.
    pub(crate) message: String,
    /// What to do, when there is something to do.
    pub(crate) advice: Option<String>,
}

fn finding(check: &'static str, level: Level, message: String, advice: Option<String>) -> Finding {
    Finding {
        check,
        level,
        message,
        advice,
    }
}

/// Bytes as the largest unit that keeps a number of at least 1.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A clock offset in words: "4m 10s ahead", "12s behind".
fn offset(ms: i64) -> String {
    let secs = ms.unsigned_abs() / 1000;
    let text = if secs >= 60 {
        format!("{}m {}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    };
    if ms >= 0 {
        tr!("doctor-ahead", by = text)
    } else {
        tr!("doctor-behind", by = text)
    }
}

/// The findings for a node's answer (none when it did not answer) and its data directory.
pub(crate) fn findings(data_dir: &Path, node: Option<&Doctor>, error: &str) -> Vec<Finding> {
    let dir = data_dir.display().to_string();
    let mut out = Vec::new();
    if data_dir.join("admin.key").exists() {
        out.push(finding(
            "admin-key",
            Level::Ok,
            tr!("doctor-admin-key"),
            None,
        ));
    } else {
        // Kept off the node (`admin-key move-out`): a seizure of the node takes no authority.
        out.push(finding(
            "admin-key",
            Level::Ok,
            tr!("doctor-no-admin-key", dir = dir.clone()),
            None,
        ));
    }
    let Some(d) = node else {
        out.insert(
            0,
            finding(
                "node",
                Level::Problem,
                tr!("doctor-not-running", error = error),
                Some(tr!("doctor-not-running-fix", dir = dir)),
            ),
        );
        return out;
    };
    out.insert(
        0,
        finding(
            "node",
            Level::Ok,
            tr!(
                "doctor-running",
                node = short(&d.node_id),
                org = clean(&d.org).as_ref(),
                format = d.data_format
            ),
            None,
        ),
    );
    if d.peers.is_empty() {
        out.push(finding(
            "peer",
            Level::Warn,
            tr!("doctor-alone"),
            Some(tr!("doctor-alone-fix")),
        ));
    }
    for peer in &d.peers {
        let name = format!("{} ({})", short(&peer.key), clean(&peer.org));
        if peer.suspended {
            out.push(finding(
                "peer",
                Level::Problem,
                tr!("doctor-peer-suspended", peer = name.clone()),
                Some(tr!("doctor-peer-suspended-fix")),
            ));
        }
        match &peer.reached {
            Some(how) => out.push(finding(
                "peer",
                Level::Ok,
                tr!(
                    "doctor-peer-reached",
                    peer = name.clone(),
                    how = clean(how).as_ref()
                ),
                None,
            )),
            None => {
                let addrs = if peer.addrs.is_empty() {
                    "-".to_string()
                } else {
                    peer.addrs
                        .iter()
                        .map(|a| clean(a).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let last = peer
                    .last_sync
                    .as_deref()
                    .map_or_else(|| tr!("doctor-never"), |t| clean(t).into_owned());
                out.push(finding(
                    "peer",
                    Level::Problem,
                    tr!("doctor-peer-unreachable", peer = name.clone(), last = last),
                    Some(tr!("doctor-peer-unreachable-fix", addrs = addrs)),
                ));
            }
        }
        if let Some(ms) = peer.clock_offset_ms {
            let level = if ms.abs() > CLOCK_BOUND_MS {
                Level::Problem
            } else if ms.abs() > CLOCK_WARN_MS {
                Level::Warn
            } else {
                Level::Ok
            };
            let message = tr!("doctor-clock", peer = name.clone(), offset = offset(ms));
            let advice = (level != Level::Ok).then(|| tr!("doctor-clock-fix"));
            out.push(finding("clock", level, message, advice));
        }
    }
    // Several peers all off the same way: this node's clock is the odd one out.
    let offsets: Vec<i64> = d.peers.iter().filter_map(|p| p.clock_offset_ms).collect();
    if offsets.len() >= 2
        && (offsets.iter().all(|o| *o > CLOCK_WARN_MS)
            || offsets.iter().all(|o| *o < -CLOCK_WARN_MS))
    {
        let mean = offsets.iter().sum::<i64>() / offsets.len() as i64;
        out.push(finding(
            "clock",
            Level::Problem,
            tr!("doctor-own-clock", offset = offset(-mean)),
            Some(tr!("doctor-clock-fix")),
        ));
    }
    match (d.disk_free_bytes, d.disk_total_bytes) {
        (Some(free), Some(total)) => {
            let store = d.store_bytes;
            let level = if free < DISK_PROBLEM_BYTES || free < store.saturating_mul(2) {
                Level::Problem
            } else if free < DISK_WARN_BYTES || free < store.saturating_mul(10) {
                Level::Warn
            } else {
                Level::Ok
            };
            out.push(finding(
                "disk",
                level,
                tr!(
                    "doctor-disk",
                    free = bytes(free),
                    total = bytes(total),
                    store = bytes(d.store_bytes)
                ),
                (level != Level::Ok).then(|| tr!("doctor-disk-fix")),
            ));
        }
        _ => out.push(finding(
            "disk",
            Level::Warn,
            tr!("doctor-disk-unknown", store = bytes(d.store_bytes)),
            None,
        )),
    }
    if d.encrypted_at_rest {
        out.push(finding(
            "encryption",
            Level::Ok,
            tr!("doctor-encrypted"),
            None,
        ));
    } else {
        out.push(finding(
            "encryption",
            Level::Warn,
            tr!("doctor-not-encrypted"),
            Some(tr!("doctor-not-encrypted-fix")),
        ));
    }
    if d.bridges.is_empty() {
        out.push(finding(
            "bridges",
            Level::Ok,
            tr!("doctor-no-bridges"),
            None,
        ));
    }
    for bridge in &d.bridges {
        out.push(finding(
            "bridges",
            Level::Ok,
            tr!("doctor-bridge", bridge = clean(bridge).as_ref()),
            None,
        ));
    }
    for warning in &d.config_warnings {
        out.push(finding(
            "config",
            Level::Warn,
            clean(warning).into_owned(),
            Some(tr!("doctor-config-fix")),
        ));
    }
    out
}

/// Runs doctor against the node in `data_dir`.
pub(crate) async fn run(p: &mut Printer<'_>, data_dir: &Path) -> anyhow::Result<Exit> {
    let socket = client::control::socket_path(data_dir);
    let (node, error) = match client::control::call(&socket, &Request::Doctor).await {
        Ok(Response::Doctor(d)) => (Some(*d), String::new()),
        Ok(Response::Error { message }) => anyhow::bail!("{message}"),
        Ok(_) => anyhow::bail!(tr!("unexpected-answer")),
        Err(e) => (None, e.to_string()),
    };
    let found = findings(data_dir, node.as_ref(), &error);
    let problem = found.iter().any(|f| f.level == Level::Problem);
    if p.json() {
        p.json_value(&serde_json::json!({ "node": node, "findings": found }))?;
    } else {
        for f in &found {
            let tag = match f.level {
                Level::Ok => "  ok  ",
                Level::Warn => "  WARN",
                Level::Problem => "  FIX ",
            };
            p.line(&format!("{tag}  {}", f.message))?;
            if let Some(advice) = &f.advice {
                p.line(&format!("        -> {advice}"))?;
            }
        }
        let summary = if problem {
            tr!("doctor-summary-problems")
        } else {
            tr!("doctor-summary-ok")
        };
        p.line(&summary)?;
    }
    Ok(if problem { Exit::Error } else { Exit::Ok })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Doctor {
        Doctor {
            node_id: "a".repeat(52),
            org: "red-oax".into(),
            now: "2026-12-02T00:00:00Z".into(),
            listen_addrs: Vec::new(),
            announced_addrs: Vec::new(),
            peers: Vec::new(),
            store_bytes: 1 << 20,
            disk_free_bytes: Some(100 << 30),
            disk_total_bytes: Some(200 << 30),
            encrypted_at_rest: true,
            bridges: Vec::new(),
            config_warnings: Vec::new(),
            data_format: 2,
        }
    }

    fn peer(reached: Option<&str>, clock: Option<i64>) -> protocol::control::DoctorPeer {
        protocol::control::DoctorPeer {
            key: "b".repeat(52),
            org: "casa-chis".into(),
            addrs: vec!["/ip4/10.0.0.2/tcp/4717".into()],
            reached: reached.map(str::to_string),
            last_sync: None,
            clock_offset_ms: clock,
            suspended: false,
        }
    }

    fn levels(found: &[Finding], check: &str) -> Vec<Level> {
        found
            .iter()
            .filter(|f| f.check == check)
            .map(|f| f.level)
            .collect()
    }

    #[test]
    fn doctor_says_what_is_wrong_and_only_that() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("admin.key"), [0u8; 32]).expect("key");
        let mut d = report();
        d.peers = vec![peer(Some("direct"), Some(40))];
        let found = findings(dir.path(), Some(&d), "");
        assert!(found.iter().all(|f| f.level == Level::Ok), "{found:#?}");

        d.peers = vec![
            peer(None, Some(6 * 60 * 1000)),
            peer(Some("relayed"), Some(-45_000)),
        ];
        d.disk_free_bytes = Some(100 << 20);
        d.encrypted_at_rest = false;
        let found = findings(dir.path(), Some(&d), "");
        assert_eq!(levels(&found, "peer"), [Level::Problem, Level::Ok]);
        assert_eq!(levels(&found, "clock"), [Level::Problem, Level::Warn]);
        assert_eq!(levels(&found, "disk"), [Level::Problem]);
        assert_eq!(levels(&found, "encryption"), [Level::Warn]);
        assert!(found
            .iter()
            .filter(|f| f.level != Level::Ok)
            .all(|f| f.advice.is_some()));

        let not_running = findings(dir.path(), None, "connection refused");
        assert_eq!(levels(&not_running, "node"), [Level::Problem]);
        std::fs::remove_file(dir.path().join("admin.key")).expect("remove");
        assert_eq!(
            levels(&findings(dir.path(), Some(&report()), ""), "admin-key"),
            [Level::Ok]
        );
    }
}
