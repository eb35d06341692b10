//! Bridges: how a node reaches people outside the network (email, a webhook, a program such as
//! an SMS gateway or signal-cli) when an alert arrives.
//!
//! This module knows the `[[bridge]]` entries of `config.toml` ([`parse`] turns them into
//! [`Bridge`]s, refusing a broken entry with its name), which alert goes through which bridge
//! ([`Bridge::takes`]), what is said ([`Notice`], short, in the node's language) and how it is
//! delivered ([`deliver`]). The durable outbox, retries and the signed `Notified` event are the
//! node's (`node/bridges.rs`).
//!
//! Secrets (an SMTP password, a webhook key) are read from files or the environment at start
//! and held in [`Secret`], whose `Debug` prints nothing: they never reach the roster or a log.

use std::time::Duration;

use protocol::event::{AlertKind, Channel, Severity};
use protocol::view::AlertView;
use serde::{Deserialize, Serialize};

/// How long one delivery may take before it counts as failed (the outbox retries it).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The node's language for what bridges say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lang {
    /// Español.
    #[default]
    Es,
    /// English.
    En,
}

/// A secret read at start: its `Debug` is redacted.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Who a bridge reaches, which decides whether it may hear of duress alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// Anyone the operator chose (a shared list, a channel): never told of a duress alert.
    #[default]
    Broadcast,
    /// The security contacts of this node's organisation's members: the only bridges a duress
    /// alert goes through, in the wording agreed with them.
    OwnContacts,
}

/// Where a bridge delivers.
#[derive(Clone, Debug)]
pub enum Target {
    /// SMTP.
    Email {
        /// Relay host.
        host: String,
        /// Relay port.
        port: u16,
        /// STARTTLS before anything is said (default); off only for a relay on this host.
        starttls: bool,
        /// Sender address.
        from: String,
        /// Recipients.
        to: Vec<String>,
        /// User name and password, if the relay asks for them.
        credentials: Option<(String, Secret)>,
    },
    /// An HTTP POST of the notice as JSON, signed with HMAC-SHA256 of the body.
    Webhook {
        /// http:// or https:// URL.
        url: String,
        /// The HMAC key.
        secret: Secret,
    },
    /// A program that reads the notice as JSON on its standard input.
    Exec {
        /// Program and arguments.
        command: Vec<String>,
        /// Environment variables the program does not inherit: those that hold other bridges'
        /// secrets ([`parse`] fills it in).
        withheld: Vec<String>,
    },
}

impl Target {
    /// The channel this target delivers by.
    pub fn channel(&self) -> Channel {
        match self {
            Target::Email { .. } => Channel::Email,
            Target::Webhook { .. } => Channel::Webhook,
            Target::Exec { .. } => Channel::Exec,
        }
    }
}

/// One validated `[[bridge]]` entry.
#[derive(Clone, Debug)]
pub struct Bridge {
    /// Unique on this node; names the contact in `Notified` events.
    pub name: String,
    /// Where it delivers.
    pub target: Target,
    /// Regions it is for (empty: every region).
    pub regions: Vec<String>,
    /// Kinds it is for (empty: every kind).
    pub kinds: Vec<AlertKind>,
    /// The least severity it is for.
    pub min_severity: Option<Severity>,
    /// Who it reaches.
    pub audience: Audience,
    /// What it says for a duress alert (own-contacts bridges only): a wording agreed with the
    /// contacts, which names no duress. `{name}`, `{region}`, `{id}` are replaced.
    pub duress_wording: Option<String>,
    /// How long one delivery may take.
    pub timeout: Duration,
    /// The escalation tier from which it takes an alert: 0 (default) from the start, 1 once
    /// the alert escalated to the organisation's admins, 2 to the region's security contacts,
    /// 3 to the whole network.
    pub tier: u8,
}

/// The header a webhook's signature travels in: `sha256=` and the hex HMAC-SHA256 of the body.
pub const SIGNATURE_HEADER: &str = "x-tejido-signature";

fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Minor => 0,
        Severity::Moderate => 1,
        Severity::Severe => 2,
        Severity::Extreme => 3,
    }
}

impl Bridge {
    /// Whether this bridge is for `alert` (as it shows to this node; a duress alert as
    /// `Duress`, opened).
    pub fn takes(&self, kind: AlertKind, severity: Severity, region: &str, tier: u8) -> bool {
        if kind == AlertKind::Sealed || tier < self.tier {
            return false;
        }
        if kind == AlertKind::Duress
            && (self.audience != Audience::OwnContacts || self.duress_wording.is_none())
        {
            return false;
        }
        let kind_ok = if self.kinds.is_empty() {
            true
        } else {
            self.kinds.contains(&kind)
        };
        let region_ok = self.regions.is_empty() || self.regions.iter().any(|r| r == region);
        // A duress alert has no severity of its own to filter on: it is always grave.
        let severity_ok = kind == AlertKind::Duress
            || self
                .min_severity
                .is_none_or(|m| severity_rank(severity) >= severity_rank(m));
        kind_ok && region_ok && severity_ok
    }
}

