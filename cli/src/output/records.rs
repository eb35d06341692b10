//! The member themself and their records: the profile (`whoami`), the welcome after `join`,
//! and how far a signed record got (queued on this device, or stored by which nodes).

use protocol::event::SignedEvent;
use protocol::wire::Profile;
use serde::Serialize;

use super::{clean, role, short, Printer};
use crate::i18n;
use crate::member::Delivery;

pub(crate) fn profile(p: &mut Printer<'_>, profile: &Profile) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(profile);
    }
    p.line(&tr!(
        "profile-line",
        name = clean(&profile.name).as_ref(),
        role = role(profile.role),
        org = clean(&profile.org).as_ref(),
        region = clean(profile.region.as_deref().unwrap_or("-")).as_ref()
    ))?;
    p.line(&tr!("profile-key", key = profile.key.to_string()))
}

pub(crate) fn joined(p: &mut Printer<'_>, profile: &Profile) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(profile);
    }
    p.line(&tr!(
        "welcome",
        name = clean(&profile.name).as_ref(),
        org = clean(&profile.org).as_ref(),
        role = role(profile.role)
    ))?;
    p.line(&tr!("welcome-key", key = profile.key.to_string()))?;
    p.line(&tr!("welcome-next"))
}

/// The one-time code of `device add`, and what the new device does with it.
pub(crate) fn device_code(p: &mut Printer<'_>, code: &str, expires: &str) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(&serde_json::json!({ "code": code, "expires_at": expires }));
    }
    p.line(code)?;
    p.warn(&tr!("device-code", expires = expires))
}

#[derive(Serialize)]
struct DeliveryJson<'a> {
    id: String,
    record: String,
    /// queued, stored.
    level: &'a str,
    stored_by: Vec<String>,
    refused: Vec<(String, String)>,
    unreachable: Vec<String>,
    known_nodes: usize,
}

/// Says honestly how far a record got: queued on this device, or stored by which nodes.
/// `what` is the record's English name ("check-in", "shelter update"...), kept as is in JSON.
pub(crate) fn delivery(
    p: &mut Printer<'_>,
    what: &str,
    event: &SignedEvent,
    d: &Delivery,
    known: usize,
) -> anyhow::Result<()> {
    let id = match &event.event().body {
        protocol::event::Body::Alert(a) => a.id.to_string(),
        protocol::event::Body::Shelter(s) => s.id.to_string(),
        protocol::event::Body::Occupancy { shelter, .. } => shelter.to_string(),
        protocol::event::Body::Cancel { alert, .. } => alert.to_string(),
        _ => event.id().to_string(),
    };
    if p.json() {
        return p.json_value(&DeliveryJson {
            id,
            record: what.to_string(),
            level: if d.stored_by.is_empty() {
                "queued"
            } else {
                "stored"
            },
            stored_by: d.stored_by.iter().map(|k| k.to_string()).collect(),
            refused: d
                .refused
                .iter()
                .map(|(k, w)| (k.to_string(), w.clone()))
                .collect(),
            unreachable: d.unreachable.iter().map(|(k, _)| k.to_string()).collect(),
            known_nodes: known,
        });
    }
    let record = i18n::value("record", &what.replace(' ', "-"));
    if !d.stored_by.is_empty() {
        let names: Vec<String> = d.stored_by.iter().map(|k| k.fmt_short()).collect();
        p.line(&tr!(
            "delivery-stored",
            what = record.as_str(),
            id = short(&id),
            stored = d.stored_by.len(),
            known = known,
            names = names.join(", ")
        ))?;
    } else if !d.unreachable.is_empty() {
        p.line(&tr!(
            "delivery-queued",
            what = record.as_str(),
            id = short(&id)
        ))?;
    }
    for (node, why) in &d.refused {
        p.warn(&format!(
            "tejido: {}",
            tr!(
                "delivery-refused",
                node = node.fmt_short(),
                what = record.as_str(),
                why = clean(why).as_ref()
            )
        ))?;
    }
    Ok(())
}
