//! Signed, content-addressed events: the only thing documents hold.
//!
//! An [`Event`] says who (`author`), when (`at`), where (`doc`) and what (`body`). A
//! [`SignedEvent`] is its postcard encoding plus the author's ed25519 signature over it, and is
//! built only by [`SignedEvent::sign`] or checked by [`SignedEvent::decode`]. Its [`EventId`] is
//! the hash of the signed bytes, so an event can be stored under its id by any node and two
//! nodes storing the same event never conflict.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{DocId, PublicKey, RecordId, SecretKey, Timestamp};

/// The largest encoded signed event accepted (the body text is bounded well below it).
pub const MAX_EVENT_BYTES: usize = 8 * 1024;

/// The longest free text (alert text, notes) in bytes.
pub const MAX_TEXT_BYTES: usize = 2 * 1024;

/// A member's role in their organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Checks in, raises panics, acknowledges alerts.
    Member,
    /// Also broadcasts region-wide alerts, assigns and resolves them.
    SecurityContact,
    /// Also adds and revokes members, nodes and organisations, and runs shelters.
    Admin,
}

impl Role {
    /// The text form used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::SecurityContact => "security-contact",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "member" => Ok(Role::Member),
            "security-contact" => Ok(Role::SecurityContact),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (member, security-contact, admin)"
            )),
        }
    }
}

/// What kind of alert (after the Common Alerting Protocol's `msgType`/`event`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// A member asks for help for themself.
    Panic,
    /// A region-wide alert from a security contact.
    Alert,
    /// Raised by a node when a member's check-in is overdue.
    MissedCheckin,
    /// Raised silently by a node when a member checks in with their duress code; it exists
    /// only sealed ([`SealedAlertBody`]), and shows as this kind to those who can open it.
    Duress,
    /// A sealed alert as it shows to whoever cannot open it.
    Sealed,
    /// Raised by a node of the key's organisation when two different events of one key carry
    /// the same sequence number: the key is in use on two devices.
    ClonedKey,
}

/// CAP severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Minor threat to life or property.
    Minor,
    /// Possible threat to life or property.
    Moderate,
    /// Significant threat to life or property.
    Severe,
    /// Extraordinary threat to life or property.
    Extreme,
}

/// CAP urgency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    /// Act now.
    Immediate,
    /// Act within the next hour.
    Expected,
    /// Act in the near future.
    Future,
    /// No action needed.
    Past,
}

/// CAP certainty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Certainty {
    /// Determined to have occurred or to be ongoing.
    Observed,
    /// Likely (p > ~50%).
    Likely,
    /// Possible but not likely.
    Possible,
    /// Not known.
    Unknown,
}

/// How a member is doing, as given at check-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckinStatus {
    /// All is well.
    Ok,
    /// Not in danger, but needs support.
    NeedHelp,
    /// In danger.
    Danger,
}

/// Whether a shelter takes people now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShelterStatus {
    /// Takes people.
    Open,
    /// Open but with no free places.
    Full,
    /// Not taking people.
    Closed,
}

/// The creation of an alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertBody {
    /// Derived from (author, time) for panics and alerts; from (member, due time) for missed
    /// check-ins so that nodes raising it concurrently create one alert.
    pub id: RecordId,
    /// What kind of alert.
    pub kind: AlertKind,
    /// CAP severity.
    pub severity: Severity,
    /// CAP urgency.
    pub urgency: Urgency,
    /// CAP certainty.
    pub certainty: Certainty,
    /// The region the alert is for; also names its document.
    pub region: String,
    /// The organisation of the author (or, for a missed check-in, of the member).
    pub org: String,
    /// Free text.
    pub text: String,
    /// When an informational alert stops being relevant.
    pub expires_at: Option<Timestamp>,
    /// The member the alert is about (missed check-ins).
    pub subject: Option<PublicKey>,
    /// The due time of the check-in that was missed (missed check-ins).
    pub due: Option<Timestamp>,
}

impl AlertBody {
    /// The id of a panic or alert: derived from its author and time, so nobody can create an
    /// alert under an id another person's alert has.
    pub fn id_for(author: &PublicKey, at: Timestamp) -> RecordId {
        RecordId::derive("tejido alert v0", &[author.as_bytes(), &at.0.to_le_bytes()])
    }

    /// The id of the missed check-in alert for `member`'s check-in due at `due`: every node
    /// that notices derives the same id, so concurrent raises merge into one alert.
    pub fn missed_checkin_id(member: &PublicKey, due: Timestamp) -> RecordId {
        RecordId::derive(
            "tejido missed check-in v0",
            &[member.as_bytes(), &due.0.to_le_bytes()],
        )
    }

    /// The one missed check-in alert for `member` of `org` in `region` (their home region),
    /// whose check-in was due at `due`: every field is fixed by these, so that a copy written
    /// by any node is the same alert, and a copy with other fields counts nowhere.
    pub fn missed_checkin(member: PublicKey, org: &str, region: &str, due: Timestamp) -> Self {
        Self {
            id: Self::missed_checkin_id(&member, due),
            kind: AlertKind::MissedCheckin,
            severity: Severity::Severe,
            urgency: Urgency::Immediate,
            certainty: Certainty::Possible,
            region: region.to_string(),
            org: org.to_string(),
            text: String::new(),
            expires_at: None,
            subject: Some(member),
            due: Some(due),
        }
    }

