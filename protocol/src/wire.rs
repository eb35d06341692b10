//! Messages on the wire: member CLI to node (`/tejido/client/1`), node to node
//! (`/tejido/sync/1`), and invite codes. Every enum that crosses the wire is versioned.

use serde::{Deserialize, Serialize};

use crate::event::{EventId, Role, SignedEvent};
use crate::ids::{DocId, PublicKey, SecretKey, Timestamp};
use crate::view::{AlertView, CheckinView, ShelterRequestView, ShelterView};

/// The stream protocol members' CLIs speak to nodes.
pub const CLIENT_PROTOCOL: &str = "/tejido/client/1";
/// The stream protocol nodes sync documents over.
pub const SYNC_PROTOCOL: &str = "/tejido/sync/1";

/// Largest request either protocol accepts.
pub const MAX_REQUEST_BYTES: u64 = 17 * 1024 * 1024;
/// Largest response either protocol accepts.
pub const MAX_RESPONSE_BYTES: u64 = 17 * 1024 * 1024;

/// What an invite admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteKind {
    /// A member of the inviting organisation.
    Member,
    /// A node of a new organisation.
    Node,
    /// A further device of a person already in the network (`tejido device add`, or an
    /// admin's `member move`): it joins as that person.
    Device,
}

/// The one-time code an admin hands to a newcomer. Its secret derives a one-time libp2p
/// identity that the inviting node admits until the code is used or expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteCode {
    /// Version 0.
    V0 {
        /// What it admits.
        kind: InviteKind,
        /// The inviting node.
        node: PublicKey,
        /// Where it listens.
        addrs: Vec<String>,
        /// The secret the one-time identity derives from.
        secret: [u8; 32],
        /// After this the node refuses the code.
        expires: Timestamp,
    },
}

/// The text prefix of invite codes.
const INVITE_PREFIX: &str = "tj0";

impl InviteCode {
    /// The one-time identity derived from the code's secret.
    pub fn identity(&self) -> SecretKey {
        let InviteCode::V0 { secret, .. } = self;
        SecretKey::derive("tejido invite identity v0", secret)
    }

    /// The message a newcomer signs with their own key to prove they hold it.
    pub fn proof_message(&self, newcomer: &PublicKey) -> Vec<u8> {
        redeem_proof_message(&self.identity().public(), newcomer)
    }

    /// Text form: `tj0` then lowercase base32.
    pub fn encode(&self) -> String {
        let bytes = postcard::to_stdvec(self).unwrap_or_default();
        format!(
            "{INVITE_PREFIX}{}",
            data_encoding::BASE32_NOPAD
                .encode(&bytes)
                .to_ascii_lowercase()
        )
    }

    /// Parses the text form, ignoring surrounding whitespace and case.
    pub fn decode(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let body = text
            .get(..INVITE_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(INVITE_PREFIX))
            .map(|_| &text[INVITE_PREFIX.len()..])
            .ok_or("not a Tejido invite code")?;
        if body.len() > 4096 {
            return Err("invite code too long".into());
        }
        let bytes = data_encoding::BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| "invite code is damaged (not base32)")?;
        let code: InviteCode =
            postcard::from_bytes(&bytes).map_err(|_| "invite code is damaged")?;
        let InviteCode::V0 { addrs, .. } = &code;
        if addrs.len() > 16 || addrs.iter().any(|a| a.len() > 256) {
            return Err("invite code has too many addresses".into());
        }
        Ok(code)
    }
}

/// The message a newcomer signs to bind their key to the invite identity `identity`.
pub fn redeem_proof_message(identity: &PublicKey, newcomer: &PublicKey) -> Vec<u8> {
    let mut msg = b"tejido redeem v0".to_vec();
    msg.extend_from_slice(identity.as_bytes());
    msg.extend_from_slice(newcomer.as_bytes());
    msg
}

/// Who a member is, as their node's roster says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Member key.
    pub key: PublicKey,
    /// Display name.
    pub name: String,
    /// Organisation.
    pub org: String,
    /// Role.
    pub role: Role,
    /// Home region.
    pub region: Option<String>,
    /// Who may read the private part of their check-ins
    /// ([`crate::roster::Roster::checkin_readers`]).
    #[serde(default)]
    pub checkin_readers: Vec<PublicKey>,
    /// Their organisation's nodes, which alone read their duress tag.
    #[serde(default)]
    pub org_nodes: Vec<PublicKey>,
    /// The person this key is a device of (the key they were added with).
    #[serde(default)]
    pub person: Option<PublicKey>,
}

/// A node a CLI can talk to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeContact {
    /// Node key (libp2p identity).
    pub key: PublicKey,
    /// Multiaddrs.
    pub addrs: Vec<String>,
}

/// A member CLI's request to a node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ClientRequest {
    /// Version 0.
    V0(ClientRequestV0),
}

