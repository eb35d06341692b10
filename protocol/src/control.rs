//! The operator API, spoken as one JSON request and one JSON response per line over the node's
//! Unix socket (`DATA_DIR/tejidod.sock`, mode 0600).

use serde::{Deserialize, Serialize};

use crate::event::Role;
use crate::view::{AlertView, CheckinView, ShelterView};

/// An operator request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// Node status.
    Status,
    /// Create a one-time invite for a member of this node's organisation.
    InviteMember {
        /// Display name.
        name: String,
        /// Role.
        role: Role,
        /// Home region.
        region: Option<String>,
        /// Validity in seconds.
        ttl_secs: u64,
    },
    /// Create a one-time invite for another organisation's node.
    InviteNode {
        /// Validity in seconds.
        ttl_secs: u64,
    },
    /// Join the network of the node that made `code` (a node invite). Only a node with no
    /// members or records of its own can join.
    JoinNetwork {
        /// The invite code.
        code: String,
    },
    /// Trusted nodes, connected or not.
    Peers,
    /// Declare a region this node's organisation works in (alerts, receipts and shelters
    /// exist only for declared regions).
    DeclareRegion {
        /// The region slug.
        region: String,
    },
    /// Revoke a member or node key of this node's organisation, network-wide.
    Revoke {
        /// The key.
        key: String,
        /// Why, for the record.
        reason: String,
        /// Revoke every device of the person the key is a device of.
        #[serde(default)]
        person: bool,
    },
    /// Move a person of this node's organisation (by name or by any key of theirs) to a new
    /// device: an invite that the new device redeems as that same person, revoking the
    /// replaced key in the same roster event.
    MoveMember {
        /// The person's name, or the key to replace.
        member: String,
        /// Validity in seconds.
        ttl_secs: u64,
    },
    /// Agree, as this node's organisation, to a change to the network as a whole: admitting,
    /// suspending, reinstating or removing an organisation. In effect once enough
    /// organisations agree.
    Network {
        /// The change.
        change: crate::event::NetworkChange,
    },
    /// The network's organisations and the changes waiting for agreement.
    Orgs,
    /// The roster event that `request` (a revocation, a region, a change to the network)
    /// would make, unsigned, for the operator to sign with an admin key kept off the node.
    Draft {
        /// The admin key that will sign it.
        admin: String,
        /// The request.
        request: Box<Request>,
    },
    /// Store a roster event signed off the node (base64 of the signed bytes), with every
    /// check an event gets.
    SubmitEvent {
        /// The signed event.
        event: String,
    },
    /// Hand over the admin key and delete it from the node, which runs on without it
    /// (roster changes are then signed with `tejido --admin-key`).
    TakeAdminKey,
    /// Documents with their heads and sizes.
    Docs,
    /// A sneakernet bundle of every document's events, encrypted to the given nodes (every
    /// other trusted node when empty) and signed by this node.
    Export {
        /// Node keys.
        for_nodes: Vec<String>,
        /// Only what was added since an earlier bundle (its id) or since a node's last known
        /// heads (its key).
        since: Option<String>,
    },
    /// Verify and apply a bundle, with the same checks as sync; all or nothing.
    Import {
        /// The bundle, base64.
        bundle: String,
    },
    /// One document in automerge's binary format: its records as plain automerge values
    /// (strings, numbers, maps and lists) beside each event's signed bytes, or with `raw`
    /// the document as nodes replicate it (event ids to signed bytes only).
    ExportDoc {
        /// Document id.
        doc: String,
        /// The replicated document itself.
        #[serde(default)]
        raw: bool,
    },
    /// A backup of this node (keys, configuration, every document and the store's other
    /// entries), sealed under `passphrase` (Argon2id and ChaCha20-Poly1305), as a file.
    Backup {
        /// At least 8 characters.
        passphrase: String,
    },
    /// What usually goes wrong, for `tejido doctor`.
    Doctor,
    /// Alerts.
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
    /// Members of the network.
    Members,
    /// Send a test message through every bridge, or the one named, and say what happened.
    BridgeTest {
        /// Only this bridge.
        name: Option<String>,
    },
    /// Destroy this node's keys and data, then stop.
    Wipe,
    /// Stop the node.
    Shutdown,
}

