//! Command-line arguments, the data directory and its `config.toml`, turned into one validated
//! [`Config`]. Nothing downstream sees [`Args`].

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use libp2p::Multiaddr;
use protocol::ids::SecretKey;
use serde::{Deserialize, Serialize};

/// Default listen addresses: one TCP and one QUIC port, so invite codes stay valid across
/// restarts.
pub const DEFAULT_LISTEN: [&str; 2] = ["/ip4/0.0.0.0/tcp/4717", "/ip4/0.0.0.0/udp/4717/quic-v1"];

/// Name of the operator socket inside the data directory.
pub const SOCKET_NAME: &str = "tejidod.sock";

/// tejidod: the Tejido node. Replicates alerts, shelters and check-ins among trusted
/// organisations.
#[derive(Debug, Parser)]
#[command(name = "tejidod", version)]
pub struct Args {
    /// Data directory (keys, config.toml, store, operator socket); created on first start.
    #[arg(long, env = "TEJIDO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Read the configuration from this file instead of DATA_DIR/config.toml (the Debian
    /// package's /etc/tejido/config.toml); it must exist, and it names the organisation.
    #[arg(long, env = "TEJIDO_CONFIG")]
    pub config: Option<PathBuf>,
    /// Restore a backup (`tejido backup`) into the data directory, which must not exist or
    /// be empty, then start: the node is the same node to its peers and catches up with
    /// them. The passphrase is the backup's, read like the at-rest one (terminal,
    /// --passphrase-fd, --passphrase-file, the systemd credential); a restored node that was
    /// encrypted at rest, or with --encrypt, is encrypted under it.
    #[arg(long, value_name = "FILE")]
    pub restore: Option<PathBuf>,
    /// Listen on this multiaddr (repeatable); overrides `listen` in config.toml.
    #[arg(long)]
    pub listen: Vec<Multiaddr>,
    /// Organisation slug for a new node (first start only), e.g. `red-mujeres-oax`.
    #[arg(long)]
    pub org: Option<String>,
    /// Network name for a new node (first start only).
    #[arg(long)]
    pub network: Option<String>,
    /// How many organisations must agree to admit, suspend or remove one, for a new network
    /// (first start only; fixed for the network's life). Default: one while the network has
    /// fewer than three organisations, two from three on.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..))]
    pub consent: Option<u8>,
    /// Which nodes to dial: `all` trusted nodes of the roster, or only `bootstrap` peers
    /// (config.toml and the node that admitted this one); overrides `connect` in config.toml.
    #[arg(long)]
    pub connect: Option<Connect>,
    /// How long after a member's check-in is due before a missed check-in alert is raised,
    /// e.g. 15m; overrides `checkin_grace` in config.toml.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub checkin_grace: Option<std::time::Duration>,
    /// Keep alert documents this long after their month ends (e.g. 90d); overrides
    /// `retention.alerts` in config.toml.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub retain_alerts: Option<std::time::Duration>,
    /// Keep check-in documents this long after their month ends (e.g. 30d); overrides
    /// `retention.checkins` in config.toml.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub retain_checkins: Option<std::time::Duration>,
    /// Client requests each member's connection may make per second (bursts of three
    /// seconds' worth); beyond it requests are refused, and a peer that keeps on is
    /// disconnected. Benchmarks raise it.
    #[arg(long, default_value_t = 20.0)]
    pub client_rate: f64,
    /// Sync requests each trusted node may make per second (bursts of ten seconds' worth);
    /// beyond it they are refused and the peer retries with its next summary.
    #[arg(long, default_value_t = DEFAULT_SYNC_RATE)]
    pub sync_rate: f64,
    /// Events each member may write per minute (check-ins, panics, acknowledgements...),
    /// across all their devices' requests.
    #[arg(long, default_value_t = DEFAULT_MEMBER_EVENTS_PER_MINUTE)]
    pub member_events_per_minute: f64,
    /// Documents each member's events may add to this node per minute (a new month or region).
    #[arg(long, default_value_t = DEFAULT_MEMBER_DOCS_PER_MINUTE)]
    pub member_docs_per_minute: f64,
    /// Serve Prometheus metrics over HTTP on this loopback address (off by default), e.g.
    /// 127.0.0.1:9464.
    #[arg(long)]
    pub metrics: Option<std::net::SocketAddr>,
    /// Encrypt everything the node stores with a key derived from a passphrase (first start
    /// only; an encrypted data directory always asks for it).
    #[arg(long)]
    pub encrypt: bool,
    /// Read the passphrase from this file descriptor instead of the terminal.
    #[arg(long)]
    pub passphrase_fd: Option<i32>,
    /// Read the passphrase from the first line of this file (readable by the node's user
    /// only). Under systemd, the credential `tejido-passphrase` is read without this flag.
    #[arg(long, conflicts_with = "passphrase_fd")]
    pub passphrase_file: Option<PathBuf>,
    /// Run the node's clock this many milliseconds ahead of the system's (behind when
    /// negative): for tests that need a skewed or a past clock, never for a real node.
    #[arg(long, hide = true, allow_hyphen_values = true, default_value_t = 0)]
    pub clock_offset_ms: i64,
    /// Relay connections between trusted nodes that cannot reach each other directly (for a
    /// node with a public address); sets `relay_server` in config.toml's stead.
    #[arg(long)]
    pub relay_server: bool,
    /// Be reachable through this trusted relay node (repeatable), a multiaddr ending in
    /// /p2p/PEER_ID; for a node behind NAT. Adds to `relay_via` in config.toml.
    #[arg(long)]
    pub relay_via: Vec<Multiaddr>,
    /// Announce this node and find trusted nodes on the local network by mDNS (off by
    /// default: it tells everyone on the network that a node runs here); sets `mdns`.
    #[arg(long)]
    pub mdns: bool,
}

