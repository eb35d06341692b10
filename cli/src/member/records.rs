//! Records a member signs on their device: check-ins, panics (and waiting for their
//! receipts), the duress code, and alerts with their acknowledgements, assignments and
//! resolutions.

use std::time::Duration;

use anyhow::Context;
use protocol::event::{
    AlertBody, AlertKind, Body, Certainty, CheckinBody, CheckinStatus, Severity, Urgency,
};
use protocol::ids::{DocId, SecretKey, Timestamp};
use protocol::private::{CancelPrivate, CheckinPrivate};
use protocol::view::AlertView;
use protocol::wire::{ClientRequestV0, ClientResponseV0};

use super::deliver::{deliver, query, send_record};
use super::home::{load, Home, Saved};
use super::{millis, sign};
use crate::args::AlertCommand;
use crate::output::{self, Printer};
use crate::Exit;

/// The shortest alert id prefix accepted.
const MIN_ALERT_PREFIX: usize = 6;
/// How often `panic --wait` asks for the alert's receipts.
const RECEIPTS_POLL: Duration = Duration::from_millis(500);
/// The shortest duress code accepted.
const MIN_DURESS_CODE: usize = 4;

pub(super) async fn checkin(
    p: &mut Printer<'_>,
    home: &Home,
    status: CheckinStatus,
    next: Option<Duration>,
    note: String,
    code: Option<String>,
) -> anyhow::Result<Exit> {
    let (key, saved) = load(home)?;
    let at = Timestamp::now();
    let next_due = next.map(|d| at.plus_ms(millis(d)));
    // The same steps with a code or without, the duress code or another: only the member's
    // organisation's nodes can tell them apart.
    let private = match code {
        Some(c) => CheckinPrivate {
            status,
            note,
            code_tag: protocol::event::duress_tag(&key, &c),
        },
        None => CheckinPrivate::without_code(status, note),
    };
    let readers = readers(&key, &saved, |p| p.checkin_readers.clone()).await;
    let sealed = private
        .seal(&key.public(), at, &readers)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = Body::Checkin(CheckinBody { next_due, sealed });
    let event = sign(
        home,
        &key,
        DocId::checkins(&saved.profile.org, at),
        at,
        body,
    )?;
    send_record(p, home, &key, &saved, event, "check-in").await
}

pub(super) async fn panic(
    p: &mut Printer<'_>,
    home: &Home,
    note: String,
    region: Option<String>,
    wait: Option<Duration>,
) -> anyhow::Result<Exit> {
    let (key, saved) = load(home)?;
    let region = region
        .or(saved.profile.region.clone())
        .with_context(|| tr!("no-home-region"))?;
    protocol::ids::check_slug("region", &region).map_err(|e| anyhow::anyhow!("{e}"))?;
    let at = Timestamp::now();
    let id = AlertBody::id_for(&key.public(), at);
    let body = Body::Alert(Box::new(AlertBody {
        id,
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
    }));
    let event = sign(home, &key, DocId::alerts(&region, at), at, body)?;
    let code = send_record(p, home, &key, &saved, event, "panic").await?;
    if let (Some(wait), Exit::Ok) = (wait, code) {
        wait_for_receipts(p, &key, &saved, &id.to_string(), wait).await?;
    }
    Ok(code)
}

/// Calls off the member's own panic. With the duress code or without, the same steps and the
/// same output: only the member's organisation's nodes can tell them apart.
pub(super) async fn cancel_panic(
    p: &mut Printer<'_>,
    home: &Home,
    id: &str,
    note: String,
    code: Option<String>,
) -> anyhow::Result<Exit> {
    let (key, saved) = load(home)?;
    let alert = find_alert(&key, &saved, id).await?;
    // Raised by this device, or by another device of the same person.
    let me = key.public().to_string();
    let person = saved.profile.person.map(|p| p.to_string());
    let mine = alert.author == me
        || (person.is_some() && alert.author_person.as_deref() == person.as_deref());
    if alert.kind != AlertKind::Panic || !mine {
        anyhow::bail!(tr!("cancel-not-yours", id = output::short(&alert.id)));
    }
    let (Ok(alert_id), Ok(doc)) = (alert.id.parse(), alert.doc.parse::<DocId>()) else {
        anyhow::bail!(tr!("unexpected-answer"));
    };
    let at = Timestamp::now();
    let private = match code {
        Some(c) => CancelPrivate {
            code_tag: protocol::event::duress_tag(&key, &c),
        },
        None => CancelPrivate::without_code(),
    };
    let readers = readers(&key, &saved, |p| p.checkin_readers.clone()).await;
    let sealed = private
        .seal(&key.public(), at, &alert_id, &readers)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = Body::Cancel {
        alert: alert_id,
        note,
        sealed,
    };
    let event = sign(home, &key, doc, at, body)?;
    send_record(p, home, &key, &saved, event, "cancel").await
}