    /// The one cloned-key alert for `key`, of `org`, for the organisation's admins: in the
    /// organisation's own region, every field fixed, so that copies by several nodes merge.
    pub fn cloned_key(key: PublicKey, org: &str) -> Self {
        Self {
            id: RecordId::derive("tejido cloned key v0", &[key.as_bytes()]),
            kind: AlertKind::ClonedKey,
            severity: Severity::Severe,
            urgency: Urgency::Immediate,
            certainty: Certainty::Likely,
            region: org.to_string(),
            org: org.to_string(),
            text: String::new(),
            expires_at: None,
            subject: Some(key),
            due: None,
        }
    }
}

/// An alert sealed to some people ([`crate::private::DuressAlert`]): every node holds and
/// replicates it, only its readers know what it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedAlertBody {
    /// [`SealedAlertBody::id_for`] the writing node and the sealed part: nobody can write
    /// another alert under it.
    pub id: RecordId,
    /// The region of the member it is about; names its document.
    pub region: String,
    /// The writing node's organisation (the member's): its admins may resolve it.
    pub org: String,
    /// The sealed alert.
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
}

impl SealedAlertBody {
    /// The id of the sealed alert that `node` writes with `sealed` as its sealed part.
    pub fn id_for(node: &PublicKey, sealed: &[u8]) -> RecordId {
        let digest = Sha256::digest(sealed);
        RecordId::derive("tejido sealed alert v1", &[node.as_bytes(), &digest])
    }
}

/// A check-in by the author. Every node reads when the next one is due (every node watches
/// for it); the status, note and code are sealed ([`crate::private::CheckinPrivate`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinBody {
    /// When the next check-in is due, if the member set one.
    pub next_due: Option<Timestamp>,
    /// The sealed [`crate::private::CheckinPrivate`].
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
}

/// The tag of a check-in code: a hash of the member's secret key and the code, so that it
/// reveals nothing without the key and the device need not store the code. Both the tag set
/// and the tag of each check-in's code are sealed to the member's organisation's nodes.
pub fn duress_tag(member: &SecretKey, code: &str) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(b"tejido duress tag v0");
    hasher.update(member.to_bytes());
    hasher.update(code.trim().as_bytes());
    let digest = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// A shelter's description; the newest one per shelter id wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShelterBody {
    /// Chosen at creation, kept by updates.
    pub id: RecordId,
    /// The organisation that runs it; only it may write.
    pub org: String,
    /// Display name.
    pub name: String,
    /// Region; also names its document.
    pub region: String,
    /// Places in all.
    pub capacity: u32,
    /// Services offered (psychosocial, medical, legal, ...).
    pub services: Vec<String>,
    /// Who it accepts (women, families, children, lgbtq, indigenous, ...).
    pub accepts: Vec<String>,
    /// How to reach it.
    pub contact: String,
    /// Whether it takes people.
    pub status: ShelterStatus,
}

/// How a bridge reached someone outside the network ([`Body::Notified`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// An email over SMTP.
    Email,
    /// An HTTP POST to a webhook.
    Webhook,
    /// A program the node ran (an SMS gateway, signal-cli, a Matrix client).
    Exec,
}

impl Channel {
    /// The text form used in config.toml and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
            Channel::Exec => "exec",
        }
    }
}

/// The last escalation tier: the whole network.
pub const MAX_TIER: u8 = 3;

/// The most alerts one delivery receipt names.
pub const MAX_HELD: usize = 256;

/// The largest sealed part of an event (a shelter request, a check-in, a sealed alert).
pub const MAX_SEALED_BYTES: usize = 6 * 1024;

/// A request for places at a shelter. The requester's own node writes it, so other nodes
/// learn only which organisation's node relayed it; who asked, for how many and why are in
/// `sealed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShelterRequestBody {
    /// [`ShelterRequestBody::id_for`] the writing node and the sealed part: nobody can write
    /// another request under it.
    pub id: RecordId,
    /// The shelter.
    pub shelter: RecordId,
    /// The shelter's organisation (its admins can read the request).
    pub org: String,
    /// The shelter's region (names the document).
    pub region: String,
    /// A [`ShelterRequestPayload`] sealed ([`crate::sealed`]) to the organisation's admins and
    /// the requester, with [`ShelterRequestBody::context`] as its context.
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
}

impl ShelterRequestBody {
    /// The id of the request that `node` writes with `sealed` as its sealed part.
    pub fn id_for(node: &PublicKey, sealed: &[u8]) -> RecordId {
        let digest = Sha256::digest(sealed);
        RecordId::derive("tejido shelter request v1", &[node.as_bytes(), &digest])
    }

    /// What the sealed payload is bound to: the shelter and the node that relays it.
    pub fn context(shelter: &RecordId, org: &str, node: &PublicKey) -> Vec<u8> {
        let mut out = b"tejido shelter request v1".to_vec();
        out.extend_from_slice(&shelter.0);
        out.extend_from_slice(node.as_bytes());
        out.extend_from_slice(org.as_bytes());
        out
    }
}

