//! `tejido watch`: polls the known nodes for alerts and prints what is new or changed; a node
//! that cannot be reached is retried with back-off (up to 10 s), so the stream survives
//! restarts. [`Changes`] is the change detection, kept apart so that it can be fed answers
//! directly.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use protocol::view::AlertView;
use protocol::wire::{ClientRequestV0, ClientResponseV0};

use super::deliver::{flush_queue, query, Unreachable};
use super::home::{load, Home};
use crate::output::{self, Change, Printer};
use crate::Exit;

/// The longest pause between two polls while no node answers.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Alerts remembered at most. An answer is bounded in size, but a hostile node could send
/// new ids on every poll; past this, only the alerts of the latest answer are remembered.
const MAX_SEEN: usize = 100_000;

/// What a change of an alert shows in: its status, the length of its history, and its receipts.
type Mark = (String, usize, usize);

/// Change detection across polls.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    seen: HashMap<String, Mark>,
    /// Whether an answer was seen yet: on the first, resolved alerts are old news.
    started: bool,
}

impl Changes {
    /// The alerts of an answer (newest first, as nodes send them) that are new or changed
    /// since the previous answer, oldest first, as a stream reads.
    pub(crate) fn observe(&mut self, mut list: Vec<AlertView>) -> Vec<(Change, AlertView)> {
        list.reverse();
        let first = !std::mem::replace(&mut self.started, true);
        let bound = self.seen.len().saturating_add(list.len()) > MAX_SEEN;
        let current: HashSet<String> = if bound {
            list.iter().map(|a| a.id.clone()).collect()
        } else {
            HashSet::new()
        };
        let mut out = Vec::new();
        for a in list {
            let mark = (a.status.clone(), a.history.len(), a.held_by.len());
            let change = match self.seen.get(&a.id) {
                None if first && a.status == "resolved" => None,
                None => Some(Change::New),
                Some(old) if *old != mark => Some(Change::Changed),
                Some(_) => None,
            };
            self.seen.insert(a.id.clone(), mark);
            if let Some(change) = change {
                out.push((change, a));
            }
        }
        if bound {
            self.seen.retain(|id, _| current.contains(id));
        }
        out
    }
}

/// Follows alerts until Ctrl-C.
pub(super) async fn watch(
    p: &mut Printer<'_>,
    home: &Home,
    region: Option<String>,
    every: Duration,
) -> anyhow::Result<Exit> {
    let (key, saved) = load(home)?;
    flush_queue(home, &key, &saved).await;
    let mut changes = Changes::default();
    let mut down = false;
    let mut pause = every;
    loop {
        let request = ClientRequestV0::Alerts {
            region: region.clone(),
            open_only: false,
        };
        match query(&key, &saved.own_nodes(), request).await {
            Ok(ClientResponseV0::Alerts(list)) => {
                let list = super::records::readable_alerts(&key, &saved, list).await;
                if std::mem::take(&mut down) {
                    eprintln!("tejido: {}", tr!("watch-reconnected"));
                }
                pause = every;
                for (change, a) in changes.observe(list) {
                    output::watch_line(p, change, &a)?;
                }
            }
            Ok(_) => anyhow::bail!(tr!("unexpected-answer")),
            Err(e) if e.downcast_ref::<Unreachable>().is_some() => {
                if !std::mem::replace(&mut down, true) {
                    eprintln!(
                        "tejido: {}",
                        tr!("watch-unreachable", error = e.to_string())
                    );
                }
                pause = pause.saturating_mul(2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = tokio::signal::ctrl_c() => return Ok(Exit::Ok),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::{hostile_alert, hostile_strings, printed};

    #[test]
    fn new_then_changed_then_quiet() {
        let mut changes = Changes::default();
        let mut a = hostile_alert("abcdefgh-1");
        a.status = "open".into();
        let seen = changes.observe(vec![a.clone()]);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, Change::New);
        assert!(changes.observe(vec![a.clone()]).is_empty());
        a.status = "acknowledged".into();
        let seen = changes.observe(vec![a]);
        assert_eq!(seen[0].0, Change::Changed);
    }

    #[test]
    fn resolved_alerts_of_the_first_answer_are_old_news() {
        let mut changes = Changes::default();
        let mut a = hostile_alert("abcdefgh-1");
        a.status = "resolved".into();
        assert!(changes.observe(vec![a.clone()]).is_empty());
        let mut b = a.clone();
        b.id = "abcdefgh-2".into();
        assert_eq!(changes.observe(vec![b, a]).len(), 1);
    }

    #[test]
    fn oldest_first() {
        let mut changes = Changes::default();
        let ids =
            |v: Vec<(Change, AlertView)>| v.into_iter().map(|(_, a)| a.id).collect::<Vec<_>>();
        let (mut newer, mut older) = (hostile_alert("newer"), hostile_alert("older"));
        newer.status = "open".into();
        older.status = "open".into();
        assert_eq!(ids(changes.observe(vec![newer, older])), ["older", "newer"]);
    }

    /// Hostile answers go through change detection and the printed line without a panic:
    /// short and multi-byte ids, empty strings, extreme counts, duplicates, many ids.
    #[test]
    fn hostile_answers_through_detection_and_lines() {
        let mut changes = Changes::default();
        for json in [false, true] {
            for round in 0..3 {
                let mut list: Vec<AlertView> =
                    hostile_strings().iter().map(|s| hostile_alert(s)).collect();
                list.extend(list.clone());
                if round == 2 {
                    for a in &mut list {
                        a.history.clear();
                    }
                }
                for (change, a) in changes.observe(list) {
                    let (out, _) = printed(json, |p| output::watch_line(p, change, &a));
                    assert_eq!(out.lines().count(), 1, "{out:?}");
                }
            }
        }
    }

    #[test]
    fn memory_stays_bounded_under_new_ids_every_poll() {
        let mut changes = Changes::default();
        let template = hostile_alert("x");
        for round in 0..3 {
            let list: Vec<AlertView> = (0..MAX_SEEN / 2 + 1)
                .map(|i| {
                    let mut a = template.clone();
                    a.id = format!("{round}-{i}");
                    a
                })
                .collect();
            changes.observe(list);
            assert!(changes.seen.len() <= MAX_SEEN);
        }
    }
}
