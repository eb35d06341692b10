//! tejido: the Tejido command line for members (over libp2p to their nodes, with the member
//! key in `--home`) and for node operators (over the node's local socket in `--data-dir`).
//!
//! Exit codes: 0 ok, 1 error, 2 usage, 3 no node reachable (the record is queued on this
//! device and is sent by the next command that reaches a node).
//!
//! Messages are in English or Spanish (`--lang`, `TEJIDO_LANG`, the locale; see `i18n.rs` and
//! `cli/i18n/*.ftl`); JSON output and exit codes are the same in every language.

#[macro_use]
mod i18n;
mod demo;
mod member;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use protocol::control::{Request, Response};
use protocol::event::{
    AlertBody, AlertKind, Body, Certainty, CheckinBody, CheckinStatus, Event, Role, Severity,
    ShelterBody, ShelterRequestBody, ShelterRequestPayload, ShelterStatus, SignedEvent, Urgency,
};
use protocol::ids::{DocId, RecordId, SecretKey, Timestamp};
use protocol::wire::{ClientRequestV0, ClientResponseV0, InviteCode};

use crate::member::{Home, Saved};

/// The exit code for "no node reachable; queued on this device".
const EXIT_QUEUED: u8 = 3;

/// Tejido: check in, raise a panic, follow alerts and find a shelter, peer to peer.
#[derive(Debug, Parser)]
#[command(name = "tejido", version)]
struct Args {
    /// Operate the node whose data directory this is (operator commands).
    #[arg(long, global = true, env = "TEJIDO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Member home directory holding your key (default: the platform config directory).
    #[arg(long, global = true, env = "TEJIDO_HOME")]
    home: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Language of messages: es (español) or en (English). Default: $TEJIDO_LANG, else the
    /// locale (LC_ALL, LC_MESSAGES, LANG), else English. JSON output is never translated.
    #[arg(long, global = true, value_name = "es|en", value_parser = i18n::parse_lang)]
    lang: Option<i18n::Lang>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
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
    /// Write one document in automerge's binary format, for other automerge tools (operator).
    ExportDoc {
        /// Document id, e.g. roster or alerts/oaxaca/2026-11 (see `docs`).
        doc: String,
        /// The file to write.
        #[arg(long)]
        to: PathBuf,
    },
    /// Destroy keys and data: with --data-dir, the node's (it stops); with --home, this
    /// device's member key, profile and queue. Opt-in: it cannot be undone.
    Wipe {
        /// Confirm: destroy keys and data now.
        #[arg(long)]
        yes: bool,
    },
    /// Revoke a member or node key of your organisation, network-wide (operator).
    Revoke {
        /// The key to revoke.
        key: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
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
        next: Option<std::time::Duration>,
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
        /// What is happening, if you can say.
        #[arg(long, default_value = "")]
        note: String,
        /// Region (default: your home region).
        #[arg(long)]
        region: Option<String>,
        /// After sending, wait up to this long (e.g. 30s) for the network's receipts: how many
        /// nodes hold it, whether a security contact's node does, who acknowledged.
        #[arg(long, value_parser = humantime::parse_duration)]
        wait: Option<std::time::Duration>,
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
        every: std::time::Duration,
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
enum InviteWhat {
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
        ttl: std::time::Duration,
    },
    /// Invite another organisation's node into this network.
    Node {
        /// How long the code stays valid.
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
    },
}

#[derive(Debug, Subcommand)]
enum DuressAction {
    /// Set or change your duress code; read from the terminal without echo, or from standard
    /// input. Nothing about it is kept on this device.
    Set,
}

#[derive(Debug, Subcommand)]
enum AlertAction {
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
        expires: Option<std::time::Duration>,
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
enum ShelterAction {
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

fn main() -> ExitCode {
    let args = Args::parse();
    i18n::set_lang(i18n::Lang::resolve(args.lang));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tejido: {}", tr!("cannot-start", error = e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("tejido: {e:#}");
            if e.downcast_ref::<member::Unreachable>().is_some() {
                return ExitCode::from(EXIT_QUEUED);
            }
            ExitCode::FAILURE
        }
    }
}

fn home_dir(args: &Args) -> anyhow::Result<PathBuf> {
    match &args.home {
        Some(h) => Ok(h.clone()),
        None => directories::ProjectDirs::from("org", "Tejido", "tejido")
            .map(|d| d.config_dir().join("member"))
            .with_context(|| tr!("no-home-dir")),
    }
}

async fn operator(data_dir: &std::path::Path, request: Request) -> anyhow::Result<Response> {
    let socket = daemon::control::socket_path(data_dir);
    match daemon::control::call(&socket, &request).await? {
        Response::Error { message } => anyhow::bail!("{message}"),
        other => Ok(other),
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let json = args.json;
    match &args.command {
        Cmd::Demo => {
            demo::run()?;
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Completions { shell } => {
            let mut cmd = <Args as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "tejido", &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Man => {
            let cmd = <Args as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    if let Some(dir) = args.data_dir.clone() {
        let request = match &args.command {
            Cmd::Status => Request::Status,
            Cmd::Members => Request::Members,
            Cmd::Invite {
                what:
                    InviteWhat::Member {
                        name,
                        role,
                        region,
                        ttl,
                    },
            } => {
                if let Some(r) = region {
                    protocol::ids::check_slug("region", r).map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                Request::InviteMember {
                    name: name.clone(),
                    role: *role,
                    region: region.clone(),
                    ttl_secs: ttl.as_secs(),
                }
            }
            Cmd::Invite {
                what: InviteWhat::Node { ttl },
            } => Request::InviteNode {
                ttl_secs: ttl.as_secs(),
            },
            Cmd::Join { code } => Request::JoinNetwork { code: code.clone() },
            Cmd::Peers => Request::Peers,
            Cmd::Wipe { yes } => {
                if !yes {
                    anyhow::bail!(tr!("node-wipe-confirm"));
                }
                Request::Wipe
            }
            Cmd::Export {
                for_nodes, since, ..
            } => Request::Export {
                for_nodes: for_nodes.clone(),
                since: since.clone(),
            },
            Cmd::ExportDoc { doc, .. } => Request::ExportDoc { doc: doc.clone() },
            Cmd::Import { file } => {
                let bytes = std::fs::read(file)
                    .with_context(|| tr!("reading-file", path = file.display().to_string()))?;
                if bytes.len() > protocol::bundle::MAX_BUNDLE_BYTES {
                    anyhow::bail!(tr!("bundle-too-large", path = file.display().to_string()));
                }
                Request::Import {
                    bundle: data_encoding::BASE64.encode(&bytes),
                }
            }
            Cmd::Docs => Request::Docs,
            Cmd::Revoke { key, reason } => Request::Revoke {
                key: key.clone(),
                reason: reason.clone(),
            },
            Cmd::Alerts { open, region } => Request::Alerts {
                region: region.clone(),
                open_only: *open,
            },
            Cmd::Checkins { overdue } => Request::Checkins {
                overdue_only: *overdue,
            },
            Cmd::Shelters { region, available } => Request::Shelters {
                region: region.clone(),
                available_only: *available,
            },
            _ => anyhow::bail!(tr!("members-only")),
        };
        let response = operator(&dir, request).await?;
        if let (
            Response::File { data, summary },
            Cmd::Export { to, .. } | Cmd::ExportDoc { to, .. },
        ) = (&response, &args.command)
        {
            let bytes = data_encoding::BASE64
                .decode(data.as_bytes())
                .with_context(|| tr!("node-sent-damaged-file"))?;
            member::write_atomic(to, &bytes)?;
            println!(
                "{}",
                tr!(
                    "wrote-file",
                    path = to.display().to_string(),
                    summary = summary.as_str()
                )
            );
            return Ok(ExitCode::SUCCESS);
        }
        output::operator(&response, json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let home = Home::new(home_dir(&args)?);
    match args.command {
        Cmd::Completions { .. } | Cmd::Man | Cmd::Demo => Ok(ExitCode::SUCCESS),
        Cmd::Status
        | Cmd::Members
        | Cmd::Invite { .. }
        | Cmd::Peers
        | Cmd::Export { .. }
        | Cmd::Import { .. }
        | Cmd::ExportDoc { .. }
        | Cmd::Docs
        | Cmd::Revoke { .. } => {
            anyhow::bail!(tr!("operators-only"))
        }
        Cmd::Join { code } => join(&home, &code, json).await,
        Cmd::Wipe { yes } => {
            if !yes {
                anyhow::bail!(tr!(
                    "member-wipe-confirm",
                    dir = home.dir().display().to_string()
                ));
            }
            let removed = daemon::wipe::wipe_dir(home.dir())?;
            println!(
                "{}",
                tr!(
                    "member-wiped",
                    count = removed.len(),
                    dir = home.dir().display().to_string()
                )
            );
            println!("{}", tr!("member-wiped-revoke"));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Whoami => {
            match ask(&home, ClientRequestV0::Whoami).await? {
                ClientResponseV0::Profile { profile, nodes } => {
                    home.save(&Saved {
                        profile: profile.clone(),
                        nodes,
                    })?;
                    output::profile(&profile, json)?;
                }
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Checkin {
            status,
            next,
            note,
            code,
        } => {
            let (key, saved) = load(&home)?;
            let at = Timestamp::now();
            let next_due = next.map(|d| at.plus_ms(d.as_millis() as i64));
            let body = Body::Checkin(CheckinBody {
                status,
                note,
                next_due,
                code_tag: code.map(|c| protocol::event::duress_tag(&key, &c)),
            });
            let event = sign(&key, DocId::checkins(&saved.profile.org, at), at, body)?;
            send_record(&home, &key, &saved, event, "check-in", json).await
        }
        Cmd::Panic { note, region, wait } => {
            let (key, saved) = load(&home)?;
            let region = region
                .or(saved.profile.region.clone())
                .with_context(|| tr!("no-home-region"))?;
            protocol::ids::check_slug("region", &region).map_err(|e| anyhow::anyhow!("{e}"))?;
            let at = Timestamp::now();
            let body = Body::Alert(AlertBody {
                id: AlertBody::id_for(&key.public(), at),
                kind: AlertKind::Panic,
                severity: Severity::Extreme,
                urgency: Urgency::Immediate,
                certainty: Certainty::Observed,
                region: region.clone(),
                org: saved.profile.org.clone(),
                text: note,
                expires_at: None,
                subject: None,
                due: None,
            });
            let id = AlertBody::id_for(&key.public(), at);
            let event = sign(&key, DocId::alerts(&region, at), at, body)?;
            let code = send_record(&home, &key, &saved, event, "panic", json).await?;
            match wait {
                Some(wait) if code == ExitCode::SUCCESS => {
                    wait_for_receipts(&key, &saved, &id.to_string(), wait, json).await?;
                    Ok(code)
                }
                _ => Ok(code),
            }
        }
        Cmd::Watch { region, every } => watch(&home, region, every, json).await,
        Cmd::Alert { action } => alert_action(&home, action, json).await,
        Cmd::Alerts { open, region } => {
            match ask(
                &home,
                ClientRequestV0::Alerts {
                    region,
                    open_only: open,
                },
            )
            .await?
            {
                ClientResponseV0::Alerts(alerts) => output::alerts(&alerts, json)?,
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Checkins { overdue } => {
            match ask(
                &home,
                ClientRequestV0::Checkins {
                    overdue_only: overdue,
                },
            )
            .await?
            {
                ClientResponseV0::Checkins(list) => output::checkins(&list, json)?,
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Shelters { region, available } => {
            match ask(
                &home,
                ClientRequestV0::Shelters {
                    region,
                    available_only: available,
                },
            )
            .await?
            {
                ClientResponseV0::Shelters(list) => output::shelters(&list, json)?,
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Shelter { action } => shelter_action(&home, action, json).await,
        Cmd::Duress {
            action: DuressAction::Set,
        } => {
            let (key, saved) = load(&home)?;
            let code = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                rpassword::prompt_password(tr!("duress-prompt"))?
            } else {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line
            };
            let code = code.trim().to_string();
            if code.len() < 4 {
                anyhow::bail!(tr!("duress-too-short"));
            }
            let at = Timestamp::now();
            let body = Body::DuressSet {
                tag: protocol::event::duress_tag(&key, &code),
            };
            let event = sign(&key, DocId::roster(), at, body)?;
            let delivery = member::deliver(&home, &key, &saved.nodes, vec![event]).await?;
            if delivery.stored_by.is_empty() {
                anyhow::bail!(tr!("duress-not-stored"));
            }
            println!("{}", tr!("duress-set"));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Directory { region } => {
            match ask(&home, ClientRequestV0::Directory { region }).await? {
                ClientResponseV0::Directory(list) => output::directory(&list, json)?,
                _ => anyhow::bail!(tr!("unexpected-answer")),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Polls a panic until every node holds it and someone acknowledged it, or `wait` passed,
/// then prints its receipts (or, with --json, the alert as `alert show --json` does).
async fn wait_for_receipts(
    key: &SecretKey,
    saved: &Saved,
    id: &str,
    wait: std::time::Duration,
    json: bool,
) -> anyhow::Result<()> {
    if !json {
        println!("{}", tr!("receipts-waiting", secs = wait.as_secs()));
    }
    let deadline = tokio::time::Instant::now() + wait;
    let mut last = None;
    loop {
        if let Ok(alert) = find_alert(key, saved, id).await {
            let done =
                alert.held_by.len() >= alert.network_nodes && alert.first_ack_after_ms.is_some();
            last = Some(alert);
            if done {
                break;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    match last {
        Some(alert) if json => output::alert_detail(&alert, true),
        Some(alert) => {
            output::receipts(&alert);
            Ok(())
        }
        None => Ok(()),
    }
}

/// `tejido watch`: polls the known nodes and prints what changed; a node that cannot be
/// reached is retried with backoff (up to 10 s), so the stream survives restarts.
async fn watch(
    home: &Home,
    region: Option<String>,
    every: std::time::Duration,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (key, saved) = load(home)?;
    if let Some(r) = &region {
        protocol::ids::check_slug("region", r).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let every = every.max(std::time::Duration::from_millis(200));
    flush_queue(home, &key, &saved).await;
    // Per alert: status, history length and receipts, the parts a change shows in.
    let mut seen: std::collections::HashMap<String, (String, usize, usize)> =
        std::collections::HashMap::new();
    let mut first = true;
    let mut down = false;
    let mut pause = every;
    loop {
        let request = ClientRequestV0::Alerts {
            region: region.clone(),
            open_only: false,
        };
        match member::query(&key, &saved.nodes, request).await {
            Ok(ClientResponseV0::Alerts(mut list)) => {
                if std::mem::take(&mut down) {
                    eprintln!("tejido: {}", tr!("watch-reconnected"));
                }
                pause = every;
                // Oldest first, as a stream reads.
                list.reverse();
                for a in list {
                    let mark = (a.status.clone(), a.history.len(), a.held_by.len());
                    let change = match seen.get(&a.id) {
                        None if first && a.status == "resolved" => None,
                        None => Some("new"),
                        Some(old) if *old != mark => Some("changed"),
                        Some(_) => None,
                    };
                    seen.insert(a.id.clone(), mark);
                    if let Some(change) = change {
                        output::watch_line(change, &a, json)?;
                    }
                }
                first = false;
            }
            Ok(_) => anyhow::bail!(tr!("unexpected-answer")),
            Err(e) if e.downcast_ref::<member::Unreachable>().is_some() => {
                if !std::mem::replace(&mut down, true) {
                    eprintln!(
                        "tejido: {}",
                        tr!("watch-unreachable", error = e.to_string())
                    );
                }
                pause = (pause * 2).min(std::time::Duration::from_secs(10));
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// Sends queued records, then asks the known nodes one by one until one answers.
async fn ask(home: &Home, request: ClientRequestV0) -> anyhow::Result<ClientResponseV0> {
    let (key, saved) = load(home)?;
    flush_queue(home, &key, &saved).await;
    member::query(&key, &saved.nodes, request).await
}

fn load(home: &Home) -> anyhow::Result<(SecretKey, Saved)> {
    Ok((home.key()?, home.saved()?))
}

fn sign(key: &SecretKey, doc: DocId, at: Timestamp, body: Body) -> anyhow::Result<SignedEvent> {
    SignedEvent::sign(
        Event {
            author: key.public(),
            at,
            doc,
            body,
        },
        key,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

async fn join(home: &Home, code: &str, json: bool) -> anyhow::Result<ExitCode> {
    let invite = InviteCode::decode(code).map_err(|e| anyhow::anyhow!("{e}"))?;
    let InviteCode::V0 { node, addrs, .. } = &invite;
    if home.saved().is_ok() {
        anyhow::bail!(tr!("already-joined"));
    }
    let key = home.key_or_create()?;
    let proof = key.sign(&invite.proof_message(&key.public())).to_vec();
    let contact = protocol::wire::NodeContact {
        key: *node,
        addrs: addrs.clone(),
    };
    let results = member::request_all(
        &invite.identity(),
        std::slice::from_ref(&contact),
        ClientRequestV0::Redeem {
            member: key.public(),
            proof,
        },
    )
    .await?;
    match results.into_iter().next() {
        Some((_, Ok(ClientResponseV0::Profile { profile, nodes }))) => {
            home.save(&Saved {
                profile: profile.clone(),
                nodes,
            })?;
            output::joined(&profile, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Some((_, Ok(ClientResponseV0::Error { message, .. }))) => {
            anyhow::bail!(tr!("invite-refused", message = message))
        }
        Some((_, Err(e))) => {
            anyhow::bail!(tr!("inviter-unreachable-because", error = e.to_string()))
        }
        _ => anyhow::bail!(tr!("inviter-unreachable")),
    }
}

/// Sends queued records; best effort, reports what happened on stderr.
async fn flush_queue(home: &Home, key: &SecretKey, saved: &Saved) {
    let queued = home.queued();
    if queued.is_empty() {
        return;
    }
    for chunk in queued.chunks(32) {
        match member::deliver(home, key, &saved.nodes, chunk.to_vec()).await {
            Ok(d) if !d.stored_by.is_empty() => {
                eprintln!("tejido: {}", tr!("sent-queued", count = chunk.len()));
            }
            Ok(d) => {
                for (node, why) in d.refused {
                    eprintln!(
                        "tejido: {}",
                        tr!("queued-refused", node = node.fmt_short(), why = why)
                    );
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// Queues a signed record on the device, then sends it to every known node.
async fn send_record(
    home: &Home,
    key: &SecretKey,
    saved: &Saved,
    event: SignedEvent,
    what: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    home.enqueue(&event)?;
    flush_queue_except(home, key, saved, &event).await;
    let delivery = member::deliver(home, key, &saved.nodes, vec![event.clone()]).await?;
    output::delivery(what, &event, &delivery, saved.nodes.len(), json)?;
    if !delivery.stored_by.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else if delivery.unreachable.is_empty() {
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::from(EXIT_QUEUED))
    }
}

async fn flush_queue_except(home: &Home, key: &SecretKey, saved: &Saved, except: &SignedEvent) {
    let others: Vec<SignedEvent> = home
        .queued()
        .into_iter()
        .filter(|e| e.id() != except.id())
        .collect();
    if others.is_empty() {
        return;
    }
    if let Ok(d) = member::deliver(home, key, &saved.nodes, others.clone()).await {
        if !d.stored_by.is_empty() {
            eprintln!("tejido: {}", tr!("sent-queued", count = others.len()));
        }
    }
}

/// Finds an alert by id or unique prefix.
async fn find_alert(
    key: &SecretKey,
    saved: &Saved,
    id: &str,
) -> anyhow::Result<protocol::view::AlertView> {
    if id.len() < 6 {
        anyhow::bail!(tr!("alert-id-too-short"));
    }
    let ClientResponseV0::Alerts(alerts) = member::query(
        key,
        &saved.nodes,
        ClientRequestV0::Alerts {
            region: None,
            open_only: false,
        },
    )
    .await?
    else {
        anyhow::bail!(tr!("unexpected-answer"));
    };
    let mut matches: Vec<_> = alerts
        .into_iter()
        .filter(|a| a.id.starts_with(&id.to_ascii_lowercase()))
        .collect();
    match matches.len() {
        0 => anyhow::bail!(tr!("no-such-alert", id = id)),
        1 => Ok(matches.remove(0)),
        n => anyhow::bail!(tr!("ambiguous-alert", count = n, id = id)),
    }
}

async fn alert_action(home: &Home, action: AlertAction, json: bool) -> anyhow::Result<ExitCode> {
    let (key, saved) = load(home)?;
    let at = Timestamp::now();
    let (doc, body, what) = match action {
        AlertAction::Send {
            severity,
            region,
            urgency,
            certainty,
            expires,
            text,
        } => {
            protocol::ids::check_slug("region", &region).map_err(|e| anyhow::anyhow!("{e}"))?;
            let body = Body::Alert(AlertBody {
                id: AlertBody::id_for(&key.public(), at),
                kind: AlertKind::Alert,
                severity,
                urgency,
                certainty,
                region: region.clone(),
                org: saved.profile.org.clone(),
                text,
                expires_at: expires.map(|d| at.plus_ms(d.as_millis() as i64)),
                subject: None,
                due: None,
            });
            (DocId::alerts(&region, at), body, "alert")
        }
        AlertAction::Show { id } => {
            let alert = find_alert(&key, &saved, &id).await?;
            output::alert_detail(&alert, json)?;
            return Ok(ExitCode::SUCCESS);
        }
        AlertAction::Ack { id } => {
            let alert = find_alert(&key, &saved, &id).await?;
            (
                alert.doc.parse()?,
                Body::Ack {
                    alert: alert.id.parse()?,
                },
                "acknowledgement",
            )
        }
        AlertAction::Assign { id, member } => {
            let alert = find_alert(&key, &saved, &id).await?;
            let assignee = member.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            (
                alert.doc.parse()?,
                Body::Assign {
                    alert: alert.id.parse()?,
                    assignee,
                },
                "assignment",
            )
        }
        AlertAction::Resolve { id, note } => {
            let alert = find_alert(&key, &saved, &id).await?;
            (
                alert.doc.parse()?,
                Body::Resolve {
                    alert: alert.id.parse()?,
                    note,
                },
                "resolution",
            )
        }
    };
    let event = sign(&key, doc, at, body)?;
    send_record(home, &key, &saved, event, what, json).await
}

/// Finds a shelter by id or unique prefix.
async fn find_shelter(
    key: &SecretKey,
    saved: &Saved,
    id: &str,
) -> anyhow::Result<protocol::view::ShelterView> {
    let ClientResponseV0::Shelters(list) = member::query(
        key,
        &saved.nodes,
        ClientRequestV0::Shelters {
            region: None,
            available_only: false,
        },
    )
    .await?
    else {
        anyhow::bail!(tr!("unexpected-answer"));
    };
    let mut found: Vec<_> = list
        .into_iter()
        .filter(|s| s.id.starts_with(&id.to_ascii_lowercase()))
        .collect();
    if found.len() != 1 {
        anyhow::bail!(tr!("no-single-shelter", id = id));
    }
    Ok(found.remove(0))
}

/// Every shelter request, split into those this key can open and how many it cannot.
async fn readable_requests(
    key: &SecretKey,
    saved: &Saved,
) -> anyhow::Result<(Vec<output::OpenedRequest>, usize)> {
    let ClientResponseV0::ShelterRequests(list) =
        member::query(key, &saved.nodes, ClientRequestV0::ShelterRequests).await?
    else {
        anyhow::bail!(tr!("unexpected-answer"));
    };
    let mut opened = Vec::new();
    let mut others = 0;
    for request in list {
        let readable = (|| {
            let body = ShelterRequestBody {
                id: request.id.parse().ok()?,
                shelter: request.shelter.parse().ok()?,
                org: request.org.clone(),
                region: request.region.clone(),
                sealed: data_encoding::BASE64
                    .decode(request.sealed.as_bytes())
                    .ok()?,
            };
            let payload = ShelterRequestPayload::open(&body, key)?;
            Some((payload.verify(&body.id, &body.shelter), payload))
        })();
        match readable {
            Some((signature_ok, payload)) => opened.push(output::OpenedRequest {
                request,
                requester: payload.requester.to_string(),
                requester_name: payload.name,
                people: payload.people,
                note: payload.note,
                signature_ok,
            }),
            None => others += 1,
        }
    }
    Ok((opened, others))
}

async fn shelter_action(
    home: &Home,
    action: ShelterAction,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (key, saved) = load(home)?;
    let at = Timestamp::now();
    let org = saved.profile.org.clone();
    let mut events = Vec::new();
    let mut what = "shelter update";
    match action {
        ShelterAction::Request { id, people, note } => {
            if note.len() > protocol::event::MAX_TEXT_BYTES {
                anyhow::bail!(tr!("note-too-long"));
            }
            let shelter = find_shelter(&key, &saved, &id).await?;
            let sid: RecordId = shelter.id.parse()?;
            let mut recipients: Vec<protocol::ids::PublicKey> = shelter
                .admins
                .iter()
                .filter_map(|k| k.parse().ok())
                .collect();
            if recipients.is_empty() {
                anyhow::bail!(tr!(
                    "shelter-request-not-admins",
                    org = shelter.org.as_str()
                ));
            }
            recipients.push(key.public());
            let rid = RecordId::random();
            let payload =
                ShelterRequestPayload::sign(&key, &rid, &sid, &saved.profile.name, people, &note);
            let sealed = payload
                .seal(&rid, &sid, &shelter.org, &recipients)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let request = ShelterRequestBody {
                id: rid,
                shelter: sid,
                org: shelter.org.clone(),
                region: shelter.region.clone(),
                sealed,
            };
            let ClientResponseV0::Stored { node, ids } = member::query(
                &key,
                &saved.nodes,
                ClientRequestV0::RequestShelter { request },
            )
            .await?
            else {
                anyhow::bail!(tr!("unexpected-answer"));
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": rid.to_string(),
                        "shelter": shelter.id,
                        "people": people,
                        "stored_by": node.to_string(),
                        "event": ids.first().map(|e| e.to_string()),
                    })
                );
            } else {
                println!(
                    "{}",
                    tr!(
                        "shelter-request-sent",
                        id = &rid.to_string()[..8],
                        people = people,
                        shelter = shelter.name.as_str(),
                        node = node.fmt_short(),
                        org = shelter.org.as_str()
                    )
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        ShelterAction::Requests => {
            let (opened, others) = readable_requests(&key, &saved).await?;
            output::shelter_requests(&opened, others, json)?;
            return Ok(ExitCode::SUCCESS);
        }
        ShelterAction::Accept { request: ref id } | ShelterAction::Decline { request: ref id } => {
            let accepted = matches!(action, ShelterAction::Accept { .. });
            let (opened, _) = readable_requests(&key, &saved).await?;
            let found: Vec<_> = opened
                .iter()
                .filter(|o| o.request.id.starts_with(&id.to_ascii_lowercase()))
                .collect();
            let [o] = found.as_slice() else {
                anyhow::bail!(tr!("no-readable-request", id = id.as_str()));
            };
            let r = &o.request;
            let body = Body::ShelterDecision {
                request: r.id.parse()?,
                shelter: r.shelter.parse()?,
                org: r.org.clone(),
                region: r.region.clone(),
                accepted,
            };
            events.push(sign(&key, DocId::shelters(&r.region), at, body)?);
            what = "shelter decision";
        }
        ShelterAction::Add {
            name,
            region,
            capacity,
            services,
            accepts,
            contact,
        } => {
            let body = Body::Shelter(ShelterBody {
                id: RecordId::random(),
                org,
                name,
                region: region.clone(),
                capacity,
                services,
                accepts,
                contact,
                status: ShelterStatus::Open,
            });
            events.push(sign(&key, DocId::shelters(&region), at, body)?);
        }
        ShelterAction::Update {
            id,
            status,
            capacity,
            arrive,
            leave,
        } => {
            let shelter = &find_shelter(&key, &saved, &id).await?;
            let sid: RecordId = shelter.id.parse()?;
            if status.is_some() || capacity.is_some() {
                let body = Body::Shelter(ShelterBody {
                    id: sid,
                    org: shelter.org.clone(),
                    name: shelter.name.clone(),
                    region: shelter.region.clone(),
                    capacity: capacity.unwrap_or(shelter.capacity),
                    services: shelter.services.clone(),
                    accepts: shelter.accepts.clone(),
                    contact: shelter.contact.clone(),
                    status: status.unwrap_or(match shelter.status {
                        ShelterStatus::Full => ShelterStatus::Open,
                        s => s,
                    }),
                });
                events.push(sign(&key, DocId::shelters(&shelter.region), at, body)?);
            }
            let delta = i64::from(arrive) - i64::from(leave);
            if delta != 0 {
                let body = Body::Occupancy {
                    shelter: sid,
                    org: shelter.org.clone(),
                    region: shelter.region.clone(),
                    delta: i32::try_from(delta).with_context(|| tr!("too-many-people"))?,
                };
                events.push(sign(&key, DocId::shelters(&shelter.region), at, body)?);
            }
            if events.is_empty() {
                anyhow::bail!(tr!("nothing-to-update"));
            }
        }
    }
    let delivery = member::deliver(home, &key, &saved.nodes, events.clone()).await?;
    output::delivery(what, &events[0], &delivery, saved.nodes.len(), json)?;
    if delivery.stored_by.is_empty() {
        let why = delivery
            .refused
            .first()
            .map(|(_, w)| w.clone())
            .unwrap_or_else(|| tr!("no-node-reachable"));
        anyhow::bail!(tr!("not-stored", why = why));
    }
    Ok(ExitCode::SUCCESS)
}