/// The file form of a `[[bridge]]` entry: every kind's fields, checked against its kind.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BridgeFile {
    name: String,
    kind: String,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
    min_severity: Option<String>,
    #[serde(default)]
    audience: Audience,
    duress_wording: Option<String>,
    timeout: Option<String>,
    tier: Option<u8>,
    // email
    smtp: Option<String>,
    starttls: Option<bool>,
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    username: Option<String>,
    password_file: Option<String>,
    password_env: Option<String>,
    // webhook
    url: Option<String>,
    secret_file: Option<String>,
    secret_env: Option<String>,
    // exec
    #[serde(default)]
    command: Vec<String>,
}

/// Reads a secret from a file (its first line, trimmed) or an environment variable.
fn read_secret(
    file: &Option<String>,
    env: &Option<String>,
    what: &str,
) -> Result<Option<Secret>, String> {
    match (file, env) {
        (Some(_), Some(_)) => Err(format!("give {what}_file or {what}_env, not both")),
        (Some(path), None) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{what}_file {path:?}: {e}"))?;
            let line = text.lines().next().unwrap_or("").trim();
            if line.is_empty() {
                return Err(format!("{what}_file {path:?} is empty"));
            }
            Ok(Some(Secret(line.as_bytes().to_vec())))
        }
        (None, Some(var)) => match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(Secret(v.trim().as_bytes().to_vec()))),
            _ => Err(format!("{what}_env: the variable {var} is not set")),
        },
        (None, None) => Ok(None),
    }
}

