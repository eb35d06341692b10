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
//! - Revocation: an event by a revoked key counts only if its `at` is before the revocation's
//!   `at`. Whether a node stores an event ([`Roster::admit`]) does not depend on revocations,
//!   so nodes that learnt of one at different times still hold and replicate the same events;
//!   what counts ([`Roster::authorize`]) is decided by every view alike.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde::{Deserialize, Serialize};

use crate::event::{AlertKind, Body, Event, Role, SignedEvent};
use crate::ids::{DocId, PeriodError, PublicKey, SecretKey, Timestamp};

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
    /// When their key was revoked.
    pub revoked_at: Option<Timestamp>,
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
    /// When its key was revoked.
    pub revoked_at: Option<Timestamp>,
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
    pub fn from_events_with_work<'a>(
        events: impl IntoIterator<Item = &'a SignedEvent>,
    ) -> (Self, u64) {
        type Key = (u64, Timestamp, crate::event::EventId);
        let mut queue: BinaryHeap<Reverse<(Key, usize)>> = BinaryHeap::new();
        let events: Vec<&SignedEvent> = events.into_iter().collect();
        for (i, e) in events.iter().enumerate() {
            queue.push(Reverse(((0, e.event().at, e.id()), i)));
        }
        // Events waiting for their author, by author.
        let mut waiting: HashMap<PublicKey, Vec<usize>> = HashMap::new();
        let mut roster = Roster::default();
        let mut work = 0;
        while let Some(Reverse(((pass, at, id), i))) = queue.pop() {
            work += 1;
            let signed = events[i];
            match roster.apply(signed) {
                Ok(()) => {
                    for key in added_keys(signed.event()) {
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
        (roster, work)
    }

    /// The fold by passes that [`Roster::from_events_with_work`] replaces, kept as the
    /// reference its results are tested against.
    #[cfg(test)]
    pub(crate) fn from_events_by_passes<'a>(
        events: impl IntoIterator<Item = &'a SignedEvent>,
    ) -> (Self, u64) {
        let mut pending: Vec<&SignedEvent> = events.into_iter().collect();
        pending.sort_by_key(|e| (e.event().at, e.id()));
        let mut roster = Roster::default();
        let mut work = 0;
        loop {
            let before = pending.len();
            pending.retain(|e| {
                work += 1;
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
        (roster, work)
    }

    /// Applies one roster event if it is allowed.
    pub fn apply(&mut self, signed: &SignedEvent) -> Result<(), AuthError> {
        self.authorize(signed.event())?;
        self.apply_allowed(signed);
        Ok(())
    }

    /// Applies one roster event if [`Roster::admit`] allows it: the scratch roster of an
    /// admission check, never the roster that views count with.
    pub(crate) fn apply_admitted(&mut self, signed: &SignedEvent) -> Result<(), AuthError> {
        self.admit(signed.event())?;
        self.apply_allowed(signed);
        Ok(())
    }

    fn apply_allowed(&mut self, signed: &SignedEvent) {
        let event = signed.event();
        match &event.body {
            Body::Genesis {
                network,
                org,
                node,
                admin_name,
            } => {
                self.network = Some(network.clone());
                self.genesis_at = Some(event.at);
                self.orgs.insert(org.clone(), event.at);
                self.members
                    .insert(event.author, member(admin_name, org, Role::Admin, event.at));
                self.nodes.entry(*node).or_insert(Node {
                    org: org.clone(),
                    addrs: Vec::new(),
                    added_at: event.at,
                    revoked_at: None,
                    addrs_from: None,
                });
            }
            Body::AddOrg {
                org,
                admin,
                admin_name,
            } => {
                self.orgs.entry(org.clone()).or_insert(event.at);
                self.members.entry(*admin).or_insert(member(
                    admin_name,
                    org,
                    Role::Admin,
                    event.at,
                ));
            }
            Body::AddNode { org, node, addrs } => {
                let entry = self.nodes.entry(*node).or_insert(Node {
                    org: org.clone(),
                    addrs: Vec::new(),
                    added_at: event.at,
                    revoked_at: None,
                    addrs_from: None,
                });
                let from = (event.at, signed.id());
                if entry.org == *org && entry.addrs_from.is_none_or(|f| f < from) {
                    entry.addrs = addrs.clone();
                    entry.addrs_from = Some(from);
                }
                entry.added_at = entry.added_at.min(event.at);
            }
            Body::AddMember {
                org,
                member: key,
                name,
                role,
                region,
            } => {
                self.members.entry(*key).or_insert(Member {
                    region: region.clone(),
                    ..member(name, org, *role, event.at)
                });
            }
            Body::Revoke { key, .. } => {
                let at = event.at;
                let earliest = |old: Option<Timestamp>| Some(old.map_or(at, |o| o.min(at)));
                if let Some(m) = self.members.get_mut(key) {
                    m.revoked_at = earliest(m.revoked_at);
                }
                if let Some(n) = self.nodes.get_mut(key) {
                    n.revoked_at = earliest(n.revoked_at);
                }
            }
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
    }

    fn principal(&self, key: &PublicKey) -> Option<Principal<'_>> {
        if let Some(m) = self.members.get(key) {
            return Some(Principal::Member(m));
        }
        self.nodes.get(key).map(Principal::Node)
    }

    /// Whether `key` is a member or node that is not revoked now: the only peers a node talks to.
    pub fn is_active(&self, key: &PublicKey) -> bool {
        match self.principal(key) {
            Some(Principal::Member(m)) => m.revoked_at.is_none(),
            Some(Principal::Node(n)) => n.revoked_at.is_none(),
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
            .filter(|(_, n)| n.org == org && n.revoked_at.is_none())
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
        out.retain(|k| k != member);
        first_readers(out)
    }

    /// `member`'s duress tag, if `me` (a node of their organisation) can open it.
    pub fn duress_tag(&self, member: &PublicKey, me: &SecretKey) -> Option<[u8; 16]> {
        let sealed = self.duress.get(member)?;
        crate::private::open_duress_tag(sealed, member, me)
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

    /// Security contacts (not revoked) by region.
    pub fn directory(&self) -> BTreeMap<String, Vec<(PublicKey, &Member)>> {
        let mut out: BTreeMap<String, Vec<(PublicKey, &Member)>> = BTreeMap::new();
        for (key, m) in &self.members {
            if m.revoked_at.is_none() && m.role != Role::Member {
                if let Some(region) = &m.region {
                    out.entry(region.clone()).or_default().push((*key, m));
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
        let (org, role, revoked_at) = match principal {
            Principal::Member(m) => (m.org.as_str(), Some(m.role), m.revoked_at),
            Principal::Node(n) => (n.org.as_str(), None, n.revoked_at),
        };
        if revocation && revoked_at.is_some_and(|r| event.at >= r) {
            return Err(AuthError::Revoked(event.author.fmt_short()));
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
                    return forbidden("only admins add organisations");
                }
                if self.orgs.contains_key(new_org) {
                    return forbidden("organisation exists");
                }
                if self.principal(admin).is_some() {
                    return forbidden("key already in the roster");
                }
                Ok(())
            }
            Body::AddNode {
                org: target, node, ..
            } => {
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

/// The keys an allowed roster event may add to the roster (whose waiting events the fold then
/// tries again).
pub(crate) fn added_keys(event: &Event) -> Vec<PublicKey> {
    match &event.body {
        Body::Genesis { node, .. } => vec![event.author, *node],
        Body::AddOrg { admin, .. } => vec![*admin],
        Body::AddNode { node, .. } => vec![*node],
        Body::AddMember { member, .. } => vec![*member],
        _ => Vec::new(),
    }
}

fn member(name: &str, org: &str, role: Role, at: Timestamp) -> Member {
    Member {
        name: name.to_string(),
        org: org.to_string(),
        role,
        region: None,
        added_at: at,
        revoked_at: None,
    }
}
