//! The roster: organisations, nodes, members, roles and revocations, folded from the signed
//! events of the roster document, and the rules of who may write what.
//!
//! Rules (checked by [`Roster::authorize`], the same on every node):
//! - The first admin creates the network with `Genesis`; there is exactly one.
//! - Any admin may add an organisation (with its first admin); an organisation's admins add and
//!   revoke its nodes and members. A role is fixed for the life of a key.
//! - A member writes only as themself: check-ins in their own organisation's document,
//!   acknowledgements, and panics for themself. Security contacts and admins also broadcast
//!   alerts; security contacts assign and resolve in their own region, admins for their
//!   organisation (which alert is whose the views decide, [`Roster::may_resolve`]). Nodes
//!   raise missed check-in alerts (for the member's organisation and region) and resolve them
//!   only citing the member's later check-in; they raise sealed (duress) alerts for their own
//!   organisation.
//! - A shelter and its occupancy are written by its organisation's admins, security contacts
//!   and nodes. Shelter requests are written by nodes (on behalf of a member, sealed); only the
//!   shelter's organisation's admins, who can read them, accept or decline them.
//! - Delivery receipts (`Held`) and notifications by bridges (`Notified`) are written by
//!   nodes only.
//! - An organisation's admins declare the regions it works in (at most
//!   [`MAX_REGIONS_PER_ORG`]); alerts, receipts and shelters exist only for declared regions
//!   and for organisations' own names, and a member's region is one their organisation
//!   declared (or its name). So no one can make every node hold documents for invented
//!   regions, or name security contacts for a region their organisation does not work in.
//! - Revocation never trusts a clock: a `Revoke` names the last of the key's events it accepts
//!   (by the author's sequence number, [`Event::seq`]), and the key's later events count
//!   nowhere, whatever their dates. Which revocations count is decided from all of them at
//!   once ([`revocation_limits`]): a revocation by a key that was itself revoked counts if it
//!   is within what that key's revocation accepts; two keys that revoke each other are both
//!   revoked, each keeping what it signed up to its own revocation of the other. An event
//!   dated before its author was added (beyond the clock bound) counts nowhere.
//! - A person may have several devices, each its own key: an organisation's admins add a
//!   device to a person (`AddDevice`, `roster/devices.rs`), which has the person's name, role and
//!   region; revoking it leaves the person's other devices.
//! - Whether a node stores an event ([`Roster::admit`]) does not depend on revocations, so
//!   nodes that learnt of one at different times still hold and replicate the same events;
//!   what counts ([`Roster::authorize`]) is decided by every view alike, from the set of
//!   events held, never from the order they came in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

use crate::event::{AlertKind, Body, Event, NetworkChange, Role, SignedEvent};
use crate::ids::{DocId, PeriodError, PublicKey, SecretKey, Timestamp};

mod devices;
pub(crate) use devices::check_device_fields;

/// The most regions one organisation may declare: far above what one organisation covers,
/// and it bounds the documents anyone can make every node hold.
pub const MAX_REGIONS_PER_ORG: usize = 64;

/// Why an event is not allowed for its author.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The author is not in the roster (yet); the event may become valid once it is.
    #[error("unknown author {0}")]
    UnknownAuthor(String),
    /// The author's key was revoked before the event was written.
    #[error("author {0} is revoked")]
    Revoked(String),
    /// The author's role or organisation does not allow this event.
    #[error("not allowed: {0}")]
    Forbidden(String),
}

/// A member as the roster knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Display name.
    pub name: String,
    /// Organisation slug.
    pub org: String,
    /// Role.
    pub role: Role,
    /// Home region.
    pub region: Option<String>,
    /// When they were added.
    pub added_at: Timestamp,
    /// When their key was revoked (the revocation's date, for the record).
    pub revoked_at: Option<Timestamp>,
    /// The last of their events that counts, when revoked.
    #[serde(default)]
    pub revoked_after: Option<u64>,
    /// For a further device of a person (`AddDevice`), the person: the key they were added
    /// with. `None` for that first key.
    #[serde(default)]
    pub person: Option<PublicKey>,
}

impl Member {
    /// The region they answer to: theirs, or their organisation's name when they have none.
    pub fn home_region(&self) -> String {
        self.region.clone().unwrap_or_else(|| self.org.clone())
    }
}

/// A node as the roster knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Organisation slug.
    pub org: String,
    /// Addresses it announced.
    pub addrs: Vec<String>,
    /// When it was added.
    pub added_at: Timestamp,
    /// When its key was revoked (the revocation's date, for the record).
    pub revoked_at: Option<Timestamp>,
    /// The last of its events that counts, when revoked.
    #[serde(default)]
    pub revoked_after: Option<u64>,
    /// The (time, event) that set `addrs`: the latest announcement wins, whatever order the
    /// fold applied them in (an event whose author appears later is applied late).
    #[serde(skip)]
    addrs_from: Option<(Timestamp, crate::event::EventId)>,
}

