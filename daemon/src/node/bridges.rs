//! Bridges at the node: which alerts each bridge owes a notification (the outbox, kept in the
//! store), which of the nodes with a bridge of the same name delivers, deliveries on spawned
//! tasks, and the signed `Notified` events that record each one.
//!
//! The rule that keeps one contact from being notified twice for one alert: a contact is a
//! bridge name, network-wide (organisations that reach the same person give the bridge the
//! same name). A node whose bridge takes an alert first signs a claim (`Notified` with
//! `delivered: false`) and waits `notify.claim_wait`, so that the claims of the other nodes
//! reach it. The claimants are ordered by a hash of the alert and each node's key (the same
//! on every node, different for every alert, chosen by nobody): the first delivers; each next
//! one delivers only if no delivery has arrived `notify.takeover` times its place later (the
//! first one's bridge or node is down). Any node that sees a delivery drops its own. While
//! nodes reach each other that is one message; nodes cut off from each other each deliver,
//! since a second message is better than none.
//!
//! A notification is an outbox entry from the turn that claims it until the turn that stores
//! its delivery, and each attempt is recorded in it: a crash or restart before the delivery
//! delivers after it; a crash between the delivery and that turn's flush delivers again (at
//! least once, never silently dropped).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use protocol::control::{BridgeStatus, BridgeTestResult, Response};
use protocol::event::{AlertKind, Body};
use protocol::ids::{DocId, PublicKey, RecordId, Timestamp};
use protocol::view::AlertView;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{Core, Internal, Signer};
use crate::bridge::{self, Bridge, Notice};
use crate::config::Notify;
use crate::store::OutboxEntry;

/// The first retry's wait; each next one doubles, up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 5_000;
/// The longest wait between two attempts of one notification.
const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;
/// Attempts after which a notification is given up (about seven hours of retries), logged as
/// an error.
const MAX_ATTEMPTS: u32 = 50;

/// What a node's bridges did since it started.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub(crate) delivered: u64,
    pub(crate) failed: u64,
    pub(crate) skipped: u64,
}

/// The node's bridges and their outbox.
pub(crate) struct Bridges {
    bridges: Vec<Arc<Bridge>>,
    notify: Notify,
    /// Alert documents that changed since the outbox was last planned.
    pub(super) due: BTreeSet<DocId>,
    /// The outbox as stored, by key.
    outbox: BTreeMap<Vec<u8>, OutboxEntry>,
    /// Keys being delivered now (a spawned task holds them).
    in_flight: HashSet<Vec<u8>>,
    counts: BTreeMap<String, Counts>,
}

impl Bridges {
    pub(crate) fn new(bridges: Vec<Bridge>, notify: Notify, outbox: Vec<OutboxEntry>) -> Self {
        Self {
            counts: bridges
                .iter()
                .map(|b| (b.name.clone(), Counts::default()))
                .collect(),
            bridges: bridges.into_iter().map(Arc::new).collect(),
            notify,
            due: BTreeSet::new(),
            outbox: outbox.into_iter().map(|e| (e.key(), e)).collect(),
            in_flight: HashSet::new(),
        }
    }

    fn get(&self, name: &str) -> Option<Arc<Bridge>> {
        self.bridges.iter().find(|b| b.name == name).cloned()
    }

    /// Per bridge: name, channel and counts, for status and metrics.
    pub(crate) fn status(&self) -> Vec<BridgeStatus> {
        self.bridges
            .iter()
            .map(|b| {
                let counts = self.counts.get(&b.name).copied().unwrap_or_default();
                let pending: Vec<&OutboxEntry> = self
                    .outbox
                    .values()
                    .filter(|e| e.bridge == b.name)
                    .collect();
                BridgeStatus {
                    name: b.name.clone(),
                    kind: b.target.channel(),
                    delivered: counts.delivered,
                    failed: counts.failed,
                    skipped: counts.skipped,
                    pending: pending.len(),
                    pending_attempts: pending.iter().map(|e| u64::from(e.attempts)).sum(),
                    last_error: pending
                        .iter()
                        .filter(|e| e.last_error.is_some())
                        .max_by_key(|e| e.next_at)
                        .and_then(|e| e.last_error.clone()),
                }
            })
            .collect()
    }
}

