//! What the engine shows: documents for operators and peers, gossip hints, and the views
//! folded from events (alerts with their receipts, check-ins, shelters, requests), plus the
//! domain queries the node's duties need (open missed check-ins, unreceipted alerts).

use protocol::event::{Body, SignedEvent};
use protocol::ids::{Collection, DocId, PublicKey, Timestamp};
use protocol::wire::DocSummary;

use super::{Engine, OpenMissedCheckin, Verdict, HINT_TTL_MS, MAX_HINTS};

impl Engine {
    /// One document in automerge's binary format.
    pub(crate) fn export_doc(&self, doc: &DocId) -> anyhow::Result<Option<Vec<u8>>> {
        self.saved(doc)
    }

    /// Documents with their heads, for operators and tests comparing nodes.
    pub(crate) fn docs_info(&self) -> Vec<protocol::control::DocInfo> {
        self.docs
            .values()
            .filter(|d| !d.is_empty())
            .map(|d| {
                let mut heads: Vec<String> = d.heads().iter().map(|h| h.to_string()).collect();
                heads.sort();
                protocol::control::DocInfo {
                    doc: d.id().to_string(),
                    heads,
                    events: d.len(),
                }
            })
            .collect()
    }

    /// Documents and their heads.
    pub(crate) fn summary(&self) -> Vec<DocSummary> {
        self.docs
            .values()
            .filter(|d| !d.is_empty())
            .map(|d| DocSummary {
                doc: d.id().clone(),
                heads: d.heads().iter().map(|h| h.0).collect(),
            })
            .collect()
    }

    /// The events of a collection whose documents keep them decoded (every one but
    /// check-ins, which `engine/checkins.rs` answers for).
    fn events_of(&self, collection: Collection) -> impl Iterator<Item = &SignedEvent> {
        debug_assert!(collection != Collection::Checkins);
        self.docs
            .values()
            .filter(move |d| d.id().collection() == collection)
            .flat_map(|d| d.kept_events())
    }

    /// Gossiped alerts whose document does not hold them yet.
    fn pending_hints(&self) -> impl Iterator<Item = &SignedEvent> {
        self.hints.iter().filter(|e| {
            !self
                .docs
                .get(&e.event().doc)
                .is_some_and(|d| d.contains(e.id()))
        })
    }

    /// Checks a gossiped event as sync would check it: an alert, allowed for its author, in a
    /// document this node accepts and keeps, not from the future.
    pub(crate) fn check_hint(&self, event: &SignedEvent, now: Timestamp) -> Verdict {
        let ev = event.event();
        if !matches!(ev.body, Body::Alert(_)) {
            return Verdict::Reject("only alerts are gossiped".into());
        }
        if !self.roster.accepts_doc(&ev.doc) {
            // Neither shown nor forwarded, but not the peer's fault: the roster change that
            // declares the region may not have arrived yet.
            return Verdict::Ignore;
        }
        if self.is_expired(&ev.doc, now) {
            return Verdict::Reject(format!("not a document this node keeps: {}", ev.doc));
        }
        if ev.check_clock(now).is_err() {
            return Verdict::Reject("from the future".into());
        }
        if let Err(e) = self.roster.check_period(&ev.doc, now) {
            return Verdict::Reject(e.to_string());
        }
        match self.roster.authorize(ev) {
            Ok(()) => Verdict::Accept,
            Err(protocol::roster::AuthError::UnknownAuthor(_)) => Verdict::Ignore,
            Err(e) => Verdict::Reject(e.to_string()),
        }
    }

    /// Shows a checked gossiped alert until its document holds it.
    pub(crate) fn add_hint(&mut self, event: SignedEvent) {
        if self.hints.iter().any(|e| e.id() == event.id())
            || self
                .docs
                .get(&event.event().doc)
                .is_some_and(|d| d.contains(event.id()))
        {
            return;
        }
        if self.hints.len() >= MAX_HINTS {
            self.hints.pop_front();
        }
        self.hints.push_back(event);
    }

    /// Forgets gossiped alerts that their document now holds, or that sync never brought.
    pub(crate) fn prune_hints(&mut self, now: Timestamp) {
        let docs = &self.docs;
        self.hints.retain(|e| {
            let held = docs.get(&e.event().doc).is_some_and(|d| d.contains(e.id()));
            !held && e.event().at.plus_ms(HINT_TTL_MS) > now
        });
    }

    pub(crate) fn alerts(
        &self,
        region: Option<&str>,
        open_only: bool,
        now: Timestamp,
    ) -> Vec<protocol::view::AlertView> {
        let all = protocol::view::alerts(
            &self.roster,
            self.events_of(Collection::Alerts)
                .chain(self.events_of(Collection::Receipts))
                .chain(self.pending_hints()),
            now,
        );
        all.into_iter()
            .filter(|a| region.is_none_or(|r| a.region == r))
            .filter(|a| !open_only || a.is_open())
            .collect()
    }