pub use crate::engine::Retention;

/// Default sync requests per second per peer node: a catch-up of 10,000 events takes a few
/// hundred requests, an alert's path a handful per document and hop.
pub const DEFAULT_SYNC_RATE: f64 = 2000.0;
/// Default events per member per minute: a person checks in, raises a panic or acknowledges
/// a few times an hour; a device that was offline sends its queue at once (64 per request).
pub const DEFAULT_MEMBER_EVENTS_PER_MINUTE: f64 = 600.0;
/// Default documents a member's events may add per minute: a month or a region new to the
/// node, a few at a time.
pub const DEFAULT_MEMBER_DOCS_PER_MINUTE: f64 = 16.0;

/// Default retention of alert documents after their month ends.
pub const DEFAULT_RETAIN_ALERTS: &str = "90d";
/// Default retention of check-in documents after their month ends.
pub const DEFAULT_RETAIN_CHECKINS: &str = "30d";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionFile {
    alerts: Option<String>,
    checkins: Option<String>,
}

/// Which nodes a node dials by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Connect {
    /// Every trusted node whose address the roster announces.
    All,
    /// Only bootstrap peers; others reach this node, or reach it through them.
    Bootstrap,
}

/// The file form of the configuration.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// This node's organisation.
    org: String,
    /// Multiaddrs to listen on.
    #[serde(default = "default_listen")]
    listen: Vec<String>,
    /// Peers to dial, as multiaddrs ending in /p2p/PEER_ID.
    #[serde(default)]
    bootstrap: Vec<String>,
    /// Which nodes to dial.
    #[serde(default = "default_connect")]
    connect: Connect,
    /// Grace period after a missed check-in's due time, e.g. "15m".
    #[serde(default = "default_grace")]
    checkin_grace: String,
    /// How long documents are kept after their month ends.
    #[serde(default)]
    retention: RetentionFile,
    /// Relay for trusted nodes.
    #[serde(default)]
    relay_server: bool,
    /// Relays to be reachable through.
    #[serde(default)]
    relay_via: Vec<String>,
    /// mDNS on the local network.
    #[serde(default)]
    mdns: bool,
    /// How bridges speak and take turns.
    #[serde(default)]
    notify: NotifyFile,
    /// Acknowledgement deadlines per severity, after which alerts escalate.
    #[serde(default)]
    escalation: EscalationFile,
    /// Bridges to email, webhooks and programs, checked one by one ([`crate::bridge::parse`]).
    #[serde(default)]
    bridge: Vec<toml::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyFile {
    language: Option<crate::bridge::Lang>,
    claim_wait: Option<String>,
    takeover: Option<String>,
    max_age: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalationFile {
    enabled: Option<bool>,
    extreme: Option<String>,
    severe: Option<String>,
    moderate: Option<String>,
    minor: Option<String>,
}

/// How long an alert of each severity may wait for an acknowledgement before it escalates to
/// the next tier (and again, from then, to the one after): a panic is extreme.
pub const DEFAULT_ESCALATION: [(&str, &str); 4] = [
    ("extreme", "10m"),
    ("severe", "30m"),
    ("moderate", "2h"),
    ("minor", "12h"),
];

/// How long a node waits after claiming a notification before it delivers, so that the claims
/// of other nodes with a bridge of the same name reach it and one of them delivers: a few
/// sync rounds between connected nodes, short beside an SMS's own delay.
pub const DEFAULT_NOTIFY_CLAIM_WAIT: &str = "5s";
/// How long each claimant after the first waits more before it delivers anyway, when no
/// delivery of the nodes ahead of it has arrived (the first one's bridge is down, or it is).
pub const DEFAULT_NOTIFY_TAKEOVER: &str = "2m";
/// Alerts older than this when a node first sees them are not sent through bridges, and no
/// longer escalate (a node catching up on a month of alerts does not page anyone for them).
pub const DEFAULT_NOTIFY_MAX_AGE: &str = "6h";

/// How the node's bridges speak and take turns.
#[derive(Clone, Debug)]
pub struct Notify {
    /// The language of what bridges say.
    pub lang: crate::bridge::Lang,
    /// [`DEFAULT_NOTIFY_CLAIM_WAIT`].
    pub claim_wait: std::time::Duration,
    /// [`DEFAULT_NOTIFY_TAKEOVER`].
    pub takeover: std::time::Duration,
    /// [`DEFAULT_NOTIFY_MAX_AGE`].
    pub max_age: std::time::Duration,
    /// Acknowledgement deadlines by severity (extreme, severe, moderate, minor), or none when
    /// escalation is off ([`DEFAULT_ESCALATION`]).
    pub escalation: Option<[std::time::Duration; 4]>,
}

fn default_grace() -> String {
    DEFAULT_CHECKIN_GRACE.to_string()
}

/// How long after a check-in was due a node raises the missed check-in alert: long enough
/// for a member whose phone is slow to get through, short enough to matter.
pub const DEFAULT_CHECKIN_GRACE: &str = "15m";

fn default_connect() -> Connect {
    Connect::All
}

fn default_listen() -> Vec<String> {
    DEFAULT_LISTEN.iter().map(|s| s.to_string()).collect()
}

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The data directory.
    pub data_dir: PathBuf,
    /// This node's organisation slug.
    pub org: String,
    /// Where to listen.
    pub listen: Vec<Multiaddr>,
    /// The node's key (its libp2p identity).
    pub node_key: SecretKey,
    /// The operator's admin key, which signs roster changes made through the operator socket;
    /// `None` when the operator keeps it off the node (`tejido admin-key move-out`), and the
    /// CLI signs roster changes with `--admin-key`.
    pub admin_key: Option<SecretKey>,
    /// Whether this start initialised the data directory.
    pub fresh: bool,
    /// Network name for the genesis of a fresh node.
    pub network: String,
    /// How many organisations must agree on a change to the network, for its genesis.
    pub consent: Option<u8>,
    /// Bootstrap peers from config.toml.
    pub bootstrap: Vec<Multiaddr>,
    /// Which nodes to dial.
    pub connect: Connect,
    /// Grace period before a missed check-in raises an alert.
    pub checkin_grace: std::time::Duration,
    /// How long documents are kept.
    pub retention: Retention,
    /// Client requests per second per peer.
    pub client_rate: f64,
    /// Sync requests per second per peer node.
    pub sync_rate: f64,
    /// Events per minute per member.
    pub member_events_per_minute: f64,
    /// New documents per minute per member.
    pub member_docs_per_minute: f64,
    /// Where to serve metrics (loopback only).
    pub metrics: Option<std::net::SocketAddr>,
    /// The at-rest cipher, when the data directory is encrypted.
    pub at_rest: Option<std::sync::Arc<crate::at_rest::AtRest>>,
    pub relay_server: bool,
    pub relay_via: Vec<Multiaddr>,
    pub mdns: bool,
    /// The bridges, validated.
    pub bridges: Vec<crate::bridge::Bridge>,
    /// How they speak and take turns.
    pub notify: Notify,
    /// The configuration file read (for backups and doctor).
    pub config_path: PathBuf,
}