/// The folded roster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// Network display name, from the genesis event.
    pub network: Option<String>,
    /// When the network was created: the genesis event's time.
    #[serde(default)]
    pub genesis_at: Option<Timestamp>,
    /// Organisation slugs.
    pub orgs: BTreeMap<String, Timestamp>,
    /// Members by key.
    pub members: BTreeMap<PublicKey, Member>,
    /// Nodes by key.
    pub nodes: BTreeMap<PublicKey, Node>,
    /// Members' duress tags (the latest each set), sealed to their organisation's nodes.
    pub duress: BTreeMap<PublicKey, Vec<u8>>,
    /// Declared regions and the organisations working in each.
    pub regions: BTreeMap<String, BTreeSet<String>>,
    /// The (time, event) that set each duress tag, so that the latest wins.
    #[serde(skip)]
    duress_from: BTreeMap<PublicKey, (Timestamp, crate::event::EventId)>,
    /// The revocations the fold counts with: each revoked key's last counting event, and the
    /// earliest date of the revocations that cut it.
    #[serde(skip)]
    limits: Limits,
    /// How many organisations must agree on a change to the network (the genesis's choice;
    /// `None`: the default of [`Roster::needed`]).
    #[serde(default)]
    pub consent: Option<u8>,
    /// Suspended organisations: their nodes and admins count nowhere, nobody syncs with their
    /// nodes.
    #[serde(default)]
    pub suspended: BTreeSet<String>,
    /// Removed organisations: none of their keys counts.
    #[serde(default)]
    pub removed: BTreeSet<String>,
    /// Changes to the network not in effect yet, with the organisations that agreed.
    #[serde(skip)]
    pending: BTreeMap<NetworkChange, BTreeSet<String>>,
    /// Proposed organisations: the first `AddOrg` of each (its admin, their name, its date).
    #[serde(skip)]
    candidates: BTreeMap<String, (PublicKey, String, Timestamp)>,
}

/// Revoked keys: the last of each key's events that counts, and the revocation's date.
type Limits = BTreeMap<PublicKey, (u64, Timestamp)>;

/// A revocation as [`revocation_limits`] weighs it.
#[derive(Clone, Debug)]
struct RevokeSeen {
    by: PublicKey,
    seq: u64,
    target: PublicKey,
    last: u64,
    at: Timestamp,
}

