//! Human tables and JSON for everything the CLI prints.

use std::io::Write;

use protocol::control::Response;
use protocol::event::SignedEvent;
use protocol::view::{AlertView, CheckinView, DirectoryEntry, ShelterView};
use protocol::wire::Profile;
use serde::Serialize;

use crate::i18n;
use crate::member::Delivery;

fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints rows as aligned columns, under the headers of the given message ids (`col-*`;
/// an empty id is an empty header).
fn table(header: &[&str], rows: Vec<Vec<String>>) -> anyhow::Result<()> {
    let header: Vec<String> = header
        .iter()
        .map(|id| {
            if id.is_empty() {
                String::new()
            } else {
                i18n::tr(id)
            }
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |cells: Vec<String>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header))?;
    for row in rows {
        writeln!(out, "{}", line(row))?;
    }
    Ok(())
}

fn kebab<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A value of a closed set (`prefix` names it: role, severity...) as people read it.
fn shown<T: Serialize>(prefix: &str, v: &T) -> String {
    i18n::value(prefix, &kebab(v))
}

fn role(r: protocol::event::Role) -> String {
    i18n::value("role", r.as_str())
}

pub(crate) fn alerts(list: &[AlertView], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("{}", tr!("no-alerts"));
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|a| {
            vec![
                a.id[..8].to_string(),
                shown("kind", &a.kind),
                shown("severity", &a.severity),
                a.region.clone(),
                i18n::value("alert-status", &a.status),
                a.created_at.clone(),
                a.author_name
                    .clone()
                    .unwrap_or_else(|| a.author[..8].to_string()),
                a.text.clone(),
            ]
        })
        .collect();
    table(
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

pub(crate) fn checkins(list: &[CheckinView], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("{}", tr!("no-checkins"));
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                shown("checkin-status", &c.status),
                c.at.clone(),
                c.next_due.clone().unwrap_or_else(|| "-".into()),
                if c.overdue {
                    tr!("checkin-overdue")
                } else {
                    "".into()
                },
                c.security_contacts.join(", "),
                c.note.clone(),
            ]
        })
        .collect();
    table(
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

pub(crate) fn shelters(list: &[ShelterView], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("{}", tr!("no-shelters"));
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|s| {
            vec![
                s.id[..8].to_string(),
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
    table(
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

pub(crate) fn profile(p: &Profile, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(p);
    }
    println!(
        "{}",
        tr!(
            "profile-line",
            name = p.name.as_str(),
            role = role(p.role),
            org = p.org.as_str(),
            region = p.region.as_deref().unwrap_or("-")
        )
    );
    println!("{}", tr!("profile-key", key = p.key.to_string()));
    Ok(())
}

pub(crate) fn joined(p: &Profile, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(p);
    }
    println!(
        "{}",
        tr!(
            "welcome",
            name = p.name.as_str(),
            org = p.org.as_str(),
            role = role(p.role)
        )
    );
    println!("{}", tr!("welcome-key", key = p.key.to_string()));
    println!("{}", tr!("welcome-next"));
    Ok(())
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
    what: &str,
    event: &SignedEvent,
    d: &Delivery,
    known: usize,
    json: bool,
) -> anyhow::Result<()> {
    let id = match &event.event().body {
        protocol::event::Body::Alert(a) => a.id.to_string(),
        protocol::event::Body::Shelter(s) => s.id.to_string(),
        protocol::event::Body::Occupancy { shelter, .. } => shelter.to_string(),
        _ => event.id().to_string(),
    };
    if json {
        return print_json(&DeliveryJson {
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
        println!(
            "{}",
            tr!(
                "delivery-stored",
                what = record.as_str(),
                id = &id[..8],
                stored = d.stored_by.len(),
                known = known,
                names = names.join(", ")
            )
        );
    } else if !d.unreachable.is_empty() {
        println!(
            "{}",
            tr!("delivery-queued", what = record.as_str(), id = &id[..8])
        );
    }
    for (node, why) in &d.refused {
        eprintln!(
            "tejido: {}",
            tr!(
                "delivery-refused",
                node = node.fmt_short(),
                what = record.as_str(),
                why = why.as_str()
            )
        );
    }
    Ok(())
}

pub(crate) fn operator(response: &Response, json: bool) -> anyhow::Result<()> {
    if json {
        return match response {
            Response::Status(s) => print_json(s),
            Response::Alerts { alerts } => print_json(alerts),
            Response::Checkins { checkins } => print_json(checkins),
            Response::Shelters { shelters } => print_json(shelters),
            Response::Members { members } => print_json(members),
            Response::Peers { peers } => print_json(peers),
            Response::Docs { docs } => print_json(docs),
            other => print_json(other),
        };
    }
    match response {
        Response::Status(s) => {
            println!("{}", tr!("status-node", value = s.node_id.to_string()));
            println!("{}", tr!("status-org", value = s.org.as_str()));
            println!(
                "{}",
                tr!(
                    "status-network",
                    value = s.network.as_deref().unwrap_or("-")
                )
            );
            for a in &s.listen_addrs {
                println!("{}", tr!("status-listening", value = a.to_string()));
            }
            println!("{}", tr!("status-peers", count = s.connected_peers.len()));
            println!(
                "{}",
                tr!("status-roster", members = s.members, nodes = s.nodes)
            );
            println!(
                "{}",
                tr!("status-alerts", count = s.alerts, open = s.open_alerts)
            );
            println!("{}", tr!("status-shelters", count = s.shelters));
            println!("{}", tr!("status-checkins", count = s.checkins));
            println!(
                "{}",
                tr!(
                    "status-refused",
                    connections = s.refused_connections,
                    changes = s.rejected_changes
                )
            );
            Ok(())
        }
        Response::Invite { code, expires_at } => {
            println!("{code}");
            eprintln!(
                "{}",
                tr!("invite-created", expires = expires_at.to_string())
            );
            Ok(())
        }
        Response::Alerts { alerts: list } => alerts(list, false),
        Response::Checkins { checkins: list } => checkins(list, false),
        Response::Shelters { shelters: list } => shelters(list, false),
        Response::Members { members } => {
            let rows = members
                .iter()
                .map(|m| {
                    vec![
                        m.key[..8].to_string(),
                        m.name.clone(),
                        m.org.clone(),
                        role(m.role),
                        m.region.clone().unwrap_or_else(|| "-".into()),
                        if m.revoked {
                            tr!("member-revoked")
                        } else {
                            "".into()
                        },
                    ]
                })
                .collect();
            table(
                &[
                    "col-key",
                    "col-name",
                    "col-org",
                    "col-role",
                    "col-region",
                    "",
                ],
                rows,
            )
        }
        Response::Peers { peers } => {
            if peers.is_empty() {
                println!("{}", tr!("no-peers"));
                return Ok(());
            }
            let rows = peers
                .iter()
                .map(|p| {
                    vec![
                        p.key[..8].to_string(),
                        p.org.clone(),
                        if p.revoked {
                            tr!("peer-revoked")
                        } else if p.connected {
                            tr!("peer-connected")
                        } else {
                            "-".into()
                        },
                        p.last_sync
                            .clone()
                            .unwrap_or_else(|| tr!("peer-never-synced")),
                        p.addrs.join(" "),
                    ]
                })
                .collect();
            table(
                &[
                    "col-node",
                    "col-org",
                    "col-state",
                    "col-last-sync",
                    "col-addresses",
                ],
                rows,
            )
        }
        Response::Docs { docs } => {
            let rows = docs
                .iter()
                .map(|d| {
                    vec![
                        d.doc.clone(),
                        d.events.to_string(),
                        d.heads
                            .iter()
                            .map(|h| &h[..8])
                            .collect::<Vec<_>>()
                            .join(","),
                    ]
                })
                .collect();
            table(&["col-document", "col-events", "col-heads"], rows)
        }
        Response::File { summary, .. } => {
            println!("{summary}");
            Ok(())
        }
        Response::Done { message } => {
            println!("{message}");
            Ok(())
        }
        Response::Error { message } => anyhow::bail!("{message}"),
    }
}

pub(crate) fn alert_detail(a: &AlertView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(a);
    }
    println!("{}", tr!("detail-alert", value = a.id.as_str()));
    println!(
        "{}",
        tr!(
            "detail-kind",
            kind = shown("kind", &a.kind),
            severity = shown("severity", &a.severity),
            urgency = shown("urgency", &a.urgency),
            certainty = shown("certainty", &a.certainty)
        )
    );
    println!(
        "{}",
        tr!(
            "detail-region",
            region = a.region.as_str(),
            org = a.org.as_str()
        )
    );
    println!(
        "{}",
        tr!(
            "detail-status",
            value = i18n::value("alert-status", &a.status)
        )
    );
    if let Some(subject) = &a.subject {
        println!("{}", tr!("detail-member", value = subject.to_string()));
    }
    if let Some(expires) = &a.expires_at {
        println!("{}", tr!("detail-expires", value = expires.to_string()));
    }
    println!("{}", tr!("detail-text", value = a.text.as_str()));
    println!();
    receipts(a);
    if !a.held_by.is_empty() {
        let rows = a
            .held_by
            .iter()
            .map(|r| {
                vec![
                    r.node[..8].to_string(),
                    r.org.clone(),
                    r.at.clone(),
                    seconds(r.after_ms),
                    i18n::tr(if r.security_contact_node { "yes" } else { "no" }),
                ]
            })
            .collect();
        table(
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
    println!();
    let rows = a
        .history
        .iter()
        .map(|h| {
            vec![
                h.at.clone(),
                i18n::value("action", &h.action),
                h.by_name.clone().unwrap_or_else(|| h.by[..8].to_string()),
                h.detail.clone().unwrap_or_default(),
                h.event[..8].to_string(),
            ]
        })
        .collect();
    table(
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

fn seconds(ms: i64) -> String {
    format!("{:.1}", ms.max(0) as f64 / 1000.0)
}

/// The honest receipt levels of an alert, one line each: how many nodes signed that they
/// hold it, whether a node of a security contact for its region does, and who acknowledged.
pub(crate) fn receipts(a: &AlertView) {
    println!(
        "{}",
        tr!(
            "receipts-held",
            held = a.held_by.len(),
            total = a.network_nodes
        )
    );
    match a.held_by.iter().find(|r| r.security_contact_node) {
        Some(r) => println!(
            "{}",
            tr!(
                "receipts-contact-node",
                region = a.region.as_str(),
                org = r.org.as_str(),
                secs = seconds(r.after_ms)
            )
        ),
        None => println!(
            "{}",
            tr!("receipts-no-contact-node", region = a.region.as_str())
        ),
    }
    match (a.acknowledgements.first(), a.first_ack_after_ms) {
        (Some(ack), Some(ms)) => println!(
            "{}",
            tr!(
                "receipts-acked",
                name = ack
                    .by_name
                    .clone()
                    .unwrap_or_else(|| ack.by[..8].to_string()),
                secs = seconds(ms)
            )
        ),
        _ => println!("{}", tr!("receipts-not-acked")),
    }
}

/// One line of `tejido watch`: `change` is "new" or "changed".
pub(crate) fn watch_line(change: &str, a: &AlertView, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        #[derive(Serialize)]
        struct Line<'a> {
            change: &'a str,
            alert: &'a AlertView,
        }
        serde_json::to_writer(&mut out, &Line { change, alert: a })?;
        writeln!(out)?;
        return Ok(());
    }
    let now = protocol::ids::Timestamp::now().rfc3339();
    writeln!(
        out,
        "{}",
        tr!(
            "watch-line",
            at = now,
            change = i18n::tr(&format!("watch-{change}")),
            id = &a.id[..8],
            kind = shown("kind", &a.kind),
            status = i18n::value("alert-status", &a.status),
            region = a.region.as_str(),
            held = a.held_by.len(),
            total = a.network_nodes,
            by = a
                .author_name
                .clone()
                .unwrap_or_else(|| a.author[..8].to_string()),
            text = a.text.as_str()
        )
    )?;
    Ok(())
}

/// A shelter request this device could open.
#[derive(Serialize)]
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
    list: &[OpenedRequest],
    sealed_to_others: usize,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("{}", tr!("no-shelter-requests"));
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
                    r.id[..8].to_string(),
                    r.shelter_name
                        .clone()
                        .unwrap_or_else(|| r.shelter[..8].to_string()),
                    o.people.to_string(),
                    name,
                    i18n::value("request-status", status),
                    r.at.clone(),
                    o.note.clone(),
                ]
            })
            .collect();
        table(
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
        println!(
            "{}",
            tr!("shelter-requests-sealed", count = sealed_to_others)
        );
    }
    Ok(())
}

pub(crate) fn directory(list: &[DirectoryEntry], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("{}", tr!("no-security-contacts"));
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|d| {
            vec![
                d.region.clone(),
                d.name.clone(),
                role(d.role),
                d.org.clone(),
                d.key[..8].to_string(),
            ]
        })
        .collect();
    table(
        &["col-region", "col-name", "col-role", "col-org", "col-key"],
        rows,
    )
}