/// What a shelter request says, readable only by its recipients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShelterRequestPayload {
    /// Who asks.
    pub requester: PublicKey,
    /// Their display name.
    pub name: String,
    /// For how many people.
    pub people: u32,
    /// Anything the shelter should know.
    pub note: String,
    /// The requester's signature over [`ShelterRequestPayload::signed_message`], so that a
    /// node cannot make up a request in a member's name, nor relay it as its own.
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

impl ShelterRequestPayload {
    /// Signs a request as `requester`, to be relayed by `node`.
    pub fn sign(
        requester: &SecretKey,
        shelter: &RecordId,
        node: &PublicKey,
        name: &str,
        people: u32,
        note: &str,
    ) -> Self {
        let sig = requester
            .sign(&Self::signed_message(shelter, node, name, people, note))
            .to_vec();
        Self {
            requester: requester.public(),
            name: name.to_string(),
            people,
            note: note.to_string(),
            sig,
        }
    }

    /// The message the requester signs: every field, bound to the shelter and the relaying
    /// node.
    pub fn signed_message(
        shelter: &RecordId,
        node: &PublicKey,
        name: &str,
        people: u32,
        note: &str,
    ) -> Vec<u8> {
        postcard::to_stdvec(&(
            "tejido shelter request payload v1",
            shelter,
            node,
            name,
            people,
            note,
        ))
        .unwrap_or_default()
    }

    /// Seals this payload for a request to `shelter` of `org`, relayed by `node`, to
    /// `recipients` (the shelter organisation's admins and the requester). Returns the request
    /// that `node` writes.
    pub fn seal(
        &self,
        shelter: &RecordId,
        org: &str,
        region: &str,
        node: &PublicKey,
        recipients: &[PublicKey],
    ) -> Result<ShelterRequestBody, crate::sealed::SealError> {
        let plain = postcard::to_stdvec(self)
            .map_err(|e| crate::sealed::SealError::Malformed(e.to_string()))?;
        let sealed = crate::sealed::seal(
            &plain,
            recipients,
            &ShelterRequestBody::context(shelter, org, node),
        )?;
        Ok(ShelterRequestBody {
            id: ShelterRequestBody::id_for(node, &sealed),
            shelter: *shelter,
            org: org.to_string(),
            region: region.to_string(),
            sealed,
        })
    }

    /// Opens the sealed part of a request written by `node` with `me`: `None` if it is not
    /// sealed to `me` or is damaged. The signature is not checked here
    /// ([`ShelterRequestPayload::verify`]).
    pub fn open(request: &ShelterRequestBody, node: &PublicKey, me: &SecretKey) -> Option<Self> {
        let context = ShelterRequestBody::context(&request.shelter, &request.org, node);
        let plain = crate::sealed::open(&request.sealed, me, &context).ok()??;
        postcard::from_bytes(&plain).ok()
    }

    /// Whether the requester's signature holds for a request to `shelter` relayed by `node`.
    pub fn verify(&self, shelter: &RecordId, node: &PublicKey) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(self.sig.as_slice()) else {
            return false;
        };
        self.requester.verify(
            &Self::signed_message(shelter, node, &self.name, self.people, &self.note),
            &sig,
        )
    }
}