enum Principal<'a> {
    Member(&'a Member),
    Node(&'a Node),
}

impl Roster {
    /// Folds roster events. Events are applied in (time, id) order; an event whose author is
    /// not yet known is retried after the others, so the result does not depend on the order
    /// the events arrived in. Events that are not allowed are skipped.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a SignedEvent>) -> Self {
        Self::from_events_with_work(events).0
    }

    /// [`Roster::from_events`], also returning the work the fold did: how many times it
    /// tried to apply an event. Deterministic, for tests and benchmarks; at most twice the
    /// number of events.
    ///
    /// The rule is that of passes: each pass tries the events still pending in (time, id)
    /// order, keeps those whose author is unknown, and the passes stop when one applies
    /// nothing. Keys are only ever added to the roster, so an event kept waiting is applied in
    /// the first pass in which its author is known when the pass reaches it: the same pass as
    /// the event that added the author if it comes later in (time, id) order, the next pass
    /// otherwise. Trying events by (pass, time, id) from a priority queue, and parking those
    /// with unknown authors until their author is added, applies every event in exactly the
    /// order of the passes, without the passes: a chain of events each dated before the one
    /// that added its author took one pass per link, quadratic in the chain's length.
    ///
    /// Revocations are weighed together once the fold has seen them ([`revocation_limits`]);
    /// when they cut events the fold counted, it folds again with them, until the
    /// revocations it sees are those it folded with (once more when there is any revocation,
    /// rarely twice).
    pub fn from_events_with_work<'a>(
        events: impl IntoIterator<Item = &'a SignedEvent>,
    ) -> (Self, u64) {
        let events: Vec<&SignedEvent> = events.into_iter().collect();
        let (roster, work, _) = Self::settle(&events, Self::fold);
        (roster, work)
    }

    /// Folds with `fold` until the revocations it sees are those it folded with; returns the
    /// roster, the work of every fold and the number of folds.
    fn settle(
        events: &[&SignedEvent],
        fold: impl Fn(&[&SignedEvent], &Limits) -> (Self, u64, Vec<RevokeSeen>),
    ) -> (Self, u64, usize) {
        let mut limits = Limits::new();
        let mut total = 0;
        for folds in 1..=MAX_FOLDS {
            let (roster, work, revokes) = fold(events, &limits);
            total += work;
            let next = revocation_limits(&revokes);
            if next == limits || folds == MAX_FOLDS {
                return (roster.finish(), total, folds);
            }
            limits = next;
        }
        unreachable!("the last fold returns")
    }

    /// [`Roster::from_events_with_work`], also returning the number of folds.
    #[cfg(test)]
    pub(crate) fn from_events_counting_folds<'a>(
        events: impl IntoIterator<Item = &'a SignedEvent>,
    ) -> (Self, u64, usize) {
        let events: Vec<&SignedEvent> = events.into_iter().collect();
        Self::settle(&events, Self::fold)
    }

    /// The revocation a fold sees in `event`, if its author could make it.
    fn revoke_seen(&self, event: &Event) -> Option<RevokeSeen> {
        let Body::Revoke { key, last, .. } = &event.body else {
            return self.move_seen(event);
        };
        self.admit(event).ok()?;
        Some(RevokeSeen {
            by: event.author,
            seq: event.seq,
            target: *key,
            last: *last,
            at: event.at,
        })
    }

    /// Marks the revoked keys as revoked, from the limits the fold counted with.
    fn finish(mut self) -> Self {
        for (key, (last, at)) in &self.limits {
            if let Some(m) = self.members.get_mut(key) {
                m.revoked_after = Some(*last);
                m.revoked_at = Some(*at);
            }
            if let Some(n) = self.nodes.get_mut(key) {
                n.revoked_after = Some(*last);
                n.revoked_at = Some(*at);
            }
        }
        self
    }

    /// One fold with the given revocations; also returns every revocation it saw that its
    /// author could make, whether or not the author was revoked.
    fn fold(events: &[&SignedEvent], limits: &Limits) -> (Self, u64, Vec<RevokeSeen>) {
        type Key = (u64, Timestamp, crate::event::EventId);
        let mut queue: BinaryHeap<Reverse<(Key, usize)>> = BinaryHeap::new();
        for (i, e) in events.iter().enumerate() {
            queue.push(Reverse(((0, e.event().at, e.id()), i)));
        }
        // Events waiting for their author, by author.
        let mut waiting: HashMap<PublicKey, Vec<usize>> = HashMap::new();
        let mut roster = Roster {
            limits: limits.clone(),
            ..Roster::default()
        };
        let mut revokes = Vec::new();
        let mut work = 0;
        while let Some(Reverse(((pass, at, id), i))) = queue.pop() {
            work += 1;
            let signed = events[i];
            revokes.extend(roster.revoke_seen(signed.event()));
            match roster.apply_counted(signed) {
                Ok(added) => {
                    for key in added {
                        let Some(parked) = waiting.remove(&key) else {
                            continue;
                        };
                        for j in parked {
                            let e = events[j];
                            let later = (e.event().at, e.id()) > (at, id);
                            let pass = if later { pass } else { pass + 1 };
                            queue.push(Reverse(((pass, e.event().at, e.id()), j)));
                        }
                    }
                }
                Err(AuthError::UnknownAuthor(_)) => {
                    waiting.entry(signed.event().author).or_default().push(i);
                }
                Err(_) => {}
            }
        }
        (roster, work, revokes)
    }

    /// The fold by passes that [`Roster::from_events_with_work`] replaces, kept as the
    /// reference its results are tested against.
    #[cfg(test)]
    pub(crate) fn from_events_by_passes<'a>(
        events: impl IntoIterator<Item = &'a SignedEvent>,
    ) -> (Self, u64) {
        let events: Vec<&SignedEvent> = events.into_iter().collect();
        let (roster, work, _) = Self::settle(&events, Self::fold_by_passes);
        (roster, work)
    }

    #[cfg(test)]
    fn fold_by_passes(events: &[&SignedEvent], limits: &Limits) -> (Self, u64, Vec<RevokeSeen>) {
        let mut pending: Vec<&SignedEvent> = events.to_vec();
        pending.sort_by_key(|e| (e.event().at, e.id()));
        let mut roster = Roster {
            limits: limits.clone(),
            ..Roster::default()
        };
        let mut revokes = Vec::new();
        let mut work = 0;
        loop {
            let before = pending.len();
            pending.retain(|e| {
                work += 1;
                revokes.extend(roster.revoke_seen(e.event()));
                match roster.apply(e) {
                    Ok(()) => false,
                    Err(AuthError::UnknownAuthor(_)) => true,
                    Err(_) => false,
                }
            });
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        (roster, work, revokes)
    }

    /// Applies one roster event if it is allowed.
    pub fn apply(&mut self, signed: &SignedEvent) -> Result<(), AuthError> {
        self.apply_counted(signed).map(|_| ())
    }

    /// [`Roster::apply`], returning the keys it added to the roster (whose waiting events a
    /// fold tries again).
    fn apply_counted(&mut self, signed: &SignedEvent) -> Result<Vec<PublicKey>, AuthError> {
        self.authorize(signed.event())?;
        Ok(self.apply_allowed(signed))
    }

    /// Applies one roster event if [`Roster::admit`] allows it: the scratch roster of an
    /// admission check, never the roster that views count with. Returns the keys it added.
    pub(crate) fn apply_admitted(
        &mut self,
        signed: &SignedEvent,
    ) -> Result<Vec<PublicKey>, AuthError> {
        self.admit(signed.event())?;
        Ok(self.apply_allowed(signed))
    }

    fn apply_allowed(&mut self, signed: &SignedEvent) -> Vec<PublicKey> {
        let event = signed.event();
        let mut added = Vec::new();
        match &event.body {
            Body::Genesis {
                network,
                org,
                node,
                admin_name,
                consent,
            } => {
                self.network = Some(network.clone());
                self.genesis_at = Some(event.at);
                self.consent = *consent;
                added.extend([event.author, *node]);
                self.orgs.insert(org.clone(), event.at);
                self.members
                    .insert(event.author, member(admin_name, org, Role::Admin, event.at));
                self.nodes.entry(*node).or_insert(Node {
                    org: org.clone(),
                    addrs: Vec::new(),
                    added_at: event.at,
                    revoked_at: None,
                    revoked_after: None,
                    addrs_from: None,
                });
            }
            Body::AddOrg {
                org,
                admin,
                admin_name,
            } => {
                self.candidates.entry(org.clone()).or_insert((
                    *admin,
                    admin_name.clone(),
                    event.at,
                ));
                if let Some(by) = self.org_of(&event.author).map(str::to_string) {
                    added.extend(self.agree(NetworkChange::Approve { org: org.clone() }, by));
                }
            }
            Body::Network { change } => {
                if let Some(by) = self.org_of(&event.author).map(str::to_string) {
                    added.extend(self.agree(change.clone(), by));
                }
            }
            Body::AddNode { org, node, addrs } => {
                if !self.nodes.contains_key(node) {
                    added.push(*node);
                }
                let entry = self.nodes.entry(*node).or_insert(Node {
                    org: org.clone(),
                    addrs: Vec::new(),
                    added_at: event.at,
                    revoked_at: None,
                    revoked_after: None,
                    addrs_from: None,
                });
                let from = (event.at, signed.id());
                if entry.org == *org && entry.addrs_from.is_none_or(|f| f < from) {
                    entry.addrs = addrs.clone();
                    entry.addrs_from = Some(from);
                }
                // Only an admin's addition dates a node; its own announcements do not.
                if event.author != *node {
                    entry.added_at = entry.added_at.min(event.at);
                }
            }
            Body::AddMember {
                org,
                member: key,
                name,
                role,
                region,
            } => {
                if !self.members.contains_key(key) {
                    added.push(*key);
                }
                self.members.entry(*key).or_insert(Member {
                    region: region.clone(),
                    ..member(name, org, *role, event.at)
                });
            }
            // Revocations are weighed all together ([`revocation_limits`]).
            Body::Revoke { .. } => {}
            Body::AddDevice { .. } => added.extend(self.apply_add_device(event)),
            Body::DeclareRegion { org, region } => {
                self.regions
                    .entry(region.clone())
                    .or_default()
                    .insert(org.clone());
            }
            Body::DuressSet { sealed } => {
                let from = (event.at, signed.id());
                let slot = self.duress_from.entry(event.author).or_insert(from);
                if *slot <= from {
                    *slot = from;
                    self.duress.insert(event.author, sealed.clone());
                }
            }
            _ => {}
        }
        added
    }

    /// Records that `by` agrees to `change`, and puts it in effect once enough organisations
    /// do ([`Roster::needed`]). Returns the keys that this added (an approved organisation's
    /// admin).
    fn agree(&mut self, change: NetworkChange, by: String) -> Vec<PublicKey> {
        self.pending.entry(change.clone()).or_default().insert(by);
        let (have, need) = self.consent_for(&change);
        if have < need {
            return Vec::new();
        }
        let org = change.org().to_string();
        match &change {
            NetworkChange::Approve { .. } => {
                let Some((admin, name, at)) = self.candidates.get(&org).cloned() else {
                    // Approved before anyone proposed its admin: in effect with the `AddOrg`.
                    return Vec::new();
                };
                if self.principal(&admin).is_some() {
                    return Vec::new();
                }
                self.pending.remove(&change);
                self.candidates.remove(&org);
                // Dated by its proposal, so that what its admin signed meanwhile (the join's
                // first node) is not dated before them.
                self.orgs.insert(org.clone(), at);
                self.members
                    .insert(admin, member(&name, &org, Role::Admin, at));
                return vec![admin];
            }
            NetworkChange::Suspend { .. } => {
                self.suspended.insert(org.clone());
                self.pending.remove(&NetworkChange::Reinstate { org });
            }
            NetworkChange::Reinstate { .. } => {
                self.suspended.remove(&org);
                self.pending.remove(&NetworkChange::Suspend { org });
            }
            NetworkChange::Remove { .. } => {
                self.removed.insert(org);
            }
        }
        self.pending.remove(&change);
        Vec::new()
    }

    /// Whether `org` is in the network and neither suspended nor removed.
    pub fn in_good_standing(&self, org: &str) -> bool {
        self.orgs.contains_key(org) && !self.suspended.contains(org) && !self.removed.contains(org)
    }

    /// How many organisations agree to `change` so far, and how many must: the genesis's
    /// number, or by default one while the network has fewer than three organisations in good
    /// standing and two from three on; never more than can (the organisation a suspension or
    /// removal is about has no say).
    pub fn consent_for(&self, change: &NetworkChange) -> (usize, usize) {
        let standing: Vec<&String> = self
            .orgs
            .keys()
            .filter(|o| self.in_good_standing(o))
            .collect();
        let k = self
            .consent
            .map_or(if standing.len() >= 3 { 2 } else { 1 }, usize::from);
        let eligible = standing
            .iter()
            .filter(|o| o.as_str() != change.org())
            .count();
        let have = self.pending.get(change).map_or(0, |agreed| {
            agreed.iter().filter(|o| self.in_good_standing(o)).count()
        });
        (have, k.min(eligible).max(1))
    }

    /// The organisations in good standing that agreed to `change` so far.
    pub fn agreed_to(&self, change: &NetworkChange) -> Vec<String> {
        self.pending.get(change).map_or(Vec::new(), |agreed| {
            agreed
                .iter()
                .filter(|o| self.in_good_standing(o))
                .cloned()
                .collect()
        })
    }

    /// Changes to the network not in effect yet, each with the organisations that agreed.
    pub fn pending_changes(&self) -> impl Iterator<Item = (&NetworkChange, &BTreeSet<String>)> {
        self.pending.iter()
    }

    fn principal(&self, key: &PublicKey) -> Option<Principal<'_>> {
        if let Some(m) = self.members.get(key) {
            return Some(Principal::Member(m));
        }
        self.nodes.get(key).map(Principal::Node)
    }

    /// Whether `key` is a member or node that is not revoked now, of an organisation that is
    /// not removed, and (for a node or an admin) not suspended: the only peers a node talks to.
    pub fn is_active(&self, key: &PublicKey) -> bool {
        match self.principal(key) {
            Some(Principal::Member(m)) => {
                m.revoked_at.is_none()
                    && !self.removed.contains(&m.org)
                    && (m.role != Role::Admin || !self.suspended.contains(&m.org))
            }
            Some(Principal::Node(n)) => n.revoked_at.is_none() && self.in_good_standing(&n.org),
            None => false,
        }
    }

    /// The organisation of a member or node.
    pub fn org_of(&self, key: &PublicKey) -> Option<&str> {
        match self.principal(key)? {
            Principal::Member(m) => Some(&m.org),
            Principal::Node(n) => Some(&n.org),
        }
    }

    /// Whether `key`, a security contact or admin, may assign and resolve in `doc` (an alerts
    /// document): a security contact only in their own region; an admin anywhere, since
    /// whether the alert is their organisation's is decided with the alert
    /// ([`Roster::may_resolve`]).
    fn may_answer_in(&self, key: &PublicKey, doc: &DocId) -> bool {
        match self.members.get(key) {
            Some(m) if m.role == Role::Admin => true,
            Some(m) if m.role == Role::SecurityContact => {
                doc.scope().is_some_and(|r| m.region.as_deref() == Some(r))
            }
            _ => false,
        }
    }

    /// Whether `key` may assign or resolve an alert of `org` in `region`: the security
    /// contacts of the region and the admins of the organisation (the author's, or for a
    /// missed check-in or duress alert the member's).
    pub fn may_resolve(&self, key: &PublicKey, org: &str, region: &str) -> bool {
        self.members.get(key).is_some_and(|m| match m.role {
            Role::SecurityContact => m.region.as_deref() == Some(region),
            Role::Admin => m.org == org,
            Role::Member => false,
        })
    }

    /// The active nodes of `org`.
    pub fn org_nodes(&self, org: &str) -> Vec<PublicKey> {
        self.nodes
            .iter()
            .filter(|(k, n)| n.org == org && self.is_active(k))
            .map(|(k, _)| *k)
            .collect()
    }

    /// The active admins of `org`.
    pub fn org_admins(&self, org: &str) -> Vec<PublicKey> {
        self.members
            .iter()
            .filter(|(_, m)| m.org == org && m.role == Role::Admin && m.revoked_at.is_none())
            .map(|(k, _)| *k)
            .collect()
    }

    /// The active security contacts of `region`.
    pub fn region_contacts(&self, region: &str) -> Vec<PublicKey> {
        self.members
            .iter()
            .filter(|(_, m)| {
                m.role == Role::SecurityContact
                    && m.revoked_at.is_none()
                    && m.region.as_deref() == Some(region)
            })
            .map(|(k, _)| *k)
            .collect()
    }

    /// Who reads the private part of `member`'s check-ins: the member, who wrote it, their
    /// organisation's nodes, their region's security contacts and their organisation's admins,
    /// in that order and at most [`MAX_READERS`] of them, so that a check-in with the longest
    /// note can always be sealed (a check-in that cannot be sealed is a check-in not made).
    pub fn checkin_readers(&self, member: &PublicKey) -> Vec<PublicKey> {
        let Some(m) = self.members.get(member) else {
            return Vec::new();
        };
        let mut out = vec![*member];
        // The person's other devices read what any of them wrote.
        let person = self.person_of(member);
        out.extend(
            self.devices_of(&person)
                .into_iter()
                .filter(|k| self.is_active(k)),
        );
        out.extend(self.org_nodes(&m.org));
        out.extend(self.region_contacts(&m.home_region()));
        out.extend(self.org_admins(&m.org));
        first_readers(out)
    }

    /// Who reads a duress alert about `member`: their region's security contacts, then their
    /// organisation's admins, never the member; at most [`MAX_READERS`].
    pub fn duress_readers(&self, member: &PublicKey) -> Vec<PublicKey> {
        let Some(m) = self.members.get(member) else {
            return Vec::new();
        };
        let mut out = self.region_contacts(&m.home_region());
        out.extend(self.org_admins(&m.org));
        // None of the person's devices: a captor holding any of them learns nothing.
        let devices = self.devices_of(&self.person_of(member));
        out.retain(|k| k != member && !devices.contains(k));
        first_readers(out)
    }

    /// `member`'s duress tag, if `me` (a node of their organisation) can open it.
    pub fn duress_tag(&self, member: &PublicKey, me: &SecretKey) -> Option<[u8; 16]> {
        let sealed = self.duress.get(member)?;
        crate::private::open_duress_tag(sealed, member, me)
    }

    /// Whether `other` differs from this roster in nodes' addresses at most: what a node
    /// announces when it moves, which changes what nobody may do.
    pub fn same_but_addresses(&self, other: &Roster) -> bool {
        let without = |r: &Roster| {
            let mut r = r.clone();
            for node in r.nodes.values_mut() {
                node.addrs.clear();
                node.addrs_from = None;
            }
            r
        };
        without(self) == without(other)
    }

    /// What `self` holds that `before` did not: organisations, nodes and admins, each as a
    /// line for the operator.
    pub fn news_since(&self, before: &Roster) -> Vec<String> {
        let mut out = Vec::new();
        for org in self.orgs.keys().filter(|o| !before.orgs.contains_key(*o)) {
            out.push(format!("organisation {org} joined the network"));
        }
        for (key, n) in &self.nodes {
            if !before.nodes.contains_key(key) {
                out.push(format!("node {} of {} was added", key.fmt_short(), n.org));
            }
        }
        for (key, m) in &self.members {
            if m.role == Role::Admin && !before.members.contains_key(key) {
                out.push(format!(
                    "admin {} ({}) of {} was added",
                    m.name,
                    key.fmt_short(),
                    m.org
                ));
            }
        }
        out
    }

    /// Security contacts (with a device not revoked) by region, each person once, under the
    /// key they were added with.
    pub fn directory(&self) -> BTreeMap<String, Vec<(PublicKey, &Member)>> {
        let mut out: BTreeMap<String, Vec<(PublicKey, &Member)>> = BTreeMap::new();
        for (key, m) in &self.members {
            if m.revoked_at.is_none() && m.role != Role::Member {
                if let Some(region) = &m.region {
                    let person = self.person_of(key);
                    let list = out.entry(region.clone()).or_default();
                    if !list.iter().any(|(k, _)| *k == person) {
                        list.push((person, self.members.get(&person).unwrap_or(m)));
                    }
                }
            }
        }
        out
    }

    /// Checks that `event`'s author may write it, now: an event by a key revoked before it was
    /// written does not count. Field bounds and placement were checked when the event was
    /// signed or decoded. The views and the roster fold count what this allows.
    pub fn authorize(&self, event: &Event) -> Result<(), AuthError> {
        self.check(event, true)
    }

    /// Whether a node stores `event`: as [`Roster::authorize`], but whatever revocations it
    /// knows of. Whether an event is stored then depends only on what the roster held (keys
    /// and roles only ever get added), never on whether a revocation had arrived yet, so two
    /// honest nodes never refuse each other's documents for an event one of them stored before
    /// it learnt of a revocation. Such an event is stored and counts nowhere.
    pub fn admit(&self, event: &Event) -> Result<(), AuthError> {
        self.check(event, false)
    }

    fn check(&self, event: &Event, revocation: bool) -> Result<(), AuthError> {
        let forbidden = |why: &str| Err(AuthError::Forbidden(why.to_string()));
        if let Body::Genesis { .. } = event.body {
            if self.network.is_some() {
                return forbidden("the network already has a genesis");
            }
            return Ok(());
        }
        let Some(principal) = self.principal(&event.author) else {
            return Err(AuthError::UnknownAuthor(event.author.fmt_short()));
        };
        let (org, role, added_at) = match principal {
            Principal::Member(m) => (m.org.as_str(), Some(m.role), m.added_at),
            Principal::Node(n) => (n.org.as_str(), None, n.added_at),
        };
        if event.at < added_at.plus_ms(-crate::event::MAX_CLOCK_SKEW_MS) {
            return forbidden("dated before its author was added");
        }
        let cut = self.limits.get(&event.author);
        if revocation && cut.is_some_and(|(last, _)| event.seq > *last) {
            return Err(AuthError::Revoked(event.author.fmt_short()));
        }
        // Like revocations, suspensions decide what counts, never what a node stores.
        if revocation && self.removed.contains(org) {
            return forbidden("the organisation was removed from the network");
        }
        if revocation && self.suspended.contains(org) && matches!(role, None | Some(Role::Admin)) {
            return forbidden("the organisation is suspended");
        }
        let is_admin = role == Some(Role::Admin);
        let is_responder = matches!(role, Some(Role::Admin | Role::SecurityContact));
        let is_node = role.is_none();
        match &event.body {
            Body::Genesis { .. } => Ok(()),
            Body::AddOrg {
                org: new_org,
                admin,
                ..
            } => {
                if !is_admin {
                    return forbidden("only admins propose organisations");
                }
                if self.orgs.contains_key(new_org) {
                    return forbidden("organisation exists");
                }
                if self.principal(admin).is_some() {
                    return forbidden("key already in the roster");
                }
                Ok(())
            }
            Body::Network { change } => {
                if !is_admin {
                    return forbidden("only admins agree to changes to the network");
                }
                let target = change.org();
                let exists = self.orgs.contains_key(target) && !self.removed.contains(target);
                match change {
                    NetworkChange::Approve { .. } if self.orgs.contains_key(target) => {
                        forbidden("organisation exists")
                    }
                    NetworkChange::Approve { .. } => Ok(()),
                    _ if !exists => forbidden("no such organisation in the network"),
                    _ if target == org => forbidden("an organisation has no say on itself"),
                    NetworkChange::Reinstate { .. } if !self.suspended.contains(target) => {
                        forbidden("the organisation is not suspended")
                    }
                    _ => Ok(()),
                }
            }
            Body::AddNode {
                org: target, node, ..
            } => {
                // A node announces its own addresses.
                if is_node && *node == event.author && target == org {
                    return Ok(());
                }
                if !is_admin || target != org {
                    return forbidden("only an organisation's admins add its nodes");
                }
                match self.principal(node) {
                    None => Ok(()),
                    Some(Principal::Node(n)) if n.org == *target => Ok(()),
                    Some(_) => forbidden("key already in the roster"),
                }
            }
            Body::AddMember {
                org: target,
                member,
                region,
                ..
            } => {
                if !is_admin || target != org {
                    return forbidden("only an organisation's admins add its members");
                }
                if self.principal(member).is_some() {
                    return forbidden("key already in the roster");
                }
                if let Some(region) = region {
                    if !self.declares(target, region) {
                        return forbidden("a member's region is one their organisation declared");
                    }
                }
                Ok(())
            }
            Body::DeclareRegion {
                org: target,
                region,
            } => {
                if !is_admin || target != org {
                    return forbidden("only an organisation's admins declare its regions");
                }
                let declared = self
                    .regions
                    .values()
                    .filter(|orgs| orgs.contains(target))
                    .count();
                if !self.declares(target, region) && declared >= MAX_REGIONS_PER_ORG {
                    return forbidden("the organisation declared as many regions as it may");
                }
                Ok(())
            }
            Body::Revoke { key, .. } => {
                if !is_admin || self.org_of(key) != Some(org) {
                    return forbidden("only an organisation's admins revoke its keys");
                }
                Ok(())
            }
            Body::Alert(alert) => match alert.kind {
                AlertKind::Panic if is_node => forbidden("panics come from members"),
                AlertKind::Panic if alert.org != org => {
                    forbidden("a panic is for the author's organisation")
                }
                AlertKind::Panic => Ok(()),
                AlertKind::Alert if !is_responder => {
                    forbidden("only security contacts and admins broadcast alerts")
                }
                AlertKind::Alert if alert.org != org => {
                    forbidden("an alert is for the author's organisation")
                }
                AlertKind::Alert => Ok(()),
                AlertKind::MissedCheckin => {
                    let subject = alert.subject.and_then(|s| self.members.get(&s));
                    match subject {
                        None => forbidden("missed check-in of an unknown member"),
                        Some(s) if s.org != alert.org || s.home_region() != alert.region => {
                            forbidden(
                                "a missed check-in is for the member's organisation and region",
                            )
                        }
                        // Any node may notice (the id is derived, so raises merge); people
                        // raise them only for their own organisation.
                        Some(_) if is_node => Ok(()),
                        Some(_) if is_responder && alert.org == org => Ok(()),
                        Some(_) => forbidden(
                            "missed check-ins are raised by nodes and the member's own responders",
                        ),
                    }
                }
                AlertKind::ClonedKey => {
                    let subject = alert.subject.and_then(|s| self.org_of(&s));
                    if !is_node || subject != Some(org) || alert.org != org {
                        return forbidden(
                            "a cloned-key alert is raised by a node of the key's organisation",
                        );
                    }
                    Ok(())
                }
                AlertKind::Duress | AlertKind::Sealed => forbidden("duress alerts are sealed"),
            },
            Body::SealedAlert(alert) => {
                if !is_node || alert.org != org {
                    return forbidden("sealed alerts are raised by nodes, for their organisation");
                }
                if !self.declares(org, &alert.region) {
                    return forbidden("a sealed alert is for a region its organisation declared");
                }
                Ok(())
            }
            Body::DuressSet { .. } => {
                if is_node {
                    return forbidden("a duress code belongs to a member");
                }
                Ok(())
            }
            Body::Ack { .. } => {
                if is_node {
                    return forbidden("acknowledgements come from people");
                }
                Ok(())
            }
            Body::Assign { assignee, .. } => {
                if !is_responder {
                    return forbidden("only security contacts and admins assign");
                }
                if !self.may_answer_in(&event.author, &event.doc) {
                    return forbidden("a security contact assigns in their own region only");
                }
                if !self.members.contains_key(assignee) {
                    return forbidden("assignee is not a member");
                }
                Ok(())
            }
            Body::Resolve { checkin, .. } => {
                if is_node != checkin.is_some() {
                    return forbidden(
                        "nodes resolve missed check-ins only, citing the member's check-in",
                    );
                }
                if !(is_responder || is_node) {
                    return forbidden("only security contacts, admins and nodes resolve");
                }
                if !is_node && !self.may_answer_in(&event.author, &event.doc) {
                    return forbidden("a security contact resolves in their own region only");
                }
                Ok(())
            }
            Body::Checkin(_) => {
                if is_node {
                    return forbidden("check-ins come from members");
                }
                if event.doc.collection() != crate::ids::Collection::Checkins
                    || event.doc.scope() != Some(org)
                {
                    return forbidden("a check-in goes in the author's organisation's document");
                }
                Ok(())
            }
            Body::Shelter(shelter) => {
                if shelter.org != org || !(is_responder || is_node) {
                    return forbidden("a shelter is written by its organisation");
                }
                Ok(())
            }
            Body::Occupancy {
                org: shelter_org, ..
            } => {
                if shelter_org != org || !(is_responder || is_node) {
                    return forbidden("occupancy is counted by the shelter's organisation");
                }
                Ok(())
            }
            Body::Held { .. } => {
                if !is_node {
                    return forbidden("delivery receipts come from nodes");
                }
                Ok(())
            }
            Body::Cancel { .. } => {
                // The view counts it only from the alert's own author, on a panic.
                if is_node {
                    return forbidden("a panic is cancelled by the member who raised it");
                }
                Ok(())
            }
            Body::Escalate { .. } => {
                if !is_node {
                    return forbidden("escalations are decided by nodes");
                }
                Ok(())
            }
            Body::Notified { .. } => {
                if !is_node {
                    return forbidden("notifications are written by the notifying node");
                }
                Ok(())
            }
            Body::ShelterRequest(_) => {
                if !is_node {
                    return forbidden("a shelter request is written by the requester's node");
                }
                Ok(())
            }
            Body::ShelterDecision {
                org: shelter_org, ..
            } => {
                if shelter_org != org || !is_admin {
                    return forbidden("the shelter's organisation's admins decide on requests");
                }
                Ok(())
            }
            Body::AddDevice { .. } => self.check_add_device(event, org, is_admin, revocation),
            Body::DeviceGrant { .. } => {
                forbidden("a device grant travels inside the addition it asked for")
            }
        }
    }

    /// Checks `doc`'s period against the network's genesis year and `now`
    /// ([`DocId::check_period`]). Before the roster has a genesis there is nothing to bound
    /// by, and nothing is authorised anyway: every period passes.
    pub fn check_period(&self, doc: &DocId, now: Timestamp) -> Result<(), PeriodError> {
        match self.genesis_at {
            Some(genesis) => doc.check_period(genesis.year(), now),
            None => Ok(()),
        }
    }

    /// Whether a document id is acceptable in this network: check-ins of a known organisation;
    /// alerts, receipts and shelters of a region ([`Roster::is_region`]).
    pub fn accepts_doc(&self, doc: &DocId) -> bool {
        use crate::ids::Collection;
        match doc.collection() {
            Collection::Checkins => doc.scope().is_some_and(|o| self.orgs.contains_key(o)),
            Collection::Alerts | Collection::Receipts | Collection::Shelters => {
                doc.scope().is_some_and(|r| self.is_region(r))
            }
            _ => true,
        }
    }

    /// Whether `region` is declared by some organisation, or is an organisation's name (the
    /// region of its members who have none).
    pub fn is_region(&self, region: &str) -> bool {
        self.regions.contains_key(region) || self.orgs.contains_key(region)
    }

    /// Whether `org` declared `region` (an organisation's own name is always its region).
    pub fn declares(&self, org: &str, region: &str) -> bool {
        region == org
            || self
                .regions
                .get(region)
                .is_some_and(|orgs| orgs.contains(org))
    }
}