/// This node's place among the claimants of an alert's notification: a hash of the alert and
/// each node's key orders them, the same on every node, and different for every alert so that
/// no node always goes first. A node that is not among them comes last.
fn turn_of(nodes: &[PublicKey], me: &PublicKey, alert: &RecordId) -> usize {
    let rank = |k: &PublicKey| {
        let mut h = Sha256::new();
        h.update(b"tejido notify turn v0");
        h.update(alert.0);
        h.update(k.as_bytes());
        h.finalize()
    };
    let mut order: Vec<_> = nodes.iter().map(|k| (rank(k), *k)).collect();
    order.sort();
    order
        .iter()
        .position(|(_, k)| k == me)
        .unwrap_or(order.len())
}

/// The wait before attempt `attempts + 1`.
fn backoff_ms(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(16);
    FIRST_BACKOFF_MS
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF_MS)
}

fn ms(d: std::time::Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl Core {
    /// The name a notice gives for whoever an alert is about.
    fn who(&self, view: &AlertView) -> String {
        let roster = self.engine.roster();
        let named = |key: &str| {
            key.parse::<PublicKey>()
                .ok()
                .and_then(|k| roster.members.get(&k).map(|m| m.name.clone()))
        };
        match view.kind {
            // An opened duress alert's text is the member's name.
            AlertKind::Duress => Some(view.text.clone()),
            AlertKind::MissedCheckin => view.subject.as_deref().and_then(named),
            _ => view.author_name.clone(),
        }
        .unwrap_or_else(|| view.author.chars().take(8).collect())
    }

    /// The alerts of `doc`, duress alerts of this organisation opened with the operator's
    /// admin key (the node raised them, and bridges of its own contacts may carry them).
    fn bridge_views(&self, doc: &DocId, now: Timestamp) -> Vec<AlertView> {
        let roster = self.engine.roster();
        let org_of = |k: &PublicKey| roster.org_of(k).map(str::to_string);
        let mut views = self.engine.alerts_in(doc, now);
        for v in &mut views {
            // Without the admin key on the node (kept on the operator's device), a duress
            // alert stays sealed here and no bridge carries it.
            if let (AlertKind::Sealed, true, Some(admin)) =
                (v.kind, v.org == self.org, &self.admin_key)
            {
                v.open_sealed(admin, org_of);
            }
        }
        // A panic cancelled under duress stays cancelled here: what bridges say of it must
        // look like any cancel; the duress alert raised for it goes to the member's own
        // contacts' bridges.
        views
    }

    /// Claims, and adds to the outbox, what the bridges owe for the alert documents that
    /// changed: every open, unanswered alert a bridge takes, seen within `notify.max_age` of
    /// being raised, that no node delivered yet through a bridge of that name.
    pub(super) fn plan_notifications(&mut self) {
        if self.bridges.bridges.is_empty() || self.bridges.due.is_empty() {
            self.bridges.due.clear();
            return;
        }
        if !self.engine.roster().is_active(&self.me) {
            return;
        }
        let now = Timestamp::now();
        let max_age = ms(self.bridges.notify.max_age);
        let wait = ms(self.bridges.notify.claim_wait);
        let mut added = Vec::new();
        for doc in std::mem::take(&mut self.bridges.due) {
            for view in self.bridge_views(&doc, now) {
                if view.status != "open" {
                    continue;
                }
                let (Some(created), Ok(alert)) = (
                    Timestamp::parse_rfc3339(&view.created_at),
                    view.id.parse::<RecordId>(),
                ) else {
                    continue;
                };
                let fresh = now.ms_since(created) <= max_age;
                for bridge in &self.bridges.bridges {
                    // An escalation is news whatever the alert's age.
                    if !(fresh || bridge.tier > 0)
                        || !bridge.takes(view.kind, view.severity, &view.region, view.escalation)
                    {
                        continue;
                    }
                    let entry = OutboxEntry {
                        alert,
                        doc: doc.clone(),
                        bridge: bridge.name.clone(),
                        claimed_at: now,
                        attempts: 0,
                        next_at: now.plus_ms(wait),
                        last_error: None,
                    };
                    if self.bridges.outbox.contains_key(&entry.key())
                        || self.engine.notify_state(&doc, alert, &bridge.name).0
                    {
                        continue;
                    }
                    added.push((entry, bridge.target.channel()));
                }
            }
        }
        for (entry, channel) in added {
            let Some(receipts) = DocId::receipts_for(&entry.doc) else {
                continue;
            };
            let claim = Body::Notified {
                alert: entry.alert,
                bridge: entry.bridge.clone(),
                channel,
                delivered: false,
            };
            if let Err(e) = self.sign_and_store(Signer::Node, receipts, claim) {
                warn!(bridge = %entry.bridge, error = %e, "cannot claim a notification");
                continue;
            }
            if let Err(e) = self.engine.store().put_outbox(&entry) {
                warn!(bridge = %entry.bridge, error = %format!("{e:#}"), "cannot write the outbox");
            }
            info!(bridge = %entry.bridge, alert = %entry.alert.fmt_short(), "notification claimed");
            self.bridges.outbox.insert(entry.key(), entry);
        }
    }

    /// Drops the notifications no longer owed (delivered by a node, the alert answered,
    /// resolved or dropped, the bridge gone), and starts the deliveries whose time has come:
    /// the first claimant's after the claims' wait, each next one's a takeover later.
    pub(super) fn run_outbox(&mut self) {
        if self.bridges.outbox.is_empty() {
            return;
        }
        let now = Timestamp::now();
        let wait = ms(self.bridges.notify.claim_wait);
        let takeover = ms(self.bridges.notify.takeover);
        let waiting: Vec<OutboxEntry> = self
            .bridges
            .outbox
            .values()
            .filter(|e| !self.bridges.in_flight.contains(&e.key()))
            .cloned()
            .collect();
        for entry in waiting {
            let key = entry.key();
            let (delivered, claimants) =
                self.engine
                    .notify_state(&entry.doc, entry.alert, &entry.bridge);
            let place = turn_of(&claimants, &self.me, &entry.alert) as i64;
            let my_time = entry
                .claimed_at
                .plus_ms(wait.saturating_add(takeover.saturating_mul(place)));
            let due = entry.next_at <= now && my_time <= now;
            if !delivered && !due {
                continue;
            }
            let bridge = self.bridges.get(&entry.bridge);
            let view = if delivered {
                None
            } else {
                self.bridge_views(&entry.doc, now)
                    .into_iter()
                    .find(|v| v.id.parse::<RecordId>().ok() == Some(entry.alert))
            };
            let skip = match (&bridge, &view) {
                _ if delivered => Some("a node delivered it"),
                (None, _) => Some("the bridge is no longer configured"),
                (_, None) => Some("the alert is no longer held"),
                (_, Some(v)) if v.status != "open" => Some("the alert was answered"),
                _ => None,
            };
            let (Some(bridge), Some(view), None) = (bridge, view, skip) else {
                info!(bridge = %entry.bridge, alert = %entry.alert.fmt_short(), why = skip.unwrap_or(""), "notification not sent");
                self.bridges
                    .counts
                    .entry(entry.bridge.clone())
                    .or_default()
                    .skipped += 1;
                self.drop_entry(&key);
                continue;
            };
            let notice =
                Notice::for_alert(&view, &self.who(&view), &bridge, self.bridges.notify.lang);
            self.bridges.in_flight.insert(key.clone());
            let tx = self.internal_tx.clone();
            tokio::spawn(async move {
                let result = bridge::deliver(&bridge, &notice).await;
                let _ = tx.send(Internal::Delivered { key, result }).await;
            });
        }
    }

    fn drop_entry(&mut self, key: &[u8]) {
        self.bridges.outbox.remove(key);
        if let Err(e) = self.engine.store().remove_outbox(key) {
            warn!(error = %format!("{e:#}"), "cannot write the outbox");
        }
    }

    /// A delivery finished: on success the `Notified` event is signed and stored and the entry
    /// leaves the outbox, in the same turn and so the same flush; on failure the attempt is
    /// recorded and the next one scheduled.
    pub(super) fn on_delivered(&mut self, key: Vec<u8>, result: Result<(), String>) {
        self.bridges.in_flight.remove(&key);
        let Some(mut entry) = self.bridges.outbox.get(&key).cloned() else {
            return;
        };
        let channel = self.bridges.get(&entry.bridge).map(|b| b.target.channel());
        let counts = self.bridges.counts.entry(entry.bridge.clone()).or_default();
        match (result, channel) {
            (Ok(()), Some(channel)) => {
                counts.delivered += 1;
                info!(bridge = %entry.bridge, alert = %entry.alert.fmt_short(), attempts = entry.attempts + 1, "notified");
                self.drop_entry(&key);
                let Some(receipts) = DocId::receipts_for(&entry.doc) else {
                    return;
                };
                let body = Body::Notified {
                    alert: entry.alert,
                    bridge: entry.bridge.clone(),
                    channel,
                    delivered: true,
                };
                if let Err(e) = self.sign_and_store(Signer::Node, receipts, body) {
                    warn!(bridge = %entry.bridge, error = %e, "cannot record a notification");
                }
            }
            (result, _) => {
                counts.failed += 1;
                let error = result.err().unwrap_or_else(|| "the bridge is gone".into());
                entry.attempts = entry.attempts.saturating_add(1);
                if entry.attempts >= MAX_ATTEMPTS {
                    tracing::error!(bridge = %entry.bridge, alert = %entry.alert.fmt_short(), %error, "notification given up");
                    self.drop_entry(&key);
                    return;
                }
                warn!(bridge = %entry.bridge, alert = %entry.alert.fmt_short(), attempts = entry.attempts, %error, "notification failed; will retry");
                entry.next_at = Timestamp::now().plus_ms(backoff_ms(entry.attempts));
                entry.last_error = Some(error);
                if let Err(e) = self.engine.store().put_outbox(&entry) {
                    warn!(error = %format!("{e:#}"), "cannot write the outbox");
                }
                self.bridges.outbox.insert(key, entry);
            }
        }
    }

    /// Escalation: every open alert, raised within `notify.max_age`, that nobody acknowledged
    /// within its severity's deadline (from when it was raised, then from its last escalation)
    /// goes to the next tier. Any node
    /// may decide it; the view counts the first event of each tier, so nodes deciding at once
    /// converge on one escalation. Sealed (duress) alerts never escalate: the next tiers are
    /// people who may not read them.
    pub(super) fn escalate(&mut self) {
        let Some(deadlines) = self.bridges.notify.escalation else {
            return;
        };
        if !self.engine.roster().is_active(&self.me) {
            return;
        }
        let now = Timestamp::now();
        let max_age = ms(self.bridges.notify.max_age);
        let docs: Vec<DocId> = self
            .engine
            .docs()
            .map(|d| d.id().clone())
            .filter(|d| d.collection() == protocol::ids::Collection::Alerts)
            .filter(|d| !self.engine.is_expired(d, now))
            .collect();
        let mut events = Vec::new();
        for doc in docs {
            for view in self.engine.alerts_in(&doc, now) {
                if view.status != "open"
                    || view.kind == AlertKind::Sealed
                    || view.escalation >= protocol::event::MAX_TIER
                {
                    continue;
                }
                let since = view
                    .history
                    .iter()
                    .rev()
                    .find(|h| h.action == "escalated")
                    .map_or(view.created_at.as_str(), |h| h.at.as_str());
                let (Some(since), Some(created), Ok(alert)) = (
                    Timestamp::parse_rfc3339(since),
                    Timestamp::parse_rfc3339(&view.created_at),
                    view.id.parse::<RecordId>(),
                ) else {
                    continue;
                };
                // As for notifications: a node that comes back to, or is restored with, old
                // alerts does not page anyone for them.
                if now.ms_since(created) > max_age {
                    continue;
                }
                let deadline = match view.severity {
                    protocol::event::Severity::Extreme => deadlines[0],
                    protocol::event::Severity::Severe => deadlines[1],
                    protocol::event::Severity::Moderate => deadlines[2],
                    protocol::event::Severity::Minor => deadlines[3],
                };
                if now.ms_since(since) < ms(deadline) {
                    continue;
                }
                let tier = view.escalation + 1;
                events.push((doc.clone(), Body::Escalate { alert, tier }));
            }
        }
        for (doc, body) in events {
            match self.sign_and_store(Signer::Node, doc, body) {
                Ok(_) => info!("unacknowledged alert escalated"),
                Err(e) => warn!(error = %e, "cannot escalate an alert"),
            }
        }
    }

    /// `bridge test [NAME]`: a test message through each bridge (or the one named), answered
    /// when all have finished (by `on_internal`).
    pub(super) fn test_bridges(&mut self, name: Option<String>, reply: oneshot::Sender<Response>) {
        let chosen: Vec<Arc<Bridge>> = self
            .bridges
            .bridges
            .iter()
            .filter(|b| name.as_deref().is_none_or(|n| b.name == n))
            .cloned()
            .collect();
        if chosen.is_empty() {
            let message = match name {
                Some(n) => format!("no bridge named {n:?} in config.toml"),
                None => "no bridges in config.toml ([[bridge]] entries)".to_string(),
            };
            self.reply_operator(reply, Response::Error { message });
            return;
        }
        let lang = self.bridges.notify.lang;
        let org = self.org.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let tries = chosen.iter().map(|b| {
                let notice = Notice::test(b, &org, lang);
                let b = b.clone();
                async move {
                    let result = bridge::deliver(&b, &notice).await;
                    BridgeTestResult {
                        name: b.name.clone(),
                        kind: b.target.channel(),
                        ok: result.is_ok(),
                        error: result.err(),
                    }
                }
            });
            let results = futures::future::join_all(tries).await;
            let _ = tx.send(Internal::BridgesTested { results, reply }).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_derives_the_same_turns_and_each_has_one() {
        let nodes: Vec<PublicKey> = (0..5u8)
            .map(|i| protocol::ids::SecretKey::from_bytes([i + 1; 32]).public())
            .collect();
        let alert = RecordId::derive("test", &[b"a"]);
        let mut turns: Vec<usize> = nodes.iter().map(|n| turn_of(&nodes, n, &alert)).collect();
        let mut shuffled = nodes.clone();
        shuffled.reverse();
        let again: Vec<usize> = nodes
            .iter()
            .map(|n| turn_of(&shuffled, n, &alert))
            .collect();
        assert_eq!(
            turns, again,
            "the order does not depend on the list's order"
        );
        turns.sort();
        assert_eq!(turns, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn back_off_doubles_up_to_ten_minutes() {
        assert_eq!(backoff_ms(1), 5_000);
        assert_eq!(backoff_ms(2), 10_000);
        assert_eq!(backoff_ms(3), 20_000);
        assert_eq!(backoff_ms(40), MAX_BACKOFF_MS);
    }
}
