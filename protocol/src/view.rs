//! Alerts, check-ins and shelters folded from events. These are boundary types: they go to
//! the CLI as they are and print as JSON, with keys and times in their text forms.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::event::{AlertKind, Body, CheckinStatus, EventId, Role, SignedEvent};
use crate::ids::{PublicKey, RecordId, SecretKey, Timestamp};
use crate::roster::Roster;

/// One line of an alert's signed history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (author's clock), RFC 3339.
    pub at: String,
    /// Who signed it.
    pub by: String,
    /// Their display name, if the roster knows them.
    pub by_name: Option<String>,
    /// raised, acknowledged, assigned, resolved.
    pub action: String,
    /// Assignee or resolution note.
    pub detail: Option<String>,
    /// The signed event's id.
    pub event: String,
}

/// A node's signed receipt for holding an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The node's key.
    pub node: String,
    /// Its organisation.
    pub org: String,
    /// When it signed that it holds the alert (its clock), RFC 3339.
    pub at: String,
    /// Milliseconds from the alert being raised to this receipt.
    pub after_ms: i64,
    /// Whether the node belongs to an organisation with a security contact for the alert's
    /// region: the alert is then held where someone who answers for the region works.
    pub security_contact_node: bool,
}

/// A contact outside the network that a node's bridge reached for an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The bridge's name (the contact reached).
    pub bridge: String,
    /// email, webhook or exec.
    pub channel: crate::event::Channel,
    /// The node that delivered it.
    pub node: String,
    /// Its organisation.
    pub org: String,
    /// When it was delivered (the node's clock), RFC 3339.
    pub at: String,
    /// Milliseconds from the alert being raised to the delivery.
    pub after_ms: i64,
}

/// An alert as every node computes it from the same events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    /// 32 hex characters.
    pub id: String,
    /// panic, alert, missed-checkin.
    pub kind: AlertKind,
    /// CAP severity.
    pub severity: crate::event::Severity,
    /// CAP urgency.
    pub urgency: crate::event::Urgency,
    /// CAP certainty.
    pub certainty: crate::event::Certainty,
    /// Region.
    pub region: String,
    /// Organisation.
    pub org: String,
    /// Text.
    pub text: String,
    /// open, acknowledged, assigned, resolved, expired.
    pub status: String,
    /// Key of whoever raised it.
    pub author: String,
    /// Their display name.
    pub author_name: Option<String>,
    /// The person who raised it (the key they were added with), whichever of their devices
    /// signed; none for a node.
    #[serde(default)]
    pub author_person: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: Option<String>,
    /// The member a missed check-in is about.
    pub subject: Option<String>,
    /// RFC 3339 due time of the check-in a missed check-in is about.
    pub due: Option<String>,
    /// Who acknowledged, in order.
    pub acknowledgements: Vec<HistoryEntry>,
    /// Current assignee key.
    pub assignee: Option<String>,
    /// The resolving entry.
    pub resolution: Option<HistoryEntry>,
    /// The member's cancel of their own panic (a false alarm), with its note.
    #[serde(default)]
    pub cancellation: Option<HistoryEntry>,
    /// Shown only to the member's security contacts and admins, who can open the duress
    /// alert the member's node raised for it ([`mark_duress_cancels`]): the cancel was given
    /// with the duress code, and the panic stands. Everywhere else (the member's device
    /// first) it is `false` and the panic shows as cancelled.
    #[serde(default)]
    pub cancelled_under_duress: bool,
    /// Everything that happened, in order.
    pub history: Vec<HistoryEntry>,
    /// The document that holds it.
    pub doc: String,
    /// Delivery receipts: the nodes that signed that they hold it, earliest first.
    pub held_by: Vec<Receipt>,
    /// The nodes expected to sign a receipt for it, for "held by n of m": the active nodes of
    /// its organisation and of the organisations with a security contact for its region
    /// ([`crate::receipts::receipt_signers`]; before receipts were limited to them, every node
    /// of the network). `held_by` counts only these nodes' receipts.
    pub network_nodes: usize,
    /// Milliseconds from the alert being raised to the first acknowledgement.
    pub first_ack_after_ms: Option<i64>,
    /// The escalation tier reached: 0 (none), then 1 (the organisation's admins), 2 (the
    /// region's security contacts), 3 (the whole network).
    #[serde(default)]
    pub escalation: u8,
    /// Contacts outside the network that bridges reached, earliest first: one per bridge
    /// name, whichever node delivered first.
    #[serde(default)]
    pub notified: Vec<Notification>,
    /// A sealed alert's sealed part, base64 ([`crate::private::DuressAlert`]): its kind shows
    /// as `sealed` and its text and member are unknown to whoever cannot open it.
    #[serde(default)]
    pub sealed: Option<String>,
    #[serde(skip)]
    created: Timestamp,
    /// The member and due time of a missed check-in, exactly.
    #[serde(skip)]
    missed: Option<(PublicKey, Timestamp)>,
    /// An opened duress alert's event: the check-in or cancel given under duress.
    #[serde(skip)]
    under_duress: Option<EventId>,
}