/// How many times [`Roster::from_events_with_work`] folds at most while revocations settle.
const MAX_FOLDS: usize = 8;

/// Which revocations count, and so each revoked key's last counting event and the earliest
/// date among the revocations that cut it. A function of the set of revocations alone.
///
/// A revocation counts unless its author's own counting revocations cut it (its number is
/// past what they accept). That rule refers to itself; it is settled as in the well-founded
/// semantics of logic programs: the revocations that count for sure are the least fixed point
/// of applying the rule twice, and the ones left undecided (a cycle of keys revoking each
/// other) count too, so that a key whose revocation is disputed is revoked. Where two keys
/// revoke each other, each keeps its events up to its own revocation of the other, so that a
/// thief who revokes the honest holder of a key cannot erase what that holder signed before.
fn revocation_limits(revokes: &[RevokeSeen]) -> Limits {
    // The latest revocation of each target by each author: what the target's own answer to a
    // revocation of it is.
    let mut latest: HashMap<(PublicKey, PublicKey), u64> = HashMap::new();
    for r in revokes {
        let slot = latest.entry((r.by, r.target)).or_insert(r.seq);
        *slot = (*slot).max(r.seq);
    }
    let accepted: Vec<u64> = revokes
        .iter()
        .map(|r| {
            let answer = latest.get(&(r.target, r.by));
            answer.map_or(r.last, |seq| r.last.max(*seq))
        })
        .collect();
    let limits_of = |counting: &[bool]| {
        let mut out = Limits::new();
        for (i, r) in revokes.iter().enumerate().filter(|(i, _)| counting[*i]) {
            let slot = out.entry(r.target).or_insert((accepted[i], r.at));
            slot.0 = slot.0.min(accepted[i]);
            slot.1 = slot.1.min(r.at);
        }
        out
    };
    let step = |counting: &[bool]| -> Vec<bool> {
        let limits = limits_of(counting);
        revokes
            .iter()
            .map(|r| limits.get(&r.by).is_none_or(|(last, _)| r.seq <= *last))
            .collect()
    };
    let mut sure = vec![false; revokes.len()];
    loop {
        let next = step(&step(&sure));
        if next == sure {
            break;
        }
        sure = next;
    }
    limits_of(&step(&sure))
}

/// The most readers a check-in or duress alert is sealed to: with 80 bytes per reader, the
/// longest note still fits in a sealed part ([`crate::event::MAX_SEALED_BYTES`]).
pub const MAX_READERS: usize = 48;

/// The first [`MAX_READERS`] distinct keys of `keys`, in their order.
fn first_readers(keys: Vec<PublicKey>) -> Vec<PublicKey> {
    let mut seen = BTreeSet::new();
    keys.into_iter()
        .filter(|k| seen.insert(*k))
        .take(MAX_READERS)
        .collect()
}

fn member(name: &str, org: &str, role: Role, at: Timestamp) -> Member {
    Member {
        name: name.to_string(),
        org: org.to_string(),
        role,
        region: None,
        added_at: at,
        revoked_at: None,
        revoked_after: None,
        person: None,
    }
}
