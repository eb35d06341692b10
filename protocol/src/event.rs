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
    /// Raised silently by a node when a member checks in with their duress code.
    Duress,
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
    /// Random for panics and alerts; derived from (member, due time) for missed check-ins so
    /// that nodes raising it concurrently create one alert.
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

    /// The id of the duress alert for `member`'s check-in at `at`: every node that receives
    /// that check-in derives the same id, so they raise one alert.
    pub fn duress_id(member: &PublicKey, at: Timestamp) -> RecordId {
        RecordId::derive(
            "tejido duress v0",
            &[member.as_bytes(), &at.0.to_le_bytes()],
        )
    }

    /// The id of the missed check-in alert for `member`'s check-in due at `due`: every node
    /// that notices derives the same id, so concurrent raises merge into one alert.
    pub fn missed_checkin_id(member: &PublicKey, due: Timestamp) -> RecordId {
        RecordId::derive(
            "tejido missed check-in v0",
            &[member.as_bytes(), &due.0.to_le_bytes()],
        )
    }
}

/// A check-in by the author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinBody {
    /// How the member is.
    pub status: CheckinStatus,
    /// Free text.
    pub note: String,
    /// When the next check-in is due, if the member set one.
    pub next_due: Option<Timestamp>,
    /// The tag of the code the member typed, if any ([`duress_tag`]); nodes compare it with
    /// the member's duress tag. A normal code and the duress code look alike on the device.
    pub code_tag: Option<[u8; 16]>,
}

/// The tag of a check-in code: a hash of the member's secret key and the code, so that it
/// reveals nothing without the key and the device need not store the code.
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

/// The most alerts one delivery receipt names.
pub const MAX_HELD: usize = 256;

/// The largest sealed part of a shelter request.
pub const MAX_SEALED_BYTES: usize = 6 * 1024;

/// A request for places at a shelter. Its node writes it, so other nodes learn only which
/// organisation's node relayed it; who asked, for how many and why are in `sealed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShelterRequestBody {
    /// Chosen by the requester; decisions refer to it.
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
    /// What the sealed payload is bound to: it cannot be moved to another request.
    pub fn context(id: &RecordId, shelter: &RecordId, org: &str) -> Vec<u8> {
        let mut out = b"tejido shelter request v0".to_vec();
        out.extend_from_slice(&id.0);
        out.extend_from_slice(&shelter.0);
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
    /// node cannot make up a request in a member's name.
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

impl ShelterRequestPayload {
    /// Signs a request as `requester`.
    pub fn sign(
        requester: &SecretKey,
        id: &RecordId,
        shelter: &RecordId,
        name: &str,
        people: u32,
        note: &str,
    ) -> Self {
        let sig = requester
            .sign(&Self::signed_message(id, shelter, name, people, note))
            .to_vec();
        Self {
            requester: requester.public(),
            name: name.to_string(),
            people,
            note: note.to_string(),
            sig,
        }
    }

    /// The message the requester signs: every field, bound to the request and the shelter.
    pub fn signed_message(
        id: &RecordId,
        shelter: &RecordId,
        name: &str,
        people: u32,
        note: &str,
    ) -> Vec<u8> {
        postcard::to_stdvec(&(
            "tejido shelter request payload v0",
            id,
            shelter,
            name,
            people,
            note,
        ))
        .unwrap_or_default()
    }

    /// Seals this payload for `request` to `recipients` (the shelter organisation's admins
    /// and the requester).
    pub fn seal(
        &self,
        id: &RecordId,
        shelter: &RecordId,
        org: &str,
        recipients: &[PublicKey],
    ) -> Result<Vec<u8>, crate::sealed::SealError> {
        let plain = postcard::to_stdvec(self)
            .map_err(|e| crate::sealed::SealError::Malformed(e.to_string()))?;
        crate::sealed::seal(
            &plain,
            recipients,
            &ShelterRequestBody::context(id, shelter, org),
        )
    }

    /// Opens a request's sealed part with `me`: `None` if it is not sealed to `me` or is
    /// damaged. The signature is not checked here ([`ShelterRequestPayload::verify`]).
    pub fn open(request: &ShelterRequestBody, me: &SecretKey) -> Option<Self> {
        let context = ShelterRequestBody::context(&request.id, &request.shelter, &request.org);
        let plain = crate::sealed::open(&request.sealed, me, &context).ok()??;
        postcard::from_bytes(&plain).ok()
    }

    /// Whether the requester's signature holds for this request.
    pub fn verify(&self, id: &RecordId, shelter: &RecordId) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(self.sig.as_slice()) else {
            return false;
        };
        self.requester.verify(
            &Self::signed_message(id, shelter, &self.name, self.people, &self.note),
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
    },
    /// Adds an organisation with its first admin.
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
    /// Revokes a member or node key from `at` on.
    Revoke {
        /// The revoked key.
        key: PublicKey,
        /// Why, for the record.
        reason: String,
    },
    /// Creates an alert.
    Alert(AlertBody),
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
    },
    /// The author checks in.
    Checkin(CheckinBody),
    /// Creates or updates a shelter.
    Shelter(ShelterBody),
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
    /// The author's duress tag ([`duress_tag`]); kept in the roster so every node knows it.
    DuressSet {
        /// The tag.
        tag: [u8; 16],
    },
    /// A delivery receipt: the author node holds these alerts on its disk. It lives in the
    /// receipts document of the alerts' region and month ([`crate::ids::DocId::receipts_for`]).
    Held {
        /// The alerts, in increasing order, at most [`MAX_HELD`].
        alerts: Vec<RecordId>,
    },
    /// A request for places at a shelter, written by the requester's node.
    ShelterRequest(ShelterRequestBody),
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
}