fn parse_one(value: toml::Value) -> Result<Bridge, String> {
    let f: BridgeFile = value
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    protocol::ids::check_slug("bridge", &f.name)
        .map_err(|_| "name must be 1-32 characters of a-z, 0-9 and -".to_string())?;
    let fields_of = |kind: &str| -> Vec<&'static str> {
        let mut present = Vec::new();
        if kind != "email" {
            for (set, name) in [
                (f.smtp.is_some(), "smtp"),
                (f.starttls.is_some(), "starttls"),
                (f.from.is_some(), "from"),
                (!f.to.is_empty(), "to"),
                (f.username.is_some(), "username"),
                (f.password_file.is_some(), "password_file"),
                (f.password_env.is_some(), "password_env"),
            ] {
                if set {
                    present.push(name);
                }
            }
        }
        if kind != "webhook" {
            for (set, name) in [
                (f.url.is_some(), "url"),
                (f.secret_file.is_some(), "secret_file"),
                (f.secret_env.is_some(), "secret_env"),
            ] {
                if set {
                    present.push(name);
                }
            }
        }
        if kind != "exec" && !f.command.is_empty() {
            present.push("command");
        }
        present
    };
    let stray = fields_of(&f.kind);
    if let Some(field) = stray.first() {
        return Err(format!("{field} does not belong in a {} bridge", f.kind));
    }
    let target = match f.kind.as_str() {
        "email" => {
            let smtp = f
                .smtp
                .as_deref()
                .ok_or("an email bridge needs smtp = \"host:port\"")?;
            let (host, port) = smtp
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
                .filter(|(h, _)| !h.is_empty())
                .ok_or_else(|| format!("smtp {smtp:?} is not host:port"))?;
            let from = f.from.clone().ok_or("an email bridge needs from")?;
            check_address(&from).map_err(|e| format!("from: {e}"))?;
            if f.to.is_empty() {
                return Err("an email bridge needs to = [addresses]".into());
            }
            for to in &f.to {
                check_address(to).map_err(|e| format!("to: {e}"))?;
            }
            let password = read_secret(&f.password_file, &f.password_env, "password")?;
            let credentials = match (f.username.clone(), password) {
                (Some(user), Some(password)) => Some((user, password)),
                (None, None) => None,
                _ => return Err("username and a password come together".into()),
            };
            Target::Email {
                host,
                port,
                starttls: f.starttls.unwrap_or(true),
                from,
                to: f.to.clone(),
                credentials,
            }
        }
        "webhook" => {
            let url = f.url.clone().ok_or("a webhook bridge needs url")?;
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return Err(format!("url {url:?} is not http:// or https://"));
            }
            url.parse::<ureq::http::Uri>()
                .map_err(|e| format!("url {url:?}: {e}"))?;
            let secret = read_secret(&f.secret_file, &f.secret_env, "secret")?
                .ok_or("a webhook bridge needs secret_file or secret_env (its HMAC key)")?;
            Target::Webhook { url, secret }
        }
        "exec" => {
            if f.command.is_empty() || f.command[0].is_empty() {
                return Err("an exec bridge needs command = [program, args...]".into());
            }
            Target::Exec {
                command: f.command.clone(),
                withheld: Vec::new(),
            }
        }
        other => {
            return Err(format!(
                "kind {other:?} is not one of \"email\", \"webhook\", \"exec\""
            ))
        }
    };
    let mut regions = Vec::new();
    for r in &f.regions {
        protocol::ids::check_slug("region", r).map_err(|e| e.to_string())?;
        regions.push(r.clone());
    }
    let mut kinds = Vec::new();
    for k in &f.kinds {
        let kind = match k.as_str() {
            "panic" => AlertKind::Panic,
            "alert" => AlertKind::Alert,
            "missed-checkin" => AlertKind::MissedCheckin,
            "duress" => AlertKind::Duress,
            other => {
                return Err(format!(
                    "kinds: {other:?} is not one of panic, alert, missed-checkin, duress"
                ))
            }
        };
        kinds.push(kind);
    }
    let min_severity = match f.min_severity.as_deref() {
        None => None,
        Some("minor") => Some(Severity::Minor),
        Some("moderate") => Some(Severity::Moderate),
        Some("severe") => Some(Severity::Severe),
        Some("extreme") => Some(Severity::Extreme),
        Some(other) => {
            return Err(format!(
                "min_severity {other:?} is not one of minor, moderate, severe, extreme"
            ))
        }
    };
    let takes_duress = kinds.is_empty() || kinds.contains(&AlertKind::Duress);
    let wording = f
        .duress_wording
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty());
    match f.audience {
        Audience::Broadcast if kinds.contains(&AlertKind::Duress) => {
            return Err(
                "a duress alert goes only to the member's own security contacts: set \
                 audience = \"own-contacts\" or take duress out of kinds"
                    .into(),
            )
        }
        Audience::Broadcast if wording.is_some() => {
            return Err("duress_wording is for own-contacts bridges only".into())
        }
        Audience::OwnContacts if takes_duress && wording.is_none() => {
            return Err(
                "an own-contacts bridge that takes duress alerts needs duress_wording, the \
                 words agreed with the contacts (never the word duress)"
                    .into(),
            )
        }
        _ => {}
    }
    if let Some(w) = wording {
        let lower = w.to_lowercase();
        for word in ["duress", "coacción", "coaccion", "coerción", "coercion"] {
            if lower.contains(word) {
                return Err(format!(
                    "duress_wording must not say {word:?}: a captor may read the message"
                ));
            }
        }
        if w.len() > 500 {
            return Err("duress_wording is longer than 500 bytes".into());
        }
    }
    let timeout = match f.timeout.as_deref() {
        None => DEFAULT_TIMEOUT,
        Some(t) => humantime::parse_duration(t).map_err(|e| format!("timeout {t:?}: {e}"))?,
    };
    if timeout.is_zero() {
        return Err("timeout must be more than zero".into());
    }
    let tier = f.tier.unwrap_or(0);
    if tier > protocol::event::MAX_TIER {
        return Err(format!(
            "tier is 0 (from the start) to {} (the whole network)",
            protocol::event::MAX_TIER
        ));
    }
    if tier > 0 && f.audience == Audience::OwnContacts && takes_duress {
        return Err("duress alerts never escalate: take duress out of this tier's kinds".into());
    }
    Ok(Bridge {
        name: f.name,
        target,
        regions,
        kinds,
        min_severity,
        audience: f.audience,
        duress_wording: wording.map(str::to_string),
        timeout,
        tier,
    })
}

/// A plain check of an email address: one `@` with something on each side, no spaces or
/// angle brackets (lettre checks it fully when it builds the message).
fn check_address(a: &str) -> Result<(), String> {
    a.parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|e| format!("{a:?} is not an address: {e}"))
}

/// The `[[bridge]]` entries of `config.toml`, validated: a broken entry is an error that names
/// it (or its position, when it has no name).
pub fn parse(entries: Vec<toml::Value>) -> Result<Vec<Bridge>, String> {
    let mut out: Vec<Bridge> = Vec::new();
    let mut secret_vars: Vec<String> = Vec::new();
    for (i, value) in entries.into_iter().enumerate() {
        for field in ["password_env", "secret_env"] {
            if let Some(var) = value.get(field).and_then(|v| v.as_str()) {
                secret_vars.push(var.to_string());
            }
        }
        let label = match value.get("name").and_then(|n| n.as_str()) {
            Some(name) => format!("bridge {name:?}"),
            None => format!("bridge number {} (it has no name)", i + 1),
        };
        let bridge = parse_one(value).map_err(|e| format!("{label}: {e}"))?;
        if out.iter().any(|b| b.name == bridge.name) {
            return Err(format!("{label}: the name is used by another bridge"));
        }
        out.push(bridge);
    }
    for bridge in &mut out {
        if let Target::Exec { withheld, .. } = &mut bridge.target {
            withheld.clone_from(&secret_vars);
        }
    }
    Ok(out)
}