/// What an event says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Creates the network, its first organisation, node and admin (the author).
    Genesis {
        /// Network display name.
        network: String,
        /// Organisation slug.
        org: String,
        /// The first node.
        node: PublicKey,
        /// The admin's display name.
        admin_name: String,
        /// How many organisations must agree on a change to the network as a whole; `None`
        /// for the default: one while there are fewer than three, two from three on.
        consent: Option<u8>,
    },
    /// Proposes an organisation with its first admin: the author's organisation's approval,
    /// in effect once enough organisations approve ([`Body::Network`]).
    AddOrg {
        /// Organisation slug.
        org: String,
        /// The new organisation's admin.
        admin: PublicKey,
        /// The admin's display name.
        admin_name: String,
    },
    /// Adds a node to an organisation.
    AddNode {
        /// Organisation slug.
        org: String,
        /// The node's key (its libp2p identity).
        node: PublicKey,
        /// Where it listens, as multiaddrs.
        addrs: Vec<String>,
    },
    /// Adds a member to an organisation.
    AddMember {
        /// Organisation slug.
        org: String,
        /// The member's key.
        member: PublicKey,
        /// Display name.
        name: String,
        /// Role; fixed for the life of the key.
        role: Role,
        /// Home region (security contacts answer for it).
        region: Option<String>,
    },
    /// Revokes a member or node key: its events up to sequence number `last` still count,
    /// none after it, whatever their dates.
    Revoke {
        /// The revoked key.
        key: PublicKey,
        /// Why, for the record.
        reason: String,
        /// The last of the key's events that the revocation accepts (0: none).
        last: u64,
    },
    /// Creates an alert.
    Alert(Box<AlertBody>),
    /// Creates an alert sealed to some people (a duress alert).
    SealedAlert(SealedAlertBody),
    /// The author acknowledges an alert.
    Ack {
        /// Which alert.
        alert: RecordId,
    },
    /// Assigns an alert to a member.
    Assign {
        /// Which alert.
        alert: RecordId,
        /// Who answers for it.
        assignee: PublicKey,
    },
    /// Resolves an alert.
    Resolve {
        /// Which alert.
        alert: RecordId,
        /// How it ended.
        note: String,
        /// For a missed check-in resolved by a node: the member's later check-in, as signed
        /// bytes, which is what lets a node resolve it.
        #[serde(with = "serde_bytes")]
        checkin: Option<Vec<u8>>,
    },
    /// The author's organisation agrees to a change to the network as a whole; it is in
    /// effect once as many organisations as the genesis asks for agree.
    Network {
        /// The change.
        change: NetworkChange,
    },
    /// The author checks in.
    Checkin(CheckinBody),
    /// Creates or updates a shelter.
    Shelter(Box<ShelterBody>),
    /// People arrive at (positive) or leave (negative) a shelter.
    Occupancy {
        /// Which shelter.
        shelter: RecordId,
        /// The shelter's organisation (only it may count).
        org: String,
        /// The shelter's region (names the document).
        region: String,
        /// Change in occupancy.
        delta: i32,
    },
    /// The author's duress tag ([`duress_tag`]), sealed to their organisation's nodes
    /// ([`crate::private::seal_duress_tag`]). Every member sets one on joining (of a random
    /// code, when they choose none), so the roster does not say who has a duress code.
    DuressSet {
        /// The sealed tag.
        #[serde(with = "serde_bytes")]
        sealed: Vec<u8>,
    },
    /// A delivery receipt: the author node holds these alerts on its disk. It lives in the
    /// receipts document of the alerts' region and month ([`crate::ids::DocId::receipts_for`]).
    Held {
        /// The alerts, in increasing order, at most [`MAX_HELD`].
        alerts: Vec<RecordId>,
    },
    /// A request for places at a shelter, written by the requester's node.
    ShelterRequest(Box<ShelterRequestBody>),
    /// The shelter's organisation accepts or declines a request.
    ShelterDecision {
        /// Which request.
        request: RecordId,
        /// The shelter.
        shelter: RecordId,
        /// The shelter's organisation.
        org: String,
        /// The shelter's region (names the document).
        region: String,
        /// Accepted (true) or declined.
        accepted: bool,
    },
    /// An organisation declares a region it works in: alerts, receipts and shelters exist only
    /// for declared regions (and for each organisation's own name, the region of its members
    /// who have none), and a member's region is one their organisation declared.
    DeclareRegion {
        /// The declaring organisation.
        org: String,
        /// The region slug.
        region: String,
    },
    /// A bridge of the author node is about to notify (a claim), or did notify (delivered),
    /// someone outside the network of an alert: by email, a webhook, or a program such as an
    /// SMS gateway. It lives in the receipts document of the alert's region and month, beside
    /// the receipts. Nodes whose bridges bear the same name reach the same contact: the
    /// claims decide which of them delivers, and a delivery tells the others not to.
    Notified {
        /// Which alert.
        alert: RecordId,
        /// The bridge's name in the author node's config (a slug): the contact reached.
        bridge: String,
        /// How.
        channel: Channel,
        /// Delivered (true), or claimed: the author will deliver unless a node ahead of it in
        /// the alert's order does.
        delivered: bool,
    },
    /// A node escalates an alert that nobody acknowledged in time to the next tier of people:
    /// 1, the admins of the alert's organisation; 2, the security contacts of every
    /// organisation in its region; 3, the whole network. Any node may decide it when its
    /// deadline passes; the view counts the first event of each tier, in order.
    Escalate {
        /// Which alert.
        alert: RecordId,
        /// The tier reached, 1 to [`MAX_TIER`].
        tier: u8,
    },
    /// The member who raised a panic calls it off (a false alarm). It shows as cancelled, with
    /// the note, in every history. The sealed part ([`crate::private::CancelPrivate`]) holds
    /// the tag of the code the member typed: cancelled with their duress code, the panic looks
    /// cancelled everywhere but to the member's security contacts, whom the member's node
    /// tells with a duress alert.
    Cancel {
        /// Which alert.
        alert: RecordId,
        /// Why, for the record.
        note: String,
        /// The sealed [`crate::private::CancelPrivate`].
        #[serde(with = "serde_bytes")]
        sealed: Vec<u8>,
    },
    /// Adds a device to a person: a new key that is the same person as `person` (the key the
    /// person was added with), with their name, organisation, role and region. Written by an
    /// admin of the person's organisation; with `grant`, at the request of one of the
    /// person's devices (it counts only while that device's events do); with `replaces`, the
    /// person moves to the new key and the replaced key is revoked in this same event.
    AddDevice {
        /// The person's organisation.
        org: String,
        /// The person: the key of their `AddMember`.
        person: PublicKey,
        /// The new device's key.
        device: PublicKey,
        /// The signed [`Body::DeviceGrant`] of the device that asked for it.
        #[serde(with = "serde_bytes")]
        grant: Option<Vec<u8>>,
        /// A key of the person's that this event revokes, and the last of its events that
        /// still counts.
        replaces: Option<Box<Replaced>>,
    },
    /// One of a person's devices asks its node to admit another device of the same person,
    /// which will prove `identity` (an invite's one-time identity) before `expires`. Signed
    /// by the device and carried only inside the [`Body::AddDevice`] that answers it.
    DeviceGrant {
        /// The invite's one-time identity.
        identity: PublicKey,
        /// After this the node refuses the invite.
        expires: Timestamp,
    },
}