impl AlertView {
    /// Whether the alert still calls for someone: neither resolved nor expired.
    pub fn is_open(&self) -> bool {
        !matches!(self.status.as_str(), "resolved" | "expired" | "cancelled")
    }

    /// The status the alert's history gives it.
    fn status_from_history(&self, expired: bool) -> &'static str {
        if self.resolution.is_some() {
            "resolved"
        } else if expired {
            "expired"
        } else if self.cancellation.is_some() && !self.cancelled_under_duress {
            "cancelled"
        } else if self.assignee.is_some() {
            "assigned"
        } else if !self.acknowledgements.is_empty() {
            "acknowledged"
        } else {
            "open"
        }
    }

    /// The member and exact due time of a missed check-in alert.
    pub fn missed_checkin(&self) -> Option<(PublicKey, Timestamp)> {
        self.missed
    }

    /// Opens a sealed alert with `me`: it then shows as the duress alert it is. `false` (and
    /// nothing changed) when it is not sealed or not to `me`, or when the node that wrote it
    /// is not of the member's organisation as it claims.
    pub fn open_sealed(
        &mut self,
        me: &SecretKey,
        subject_org: impl Fn(&PublicKey) -> Option<String>,
    ) -> bool {
        let Some(sealed) = self.sealed.as_deref() else {
            return false;
        };
        let (Ok(sealed), Ok(id), Ok(node)) = (
            data_encoding::BASE64.decode(sealed.as_bytes()),
            self.id.parse::<RecordId>(),
            self.author.parse::<PublicKey>(),
        ) else {
            return false;
        };
        let body = crate::event::SealedAlertBody {
            id,
            region: self.region.clone(),
            org: self.org.clone(),
            sealed,
        };
        let Some(opened) = crate::private::DuressAlert::open(&body, &node, me) else {
            return false;
        };
        if subject_org(&opened.subject).as_deref() != Some(self.org.as_str()) {
            return false;
        }
        self.kind = AlertKind::Duress;
        self.under_duress = Some(opened.checkin);
        self.subject = Some(opened.subject.to_string());
        self.due = Some(opened.checkin_at.rfc3339());
        self.text = opened.name;
        true
    }
}

/// Marks the panics that were cancelled with the duress code, once the duress alerts among
/// `list` were opened ([`AlertView::open_sealed`]): such a panic stands (its status is what it
/// was before the cancel) and its cancel shows as `cancelled-under-duress`. Whoever cannot
/// open the duress alert sees the panic cancelled.
pub fn mark_duress_cancels(list: &mut [AlertView]) {
    let given: Vec<String> = list
        .iter()
        .filter_map(|a| a.under_duress.map(|e| e.to_string()))
        .collect();
    for a in list.iter_mut() {
        let Some(cancel) = &a.cancellation else {
            continue;
        };
        if a.cancelled_under_duress || !given.contains(&cancel.event) {
            continue;
        }
        let event = cancel.event.clone();
        a.cancelled_under_duress = true;
        for h in a.history.iter_mut().filter(|h| h.event == event) {
            h.action = "cancelled-under-duress".to_string();
        }
        a.status = a.status_from_history(false).to_string();
    }
}