impl Config {
    /// What in this configuration deserves a second look (`tejido doctor`), one line each.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.connect == Connect::Bootstrap && self.bootstrap.is_empty() {
            out.push("connect = \"bootstrap\" with no bootstrap peer in config.toml: this node dials only the node that admitted it".into());
        }
        if self.mdns {
            out.push("mdns = true announces this node to everyone on the local network".into());
        }
        let default = |text: &str| humantime::parse_duration(text).unwrap_or_default();
        if self.retention.alerts > default(DEFAULT_RETAIN_ALERTS)
            || self.retention.checkins > default(DEFAULT_RETAIN_CHECKINS)
        {
            out.push(format!(
                "retention is longer than the defaults ({DEFAULT_RETAIN_ALERTS} for alerts, {DEFAULT_RETAIN_CHECKINS} for check-ins): a seized node reveals more"
            ));
        }
        let loopback_only = !self.listen.is_empty()
            && self.listen.iter().all(|a| {
                a.iter().any(|p| {
                    matches!(p, libp2p::multiaddr::Protocol::Ip4(ip) if ip.is_loopback())
                        || matches!(p, libp2p::multiaddr::Protocol::Ip6(ip) if ip.is_loopback())
                })
            });
        if loopback_only && self.relay_via.is_empty() {
            out.push("the node listens on loopback only: no other machine can reach it".into());
        }
        out
    }

    /// The operator socket path.
    pub fn socket_path(&self) -> PathBuf {
        self.data_dir.join(SOCKET_NAME)
    }
    /// The sled directory.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }
}