/// A key that an [`Body::AddDevice`] revokes as it adds the person's new device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaced {
    /// The revoked key.
    pub key: PublicKey,
    /// The last of its events that counts (0: none).
    pub last: u64,
}

impl Body {
    /// The id of the alert this event creates, plain or sealed.
    pub fn created_alert(&self) -> Option<RecordId> {
        match self {
            Body::Alert(a) => Some(a.id),
            Body::SealedAlert(a) => Some(a.id),
            _ => None,
        }
    }

    /// The grant inside an `AddDevice`, decoded: it was verified with the event that carries
    /// it (`check_device_fields`).
    pub fn device_grant(&self) -> Option<SignedEvent> {
        let Body::AddDevice {
            grant: Some(bytes), ..
        } = self
        else {
            return None;
        };
        SignedEvent::decode_trusted(bytes).ok()
    }
}

/// A change to the network as a whole, which no organisation makes alone once there are
/// three or more ([`crate::roster::Roster::needed`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkChange {
    /// Admit this organisation (an `AddOrg` names its first admin).
    Approve {
        /// Organisation slug.
        org: String,
    },
    /// Suspend this organisation: its nodes and admins count nowhere and nobody syncs with
    /// its nodes until it is reinstated; its members may still ask any node for help.
    Suspend {
        /// Organisation slug.
        org: String,
    },
    /// Lift a suspension.
    Reinstate {
        /// Organisation slug.
        org: String,
    },
    /// Remove this organisation for good: none of its keys counts any more.
    Remove {
        /// Organisation slug.
        org: String,
    },
}

impl std::fmt::Display for NetworkChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Approve { org } => write!(f, "admit {org}"),
            Self::Suspend { org } => write!(f, "suspend {org}"),
            Self::Reinstate { org } => write!(f, "reinstate {org}"),
            Self::Remove { org } => write!(f, "remove {org}"),
        }
    }
}

impl NetworkChange {
    /// The organisation the change is about.
    pub fn org(&self) -> &str {
        match self {
            Self::Approve { org }
            | Self::Suspend { org }
            | Self::Reinstate { org }
            | Self::Remove { org } => org,
        }
    }
}

/// An unsigned event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Who wrote it; the signature is checked against this key.
    pub author: PublicKey,
    /// When the author wrote it (author's clock).
    pub at: Timestamp,
    /// The author's count of events signed with this key, from 1: what a revocation names
    /// (every event after the one it accepts counts nowhere, whatever its date), and what
    /// gives a key used on two devices away (two events with one number).
    pub seq: u64,
    /// The document it belongs in; a copy found in any other document is invalid.
    pub doc: DocId,
    /// What it says.
    pub body: Body,
}

/// The content address of a signed event: SHA-256 of its encoding, truncated to 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    /// The id of the given signed bytes.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Self(out)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", &self.to_string()[..8])
    }
}

/// Why an event was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// Not a well-formed encoding.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// Larger than [`MAX_EVENT_BYTES`].
    #[error("event of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The signature does not match the author's key.
    #[error("bad signature")]
    BadSignature,
    /// A field breaks a rule that holds whoever the author is.
    #[error("invalid event: {0}")]
    Invalid(String),
}

/// The signed form of an event. Its two byte strings are read in place and written whole:
/// postcard gives a byte string the encoding it gives a `Vec<u8>` (the length, then the
/// bytes), so these are the bytes every version wrote, read without a copy byte by byte.
#[derive(Serialize, Deserialize)]
enum Envelope<'a> {
    V0 {
        #[serde(borrow)]
        payload: &'a [u8],
        #[serde(borrow)]
        sig: &'a [u8],
    },
}

/// The signed bytes of a payload and its signature.
fn encode_envelope(payload: &[u8], sig: &[u8; 64]) -> Result<Vec<u8>, VerifyError> {
    postcard::to_stdvec(&Envelope::V0 { payload, sig })
        .map_err(|e| VerifyError::Malformed(e.to_string()))
}

/// An event with its author's signature, in the form stored in documents and sent on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedEvent {
    event: Event,
    /// The signature; the signed bytes are not kept beside the decoded event (a document
    /// holds them already) but encoded again when asked for ([`SignedEvent::to_bytes`]),
    /// which gives the same bytes because `decode` accepts only the canonical encoding.
    sig: [u8; 64],
    id: EventId,
}