/// Polls a panic until every node holds it and someone acknowledged it, or `wait` passed,
/// then prints its receipts (or, with --json, the alert as `alert show --json` does).
async fn wait_for_receipts(
    p: &mut Printer<'_>,
    key: &SecretKey,
    saved: &Saved,
    id: &str,
    wait: Duration,
) -> anyhow::Result<()> {
    if !p.json() {
        p.line(&tr!("receipts-waiting", secs = wait.as_secs()))?;
    }
    let now = tokio::time::Instant::now();
    // A wait too long for the clock is a wait without end.
    let deadline = now.checked_add(wait);
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
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
        tokio::time::sleep(RECEIPTS_POLL).await;
    }
    match last {
        Some(alert) if p.json() => output::alert_detail(p, &alert),
        Some(alert) => output::receipts(p, &alert),
        None => Ok(()),
    }
}

pub(super) async fn duress_set(p: &mut Printer<'_>, home: &Home) -> anyhow::Result<Exit> {
    let (key, saved) = load(home)?;
    let code = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        rpassword::prompt_password(tr!("duress-prompt"))?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line
    };
    let code = code.trim().to_string();
    if code.len() < MIN_DURESS_CODE {
        anyhow::bail!(tr!("duress-too-short"));
    }
    let event = duress_event(home, &key, &saved, &code).await?;
    let delivery = deliver(home, &key, &saved.own_nodes(), vec![event]).await?;
    if delivery.stored_by.is_empty() {
        anyhow::bail!(tr!("duress-not-stored"));
    }
    p.line(&tr!("duress-set"))?;
    Ok(Exit::Ok)
}

/// The `DuressSet` event for `code`, sealed to the member's organisation's nodes.
pub(super) async fn duress_event(
    home: &Home,
    key: &SecretKey,
    saved: &Saved,
    code: &str,
) -> anyhow::Result<protocol::event::SignedEvent> {
    let readers = readers(key, saved, |p| p.org_nodes.clone()).await;
    let tag = protocol::event::duress_tag(key, code);
    let sealed = protocol::private::seal_duress_tag(&tag, &key.public(), &readers)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    sign(
        home,
        key,
        DocId::roster(),
        Timestamp::now(),
        Body::DuressSet { sealed },
    )
}

/// Who to seal to, as the member's own node lists them now (the roster may have changed
/// since joining), or as saved when no node answers.
async fn readers(
    key: &SecretKey,
    saved: &Saved,
    pick: impl Fn(&protocol::wire::Profile) -> Vec<protocol::ids::PublicKey>,
) -> Vec<protocol::ids::PublicKey> {
    match query(key, &saved.own_nodes(), ClientRequestV0::Whoami).await {
        Ok(ClientResponseV0::Profile { profile, .. }) if !pick(&profile).is_empty() => {
            pick(&profile)
        }
        _ => pick(&saved.profile),
    }
}