/// The platform's data directory for tejidod.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("org", "Tejido", "tejido")
        .map(|d| d.data_dir().join("node"))
        .context("no home directory: pass --data-dir")
}

/// Reads (or, on first start, creates) the data directory and validates everything.
pub fn load(args: Args) -> anyhow::Result<Config> {
    // Arguments are checked before anything is written.
    if let Some(addr) = args.metrics.filter(|a| !a.ip().is_loopback()) {
        anyhow::bail!("--metrics serves on loopback only (e.g. 127.0.0.1:9464), not {addr}");
    }
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let passphrase_source = crate::at_rest::PassphraseSource {
        fd: args.passphrase_fd,
        file: args.passphrase_file.clone(),
    };
    // A restored directory is opened with the backup's passphrase, read once.
    let mut restored_passphrase = None;
    if let Some(file) = &args.restore {
        let passphrase = crate::at_rest::read_passphrase(&passphrase_source, false)?;
        let line = crate::backup::restore(file, &data_dir, &passphrase, args.encrypt)?;
        tracing::info!(dir = %data_dir.display(), "{line}");
        restored_passphrase = Some(passphrase);
    }
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| data_dir.join("config.toml"));
    // With --config the file is the operator's and exists before the first start; the data
    // directory is new when it holds no node key yet.
    let fresh = match &args.config {
        Some(path) => {
            if !path.exists() {
                anyhow::bail!(
                    "{} does not exist: write it first (packaging/config.example.toml documents every setting)",
                    path.display()
                );
            }
            !data_dir.join("node.key").exists()
        }
        None => !config_path.exists(),
    };
    let encrypted = data_dir.join(crate::at_rest::ENCRYPTION_FILE).exists();
    if !fresh && args.encrypt && !encrypted {
        anyhow::bail!(
            "{} was created without encryption; encrypting an existing store is not supported (export a bundle, start a new encrypted node, import it)",
            data_dir.display()
        );
    }
    let mut at_rest = None;
    if fresh {
        let org = args.org.clone().unwrap_or_else(|| "my-org".to_string());
        protocol::ids::check_slug("organisation", &org).map_err(|_| {
            anyhow::anyhow!("--org must be 1-32 characters of a-z, 0-9 and -, got {org:?}")
        })?;
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        if args.encrypt {
            let passphrase = crate::at_rest::read_passphrase(&passphrase_source, true)?;
            at_rest = Some(crate::at_rest::AtRest::create(&data_dir, &passphrase)?);
        }
        init_dir(&data_dir, &org, at_rest.as_ref(), args.config.is_none())?;
    } else if encrypted {
        let passphrase = match restored_passphrase {
            Some(p) => p,
            None => crate::at_rest::read_passphrase(&passphrase_source, false)?,
        };
        at_rest = Some(crate::at_rest::AtRest::open(&data_dir, &passphrase)?);
    }
    // After the passphrase is checked: a wrong one changes nothing.
    crate::format::check_and_migrate(&data_dir, fresh)?;
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let file: ConfigFile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{} is not valid: {}", config_path.display(), e.message()))?;
    protocol::ids::check_slug("organisation", &file.org).map_err(|_| {
        anyhow::anyhow!(
            "{}: org must be 1-32 characters of a-z, 0-9 and -",
            config_path.display()
        )
    })?;
    let listen = if args.listen.is_empty() {
        file.listen
            .iter()
            .map(|a| {
                a.parse().map_err(|e| {
                    anyhow::anyhow!("{}: listen address {a:?}: {e}", config_path.display())
                })
            })
            .collect::<anyhow::Result<Vec<Multiaddr>>>()?
    } else {
        args.listen
    };
    let in_file = |name: &str| format!("{}: {name}", config_path.display());
    let bootstrap = file
        .bootstrap
        .iter()
        .map(|a| peer_addr(a, &in_file("bootstrap address")))
        .collect::<anyhow::Result<Vec<Multiaddr>>>()?;
    let mut relay_via = file
        .relay_via
        .iter()
        .map(|a| peer_addr(a, &in_file("relay_via")))
        .collect::<anyhow::Result<Vec<Multiaddr>>>()?;
    for addr in &args.relay_via {
        peer_addr(&addr.to_string(), "--relay-via")?;
    }
    relay_via.extend(args.relay_via);
    let checkin_grace = match args.checkin_grace {
        Some(g) => g,
        None => humantime::parse_duration(&file.checkin_grace).map_err(|e| {
            anyhow::anyhow!(
                "{}: checkin_grace {:?}: {e}",
                config_path.display(),
                file.checkin_grace
            )
        })?,
    };
    let duration =
        |flag: Option<std::time::Duration>, value: &Option<String>, default: &str, name: &str| {
            if let Some(d) = flag {
                return Ok(d);
            }
            let text = value.as_deref().unwrap_or(default);
            humantime::parse_duration(text).map_err(|e| {
                anyhow::anyhow!("{}: retention.{name} {text:?}: {e}", config_path.display())
            })
        };
    let retention = Retention {
        alerts: duration(
            args.retain_alerts,
            &file.retention.alerts,
            DEFAULT_RETAIN_ALERTS,
            "alerts",
        )?,
        checkins: duration(
            args.retain_checkins,
            &file.retention.checkins,
            DEFAULT_RETAIN_CHECKINS,
            "checkins",
        )?,
    };
    let bridges = crate::bridge::parse(file.bridge)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config_path.display()))?;
    let notify_duration = |value: &Option<String>, default: &str, name: &str| {
        let text = value.as_deref().unwrap_or(default);
        humantime::parse_duration(text)
            .map_err(|e| anyhow::anyhow!("{}: notify.{name} {text:?}: {e}", config_path.display()))
    };
    let esc = &file.escalation;
    let mut deadlines = [std::time::Duration::ZERO; 4];
    for (i, (name, default)) in DEFAULT_ESCALATION.iter().enumerate() {
        let value = [&esc.extreme, &esc.severe, &esc.moderate, &esc.minor][i];
        let text = value.as_deref().unwrap_or(default);
        deadlines[i] = humantime::parse_duration(text).map_err(|e| {
            anyhow::anyhow!("{}: escalation.{name} {text:?}: {e}", config_path.display())
        })?;
        if deadlines[i].is_zero() {
            anyhow::bail!(
                "{}: escalation.{name} must be more than zero",
                config_path.display()
            );
        }
    }
    let notify = Notify {
        escalation: esc.enabled.unwrap_or(true).then_some(deadlines),
        lang: file.notify.language.unwrap_or_default(),
        claim_wait: notify_duration(
            &file.notify.claim_wait,
            DEFAULT_NOTIFY_CLAIM_WAIT,
            "claim_wait",
        )?,
        takeover: notify_duration(&file.notify.takeover, DEFAULT_NOTIFY_TAKEOVER, "takeover")?,
        max_age: notify_duration(&file.notify.max_age, DEFAULT_NOTIFY_MAX_AGE, "max_age")?,
    };
    Ok(Config {
        bridges,
        notify,
        node_key: read_key(&data_dir.join("node.key"), at_rest.as_ref())?,
        admin_key: match data_dir.join("admin.key") {
            path if path.exists() => Some(read_key(&path, at_rest.as_ref())?),
            _ => None,
        },
        at_rest: at_rest.map(std::sync::Arc::new),
        metrics: args.metrics,
        client_rate: if args.client_rate.is_finite() && args.client_rate > 0.0 {
            args.client_rate
        } else {
            anyhow::bail!("--client-rate must be a positive number")
        },
        sync_rate: if args.sync_rate.is_finite() && args.sync_rate > 0.0 {
            args.sync_rate
        } else {
            anyhow::bail!("--sync-rate must be a positive number")
        },
        member_events_per_minute: if args.member_events_per_minute.is_finite()
            && args.member_events_per_minute > 0.0
        {
            args.member_events_per_minute
        } else {
            anyhow::bail!("--member-events-per-minute must be a positive number")
        },
        member_docs_per_minute: if args.member_docs_per_minute.is_finite()
            && args.member_docs_per_minute > 0.0
        {
            args.member_docs_per_minute
        } else {
            anyhow::bail!("--member-docs-per-minute must be a positive number")
        },
        retention,
        checkin_grace,
        bootstrap,
        connect: args.connect.unwrap_or(file.connect),
        data_dir,
        org: file.org,
        listen,
        fresh,
        network: args.network.unwrap_or_else(|| "tejido".into()),
        consent: args.consent,
        relay_server: args.relay_server || file.relay_server,
        relay_via,
        mdns: args.mdns || file.mdns,
        config_path,
    })
}