fn entry(roster: &Roster, e: &SignedEvent, action: &str, detail: Option<String>) -> HistoryEntry {
    let ev = e.event();
    HistoryEntry {
        at: ev.at.rfc3339(),
        by: ev.author.to_string(),
        by_name: roster.members.get(&ev.author).map(|m| m.name.clone()),
        action: action.to_string(),
        detail,
        event: e.id().to_string(),
    }
}

/// Folds alert events (from any number of alert documents) into alerts, newest first. Events
/// the roster does not allow (for instance written after their author's revocation) are left
/// out.
pub fn alerts<'a>(
    roster: &Roster,
    events: impl IntoIterator<Item = &'a SignedEvent>,
    now: Timestamp,
) -> Vec<AlertView> {
    let mut events: Vec<&SignedEvent> = events
        .into_iter()
        .filter(|e| roster.authorize(e.event()).is_ok())
        .collect();
    events.sort_by_key(|e| (e.event().at, e.id()));
    // Who signs receipts depends on the alert's organisation and region only.
    let mut signers: BTreeMap<(String, String), BTreeSet<PublicKey>> = BTreeMap::new();
    let mut signers_of = |body: &Body| -> BTreeSet<PublicKey> {
        let Some((org, region)) = crate::receipts::alert_scope(body) else {
            return BTreeSet::new();
        };
        signers
            .entry((org.to_string(), region.to_string()))
            .or_insert_with(|| crate::receipts::receipt_signers(roster, org, region))
            .clone()
    };
    let mut expected: BTreeMap<RecordId, BTreeSet<PublicKey>> = BTreeMap::new();
    let mut out: BTreeMap<RecordId, AlertView> = BTreeMap::new();
    for e in &events {
        let ev = e.event();
        let raised = || entry(roster, e, "raised", None);
        let view = match &ev.body {
            Body::Alert(a) => {
                // Ids derive from their author (or member) and time, so two alerts never share
                // one; copies of a missed check-in alert are equal but for who noticed, and the
                // earliest counts.
                let text = match (a.kind, a.subject, a.due) {
                    (AlertKind::MissedCheckin, Some(subject), Some(due)) => format!(
                        "{} missed the check-in due at {}",
                        roster
                            .members
                            .get(&subject)
                            .map_or(subject.fmt_short(), |m| m.name.clone()),
                        due.rfc3339()
                    ),
                    (AlertKind::ClonedKey, Some(subject), None) => format!(
                        "the key of {} is in use on two devices: revoke it and give them a new one",
                        roster
                            .members
                            .get(&subject)
                            .map_or(subject.fmt_short(), |m| m.name.clone()),
                    ),
                    _ => a.text.clone(),
                };
                AlertView {
                    id: a.id.to_string(),
                    kind: a.kind,
                    severity: a.severity,
                    urgency: a.urgency,
                    certainty: a.certainty,
                    region: a.region.clone(),
                    org: a.org.clone(),
                    text,
                    expires_at: a.expires_at.map(|t| t.rfc3339()),
                    subject: a.subject.map(|s| s.to_string()),
                    due: a.due.map(|t| t.rfc3339()),
                    sealed: None,
                    missed: a.subject.zip(a.due),
                    ..blank_view(roster, e, raised())
                }
            }
            Body::SealedAlert(a) => AlertView {
                id: a.id.to_string(),
                region: a.region.clone(),
                org: a.org.clone(),
                sealed: Some(data_encoding::BASE64.encode(&a.sealed)),
                ..blank_view(roster, e, raised())
            },
            _ => continue,
        };
        let id = match &ev.body {
            Body::Alert(a) => a.id,
            Body::SealedAlert(a) => a.id,
            _ => continue,
        };
        if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(id) {
            let nodes = signers_of(&ev.body);
            slot.insert(AlertView {
                network_nodes: nodes.len(),
                ..view
            });
            expected.insert(id, nodes);
        }
    }
    for e in &events {
        let ev = e.event();
        let Body::Held { alerts } = &ev.body else {
            continue;
        };
        let Some(node) = roster.nodes.get(&ev.author) else {
            continue;
        };
        for id in alerts {
            let Some(view) = out.get_mut(id) else {
                continue;
            };
            let author = ev.author.to_string();
            // A receipt counts in the receipts document paired with the alert's document
            // (`receipts/R/M` for `alerts/R/M`).
            let paired =
                view.doc.strip_prefix("alerts/") == ev.doc.as_str().strip_prefix("receipts/");
            let signs = expected.get(id).is_some_and(|n| n.contains(&ev.author));
            if !paired || !signs || view.held_by.iter().any(|r| r.node == author) {
                continue;
            }
            let security_contact_node = roster.members.values().any(|m| {
                m.role == Role::SecurityContact
                    && m.revoked_at.is_none()
                    && m.org == node.org
                    && m.region.as_deref() == Some(view.region.as_str())
            });
            view.held_by.push(Receipt {
                node: author,
                org: node.org.clone(),
                at: ev.at.rfc3339(),
                after_ms: ev.at.ms_since(view.created),
                security_contact_node,
            });
        }
    }
    for e in &events {
        let ev = e.event();
        let (alert, h) = match &ev.body {
            Body::Ack { alert } => (alert, entry(roster, e, "acknowledged", None)),
            Body::Assign { alert, assignee } => (
                alert,
                entry(roster, e, "assigned", Some(assignee.to_string())),
            ),
            Body::Resolve { alert, note, .. } => {
                (alert, entry(roster, e, "resolved", Some(note.clone())))
            }
            Body::Cancel { alert, note, .. } => {
                (alert, entry(roster, e, "cancelled", Some(note.clone())))
            }
            Body::Escalate { alert, tier } => (
                alert,
                entry(roster, e, "escalated", Some(format!("tier {tier}"))),
            ),
            Body::Notified {
                alert,
                bridge,
                channel,
                delivered: true,
            } => (
                alert,
                entry(
                    roster,
                    e,
                    "notified",
                    Some(format!("{bridge} by {}", channel.as_str())),
                ),
            ),
            _ => continue,
        };
        let Some(view) = out.get_mut(alert) else {
            continue;
        };
        if let Body::Notified {
            bridge, channel, ..
        } = &ev.body
        {
            // Paired receipts document, as for receipts; one per bridge name (the contact).
            let paired =
                view.doc.strip_prefix("alerts/") == ev.doc.as_str().strip_prefix("receipts/");
            let Some(node) = roster.nodes.get(&ev.author) else {
                continue;
            };
            if !paired || view.notified.iter().any(|n| n.bridge == *bridge) {
                continue;
            }
            view.notified.push(Notification {
                bridge: bridge.clone(),
                channel: *channel,
                node: ev.author.to_string(),
                org: node.org.clone(),
                at: ev.at.rfc3339(),
                after_ms: ev.at.ms_since(view.created),
            });
            view.history.push(h);
            continue;
        }
        if view.doc != ev.doc.as_str() {
            continue;
        }
        if let Body::Escalate { tier, .. } = &ev.body {
            // Tiers count in order, each once, from nodes (the roster checked who wrote it).
            if *tier != view.escalation.saturating_add(1) {
                continue;
            }
            view.escalation = *tier;
            view.history.push(h);
            continue;
        }
        let reserved = matches!(ev.body, Body::Assign { .. } | Body::Resolve { .. });
        if reserved && !may_answer(roster, view, ev) {
            continue;
        }
        if let Body::Cancel { .. } = &ev.body {
            // Only the person who raised a panic (from any of their devices) calls it off,
            // once, before it is resolved.
            let by_person = roster.person_of(&ev.author).to_string();
            if view.kind != AlertKind::Panic
                || view.author_person.as_deref() != Some(by_person.as_str())
                || view.cancellation.is_some()
                || view.resolution.is_some()
            {
                continue;
            }
            view.cancellation = Some(h.clone());
            view.history.push(h);
            continue;
        }
        match &ev.body {
            Body::Ack { .. } if !view.acknowledgements.iter().any(|a| a.by == h.by) => {
                if view.first_ack_after_ms.is_none() {
                    view.first_ack_after_ms = Some(ev.at.ms_since(view.created));
                }
                view.acknowledgements.push(h.clone())
            }
            Body::Assign { assignee, .. } => view.assignee = Some(assignee.to_string()),
            Body::Resolve { .. } if view.resolution.is_none() => view.resolution = Some(h.clone()),
            _ => {}
        }
        view.history.push(h);
    }
    let mut list: Vec<AlertView> = out.into_values().collect();
    for v in &mut list {
        let expired = v.expires_at.is_some()
            && v.kind == AlertKind::Alert
            && events.iter().any(|e| matches!(&e.event().body, Body::Alert(a) if a.id.to_string() == v.id && a.expires_at.is_some_and(|x| x < now)));
        v.status = v.status_from_history(expired).to_string();
    }
    list.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
    list
}

