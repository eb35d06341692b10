//! Timed work: anti-entropy and retention, the dead man's switch, duress alerts, delivery
//! receipts and address announcements.

use std::collections::HashSet;

use libp2p::PeerId;
use protocol::event::{AlertBody, Body, SignedEvent};
use protocol::ids::{DocId, Timestamp};
use protocol::private::DuressAlert;
use tracing::{debug, info, warn};

use super::{Core, Signer};

impl Core {
    pub(super) fn on_tick(&mut self) {
        // Once, on the first tick: documents a crash left in many chunks.
        match self.engine.compact_loaded() {
            Ok(0) => {}
            Ok(n) => info!(documents = n, "compacted the documents loaded in chunks"),
            Err(e) => warn!(error = %format!("{e:#}"), "cannot compact the documents"),
        }
        if let Err(e) = self.engine.cool_idle() {
            warn!(error = %format!("{e:#}"), "cannot put idle documents out of memory");
        }
        self.engine.prune_hints(Timestamp::now());
        match self.engine.apply_retention(Timestamp::now()) {
            Ok(dropped) if !dropped.is_empty() => {
                info!(
                    documents = dropped.len(),
                    "dropped documents past retention"
                );
            }
            Ok(_) => {}
            Err(e) => warn!(error = %format!("{e:#}"), "retention failed"),
        }
        // What compaction, cooling and retention freed goes back to the system (`heap`).
        let trim = std::time::Instant::now();
        let gave = crate::heap::give_back();
        debug!(
            gave,
            took_us = trim.elapsed().as_micros() as u64,
            "gave free memory back"
        );
        let connected: HashSet<PeerId> = self.connections.keys().copied().collect();
        self.close_after_response.retain(|p| connected.contains(p));
        self.refresh_gate();
        let peers = self.node_peers();
        let out = self.sessions.tick(&peers, &self.engine, Timestamp::now());
        self.on_sync_outputs(out);
        self.announce_addrs();
        self.dial_missing();
    }

    /// The dead man's switch: raises a missed check-in alert for every member whose next
    /// check-in is overdue by more than the grace period, and resolves such alerts once the
    /// member checks in again, citing that check-in. Any node may do this; the alert is the
    /// one its member and due time make, so nodes raising it concurrently create one alert,
    /// and a copy that another node wrote first is that same alert.
    pub(super) fn on_watch(&mut self) {
        self.render_metrics();
        let now = Timestamp::now();
        let roster = self.engine.roster();
        let latest = self.engine.latest_checkins();
        let mut events = Vec::new();
        for (member, checkin) in &latest {
            let Some(due) = checkin.next_due else {
                continue;
            };
            if due.plus_ms(self.checkin_grace_ms) > now {
                continue;
            }
            if self
                .engine
                .has_alert(AlertBody::missed_checkin_id(member, due))
            {
                continue;
            }
            let Some(m) = roster.members.get(member) else {
                continue;
            };
            // A person moved to a new key is watched as long as some device of theirs is.
            if !roster.person_is_active(member) {
                continue;
            }
            let region = m.home_region();
            let alert = AlertBody::missed_checkin(*member, &m.org, &region, due);
            events.push((DocId::alerts(&region, now), Body::Alert(Box::new(alert))));
        }
        for open in self.engine.open_missed_checkins(now) {
            let Some(last) = latest.get(&open.subject) else {
                continue;
            };
            if last.at <= open.due {
                continue;
            }
            events.push((
                open.doc,
                Body::Resolve {
                    alert: open.id,
                    note: format!("checked in again at {}", last.at.rfc3339()),
                    checkin: Some(last.event.to_bytes()),
                },
            ));
        }
        for (doc, body) in events {
            let stored = self.sign_and_store(Signer::Node, doc, body);
            match stored {
                Ok(_) => info!("missed check-in alert raised or resolved"),
                Err(e) => warn!(error = %e, "cannot raise or resolve a missed check-in"),
            }
        }
        self.raise_cloned_keys(now);
    }