/// An unsigned event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Who wrote it; the signature is checked against this key.
    pub author: PublicKey,
    /// When the author wrote it (author's clock).
    pub at: Timestamp,
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

#[derive(Serialize, Deserialize)]
enum Envelope {
    V0 { payload: Vec<u8>, sig: Vec<u8> },
}

/// An event with its author's signature, in the form stored in documents and sent on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedEvent {
    event: Event,
    bytes: Vec<u8>,
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
        let sig = key.sign(&payload).to_vec();
        let bytes = postcard::to_stdvec(&Envelope::V0 { payload, sig })
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(VerifyError::TooLarge(bytes.len()));
        }
        let id = EventId::of(&bytes);
        Ok(Self { event, bytes, id })
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
        let (event, rest): (Event, &[u8]) = postcard::take_from_bytes(&payload)
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
        if !event.author.verify(&payload, &sig) {
            return Err(VerifyError::BadSignature);
        }
        let canonical = postcard::to_stdvec(&Envelope::V0 {
            payload,
            sig: sig.to_vec(),
        })
        .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if canonical != bytes {
            return Err(VerifyError::Malformed("non-canonical encoding".into()));
        }
        check_fields(&event)?;
        Ok(Self {
            event,
            bytes: bytes.to_vec(),
            id: EventId::of(bytes),
        })
    }

    /// Decodes bytes that were verified before they were stored (a document of this node),
    /// skipping the signature check; bounds and encoding are still checked.
    pub(crate) fn decode_trusted(bytes: &[u8]) -> Result<Self, VerifyError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(VerifyError::TooLarge(bytes.len()));
        }
        let envelope: Envelope =
            postcard::from_bytes(bytes).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let Envelope::V0 { payload, .. } = envelope;
        let event: Event =
            postcard::from_bytes(&payload).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        Ok(Self {
            event,
            bytes: bytes.to_vec(),
            id: EventId::of(bytes),
        })
    }

    /// The verified event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The signed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
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
        s.serialize_bytes(&self.bytes)
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
        Body::Alert(alert) => {
            check_slug("region", &alert.region)?;
            check_slug("org", &alert.org)?;
            check_text("text", &alert.text)?;
            if *doc != DocId::alerts(&alert.region, event.at) {
                return Err(wrong_doc());
            }
            let about_member = matches!(alert.kind, AlertKind::MissedCheckin | AlertKind::Duress);
            if about_member != alert.subject.is_some() || about_member != alert.due.is_some() {
                return Err(VerifyError::Invalid(
                    "a member and a time go with missed check-ins and duress alerts only".into(),
                ));
            }
            let expected = match (alert.kind, alert.subject, alert.due) {
                (AlertKind::MissedCheckin, Some(subject), Some(due)) => {
                    AlertBody::missed_checkin_id(&subject, due)
                }
                (AlertKind::Duress, Some(subject), Some(at)) => AlertBody::duress_id(&subject, at),
                _ => AlertBody::id_for(&event.author, event.at),
            };
            if alert.id != expected {
                return Err(VerifyError::Invalid(
                    "an alert's id derives from its author and time (or its member and time)"
                        .into(),
                ));
            }
        }
        Body::Ack { .. } | Body::Assign { .. } => {
            if doc.collection() != crate::ids::Collection::Alerts {
                return Err(wrong_doc());
            }
            check_not_before_period(event)?;
        }
        Body::Resolve { note, .. } => {
            check_text("note", note)?;
            if doc.collection() != crate::ids::Collection::Alerts {
                return Err(wrong_doc());
            }
            check_not_before_period(event)?;
        }
        Body::Checkin(checkin) => {
            check_text("note", &checkin.note)?;
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
        Body::DuressSet { .. } => {
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
        Body::ShelterRequest(request) => {
            check_slug("org", &request.org)?;
            check_slug("region", &request.region)?;
            if request.sealed.is_empty() || request.sealed.len() > MAX_SEALED_BYTES {
                return Err(VerifyError::Invalid(format!(
                    "the sealed part is 1 to {MAX_SEALED_BYTES} bytes"
                )));
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
    }
    Ok(())
}