/// An alert's fields that do not depend on what it says.
fn blank_view(roster: &Roster, e: &SignedEvent, raised: HistoryEntry) -> AlertView {
    let ev = e.event();
    AlertView {
        id: String::new(),
        kind: AlertKind::Sealed,
        severity: crate::event::Severity::Extreme,
        urgency: crate::event::Urgency::Immediate,
        certainty: crate::event::Certainty::Unknown,
        region: String::new(),
        org: String::new(),
        text: String::new(),
        status: String::new(),
        author: ev.author.to_string(),
        author_name: roster.members.get(&ev.author).map(|m| m.name.clone()),
        author_person: roster
            .members
            .get(&ev.author)
            .map(|_| roster.person_of(&ev.author).to_string()),
        created_at: ev.at.rfc3339(),
        expires_at: None,
        subject: None,
        due: None,
        acknowledgements: Vec::new(),
        assignee: None,
        resolution: None,
        cancellation: None,
        cancelled_under_duress: false,
        history: vec![raised],
        doc: ev.doc.to_string(),
        held_by: Vec::new(),
        network_nodes: 0,
        first_ack_after_ms: None,
        notified: Vec::new(),
        escalation: 0,
        sealed: None,
        created: ev.at,
        missed: None,
        under_duress: None,
    }
}