/// A multiaddr that names its peer (ends in /p2p/PEER_ID); `what` says where it came from.
fn peer_addr(text: &str, what: &str) -> anyhow::Result<Multiaddr> {
    let addr: Multiaddr = text
        .parse()
        .map_err(|e| anyhow::anyhow!("{what} {text:?}: {e}"))?;
    if !addr
        .iter()
        .any(|p| matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
    {
        anyhow::bail!("{what} {text:?} must end in /p2p/PEER_ID");
    }
    Ok(addr)
}

/// Makes a new data directory's keys and, with `write_config`, its `config.toml`.
fn init_dir(
    dir: &Path,
    org: &str,
    at_rest: Option<&crate::at_rest::AtRest>,
    write_config: bool,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;
    for name in ["node.key", "admin.key"] {
        let path = dir.join(name);
        if !path.exists() {
            let secret = SecretKey::generate().to_bytes();
            match at_rest {
                Some(at_rest) => write_private(&path, &at_rest.seal_key(&secret)?)?,
                None => write_private(&path, &secret)?,
            }
        }
    }
    if !write_config {
        return Ok(());
    }
    let listen: Vec<String> = default_listen().iter().map(|a| format!("{a:?}")).collect();
    let text = format!(
        "# Tejido node configuration. Restart tejidod after editing.\n\
         \n\
         # This node's organisation (a slug: a-z, 0-9 and -).\n\
         org = {org:?}\n\
         \n\
         # Where to listen (libp2p multiaddrs). --listen on the command line overrides this.\n\
         listen = [{}]\n\
         \n\
         # Peers to dial at start, as multiaddrs ending in /p2p/PEER_ID. Joining a network adds\n\
         # the node that admitted this one by itself.\n\
         bootstrap = []\n\
         \n\
         # Which nodes to dial: \"all\" trusted nodes the roster announces, or only \"bootstrap\".\n\
         connect = \"all\"\n\
         \n\
         # How long after a member's check-in is due before a missed check-in alert is raised.\n\
         checkin_grace = \"15m\"\n\
         \n\
         # Relay for trusted nodes that cannot reach each other (a node with a public address).\n\
         relay_server = false\n\
         \n\
         # Behind NAT: be reachable through these trusted relays (multiaddrs ending in /p2p/ID).\n\
         relay_via = []\n\
         \n\
         # Find trusted nodes on the local network by mDNS (announces this node there).\n\
         mdns = false\n\
         \n\
         # How long documents are kept after their month ends; older ones are dropped whole.\n\
         [retention]\n\
         alerts = \"90d\"\n\
         checkins = \"30d\"\n",
        listen.join(", ")
    );
    write_private(&dir.join("config.toml"), text.as_bytes())
}

/// Writes a file readable by its owner only, durably.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

fn read_key(path: &Path, at_rest: Option<&crate::at_rest::AtRest>) -> anyhow::Result<SecretKey> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = match (at_rest, crate::at_rest::is_sealed_key(&bytes)) {
        (Some(at_rest), true) => at_rest.open_key(&bytes)?.to_vec(),
        (None, true) => anyhow::bail!(
            "{} is encrypted but the data directory has no encryption file",
            path.display()
        ),
        (Some(_), false) => anyhow::bail!(
            "{} is not encrypted in an encrypted data directory",
            path.display()
        ),
        (None, false) => bytes,
    };
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} is damaged: a key file holds 32 bytes", path.display()))?;
    Ok(SecretKey::from_bytes(bytes))
}
