//! Lists a member asks their node for: latest check-ins, shelters, the shelter requests this
//! device can open, and the directory of security contacts and admins.

use protocol::view::{CheckinView, DirectoryEntry, ShelterView};
use serde::Serialize;

use super::{role, short, shown, shown_text, Printer};

pub(crate) fn checkins(p: &mut Printer<'_>, list: &[CheckinView]) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(list);
    }
    if list.is_empty() {
        return p.line(&tr!("no-checkins"));
    }
    let rows = list
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.status
                    .map_or_else(|| tr!("checkin-sealed"), |s| shown("checkin-status", &s)),
                c.at.clone(),
                c.next_due.clone().unwrap_or_else(|| "-".into()),
                if c.overdue {
                    tr!("checkin-overdue")
                } else {
                    "".into()
                },
                c.security_contacts.join(", "),
                c.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    p.table(
        &[
            "col-name",
            "col-status",
            "col-at",
            "col-next-due",
            "",
            "col-security-contact",
            "col-note",
        ],
        rows,
    )
}

pub(crate) fn shelters(p: &mut Printer<'_>, list: &[ShelterView]) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(list);
    }
    if list.is_empty() {
        return p.line(&tr!("no-shelters"));
    }
    let rows = list
        .iter()
        .map(|s| {
            vec![
                short(&s.id),
                s.name.clone(),
                s.region.clone(),
                shown("shelter-status", &s.status),
                format!("{}/{}", s.available, s.capacity),
                s.services.join(","),
                s.accepts.join(","),
                s.contact.clone(),
            ]
        })
        .collect();
    p.table(
        &[
            "col-id",
            "col-name",
            "col-region",
            "col-status",
            "col-free",
            "col-services",
            "col-accepts",
            "col-contact",
        ],
        rows,
    )
}

/// A shelter request this device could open.
#[derive(Debug, Serialize)]
pub(crate) struct OpenedRequest {
    /// The request as every node sees it.
    #[serde(flatten)]
    pub(crate) request: protocol::view::ShelterRequestView,
    /// Who asked.
    pub(crate) requester: String,
    /// Their name, as they gave it.
    pub(crate) requester_name: String,
    /// For how many people.
    pub(crate) people: u32,
    /// The note.
    pub(crate) note: String,
    /// Whether the requester's signature holds.
    pub(crate) signature_ok: bool,
}

/// The requests this device can read, and how many others it cannot.
pub(crate) fn shelter_requests(
    p: &mut Printer<'_>,
    list: &[OpenedRequest],
    sealed_to_others: usize,
) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(list);
    }
    if list.is_empty() {
        p.line(&tr!("no-shelter-requests"))?;
    } else {
        let rows = list
            .iter()
            .map(|o| {
                let r = &o.request;
                let status = r
                    .decision
                    .as_ref()
                    .map(|d| d.action.as_str())
                    .unwrap_or("pending");
                let mut name = o.requester_name.clone();
                if !o.signature_ok {
                    name = format!("{name} ({})", tr!("request-bad-signature"));
                }
                vec![
                    short(&r.id),
                    r.shelter_name.clone().unwrap_or_else(|| short(&r.shelter)),
                    o.people.to_string(),
                    name,
                    shown_text("request-status", status),
                    r.at.clone(),
                    o.note.clone(),
                ]
            })
            .collect();
        p.table(
            &[
                "col-id",
                "col-shelter",
                "col-people",
                "col-requester",
                "col-status",
                "col-at",
                "col-note",
            ],
            rows,
        )?;
    }
    if sealed_to_others > 0 {
        p.line(&tr!("shelter-requests-sealed", count = sealed_to_others))?;
    }
    Ok(())
}

pub(crate) fn directory(p: &mut Printer<'_>, list: &[DirectoryEntry]) -> anyhow::Result<()> {
    if p.json() {
        return p.json_value(list);
    }
    if list.is_empty() {
        return p.line(&tr!("no-security-contacts"));
    }
    let rows = list
        .iter()
        .map(|d| {
            vec![
                d.region.clone(),
                d.name.clone(),
                role(d.role),
                d.org.clone(),
                short(&d.key),
            ]
        })
        .collect();
    p.table(
        &["col-region", "col-name", "col-role", "col-org", "col-key"],
        rows,
    )
}