/// Whether an assignment or resolution counts: by a security contact of the alert's region
/// or an admin of its organisation; or, for a missed check-in, by a node citing a check-in
/// the member signed after the due time.
fn may_answer(roster: &Roster, view: &AlertView, ev: &crate::event::Event) -> bool {
    if roster.may_resolve(&ev.author, &view.org, &view.region) {
        return true;
    }
    let Body::Resolve {
        checkin: Some(bytes),
        ..
    } = &ev.body
    else {
        return false;
    };
    let (AlertKind::MissedCheckin, Some((subject, due))) = (view.kind, view.missed) else {
        return false;
    };
    // The cited check-in was verified, signature and all, when the resolve carrying it was
    // (`check_fields`): a signed event exists only verified.
    let Ok(cited) = SignedEvent::decode_trusted(bytes) else {
        return false;
    };
    let c = cited.event();
    matches!(c.body, Body::Checkin(_))
        && roster.person_of(&c.author) == subject
        && c.at > due
        && roster.nodes.contains_key(&ev.author)
        && roster.authorize(c).is_ok()
}

/// A person's latest check-in, from whichever of their devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinView {
    /// The person: the key they were added with.
    pub member: String,
    /// The device that signed it (the key its sealed part is bound to), when it is not
    /// `member`.
    #[serde(default)]
    pub device: Option<String>,
    /// Display name.
    pub name: String,
    /// Organisation.
    pub org: String,
    /// Home region.
    pub region: Option<String>,
    /// ok, need-help, danger: known only to the check-in's readers
    /// ([`crate::roster::Roster::checkin_readers`]).
    pub status: Option<CheckinStatus>,
    /// Note, likewise.
    pub note: Option<String>,
    /// The sealed private part, base64, for a reader whose node cannot open it.
    pub sealed: String,
    /// The check-in's time in milliseconds, to which its sealed part is bound.
    pub at_ms: i64,
    /// RFC 3339.
    pub at: String,
    /// RFC 3339.
    pub next_due: Option<String>,
    /// Whether the next check-in is past due.
    pub overdue: bool,
    /// Security contacts of the member's region, by name.
    pub security_contacts: Vec<String>,
}