impl SignedEvent {
    /// Signs `event` with `key`; fails if the key is not the event's author or a field is
    /// out of bounds.
    pub fn sign(event: Event, key: &SecretKey) -> Result<Self, VerifyError> {
        if key.public() != event.author {
            return Err(VerifyError::Invalid("signing key is not the author".into()));
        }
        check_fields(&event)?;
        let payload =
            postcard::to_stdvec(&event).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let sig = key.sign(&payload);
        let bytes = encode_envelope(&payload, &sig)?;
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(VerifyError::TooLarge(bytes.len()));
        }
        let id = EventId::of(&bytes);
        Ok(Self { event, sig, id })
    }

    /// Decodes and verifies signed bytes: size, encoding, signature and field bounds. Roles
    /// and placement are checked by [`crate::roster::Roster::authorize`].
    pub fn decode(bytes: &[u8]) -> Result<Self, VerifyError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(VerifyError::TooLarge(bytes.len()));
        }
        let (envelope, rest): (Envelope, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(VerifyError::Malformed("trailing bytes".into()));
        }
        let Envelope::V0 { payload, sig } = envelope;
        let sig: [u8; 64] = sig
            .try_into()
            .map_err(|_| VerifyError::Malformed("signature length".into()))?;
        let (event, rest): (Event, &[u8]) = postcard::take_from_bytes(payload)
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(VerifyError::Malformed("trailing payload bytes".into()));
        }
        // postcard accepts over-long integer encodings; requiring the canonical encoding makes
        // the bytes, and so the id, of an event unique.
        let canonical_payload =
            postcard::to_stdvec(&event).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if canonical_payload != payload {
            return Err(VerifyError::Malformed("non-canonical encoding".into()));
        }
        // The same signed bytes checked before on this thread (an alert by gossip, then by
        // sync) verified then: `verify_cache`.
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if !crate::verify_cache::was_verified(&digest) {
            if !event.author.verify(payload, &sig) {
                return Err(VerifyError::BadSignature);
            }
            crate::verify_cache::mark_verified(digest);
        }
        let canonical = encode_envelope(payload, &sig)?;
        if canonical != bytes {
            return Err(VerifyError::Malformed("non-canonical encoding".into()));
        }
        check_fields(&event)?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Ok(Self {
            event,
            sig,
            id: EventId(id),
        })
    }

    /// Decodes bytes that were verified before they were stored (a document of this node),
    /// skipping the signature check and the check of canonical encoding (`decode` made both
    /// before the bytes were stored, and every data format since the first made it); the size
    /// and the encoding's shape are still checked.
    pub(crate) fn decode_trusted(bytes: &[u8]) -> Result<Self, VerifyError> {
        Self::decode_stored(bytes, EventId::of(bytes))
    }

    /// [`SignedEvent::decode_trusted`] for bytes stored under their id, which was checked to
    /// be theirs before they were stored: the id is taken as given, not hashed again.
    pub(crate) fn decode_stored(bytes: &[u8], id: EventId) -> Result<Self, VerifyError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(VerifyError::TooLarge(bytes.len()));
        }
        let envelope: Envelope =
            postcard::from_bytes(bytes).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let Envelope::V0 { payload, sig } = envelope;
        let sig: [u8; 64] = sig
            .try_into()
            .map_err(|_| VerifyError::Malformed("signature length".into()))?;
        let event: Event =
            postcard::from_bytes(payload).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        Ok(Self { event, sig, id })
    }

    /// The verified event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The signed bytes, encoded again from the event and its signature (about a
    /// microsecond; they are what `decode` was given, or what `sign` made).
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = postcard::to_stdvec(&self.event).expect("a decoded event encodes");
        encode_envelope(&payload, &self.sig).expect("a decoded event encodes")
    }

    /// Makes the event hold `doc` itself (a shared text) when it names that document, so that
    /// a document of 60,000 events holds its id once, not 60,000 times.
    pub(crate) fn share_doc(&mut self, doc: &DocId) {
        if self.event.doc == *doc {
            self.event.doc = doc.clone();
        }
    }

    /// The content address.
    pub fn id(&self) -> EventId {
        self.id
    }
}

impl fmt::Debug for SignedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedEvent")
            .field("id", &self.id)
            .field("event", &self.event)
            .finish()
    }
}

impl Serialize for SignedEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.to_bytes())
    }
}

impl<'de> Deserialize<'de> for SignedEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes_compat::ByteBuf = Deserialize::deserialize(d)?;
        SignedEvent::decode(&bytes.0).map_err(serde::de::Error::custom)
    }
}

mod serde_bytes_compat {
    //! Accepts bytes encoded either as a byte string or as a sequence of integers, so that
    //! signed events travel in both postcard and CBOR.
    use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

    pub(crate) struct ByteBuf(pub(crate) Vec<u8>);

    impl<'de> Deserialize<'de> for ByteBuf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = ByteBuf;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v.to_vec()))
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
                    let mut out = Vec::new();
                    while let Some(b) = seq.next_element::<u8>()? {
                        if out.len() >= super::MAX_EVENT_BYTES {
                            return Err(serde::de::Error::custom("event too large"));
                        }
                        out.push(b);
                    }
                    Ok(ByteBuf(out))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

