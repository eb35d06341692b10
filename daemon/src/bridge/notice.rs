//! What a bridge says about an alert: a short message in the node's language.

use super::*;

/// What a bridge sends: the alert in short, as JSON for webhooks and programs, and as text for
/// email and programs that forward text (`message`).
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// The format's version.
    pub tejido: u32,
    /// Whether this is `bridge test`'s message rather than an alert.
    pub test: bool,
    /// The alert's id (32 hex characters); empty for a test.
    pub alert: String,
    /// panic, alert or missed-checkin; "notice" for a duress alert (which is never named).
    pub kind: String,
    /// CAP severity (none for a duress alert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Region.
    pub region: String,
    /// Organisation of whoever it is about.
    pub org: String,
    /// Who it is about (name, or a short key).
    pub who: String,
    /// The alert's own text (the agreed wording for a duress alert).
    pub text: String,
    /// When it was raised, RFC 3339.
    pub raised_at: String,
    /// The bridge that sends it.
    pub bridge: String,
    /// The one-line message in the node's language: what, where, who, how to acknowledge.
    pub message: String,
    /// An email subject line.
    pub subject: String,
    /// The command that acknowledges it.
    pub ack: String,
    /// The escalation tier the alert reached (0: none).
    pub escalation: u8,
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

fn severity_word(lang: Lang, s: Severity) -> &'static str {
    match (lang, s) {
        (Lang::En, Severity::Minor) => "minor",
        (Lang::En, Severity::Moderate) => "moderate",
        (Lang::En, Severity::Severe) => "severe",
        (Lang::En, Severity::Extreme) => "extreme",
        (Lang::Es, Severity::Minor) => "menor",
        (Lang::Es, Severity::Moderate) => "moderada",
        (Lang::Es, Severity::Severe) => "grave",
        (Lang::Es, Severity::Extreme) => "extrema",
    }
}

/// Cuts `s` to at most `max` characters, marking the cut.
pub(super) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl Notice {
    /// The notice for `alert` through `bridge`; `who` is the name of the member it is about
    /// (or its author). A duress alert (shown opened as `Duress`) says only the bridge's
    /// agreed wording.
    pub fn for_alert(alert: &AlertView, who: &str, bridge: &Bridge, lang: Lang) -> Self {
        let id = short(&alert.id);
        let ack = format!("tejido alert ack {id}");
        let text = cut(&alert.text, 280);
        let (kind, severity, message, subject, text) = if alert.kind == AlertKind::Duress {
            let wording = bridge
                .duress_wording
                .as_deref()
                .unwrap_or_default()
                .replace("{name}", who)
                .replace("{region}", &alert.region)
                .replace("{id}", &id);
            let subject = cut(&wording, 60);
            (
                "notice".to_string(),
                None,
                wording.clone(),
                subject,
                wording,
            )
        } else {
            let sev = severity_word(lang, alert.severity);
            let (message, subject) = match (lang, alert.kind) {
                (Lang::En, AlertKind::Panic) => (
                    format!(
                        "PANIC: {who} ({}) asks for help in {}: \"{text}\". Alert {id}, {}. \
                         To acknowledge: {ack}",
                        alert.org, alert.region, alert.created_at
                    ),
                    format!("Tejido: PANIC in {} - {who}", alert.region),
                ),
                (Lang::Es, AlertKind::Panic) => (
                    format!(
                        "PÁNICO: {who} ({}) pide ayuda en {}: «{text}». Alerta {id}, {}. \
                         Para confirmar que la atiendes: {ack}",
                        alert.org, alert.region, alert.created_at
                    ),
                    format!("Tejido: PÁNICO en {} - {who}", alert.region),
                ),
                (Lang::En, AlertKind::MissedCheckin) => (
                    format!(
                        "MISSED CHECK-IN: {who} ({}) in {} did not check in (due {}). \
                         Alert {id}. To acknowledge: {ack}",
                        alert.org,
                        alert.region,
                        alert.due.as_deref().unwrap_or("?")
                    ),
                    format!("Tejido: missed check-in in {} - {who}", alert.region),
                ),
                (Lang::Es, AlertKind::MissedCheckin) => (
                    format!(
                        "CHECK-IN NO RECIBIDO: {who} ({}), en {}, no se reportó (tocaba {}). \
                         Alerta {id}. Para confirmar que la atiendes: {ack}",
                        alert.org,
                        alert.region,
                        alert.due.as_deref().unwrap_or("?")
                    ),
                    format!("Tejido: check-in no recibido en {} - {who}", alert.region),
                ),
                (Lang::En, _) => (
                    format!(
                        "ALERT ({sev}) for {} from {who} ({}): \"{text}\". Alert {id}, {}. \
                         To acknowledge: {ack}",
                        alert.region, alert.org, alert.created_at
                    ),
                    format!("Tejido: {sev} alert for {}", alert.region),
                ),
                (Lang::Es, _) => (
                    format!(
                        "ALERTA ({sev}) para {} de {who} ({}): «{text}». Alerta {id}, {}. \
                         Para confirmar que la atiendes: {ack}",
                        alert.region, alert.org, alert.created_at
                    ),
                    format!("Tejido: alerta {sev} para {}", alert.region),
                ),
            };
            // An escalated alert says so first, to the tiers it escalated to.
            let message = match (lang, alert.escalation) {
                (_, 0) => message,
                (Lang::En, n) => format!("NO ANSWER (tier {n}): {message}"),
                (Lang::Es, n) => format!("SIN RESPUESTA (nivel {n}): {message}"),
            };
            let kind = serde_json::to_value(alert.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            (kind, Some(alert.severity), message, subject, text)
        };
        Self {
            tejido: 1,
            test: false,
            alert: alert.id.clone(),
            kind,
            severity,
            region: alert.region.clone(),
            org: alert.org.clone(),
            who: who.to_string(),
            text,
            raised_at: alert.created_at.clone(),
            bridge: bridge.name.clone(),
            message,
            subject,
            ack,
            escalation: alert.escalation,
        }
    }

    /// `bridge test`'s message.
    pub fn test(bridge: &Bridge, org: &str, lang: Lang) -> Self {
        let (message, subject) = match lang {
            Lang::En => (
                format!(
                    "Tejido test message through the bridge {} of {org}'s node: if you read \
                     this, alerts reach you here.",
                    bridge.name
                ),
                "Tejido: test message".to_string(),
            ),
            Lang::Es => (
                format!(
                    "Mensaje de prueba de Tejido por el puente {} del nodo de {org}: si lo \
                     lees, las alertas te llegan aquí.",
                    bridge.name
                ),
                "Tejido: mensaje de prueba".to_string(),
            ),
        };
        Self {
            tejido: 1,
            test: true,
            alert: String::new(),
            kind: "test".into(),
            severity: None,
            region: String::new(),
            org: org.to_string(),
            who: String::new(),
            text: message.clone(),
            raised_at: protocol::ids::Timestamp::now().rfc3339(),
            bridge: bridge.name.clone(),
            message,
            subject,
            ack: String::new(),
            escalation: 0,
        }
    }
}