/// The latest check-in of each person (from any of their devices), sorted by name; the
/// status and note are filled in where `opener` is one of the check-in's readers.
pub fn checkins<'a>(
    roster: &Roster,
    events: impl IntoIterator<Item = &'a SignedEvent>,
    now: Timestamp,
    opener: Option<&SecretKey>,
) -> Vec<CheckinView> {
    let mut latest: BTreeMap<PublicKey, &SignedEvent> = BTreeMap::new();
    for e in events {
        let ev = e.event();
        if !matches!(ev.body, Body::Checkin(_)) || roster.authorize(ev).is_err() {
            continue;
        }
        let slot = latest.entry(roster.person_of(&ev.author)).or_insert(e);
        if (ev.at, e.id()) > (slot.event().at, slot.id()) {
            *slot = e;
        }
    }
    let directory = roster.directory();
    let mut out: Vec<CheckinView> = latest
        .into_iter()
        .filter_map(|(key, e)| {
            let Body::Checkin(c) = &e.event().body else {
                return None;
            };
            let m = roster.members.get(&key)?;
            let contacts = m
                .region
                .as_ref()
                .and_then(|r| directory.get(r))
                .map(|list| {
                    list.iter()
                        .filter(|(_, c)| c.role == Role::SecurityContact)
                        .map(|(_, c)| c.name.clone())
                        .collect()
                })
                .unwrap_or_default();
            let device = e.event().author;
            let private = opener.and_then(|me| {
                crate::private::CheckinPrivate::open(&c.sealed, &device, e.event().at, me)
            });
            Some(CheckinView {
                member: key.to_string(),
                device: (device != key).then(|| device.to_string()),
                name: m.name.clone(),
                org: m.org.clone(),
                region: m.region.clone(),
                status: private.as_ref().map(|p| p.status),
                note: private.map(|p| p.note),
                sealed: data_encoding::BASE64.encode(&c.sealed),
                at_ms: e.event().at.0,
                at: e.event().at.rfc3339(),
                next_due: c.next_due.map(|t| t.rfc3339()),
                overdue: c.next_due.is_some_and(|d| d < now),
                security_contacts: contacts,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.member.cmp(&b.member)));
    out
}

impl CheckinView {
    /// Fills in the status and note with `me`, if they are not known yet and `me` is one of
    /// the check-in's readers.
    pub fn open_with(&mut self, me: &SecretKey) {
        if self.status.is_some() {
            return;
        }
        let (Ok(member), Ok(sealed)) = (
            self.device
                .as_ref()
                .unwrap_or(&self.member)
                .parse::<PublicKey>(),
            data_encoding::BASE64.decode(self.sealed.as_bytes()),
        ) else {
            return;
        };
        if let Some(p) =
            crate::private::CheckinPrivate::open(&sealed, &member, Timestamp(self.at_ms), me)
        {
            self.status = Some(p.status);
            self.note = Some(p.note);
        }
    }
}

/// A shelter with its current occupancy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShelterView {
    /// 32 hex characters.
    pub id: String,
    /// Operator organisation.
    pub org: String,
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Places in all.
    pub capacity: u32,
    /// Places taken: the sum of every occupancy change by the operator organisation.
    pub occupancy: i64,
    /// capacity - occupancy, never negative.
    pub available: u32,
    /// Services.
    pub services: Vec<String>,
    /// Who it accepts.
    pub accepts: Vec<String>,
    /// Contact.
    pub contact: String,
    /// open, full, closed (full when no place is free).
    pub status: crate::event::ShelterStatus,
    /// RFC 3339 of the latest description.
    pub updated_at: String,
    /// Keys of the operator organisation's admins: requests for places are sealed to them.
    pub admins: Vec<String>,
}

/// Folds shelter events into shelters, sorted by region and name.
pub fn shelters<'a>(
    roster: &Roster,
    events: impl IntoIterator<Item = &'a SignedEvent>,
) -> Vec<ShelterView> {
    let events: Vec<&SignedEvent> = events
        .into_iter()
        .filter(|e| roster.authorize(e.event()).is_ok())
        .collect();
    // A shelter is identified by its id *and* its organisation: only that organisation
    // writes it (the roster checks the author's org), so another organisation reusing the id
    // makes a different shelter, never a change to this one, whatever time it claims.
    let mut latest: BTreeMap<(RecordId, String), &SignedEvent> = BTreeMap::new();
    let mut occupancy: BTreeMap<(RecordId, String), i64> = BTreeMap::new();
    for e in &events {
        match &e.event().body {
            Body::Shelter(s) => {
                let slot = latest.entry((s.id, s.org.clone())).or_insert(e);
                if (e.event().at, e.id()) > (slot.event().at, slot.id()) {
                    *slot = e;
                }
            }
            Body::Occupancy {
                shelter,
                org,
                delta,
                ..
            } => {
                let sum = occupancy.entry((*shelter, org.clone())).or_default();
                // Deltas are peer-supplied; a sum that cannot overflow whatever they are.
                *sum = sum.saturating_add(i64::from(*delta));
            }
            _ => {}
        }
    }
    let mut out: Vec<ShelterView> = latest
        .values()
        .filter_map(|e| {
            let Body::Shelter(s) = &e.event().body else {
                return None;
            };
            let occ = occupancy
                .get(&(s.id, s.org.clone()))
                .copied()
                .unwrap_or(0)
                .max(0);
            let available = i64::from(s.capacity).saturating_sub(occ).max(0) as u32;
            let status = match s.status {
                crate::event::ShelterStatus::Open if available == 0 => {
                    crate::event::ShelterStatus::Full
                }
                other => other,
            };
            Some(ShelterView {
                id: s.id.to_string(),
                org: s.org.clone(),
                name: s.name.clone(),
                region: s.region.clone(),
                capacity: s.capacity,
                occupancy: occ,
                available,
                services: s.services.clone(),
                accepts: s.accepts.clone(),
                contact: s.contact.clone(),
                status,
                updated_at: e.event().at.rfc3339(),
                admins: roster
                    .members
                    .iter()
                    .filter(|(_, m)| {
                        m.org == s.org && m.role == Role::Admin && m.revoked_at.is_none()
                    })
                    .map(|(k, _)| k.to_string())
                    .collect(),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.region, &a.name, &a.id).cmp(&(&b.region, &b.name, &b.id)));
    out
}

/// Who to call in a region: its security contacts and admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// Region.
    pub region: String,
    /// Display name.
    pub name: String,
    /// Organisation.
    pub org: String,
    /// security-contact or admin.
    pub role: Role,
    /// Key.
    pub key: String,
}

/// The directory of regions and their security contacts (then admins), from the roster.
pub fn directory(roster: &Roster, region: Option<&str>) -> Vec<DirectoryEntry> {
    let mut out: Vec<DirectoryEntry> = roster
        .directory()
        .into_iter()
        .filter(|(r, _)| region.is_none_or(|want| want == r))
        .flat_map(|(r, people)| {
            people.into_iter().map(move |(key, m)| DirectoryEntry {
                region: r.clone(),
                name: m.name.clone(),
                org: m.org.clone(),
                role: m.role,
                key: key.to_string(),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.region, b.role == Role::SecurityContact, &a.name).cmp(&(
            &b.region,
            a.role == Role::SecurityContact,
            &b.name,
        ))
    });
    out
}

/// A shelter request as every node sees it: sealed, with the latest decision on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShelterRequestView {
    /// 32 hex characters.
    pub id: String,
    /// The shelter's id.
    pub shelter: String,
    /// The shelter's name, if the shelter is known.
    pub shelter_name: Option<String>,
    /// The shelter's organisation.
    pub org: String,
    /// The shelter's region.
    pub region: String,
    /// When the node wrote it, RFC 3339.
    pub at: String,
    /// The node that wrote it on the requester's behalf.
    pub via_node: String,
    /// The sealed payload, base64 ([`crate::sealed`]); only its recipients can open it.
    pub sealed: String,
    /// The latest decision: "accepted" or "declined", by whom and when.
    pub decision: Option<HistoryEntry>,
}

/// Folds shelter requests and decisions, newest first. A request id written twice keeps its
/// first (earliest) version; the latest decision by the shelter's organisation counts.
pub fn shelter_requests<'a>(
    roster: &Roster,
    events: impl IntoIterator<Item = &'a SignedEvent>,
) -> Vec<ShelterRequestView> {
    let mut events: Vec<&SignedEvent> = events
        .into_iter()
        .filter(|e| roster.authorize(e.event()).is_ok())
        .collect();
    events.sort_by_key(|e| (e.event().at, e.id()));
    let names: BTreeMap<(RecordId, &str), &str> = events
        .iter()
        .filter_map(|e| match &e.event().body {
            Body::Shelter(s) => Some(((s.id, s.org.as_str()), s.name.as_str())),
            _ => None,
        })
        .collect();
    let mut out: BTreeMap<RecordId, (Timestamp, ShelterRequestView)> = BTreeMap::new();
    for e in &events {
        let ev = e.event();
        let Body::ShelterRequest(r) = &ev.body else {
            continue;
        };
        out.entry(r.id).or_insert_with(|| {
            (
                ev.at,
                ShelterRequestView {
                    id: r.id.to_string(),
                    shelter: r.shelter.to_string(),
                    shelter_name: names
                        .get(&(r.shelter, r.org.as_str()))
                        .map(|n| n.to_string()),
                    org: r.org.clone(),
                    region: r.region.clone(),
                    at: ev.at.rfc3339(),
                    via_node: ev.author.to_string(),
                    sealed: data_encoding::BASE64.encode(&r.sealed),
                    decision: None,
                },
            )
        });
    }
    for e in &events {
        let Body::ShelterDecision {
            request,
            shelter,
            org,
            accepted,
            ..
        } = &e.event().body
        else {
            continue;
        };
        let Some((_, view)) = out.get_mut(request) else {
            continue;
        };
        if view.org != *org || view.shelter != shelter.to_string() {
            continue;
        }
        let action = if *accepted { "accepted" } else { "declined" };
        view.decision = Some(entry(roster, e, action, None));
    }
    let mut list: Vec<(Timestamp, ShelterRequestView)> = out.into_values().collect();
    list.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    list.into_iter().map(|(_, v)| v).collect()
}