mod deliver;
mod notice;

pub use deliver::*;
use notice::cut;
pub use notice::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<toml::Value> {
        #[derive(Deserialize)]
        struct F {
            bridge: Vec<toml::Value>,
        }
        toml::from_str::<F>(text).expect("toml").bridge
    }

    #[test]
    fn a_broken_entry_is_named() {
        let text = r#"
            [[bridge]]
            name = "ok-one"
            kind = "exec"
            command = ["/bin/true"]
            [[bridge]]
            name = "guardia-oaxaca"
            kind = "email"
            smtp = "127.0.0.1"
            from = "a@example.org"
            to = ["b@example.org"]
        "#;
        let err = parse(entries(text)).expect_err("no port");
        assert!(err.contains("\"guardia-oaxaca\""), "{err}");
        assert!(err.contains("host:port"), "{err}");
        let dup = r#"
            [[bridge]]
            name = "x"
            kind = "exec"
            command = ["/bin/true"]
            [[bridge]]
            name = "x"
            kind = "exec"
            command = ["/bin/true"]
        "#;
        assert!(parse(entries(dup))
            .expect_err("dup")
            .contains("used by another"));
        let stray = r#"
            [[bridge]]
            name = "y"
            kind = "exec"
            command = ["/bin/true"]
            url = "http://127.0.0.1/"
        "#;
        assert!(parse(entries(stray))
            .expect_err("stray")
            .contains("url does not belong"));
    }

    #[test]
    fn duress_goes_only_to_own_contacts_in_the_agreed_words() {
        let broadcast = r#"
            [[bridge]]
            name = "lista"
            kind = "exec"
            command = ["/bin/true"]
            kinds = ["panic", "duress"]
        "#;
        assert!(parse(entries(broadcast))
            .expect_err("broadcast duress")
            .contains("own security contacts"));
        let says_it = r#"
            [[bridge]]
            name = "guardia"
            kind = "exec"
            command = ["/bin/true"]
            audience = "own-contacts"
            duress_wording = "Duress: call {name}"
        "#;
        assert!(parse(entries(says_it))
            .expect_err("wording")
            .contains("must not say"));
        let good = r#"
            [[bridge]]
            name = "guardia"
            kind = "exec"
            command = ["/bin/true"]
            audience = "own-contacts"
            duress_wording = "Llama a {name} por lo de la cita"
            [[bridge]]
            name = "todas"
            kind = "exec"
            command = ["/bin/true"]
        "#;
        let bridges = parse(entries(good)).expect("valid");
        assert!(bridges[0].takes(AlertKind::Duress, Severity::Minor, "oaxaca", 0));
        assert!(!bridges[1].takes(AlertKind::Duress, Severity::Extreme, "oaxaca", 0));
        assert!(bridges[1].takes(AlertKind::Panic, Severity::Extreme, "oaxaca", 0));
        assert!(!bridges[1].takes(AlertKind::Sealed, Severity::Extreme, "oaxaca", 0));
    }

    /// An exec bridge's program does not inherit the variables that hold other bridges'
    /// secrets (an SMS script has no business with the SMTP password).
    #[test]
    fn programs_do_not_inherit_other_bridges_secrets() {
        std::env::set_var("BRIDGE_UNIT_TEST_HOOK_KEY", "k");
        let text = r#"
            [[bridge]]
            name = "hook"
            kind = "webhook"
            url = "http://127.0.0.1:1/"
            secret_env = "BRIDGE_UNIT_TEST_HOOK_KEY"
            [[bridge]]
            name = "sms"
            kind = "exec"
            command = ["/bin/true"]
        "#;
        let bridges = parse(entries(text)).expect("valid");
        let Target::Exec { withheld, .. } = &bridges[1].target else {
            panic!("an exec bridge");
        };
        assert_eq!(withheld, &["BRIDGE_UNIT_TEST_HOOK_KEY".to_string()]);
        assert!(format!("{:?}", bridges[0]).contains("Secret(..)"));
        assert!(!format!("{:?}", bridges[0]).contains("\"k\""));
    }

    #[test]
    fn webhook_signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