    /// Raises the cloned-key alert, for its organisation's admins, for every key of this
    /// node's organisation seen with two different events under one sequence number: the key
    /// is in use on two devices (a phone copied, a key taken). One alert per key, whichever
    /// node of the organisation raises it first.
    fn raise_cloned_keys(&mut self, now: Timestamp) {
        let roster = self.engine.roster();
        let mut raise = Vec::new();
        for key in self.engine.clones() {
            if roster.org_of(key) != Some(self.org.as_str()) || !roster.is_active(key) {
                continue;
            }
            let alert = AlertBody::cloned_key(*key, &self.org);
            if !self.engine.has_alert(alert.id) {
                raise.push(alert);
            }
        }
        for alert in raise {
            let key = alert.subject;
            let doc = DocId::alerts(&alert.region, now);
            match self.sign_and_store(Signer::Node, doc, Body::Alert(Box::new(alert))) {
                Ok(_) => warn!(key = ?key.map(|k| k.fmt_short()), "cloned-key alert raised"),
                Err(e) => warn!(error = %e, "cannot raise a cloned-key alert"),
            }
        }
    }

    /// Raises the silent alert for a check-in given under duress: sealed to the security
    /// contacts of the member's region and the admins of their organisation, in the region's
    /// alerts document. Every other node holds it without being able to read it; it is never
    /// gossiped.
    pub(super) fn raise_duress(&mut self, checkin: &SignedEvent) {
        let member = checkin.event().author;
        let roster = self.engine.roster();
        let Some(m) = roster.members.get(&member) else {
            return;
        };
        let readers = roster.duress_readers(&member);
        let region = m.home_region();
        let alert = DuressAlert {
            // The person, whichever of their devices gave the code.
            subject: roster.person_of(&member),
            name: m.name.clone(),
            checkin: checkin.id(),
            checkin_at: checkin.event().at,
        };
        let body = match alert.seal(&region, &m.org, &self.me, &readers) {
            Ok(body) => body,
            Err(e) => {
                warn!(error = %e, "cannot seal a duress alert");
                return;
            }
        };
        let stored = self.sign_and_store(
            Signer::Node,
            DocId::alerts(&region, Timestamp::now()),
            Body::SealedAlert(body),
        );
        if let Err(e) = stored {
            warn!(error = %e, "cannot raise a duress alert");
        }
    }

    /// Signs delivery receipts for the alerts this node holds and has not signed for yet: one
    /// `Held` event per document and turn (naming up to `MAX_HELD` alerts), so that a burst of
    /// alerts costs a few receipts, not one each. A receipt is only written for what is in the
    /// store, so it never claims more than is true, and only for alerts of this node's
    /// organisation or of a region its organisation has a security contact for
    /// (`protocol::receipts`), so that receipts do not grow with the square of the network.
    pub(super) fn write_receipts(&mut self) {
        if self.receipts_due.is_empty() || !self.engine.roster().is_active(&self.me) {
            return;
        }
        let now = Timestamp::now();
        for doc in std::mem::take(&mut self.receipts_due) {
            let Some(receipts) = DocId::receipts_for(&doc) else {
                continue;
            };
            if self.engine.is_expired(&doc, now) {
                continue;
            }
            let missing = self.engine.unreceipted_alerts(&doc, &self.me);
            for chunk in missing.chunks(protocol::event::MAX_HELD) {
                let body = Body::Held {
                    alerts: chunk.to_vec(),
                };
                let stored = self.sign_and_store(Signer::Node, receipts.clone(), body);
                if let Err(e) = stored {
                    warn!(%doc, error = %e, "cannot sign a delivery receipt");
                }
            }
        }
    }

    /// Keeps this node's addresses in the roster current, so other nodes (and members) can
    /// reach it after it moved.
    pub(super) fn announce_addrs(&mut self) {
        let mut addrs = self.announced_addrs();
        addrs.sort();
        if addrs.is_empty() {
            return;
        }
        let roster = self.engine.roster();
        let current = roster.nodes.get(&self.me).map(|n| {
            let mut a = n.addrs.clone();
            a.sort();
            a
        });
        if current.as_ref() == Some(&addrs) {
            return;
        }
        // A node announces its own addresses: its admin key need not be on it.
        let body = Body::AddNode {
            org: self.org.clone(),
            node: self.me,
            addrs,
        };
        let stored = self.sign_and_store(Signer::Node, DocId::roster(), body);
        if let Err(e) = stored {
            warn!(error = %e, "cannot announce this node's addresses");
        }
    }
}