/// The alerts as this member reads them: sealed alerts opened with their key (and shown as
/// what they are), and those they cannot open, or whose writing node is not of the member's
/// organisation they are about, left out.
pub(super) async fn readable_alerts(
    key: &SecretKey,
    saved: &Saved,
    alerts: Vec<AlertView>,
) -> Vec<AlertView> {
    if alerts.iter().all(|a| a.sealed.is_none()) {
        return alerts;
    }
    // Every duress alert follows a check-in or a panic's cancel: the check-ins, and the
    // panics (a panic is for its author's organisation), say whose organisation is whose.
    let panics: Vec<(String, String)> = alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Panic)
        .map(|a| (a.author.clone(), a.org.clone()))
        .collect();
    let mut orgs: std::collections::BTreeMap<String, String> = match query(
        key,
        &saved.own_nodes(),
        ClientRequestV0::Checkins {
            overdue_only: false,
        },
    )
    .await
    {
        Ok(ClientResponseV0::Checkins(list)) => {
            list.into_iter().map(|c| (c.member, c.org)).collect()
        }
        _ => Default::default(),
    };
    orgs.extend(panics);
    let mut alerts: Vec<AlertView> = alerts
        .into_iter()
        .filter_map(|mut a| {
            if a.sealed.is_none() {
                return Some(a);
            }
            a.open_sealed(key, |k| orgs.get(&k.to_string()).cloned())
                .then_some(a)
        })
        .collect();
    protocol::view::mark_duress_cancels(&mut alerts);
    alerts
}

/// Finds an alert by id or unique prefix.
async fn find_alert(key: &SecretKey, saved: &Saved, id: &str) -> anyhow::Result<AlertView> {
    if id.len() < MIN_ALERT_PREFIX {
        anyhow::bail!(tr!("alert-id-too-short"));
    }
    let request = ClientRequestV0::Alerts {
        region: None,
        open_only: false,
    };
    let ClientResponseV0::Alerts(alerts) = query(key, &saved.own_nodes(), request).await? else {
        anyhow::bail!(tr!("unexpected-answer"));
    };
    let alerts = readable_alerts(key, saved, alerts).await;
    let prefix = id.to_ascii_lowercase();
    let mut matches: Vec<_> = alerts
        .into_iter()
        .filter(|a| a.id.starts_with(&prefix))
        .collect();
    match matches.len() {
        0 => anyhow::bail!(tr!("no-such-alert", id = id)),
        1 => Ok(matches.remove(0)),
        n => anyhow::bail!(tr!("ambiguous-alert", count = n, id = id)),
    }
}

pub(super) async fn alert(
    p: &mut Printer<'_>,
    home: &Home,
    action: AlertCommand,
) -> anyhow::Result<Exit> {
    let (key, saved) = load(home)?;
    let at = Timestamp::now();
    let (doc, body, what) = match action {
        AlertCommand::Send {
            severity,
            region,
            urgency,
            certainty,
            expires,
            text,
        } => {
            let body = Body::Alert(Box::new(AlertBody {
                id: AlertBody::id_for(&key.public(), at),
                kind: AlertKind::Alert,
                severity,
                urgency,
                certainty,
                region: region.clone(),
                org: saved.profile.org.clone(),
                text,
                expires_at: expires.map(|d| at.plus_ms(millis(d))),
                subject: None,
                due: None,
            }));
            (DocId::alerts(&region, at), body, "alert")
        }
        AlertCommand::Show { id } => {
            let alert = find_alert(&key, &saved, &id).await?;
            output::alert_detail(p, &alert)?;
            return Ok(Exit::Ok);
        }
        AlertCommand::Ack { id } => {
            let alert = find_alert(&key, &saved, &id).await?;
            let body = Body::Ack {
                alert: alert.id.parse()?,
            };
            (alert.doc.parse()?, body, "acknowledgement")
        }
        AlertCommand::Assign { id, assignee } => {
            let alert = find_alert(&key, &saved, &id).await?;
            let body = Body::Assign {
                alert: alert.id.parse()?,
                assignee,
            };
            (alert.doc.parse()?, body, "assignment")
        }
        AlertCommand::Resolve { id, note } => {
            let alert = find_alert(&key, &saved, &id).await?;
            let body = Body::Resolve {
                checkin: None,
                alert: alert.id.parse()?,
                note,
            };
            (alert.doc.parse()?, body, "resolution")
        }
    };
    let event = sign(home, &key, doc, at, body)?;
    send_record(p, home, &key, &saved, event, what).await
}
