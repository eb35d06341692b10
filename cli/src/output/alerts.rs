//! Alerts: the list, one alert with its receipts and signed history, the receipt levels alone
//! (`panic --wait`), and the lines of `tejido watch`.

use protocol::view::AlertView;
use serde::Serialize;

use super::{clean, name_or_key, seconds, short, shown, shown_text, Printer};
use crate::i18n;

pub(crate) fn alerts(p: &mut Printer<'_>, list: &[AlertView]) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(list);
    }
    if list.is_empty() {
        return p.line(&tr!("no-alerts"));
    }
    let rows = list
        .iter()
        .map(|a| {
            vec![
                short(&a.id),
                shown("kind", &a.kind),
                shown("severity", &a.severity),
                a.region.clone(),
                shown_text("alert-status", &a.status),
                a.created_at.clone(),
                name_or_key(&a.author_name, &a.author),
                a.text.clone(),
            ]
        })
        .collect();
    p.table(
        &[
            "col-id",
            "col-kind",
            "col-severity",
            "col-region",
            "col-status",
            "col-created",
            "col-by",
            "col-text",
        ],
        rows,
    )
}

pub(crate) fn alert_detail(p: &mut Printer<'_>, a: &AlertView) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(a);
    }
    p.line(&tr!("detail-alert", value = clean(&a.id).as_ref()))?;
    p.line(&tr!(
        "detail-kind",
        kind = shown("kind", &a.kind),
        severity = shown("severity", &a.severity),
        urgency = shown("urgency", &a.urgency),
        certainty = shown("certainty", &a.certainty)
    ))?;
    p.line(&tr!(
        "detail-region",
        region = clean(&a.region).as_ref(),
        org = clean(&a.org).as_ref()
    ))?;
    p.line(&tr!(
        "detail-status",
        value = shown_text("alert-status", &a.status)
    ))?;
    if let Some(subject) = &a.subject {
        p.line(&tr!("detail-member", value = clean(subject).as_ref()))?;
    }
    if let Some(expires) = &a.expires_at {
        p.line(&tr!("detail-expires", value = clean(expires).as_ref()))?;
    }
    p.line(&tr!("detail-text", value = clean(&a.text).as_ref()))?;
    p.line("")?;
    receipts(p, a)?;
    if !a.held_by.is_empty() {
        let rows = a
            .held_by
            .iter()
            .map(|r| {
                vec![
                    short(&r.node),
                    r.org.clone(),
                    r.at.clone(),
                    seconds(r.after_ms),
                    i18n::tr(if r.security_contact_node { "yes" } else { "no" }),
                ]
            })
            .collect();
        p.table(
            &[
                "col-node",
                "col-org",
                "col-at",
                "col-after",
                "col-contact-node",
            ],
            rows,
        )?;
    }
    p.line("")?;
    let rows = a
        .history
        .iter()
        .map(|h| {
            vec![
                h.at.clone(),
                shown_text("action", &h.action),
                name_or_key(&h.by_name, &h.by),
                h.detail.clone().unwrap_or_default(),
                short(&h.event),
            ]
        })
        .collect();
    p.table(
        &[
            "col-at",
            "col-action",
            "col-by",
            "col-detail",
            "col-signed-event",
        ],
        rows,
    )
}

/// The honest receipt levels of an alert, one line each: how many nodes signed that they
/// hold it, whether a node of a security contact for its region does, and who acknowledged.
pub(crate) fn receipts(p: &mut Printer<'_>, a: &AlertView) -> anyhow::Result<()> {
    p.line(&tr!(
        "receipts-held",
        held = a.held_by.len(),
        total = a.network_nodes
    ))?;
    let region = clean(&a.region);
    match a.held_by.iter().find(|r| r.security_contact_node) {
        Some(r) => p.line(&tr!(
            "receipts-contact-node",
            region = region.as_ref(),
            org = clean(&r.org).as_ref(),
            secs = seconds(r.after_ms)
        ))?,
        None => p.line(&tr!("receipts-no-contact-node", region = region.as_ref()))?,
    }
    for n in &a.notified {
        p.line(&tr!(
            "receipts-notified",
            bridge = clean(&n.bridge).as_ref(),
            channel = n.channel.as_str(),
            org = clean(&n.org).as_ref(),
            node = short(&n.node),
            secs = seconds(n.after_ms)
        ))?;
    }
    match (a.acknowledgements.first(), a.first_ack_after_ms) {
        (Some(ack), Some(ms)) => p.line(&tr!(
            "receipts-acked",
            name = name_or_key(&ack.by_name, &ack.by),
            secs = seconds(ms)
        )),
        _ => p.line(&tr!("receipts-not-acked")),
    }
}

/// How an alert appears to `tejido watch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Not seen before.
    New,
    /// Seen, and its status, history or receipts differ.
    Changed,
}

impl Change {
    /// The name JSON lines carry ("new", "changed").
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Changed => "changed",
        }
    }
}

/// One line of `tejido watch`.
pub(crate) fn watch_line(p: &mut Printer<'_>, change: Change, a: &AlertView) -> anyhow::Result<()> {
    if p.json() {
        #[derive(Serialize)]
        struct Line<'a> {
            change: &'a str,
            alert: &'a AlertView,
        }
        return p.json_line(&Line {
            change: change.as_str(),
            alert: a,
        });
    }
    let now = protocol::ids::Timestamp::now().rfc3339();
    p.line(&tr!(
        "watch-line",
        at = now,
        change = i18n::tr(&format!("watch-{}", change.as_str())),
        id = short(&a.id),
        kind = shown("kind", &a.kind),
        status = shown_text("alert-status", &a.status),
        region = clean(&a.region).as_ref(),
        held = a.held_by.len(),
        total = a.network_nodes,
        notified = a.notified.len(),
        by = name_or_key(&a.author_name, &a.author),
        text = clean(&a.text).as_ref()
    ))
}
