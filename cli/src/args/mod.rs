//! The command line's definitions (clap derive, doc comments as help), and in `plan.rs`
//! [`plan`], the one function that turns them into a validated [`Plan`]: nothing downstream
//! sees clap's types.

mod plan;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use protocol::event::{Certainty, CheckinStatus, Role, Severity, ShelterStatus, Urgency};

use crate::i18n;

pub(crate) use plan::{
    command, plan, AlertCommand, MemberCommand, OperatorCommand, Plan, ShelterCommand,
};

/// Tejido: check in, raise a panic, follow alerts and find a shelter, peer to peer.
#[derive(Debug, Parser)]
#[command(name = "tejido", version)]
pub(crate) struct Args {
    /// Operate the node whose data directory this is (operator commands).
    #[arg(long, global = true, env = "TEJIDO_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Member home directory holding your key (default: the platform config directory).
    #[arg(long, global = true, env = "TEJIDO_HOME")]
    pub(crate) home: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Sign this roster change (revoke, region, org) with the admin key in this file, kept
    /// off the node (operator; see `admin-key move-out`).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) admin_key: Option<PathBuf>,
    /// Language of messages: es (español) or en (English). Default: $TEJIDO_LANG, else the
    /// locale (LC_ALL, LC_MESSAGES, LANG), else English. JSON output is never translated.
    #[arg(long, global = true, value_name = "es|en", value_parser = i18n::parse_lang)]
    pub(crate) lang: Option<i18n::Lang>,
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BridgeAction {
    /// Send a test message through each bridge (or the one named).
    Test {
        /// Only this bridge.
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Node status (operator).
    Status,
    /// Create a one-time invite code (operator).
    Invite {
        #[command(subcommand)]
        what: InviteWhat,
    },
    /// Members of the network (operator).
    Members,
    /// Trusted nodes, connected or not, with their last sync (operator).
    Peers,
    /// Documents with their heads and sizes (operator).
    Docs,
    /// Write a bundle of every document's events for nodes you cannot reach, encrypted to them
    /// and signed by this node, to carry on a USB stick (operator).
    Export {
        /// The file to write.
        #[arg(long)]
        to: PathBuf,
        /// A node to encrypt to (repeatable; default every other trusted node).
        #[arg(long = "for")]
        for_nodes: Vec<String>,
        /// Only what was added since an earlier bundle of this node's (the id `export`
        /// printed) or since a node's last known state (its key).
        #[arg(long)]
        since: Option<String>,
    },
    /// Verify and apply a bundle, with the same checks as sync; all or nothing (operator).
    Import {
        /// The bundle file.
        file: PathBuf,
    },
    /// Write one document in automerge's binary format for other automerge tools: its records
    /// as plain values (an alert's kind, text, region, status, times, history) beside each
    /// event's signed bytes (operator).
    ExportDoc {
        /// Document id, e.g. roster or alerts/oaxaca/2026-11 (see `docs`).
        doc: String,
        /// The file to write.
        #[arg(long)]
        to: PathBuf,
        /// Write the document as nodes replicate it (event ids to signed bytes only).
        #[arg(long)]
        raw: bool,
    },
    /// Write a backup of the running node (keys, configuration, every document) to one file
    /// sealed under a passphrase; `tejidod --data-dir NEW --restore FILE` brings it back
    /// (operator).
    Backup {
        /// The file to write.
        #[arg(long)]
        to: PathBuf,
        /// Read the passphrase from the first line of this file instead of the terminal.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Check what usually goes wrong with a node and say what to do: the trusted nodes it
    /// reaches and how, clocks, disk, encryption at rest, the admin key, bridges and the
    /// configuration. Exits 1 when something needs fixing (operator).
    Doctor,
    /// Destroy keys and data: with --data-dir, the node's (it stops); with --home, this
    /// device's member key, profile and queue. Opt-in: it cannot be undone.
    Wipe {
        /// Confirm: destroy keys and data now.
        #[arg(long)]
        yes: bool,
    },
    /// Declare a region your organisation works in, so that alerts and shelters can name it
    /// (operator; inviting someone for a region declares it too).
    Region {
        /// The region, e.g. oaxaca.
        region: String,
    },
    /// The network's organisations, and the changes to it waiting for agreement (operator).
    Orgs,
    /// Keep the organisation's admin key off the node (operator).
    AdminKey {
        #[command(subcommand)]
        action: AdminKeyAction,
    },
    /// Agree, as your organisation, to admit, suspend, reinstate or remove an organisation;
    /// in effect once enough organisations agree (operator).
    Org {
        #[command(subcommand)]
        action: OrgAction,
    },
    /// Revoke a member or node key of your organisation, network-wide (operator). A
    /// person's other devices stay, unless --person.
    Revoke {
        /// The key to revoke.
        key: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
        /// Revoke every device of the person this key is a device of.
        #[arg(long)]
        person: bool,
    },
    /// A person of your organisation (operator): `member move NAME-or-KEY` after a lost
    /// phone.
    Member {
        #[command(subcommand)]
        action: MemberAction,
    },
    /// Your devices: `device add` prints a one-time code that your new phone or laptop
    /// redeems with `tejido join CODE`, as you.
    Device {
        #[command(subcommand)]
        action: DeviceAction,
    },
    /// Join with an invite code: as a member (creates your key in --home), or, with
    /// --data-dir and a node invite, this node joins the inviting node's network.
    Join {
        /// The code from your organisation's operator.
        code: String,
    },
    /// Who you are, as your node knows you.
    Whoami,
    /// Check in.
    Checkin {
        /// ok, need-help or danger.
        #[arg(long, default_value = "ok", value_parser = parse_status)]
        status: CheckinStatus,
        /// When the next check-in is due, e.g. 6h or 1d; missing it raises an alert.
        #[arg(long, value_parser = humantime::parse_duration)]
        next: Option<Duration>,
        /// A note for your security contact.
        #[arg(long, default_value = "")]
        note: String,
        /// Your check-in code. Giving your duress code instead looks and prints the same, and
        /// silently alerts your security contacts.
        #[arg(long)]
        code: Option<String>,
    },
    /// Set your duress code (`tejido duress set`): a check-in given with it looks like any
    /// other on this device and silently raises an alert.
    Duress {
        #[command(subcommand)]
        action: DuressAction,
    },
    /// Ask for help now: sends a panic alert to every node you know.
    Panic {
        /// What is happening, if you can say (with --cancel: why you call it off).
        #[arg(long, default_value = "")]
        note: String,
        /// Region (default: your home region).
        #[arg(long)]
        region: Option<String>,
        /// After sending, wait up to this long (e.g. 30s) for the network's receipts: how many
        /// nodes hold it, whether a security contact's node does, who acknowledged.
        #[arg(long, value_parser = humantime::parse_duration)]
        wait: Option<Duration>,
        /// Call off your own panic with this id (a false alarm): it shows as cancelled, with
        /// the note, everywhere.
        #[arg(long, value_name = "ID", conflicts_with_all = ["region", "wait"])]
        cancel: Option<String>,
        /// With --cancel: your check-in code. Giving your duress code instead looks and prints
        /// the same, and your security contacts learn that the panic stands.
        #[arg(long, requires = "cancel")]
        code: Option<String>,
    },
    /// Follow alerts live (security contacts): prints the alerts not yet resolved, then one
    /// line for every new or changed alert (JSON lines with --json). Keeps retrying when the
    /// node restarts or the network drops. Stop it with Ctrl-C.
    Watch {
        /// Only this region.
        #[arg(long)]
        region: Option<String>,
        /// How often to ask the node.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        every: Duration,
    },
    /// Send, acknowledge, assign or resolve an alert.
    Alert {
        #[command(subcommand)]
        action: AlertAction,
    },
    /// List alerts.
    Alerts {
        /// Only alerts not yet resolved.
        #[arg(long)]
        open: bool,
        /// Only this region.
        #[arg(long)]
        region: Option<String>,
    },
    /// Latest check-in of each member.
    Checkins {
        /// Only members whose check-in is overdue.
        #[arg(long)]
        overdue: bool,
    },
    /// Send a test message through every bridge of the node, or the one named, and say what
    /// happened (operator; bridges are `[[bridge]]` entries in config.toml).
    Bridge {
        #[command(subcommand)]
        action: BridgeAction,
    },
    /// Start a throwaway local network of three nodes, a security contact and a member, send a
    /// panic and show it arriving and being acknowledged, then clean up. Start here.
    Demo,
    /// Print a shell completion script, e.g. `tejido completions bash > /etc/bash_completion.d/tejido`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `tejido man > tejido.1`.
    Man,
    /// Who to call in each region: security contacts, then admins.
    Directory {
        /// Only this region.
        #[arg(long)]
        region: Option<String>,
    },
    /// Add or update a shelter (admins and security contacts of its organisation).
    Shelter {
        #[command(subcommand)]
        action: ShelterAction,
    },
    /// List shelters.
    Shelters {
        /// Only this region.
        #[arg(long)]
        region: Option<String>,
        /// Only open shelters with free places.
        #[arg(long)]
        available: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum InviteWhat {
    /// Invite a member of this node's organisation.
    Member {
        /// Their name, as others will see it.
        #[arg(long)]
        name: String,
        /// member, security-contact or admin.
        #[arg(long, default_value = "member")]
        role: Role,
        /// Their home region, e.g. oaxaca.
        #[arg(long)]
        region: Option<String>,
        /// How long the code stays valid.
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Invite another organisation's node into this network.
    Node {
        /// How long the code stays valid.
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MemberAction {
    /// Move a person who lost their phone to a new device: prints a one-time code that the
    /// new device redeems with `tejido join CODE` as that same person (name, role, region,
    /// check-ins, history); the old key is revoked in the same step.
    Move {
        /// The person's name, or the key of the lost device.
        member: String,
        /// How long the code stays valid.
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceAction {
    /// Print a one-time code for another device of yours; on it, run `tejido join CODE`.
    Add {
        /// How long the code stays valid (at most 7 days).
        #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminKeyAction {
    /// Write the admin key to FILE and delete it from the node, which runs on without it;
    /// roster changes are then signed with `--admin-key FILE`. Keep FILE on your own device.
    MoveOut {
        /// Where to write it (readable by you only).
        #[arg(long)]
        to: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum OrgAction {
    /// Agree to admit this organisation (before its node joins with an invite).
    Approve {
        /// The organisation's slug.
        org: String,
    },
    /// Agree to suspend this organisation: nobody syncs with its nodes any more, and its
    /// nodes and admins count nowhere; its members may still ask any node for help.
    Suspend {
        /// The organisation's slug.
        org: String,
    },
    /// Agree to lift this organisation's suspension.
    Reinstate {
        /// The organisation's slug.
        org: String,
    },
    /// Agree to remove this organisation for good.
    Remove {
        /// The organisation's slug.
        org: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DuressAction {
    /// Set or change your duress code; read from the terminal without echo, or from standard
    /// input. Nothing about it is kept on this device.
    Set,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AlertAction {
    /// Broadcast an alert to a region (security contacts and admins).
    Send {
        /// minor, moderate, severe or extreme.
        #[arg(long, value_parser = parse_severity)]
        severity: Severity,
        /// The region it concerns.
        #[arg(long)]
        region: String,
        /// immediate, expected, future or past.
        #[arg(long, default_value = "expected", value_parser = parse_urgency)]
        urgency: Urgency,
        /// observed, likely, possible or unknown.
        #[arg(long, default_value = "likely", value_parser = parse_certainty)]
        certainty: Certainty,
        /// Informational alerts expire after this long, e.g. 2d.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires: Option<Duration>,
        /// What people should know.
        text: String,
    },
    /// Show an alert with its whole signed history.
    Show {
        /// Alert id or prefix.
        id: String,
    },
    /// Acknowledge an alert: you have seen it and are on it.
    Ack {
        /// Alert id (or a unique prefix of at least 6 characters).
        id: String,
    },
    /// Assign an alert to a member (security contacts and admins).
    Assign {
        /// Alert id or prefix.
        id: String,
        /// The member's key.
        member: String,
    },
    /// Resolve an alert (security contacts and admins).
    Resolve {
        /// Alert id or prefix.
        id: String,
        /// How it ended.
        #[arg(long, default_value = "")]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ShelterAction {
    /// Add a shelter run by your organisation.
    Add {
        /// Name.
        #[arg(long)]
        name: String,
        /// Region.
        #[arg(long)]
        region: String,
        /// Places in all.
        #[arg(long)]
        capacity: u32,
        /// A service offered (repeatable): psychosocial, medical, legal, ...
        #[arg(long = "service")]
        services: Vec<String>,
        /// Who it accepts (repeatable): women, families, children, lgbtq, indigenous, ...
        #[arg(long = "accepts")]
        accepts: Vec<String>,
        /// How to reach it.
        #[arg(long, default_value = "")]
        contact: String,
    },
    /// Update a shelter: its status, capacity, or people arriving and leaving.
    Update {
        /// Shelter id or prefix.
        id: String,
        /// open, full or closed.
        #[arg(long, value_parser = parse_shelter_status)]
        status: Option<ShelterStatus>,
        /// New capacity.
        #[arg(long)]
        capacity: Option<u32>,
        /// People arriving.
        #[arg(long, default_value_t = 0)]
        arrive: u32,
        /// People leaving.
        #[arg(long, default_value_t = 0)]
        leave: u32,
    },
    /// Ask for places at a shelter. Who asks and the note are encrypted to the shelter
    /// organisation's admins and you; other nodes carry the request but cannot read it.
    Request {
        /// Shelter id or prefix.
        id: String,
        /// For how many people.
        #[arg(long, default_value_t = 1)]
        people: u32,
        /// Anything the shelter should know.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Shelter requests you can read: your own, or those to your organisation's shelters if
    /// you are one of its admins.
    Requests,
    /// Accept a request to one of your organisation's shelters (admins).
    Accept {
        /// Request id or prefix.
        request: String,
    },
    /// Decline a request to one of your organisation's shelters (admins).
    Decline {
        /// Request id or prefix.
        request: String,
    },
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str, allowed: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("expected one of: {allowed}"))
}
fn parse_status(s: &str) -> Result<CheckinStatus, String> {
    parse_enum(s, "ok, need-help, danger")
}
fn parse_severity(s: &str) -> Result<Severity, String> {
    parse_enum(s, "minor, moderate, severe, extreme")
}
fn parse_urgency(s: &str) -> Result<Urgency, String> {
    parse_enum(s, "immediate, expected, future, past")
}
fn parse_certainty(s: &str) -> Result<Certainty, String> {
    parse_enum(s, "observed, likely, possible, unknown")
}
fn parse_shelter_status(s: &str) -> Result<ShelterStatus, String> {
    parse_enum(s, "open, full, closed")
}