/// Node status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The node's key.
    pub node_id: String,
    /// The node's libp2p peer id (the same key in libp2p's form), for `/p2p/` addresses.
    pub peer_id: String,
    /// Its organisation.
    pub org: String,
    /// The network's name.
    pub network: Option<String>,
    /// Where it listens.
    pub listen_addrs: Vec<String>,
    /// The addresses the roster holds for this node (what other nodes dial).
    #[serde(default)]
    pub announced_addrs: Vec<String>,
    /// Trusted peers connected now.
    pub connected_peers: Vec<String>,
    /// Number of documents.
    pub documents: usize,
    /// Alerts (all, any status).
    pub alerts: usize,
    /// Open alerts.
    pub open_alerts: usize,
    /// Shelters.
    pub shelters: usize,
    /// Check-in events.
    pub checkins: usize,
    /// Members in the roster.
    pub members: usize,
    /// Nodes in the roster.
    pub nodes: usize,
    /// Connections closed because the peer is not in the roster.
    pub refused_connections: u64,
    /// Events or sync messages refused as invalid.
    pub rejected_changes: u64,
    /// Gossiped alerts accepted (shown at once, forwarded).
    #[serde(default)]
    pub gossip_accepted: u64,
    /// Gossiped messages refused (forged, out of role, misplaced): dropped, never forwarded.
    #[serde(default)]
    pub gossip_rejected: u64,
    /// Client requests refused by the per-peer rate limit.
    pub throttled_requests: u64,
    /// Faults counted against peer nodes since start.
    #[serde(default)]
    pub peer_faults: u64,
    /// Peer nodes suspended now after repeated faults.
    #[serde(default)]
    pub suspended_peers: usize,
    /// Organisations, nodes and admins that appeared in the roster since this node started,
    /// newest last (at most 64): whoever holds an admin key can add them, so the operator
    /// should know.
    #[serde(default)]
    pub roster_news: Vec<String>,
    /// Where Prometheus metrics are served, if they are.
    pub metrics_addr: Option<String>,
    /// Size of the store on disk.
    pub store_bytes: u64,
    /// The node's bridges, with their deliveries and failures since start.
    #[serde(default)]
    pub bridges: Vec<BridgeStatus>,
}

/// A bridge's figures (`config.toml`'s `[[bridge]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeStatus {
    /// Its name.
    pub name: String,
    /// email, webhook or exec.
    pub kind: crate::event::Channel,
    /// Alerts it delivered since the node started.
    pub delivered: u64,
    /// Attempts that failed since the node started (each is retried).
    pub failed: u64,
    /// Notifications it did not send because another node of the organisation had, or the
    /// alert was answered or resolved first.
    pub skipped: u64,
    /// Notifications waiting in the outbox (survive restarts).
    pub pending: usize,
    /// Attempts already made for the waiting notifications (recorded in the outbox).
    pub pending_attempts: u64,
    /// Why the latest failed attempt among the waiting notifications failed.
    pub last_error: Option<String>,
}

/// What `bridge test` found for one bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeTestResult {
    /// The bridge.
    pub name: String,
    /// email, webhook or exec.
    pub kind: crate::event::Channel,
    /// Whether the message was delivered.
    pub ok: bool,
    /// Why not, when it was not.
    pub error: Option<String>,
}

/// What a node knows of what usually goes wrong, for `tejido doctor` (which adds what it sees
/// of the data directory itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doctor {
    /// The node's key.
    pub node_id: String,
    /// Its organisation.
    pub org: String,
    /// The node's clock (RFC 3339) when it answered.
    pub now: String,
    /// Where it listens.
    pub listen_addrs: Vec<String>,
    /// The addresses the roster holds for this node.
    pub announced_addrs: Vec<String>,
    /// Every other trusted (not revoked) node of the roster.
    pub peers: Vec<DoctorPeer>,
    /// Size of the store on disk.
    pub store_bytes: u64,
    /// Free space for the node's user on the data directory's file system.
    pub disk_free_bytes: Option<u64>,
    /// Size of that file system.
    pub disk_total_bytes: Option<u64>,
    /// Whether the data directory is encrypted at rest.
    pub encrypted_at_rest: bool,
    /// Alert bridges configured (`[[bridge]]` in config.toml), one line each.
    pub bridges: Vec<String>,
    /// What in the configuration deserves a second look, one line each.
    pub config_warnings: Vec<String>,
    /// The data format of the data directory.
    pub data_format: u32,
}