/// Version 0 of [`ClientRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ClientRequestV0 {
    /// Sent from an invite's one-time identity: register `member` (proof: their signature over
    /// [`InviteCode::proof_message`]).
    Redeem {
        /// The newcomer's key.
        member: PublicKey,
        /// Signature by `member`.
        #[serde(with = "serde_bytes")]
        proof: Vec<u8>,
    },
    /// Sent from a node invite's one-time identity: admit a new organisation with its node.
    /// `add_node` is the `AddNode` event signed by the new organisation's admin.
    RedeemNode {
        /// The new node's key.
        node: PublicKey,
        /// The new organisation's slug.
        org: String,
        /// The new organisation's admin key.
        admin: PublicKey,
        /// Signature by `node` over [`InviteCode::proof_message`].
        #[serde(with = "serde_bytes")]
        proof: Vec<u8>,
        /// `AddNode { org, node, addrs }` signed by `admin`.
        add_node: Box<SignedEvent>,
    },
    /// Store signed events written by the requester.
    Submit {
        /// The events; each must be authored by the requester.
        events: Vec<SignedEvent>,
    },
    /// The requester's profile and the nodes of the network.
    Whoami,
    /// Alerts, newest first.
    Alerts {
        /// Only this region.
        region: Option<String>,
        /// Only unresolved.
        open_only: bool,
    },
    /// Latest check-ins.
    Checkins {
        /// Only overdue ones.
        overdue_only: bool,
    },
    /// Shelters.
    Shelters {
        /// Only this region.
        region: Option<String>,
        /// Only with free places.
        available_only: bool,
    },
    /// Regions and who to call in each.
    Directory {
        /// Only this region.
        region: Option<String>,
    },
    /// Relay a sealed shelter request: the node writes it under its own key, so that other
    /// nodes do not learn which member asked.
    RequestShelter {
        /// The request, sealed by the requester.
        request: crate::event::ShelterRequestBody,
    },
    /// Every shelter request (sealed) with its decision.
    ShelterRequests,
    /// Hold an invite for another device of the requester's person: `grant` is a
    /// [`crate::event::Body::DeviceGrant`] signed by the requester, naming the invite's
    /// one-time identity (derived from a secret the node never sees). Answered `Stored`.
    InviteDevice {
        /// The signed grant.
        grant: Box<SignedEvent>,
    },
}

/// Errors a node reports to a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The request was malformed or invalid.
    BadRequest,
    /// The requester may not do this.
    Forbidden,
    /// No such record.
    NotFound,
    /// The node failed.
    Internal,
}

/// A node's reply to a [`ClientRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ClientResponse {
    /// Version 0.
    V0(ClientResponseV0),
}

/// Version 0 of [`ClientResponse`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ClientResponseV0 {
    /// Registered or recognised.
    Profile {
        /// Who the requester is.
        profile: Profile,
        /// Nodes of the network.
        nodes: Vec<NodeContact>,
    },
    /// A node was admitted: the network's roster document, in automerge's format.
    Network {
        /// The roster document.
        #[serde(with = "serde_bytes")]
        roster: Vec<u8>,
    },
    /// The events are durably stored by the node (flushed to disk).
    Stored {
        /// The node that stored them.
        node: PublicKey,
        /// Their ids.
        ids: Vec<EventId>,
    },
    /// Alerts.
    Alerts(Vec<AlertView>),
    /// Check-ins.
    Checkins(Vec<CheckinView>),
    /// Shelters.
    Shelters(Vec<ShelterView>),
    /// The directory.
    Directory(Vec<crate::view::DirectoryEntry>),
    /// Shelter requests.
    ShelterRequests(Vec<ShelterRequestView>),
    /// Refused.
    Error {
        /// Kind.
        kind: ErrorKind,
        /// One line for the user.
        message: String,
    },
}

/// What a node sends another over [`SYNC_PROTOCOL`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SyncRequest {
    /// Version 0.
    V0(SyncRequestV0),
}

/// Version 0 of [`SyncRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SyncRequestV0 {
    /// The documents the sender has and their heads, sent on connect and as anti-entropy.
    Summary {
        /// Documents and heads.
        docs: Vec<DocSummary>,
        /// The sender's clock when it sent this, so that each side knows how far apart their
        /// clocks are (`tejido doctor`); absent from nodes that predate it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        now: Option<Timestamp>,
    },
    /// One automerge sync message for one document.
    Sync {
        /// The document.
        doc: DocId,
        /// The automerge sync message.
        #[serde(with = "serde_bytes")]
        msg: Vec<u8>,
    },
}

/// A document and its heads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocSummary {
    /// The document.
    pub doc: DocId,
    /// Its automerge heads (32-byte hashes).
    pub heads: Vec<[u8; 32]>,
}

/// The reply to a [`SyncRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SyncResponse {
    /// Version 0.
    V0(SyncResponseV0),
}

/// Version 0 of [`SyncResponse`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SyncResponseV0 {
    /// Acknowledges a summary.
    Summary {
        /// The replier's documents and heads.
        docs: Vec<DocSummary>,
        /// The replier's clock when it answered (see the request's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        now: Option<Timestamp>,
    },
    /// The replier's next sync message for the document, if any.
    Sync {
        /// The document.
        doc: DocId,
        /// The automerge sync message, if there is more to say.
        #[serde(with = "serde_bytes")]
        msg: Option<Vec<u8>>,
    },
    /// The message was refused; nothing of it was kept.
    Refused {
        /// Why.
        reason: String,
    },
}