fn check_text(what: &str, s: &str) -> Result<(), VerifyError> {
    if s.len() > MAX_TEXT_BYTES {
        return Err(VerifyError::Invalid(format!(
            "{what} longer than {MAX_TEXT_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_sealed(sealed: &[u8]) -> Result<(), VerifyError> {
    if sealed.is_empty() || sealed.len() > MAX_SEALED_BYTES {
        return Err(VerifyError::Invalid(format!(
            "a sealed part is 1 to {MAX_SEALED_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_slug(what: &'static str, s: &str) -> Result<(), VerifyError> {
    crate::ids::check_slug(what, s).map_err(|e| VerifyError::Invalid(e.to_string()))
}

/// An action on an alert or a receipt comes after the alert it is about, which was raised in
/// its document's month: nothing honest in a month's document is dated before the month.
/// There is no fixed bound after the month (an alert of March may be acknowledged in April, and
/// a node that was offline signs its receipts late); [`Event::check_clock`] bounds how far
/// ahead of a node's clock any event may be.
fn check_not_before_period(event: &Event) -> Result<(), VerifyError> {
    match event.doc.period_start() {
        Some(start) if event.at < start => Err(VerifyError::Invalid(format!(
            "event dated before the period of {}",
            event.doc
        ))),
        _ => Ok(()),
    }
}

/// How far ahead of a node's clock an event's time may be: an author's device clock may run a
/// little fast, but an event from further ahead would sort after everything written until then.
pub const MAX_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// An event dated more than [`MAX_CLOCK_SKEW_MS`] ahead of this node's clock.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("event dated {at} is more than five minutes ahead of this node's clock ({now}); check the device clock")]
pub struct AheadOfClock {
    /// The event's time.
    pub at: Timestamp,
    /// This node's time.
    pub now: Timestamp,
}

impl Event {
    /// Checks the event's time against this node's clock `now`: at most
    /// [`MAX_CLOCK_SKEW_MS`] ahead. Unlike the other checks this one depends on the node, so
    /// an event refused for it becomes acceptable once the clock catches up.
    pub fn check_clock(&self, now: Timestamp) -> Result<(), AheadOfClock> {
        if self.at > now.plus_ms(MAX_CLOCK_SKEW_MS) {
            return Err(AheadOfClock { at: self.at, now });
        }
        Ok(())
    }
}

/// Field bounds and placement rules that hold whoever the author is.
fn check_fields(event: &Event) -> Result<(), VerifyError> {
    let doc = &event.doc;
    let wrong_doc = || VerifyError::Invalid(format!("event does not belong in {doc}"));
    match &event.body {
        Body::Genesis {
            network,
            org,
            admin_name,
            ..
        } => {
            check_text("network", network)?;
            check_slug("org", org)?;
            check_text("name", admin_name)?;
            if *doc != DocId::roster() {
                return Err(wrong_doc());
            }
        }
        Body::AddOrg {
            org, admin_name, ..
        } => {
            check_slug("org", org)?;
            check_text("name", admin_name)?;
            if *doc != DocId::roster() {
                return Err(wrong_doc());
            }
        }
        Body::AddNode { org, addrs, .. } => {
            check_slug("org", org)?;
            if addrs.len() > 16 || addrs.iter().any(|a| a.len() > 256) {
                return Err(VerifyError::Invalid(
                    "too many or too long addresses".into(),
                ));
            }
            if *doc != DocId::roster() {
                return Err(wrong_doc());
            }
        }
        Body::AddMember {
            org, name, region, ..
        } => {
            check_slug("org", org)?;
            check_text("name", name)?;
            if let Some(region) = region {
                check_slug("region", region)?;
            }
            if *doc != DocId::roster() {
                return Err(wrong_doc());
            }
        }
        Body::Revoke { reason, .. } => {
            check_text("reason", reason)?;
            if *doc != DocId::roster() {
                return Err(wrong_doc());
            }
        }
        Body::DeclareRegion { org, region } => {
            check_slug("org", org)?;
            check_slug("region", region)?;
            if *doc != DocId::roster() {
                return Err(wrong_doc());
            }
        }
        Body::Network { change } => {
            check_slug("org", change.org())?;
            if *doc != DocId::roster() {
                return Err(wrong_doc());
            }
        }
        Body::Alert(alert) => {
            check_slug("region", &alert.region)?;
            check_slug("org", &alert.org)?;
            check_text("text", &alert.text)?;
            if *doc != DocId::alerts(&alert.region, event.at) {
                return Err(wrong_doc());
            }
            let expected = match (alert.kind, alert.subject, alert.due) {
                (AlertKind::Panic | AlertKind::Alert, None, None) => {
                    AlertBody::id_for(&event.author, event.at)
                }
                (AlertKind::MissedCheckin, Some(subject), Some(due)) => {
                    // Every field follows from the member and the due time; the roster checks
                    // the region and organisation. Nobody notices a miss before it is due.
                    let canonical =
                        AlertBody::missed_checkin(subject, &alert.org, &alert.region, due);
                    if **alert != canonical || event.at < due {
                        return Err(VerifyError::Invalid(
                            "a missed check-in alert is the one its member and due time make"
                                .into(),
                        ));
                    }
                    canonical.id
                }
                (AlertKind::ClonedKey, Some(subject), None) => {
                    let canonical = AlertBody::cloned_key(subject, &alert.org);
                    if **alert != canonical {
                        return Err(VerifyError::Invalid(
                            "a cloned-key alert is the one its key makes".into(),
                        ));
                    }
                    canonical.id
                }
                _ => {
                    return Err(VerifyError::Invalid(
                        "panics and alerts have no member and time; missed check-ins have \
                         both; duress alerts are sealed"
                            .into(),
                    ))
                }
            };
            if alert.id != expected {
                return Err(VerifyError::Invalid(
                    "an alert's id derives from its author and time (or its member and time)"
                        .into(),
                ));
            }
        }
        Body::SealedAlert(alert) => {
            check_slug("region", &alert.region)?;
            check_slug("org", &alert.org)?;
            check_sealed(&alert.sealed)?;
            if *doc != DocId::alerts(&alert.region, event.at) {
                return Err(wrong_doc());
            }
            if alert.id != SealedAlertBody::id_for(&event.author, &alert.sealed) {
                return Err(VerifyError::Invalid(
                    "a sealed alert's id derives from its node and sealed part".into(),
                ));
            }
        }
        Body::Ack { .. } | Body::Assign { .. } => {
            if doc.collection() != crate::ids::Collection::Alerts {
                return Err(wrong_doc());
            }
            check_not_before_period(event)?;
        }
        Body::Resolve { note, checkin, .. } => {
            check_text("note", note)?;
            if let Some(bytes) = checkin {
                let cited = SignedEvent::decode(bytes)?;
                if !matches!(cited.event().body, Body::Checkin(_)) {
                    return Err(VerifyError::Invalid("a resolve cites a check-in".into()));
                }
            }
            if doc.collection() != crate::ids::Collection::Alerts {
                return Err(wrong_doc());
            }
            check_not_before_period(event)?;
        }
        Body::Checkin(checkin) => {
            check_sealed(&checkin.sealed)?;
            if doc.collection() != crate::ids::Collection::Checkins
                || doc.period() != Some(event.at.month().as_str())
            {
                return Err(wrong_doc());
            }
        }
        Body::Shelter(shelter) => {
            check_slug("org", &shelter.org)?;
            check_slug("region", &shelter.region)?;
            check_text("name", &shelter.name)?;
            check_text("contact", &shelter.contact)?;
            if shelter.services.len() > 32 || shelter.accepts.len() > 32 {
                return Err(VerifyError::Invalid(
                    "too many services or accepted groups".into(),
                ));
            }
            for s in shelter.services.iter().chain(&shelter.accepts) {
                check_slug("tag", s)?;
            }
            if *doc != DocId::shelters(&shelter.region) {
                return Err(wrong_doc());
            }
        }
        Body::Occupancy { org, region, .. } => {
            check_slug("org", org)?;
            check_slug("region", region)?;
            if *doc != DocId::shelters(region) {
                return Err(wrong_doc());
            }
        }
        Body::DuressSet { sealed } => {
            check_sealed(sealed)?;
            if *doc != DocId::roster() {
                return Err(wrong_doc());
            }
        }
        Body::Held { alerts } => {
            if alerts.is_empty()
                || alerts.len() > MAX_HELD
                || alerts.windows(2).any(|w| w[0] >= w[1])
            {
                return Err(VerifyError::Invalid(format!(
                    "a receipt names 1 to {MAX_HELD} alerts in increasing order"
                )));
            }
            if doc.collection() != crate::ids::Collection::Receipts {
                return Err(wrong_doc());
            }
            check_not_before_period(event)?;
        }
        Body::Escalate { tier, .. } => {
            if !(1..=MAX_TIER).contains(tier) {
                return Err(VerifyError::Invalid(format!(
                    "an escalation tier is 1 to {MAX_TIER}"
                )));
            }
            if doc.collection() != crate::ids::Collection::Alerts {
                return Err(wrong_doc());
            }
            check_not_before_period(event)?;
        }
        Body::Cancel { note, sealed, .. } => {
            check_text("note", note)?;
            check_sealed(sealed)?;
            if doc.collection() != crate::ids::Collection::Alerts {
                return Err(wrong_doc());
            }
            check_not_before_period(event)?;
        }
        Body::Notified { bridge, .. } => {
            check_slug("bridge", bridge)?;
            if doc.collection() != crate::ids::Collection::Receipts {
                return Err(wrong_doc());
            }
            check_not_before_period(event)?;
        }
        Body::ShelterRequest(request) => {
            check_slug("org", &request.org)?;
            check_slug("region", &request.region)?;
            check_sealed(&request.sealed)?;
            if request.id != ShelterRequestBody::id_for(&event.author, &request.sealed) {
                return Err(VerifyError::Invalid(
                    "a shelter request's id derives from its node and sealed part".into(),
                ));
            }
            if *doc != DocId::shelters(&request.region) {
                return Err(wrong_doc());
            }
        }
        Body::ShelterDecision { org, region, .. } => {
            check_slug("org", org)?;
            check_slug("region", region)?;
            if *doc != DocId::shelters(region) {
                return Err(wrong_doc());
            }
        }
        Body::AddDevice { .. } | Body::DeviceGrant { .. } => {
            crate::roster::check_device_fields(event)?;
        }
    }
    Ok(())
}