    /// Missed check-in alerts that no event resolved yet, as the dead man's switch needs them.
    pub(crate) fn open_missed_checkins(&self, now: Timestamp) -> Vec<OpenMissedCheckin> {
        let mut out = Vec::new();
        for d in self.docs.values() {
            if d.id().collection() != Collection::Alerts {
                continue;
            }
            // The view decides which resolutions count (a node's only when it cites the
            // member's later check-in), as it does for everyone who looks.
            for view in protocol::view::alerts(&self.roster, d.kept_events(), now) {
                let Some((subject, due)) = view.missed_checkin() else {
                    continue;
                };
                let (None, Ok(id)) = (&view.resolution, view.id.parse()) else {
                    continue;
                };
                out.push(OpenMissedCheckin {
                    doc: d.id().clone(),
                    id,
                    subject,
                    due,
                });
            }
        }
        out
    }

    /// Whether any alerts document holds a creation event for `id`.
    pub(crate) fn has_alert(&self, id: protocol::ids::RecordId) -> bool {
        self.events_of(Collection::Alerts)
            .chain(self.pending_hints())
            .any(|e| matches!(&e.event().body, Body::Alert(a) if a.id == id))
    }

    /// Alerts of the alerts document `doc` that `node` holds but has not yet signed a receipt
    /// for in the paired receipts document.
    pub(crate) fn unreceipted_alerts(
        &self,
        doc: &DocId,
        node: &PublicKey,
    ) -> Vec<protocol::ids::RecordId> {
        let Some(d) = self.docs.get(doc) else {
            return Vec::new();
        };
        let mut alerts = std::collections::BTreeSet::new();
        for e in d.kept_events() {
            let body = &e.event().body;
            if let Some(id) = body.created_alert() {
                // Only the nodes whose receipt tells the sender something sign one.
                if protocol::receipts::signs_receipt_for(&self.roster, node, body) {
                    alerts.insert(id);
                }
            }
        }
        let receipts = DocId::receipts_for(doc).and_then(|r| self.docs.get(&r));
        for e in receipts.map(|r| r.kept_events()).unwrap_or_default() {
            if let Body::Held { alerts: held } = &e.event().body {
                if e.event().author == *node {
                    for id in held {
                        alerts.remove(id);
                    }
                }
            }
        }
        alerts.into_iter().collect()
    }

    /// The alerts of one alerts document, with their receipts and notifications.
    pub(crate) fn alerts_in(&self, doc: &DocId, now: Timestamp) -> Vec<protocol::view::AlertView> {
        let Some(d) = self.docs.get(doc) else {
            return Vec::new();
        };
        let receipts = DocId::receipts_for(doc).and_then(|r| self.docs.get(&r));
        protocol::view::alerts(
            &self.roster,
            d.events()
                .iter()
                .chain(receipts.into_iter().flat_map(|r| r.kept_events())),
            now,
        )
    }

    /// For alert `alert` of the alerts document `doc` and the bridge name `bridge`: whether an
    /// active node signed that it delivered, and the active nodes that claimed it.
    pub(crate) fn notify_state(
        &self,
        doc: &DocId,
        alert: protocol::ids::RecordId,
        bridge: &str,
    ) -> (bool, Vec<PublicKey>) {
        let Some(receipts) = DocId::receipts_for(doc).and_then(|r| self.docs.get(&r)) else {
            return (false, Vec::new());
        };
        let mut delivered = false;
        let mut claimants = Vec::new();
        for e in receipts.kept_events() {
            let ev = e.event();
            let Body::Notified {
                alert: a,
                bridge: b,
                delivered: d,
                ..
            } = &ev.body
            else {
                continue;
            };
            if *a != alert || b != bridge || self.roster.authorize(ev).is_err() {
                continue;
            }
            delivered |= *d;
            if !*d && !claimants.contains(&ev.author) {
                claimants.push(ev.author);
            }
        }
        (delivered, claimants)
    }

    /// Shelter requests, sealed, with their decisions.
    pub(crate) fn shelter_requests(&self) -> Vec<protocol::view::ShelterRequestView> {
        protocol::view::shelter_requests(&self.roster, self.events_of(Collection::Shelters))
    }

    /// Whether a shelter of `org` in `region` with this id exists.
    pub(crate) fn has_shelter(&self, id: protocol::ids::RecordId, org: &str, region: &str) -> bool {
        self.events_of(Collection::Shelters).any(|e| {
            matches!(&e.event().body, Body::Shelter(s) if s.id == id && s.org == org && s.region == region)
        })
    }

    pub(crate) fn shelters(
        &self,
        region: Option<&str>,
        available_only: bool,
    ) -> Vec<protocol::view::ShelterView> {
        protocol::view::shelters(&self.roster, self.events_of(Collection::Shelters))
            .into_iter()
            .filter(|s| region.is_none_or(|r| s.region == r))
            .filter(|s| {
                !available_only
                    || (s.available > 0 && s.status == protocol::event::ShelterStatus::Open)
            })
            .collect()
    }
}