/// A trusted node as doctor sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorPeer {
    /// Key.
    pub key: String,
    /// Organisation.
    pub org: String,
    /// Announced addresses.
    pub addrs: Vec<String>,
    /// How it is reached now: `direct`, `relayed` or `hole-punched`; none when it is not.
    pub reached: Option<String>,
    /// RFC 3339 time of the last sync message exchanged since this node started.
    pub last_sync: Option<String>,
    /// How far its clock is ahead of this node's (negative: behind), in ms, from its last
    /// summary.
    pub clock_offset_ms: Option<i64>,
    /// Suspended after repeated faults.
    pub suspended: bool,
}

/// A member as the operator sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Organisation.
    pub org: String,
    /// Role.
    pub role: Role,
    /// Region.
    pub region: Option<String>,
    /// Whether revoked.
    pub revoked: bool,
    /// Whether the key was seen in use on two devices (two different events under one
    /// sequence number).
    #[serde(default)]
    pub cloned: bool,
    /// The person's devices that are not revoked (`key` is the person: the key they were
    /// added with, revoked or not); `revoked` means none is left.
    #[serde(default)]
    pub devices: Vec<String>,
}

/// An organisation as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgInfo {
    /// Slug.
    pub org: String,
    /// "active", "suspended" or "removed".
    pub status: String,
    /// Its nodes (not revoked).
    pub nodes: usize,
    /// Its admins (not revoked).
    pub admins: usize,
}

/// A change to the network waiting for agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    /// The change.
    pub change: crate::event::NetworkChange,
    /// The organisations (in good standing) that agreed.
    pub agreed: Vec<String>,
    /// How many must.
    pub needed: usize,
}

/// A trusted node as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Key.
    pub key: String,
    /// Organisation.
    pub org: String,
    /// Announced addresses.
    pub addrs: Vec<String>,
    /// Connected now.
    pub connected: bool,
    /// The remote addresses of the open connections (a `/p2p-circuit` one goes through a
    /// relay).
    #[serde(default)]
    pub connections: Vec<String>,
    /// RFC 3339 time of the last sync message exchanged.
    pub last_sync: Option<String>,
    /// Whether revoked.
    pub revoked: bool,
    /// Faults counted against the node since this node started (invalid sync messages,
    /// contained crashes).
    #[serde(default)]
    pub faults: u64,
    /// RFC 3339 time until which the node is suspended after repeated faults.
    #[serde(default)]
    pub suspended_until: Option<String>,
}

/// A document as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocInfo {
    /// Document id.
    pub doc: String,
    /// Automerge heads, hex, sorted.
    pub heads: Vec<String>,
    /// Number of events.
    pub events: usize,
}

/// An operator response.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Response {
    /// Node status.
    Status(Box<Status>),
    /// What doctor checks.
    Doctor(Box<Doctor>),
    /// An invite code.
    Invite {
        /// The code.
        code: String,
        /// RFC 3339.
        expires_at: String,
    },
    /// Alerts.
    Alerts {
        /// The alerts.
        alerts: Vec<AlertView>,
    },
    /// Check-ins.
    Checkins {
        /// The check-ins.
        checkins: Vec<CheckinView>,
    },
    /// Shelters.
    Shelters {
        /// The shelters.
        shelters: Vec<ShelterView>,
    },
    /// Members.
    Members {
        /// The members.
        members: Vec<MemberInfo>,
    },
    /// An unsigned event to sign ([`Request::Draft`]).
    Draft {
        /// The event.
        event: crate::event::Event,
    },
    /// Organisations and the changes waiting for agreement.
    Orgs {
        /// The organisations.
        orgs: Vec<OrgInfo>,
        /// Changes to the network not in effect yet.
        pending: Vec<PendingChange>,
    },
    /// Trusted nodes.
    Peers {
        /// The nodes.
        peers: Vec<PeerInfo>,
    },
    /// Documents.
    Docs {
        /// The documents.
        docs: Vec<DocInfo>,
    },
    /// Bytes for a file (a bundle or a document), base64.
    File {
        /// Base64 of the file.
        data: String,
        /// What it holds, for the operator.
        summary: String,
    },
    /// What `bridge test` found, bridge by bridge.
    BridgeTest {
        /// One per bridge tried.
        results: Vec<BridgeTestResult>,
    },
    /// Done, with a line for the operator.
    Done {
        /// What happened.
        message: String,
    },
    /// Refused or failed.
    Error {
        /// One line.
        message: String,
    },
}
