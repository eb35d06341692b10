//! Human tables and JSON for everything the CLI prints.

use std::io::Write;

use protocol::control::Response;
use protocol::event::SignedEvent;
use protocol::view::{AlertView, CheckinView, DirectoryEntry, ShelterView};
use protocol::wire::Profile;
use serde::Serialize;

use crate::member::Delivery;

fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints rows as aligned columns.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> anyhow::Result<()> {
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
    writeln!(
        out,
        "{}",
        line(header.iter().map(|h| h.to_string()).collect())
    )?;
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

pub(crate) fn alerts(list: &[AlertView], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("No alerts.");
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|a| {
            vec![
                a.id[..8].to_string(),
                kebab(&a.kind),
                kebab(&a.severity),
                a.region.clone(),
                a.status.clone(),
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
            "ID", "KIND", "SEVERITY", "REGION", "STATUS", "CREATED", "BY", "TEXT",
        ],
        rows,
    )
}

pub(crate) fn checkins(list: &[CheckinView], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("No check-ins.");
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                kebab(&c.status),
                c.at.clone(),
                c.next_due.clone().unwrap_or_else(|| "-".into()),
                if c.overdue {
                    "OVERDUE".into()
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
            "NAME",
            "STATUS",
            "AT",
            "NEXT DUE",
            "",
            "SECURITY CONTACT",
            "NOTE",
        ],
        rows,
    )
}

pub(crate) fn shelters(list: &[ShelterView], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("No shelters.");
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|s| {
            vec![
                s.id[..8].to_string(),
                s.name.clone(),
                s.region.clone(),
                kebab(&s.status),
                format!("{}/{}", s.available, s.capacity),
                s.services.join(","),
                s.accepts.join(","),
                s.contact.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "NAME", "REGION", "STATUS", "FREE", "SERVICES", "ACCEPTS", "CONTACT",
        ],
        rows,
    )
}

pub(crate) fn profile(p: &Profile, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(p);
    }
    println!(
        "{} ({}) of {}, region {}",
        p.name,
        p.role.as_str(),
        p.org,
        p.region.as_deref().unwrap_or("-")
    );
    println!("key: {}", p.key);
    Ok(())
}

pub(crate) fn joined(p: &Profile, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(p);
    }
    println!(
        "Welcome, {}. You joined {} as {}.",
        p.name,
        p.org,
        p.role.as_str()
    );
    println!("Your key: {}", p.key);
    println!("Check in with: tejido checkin --next 6h");
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
    if !d.stored_by.is_empty() {
        let names: Vec<String> = d.stored_by.iter().map(|k| k.fmt_short()).collect();
        println!(
            "{what} {} stored by {} of {known} node(s): {}",
            &id[..8],
            d.stored_by.len(),
            names.join(", ")
        );
    } else if !d.unreachable.is_empty() {
        println!("No node reachable: {what} {} is queued on this device and will be sent with your next command.", &id[..8]);
    }
    for (node, why) in &d.refused {
        eprintln!(
            "tejido: node {} refused the {what}: {why}",
            node.fmt_short()
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
            println!("node:       {}", s.node_id);
            println!("org:        {}", s.org);
            println!("network:    {}", s.network.as_deref().unwrap_or("-"));
            for a in &s.listen_addrs {
                println!("listening:  {a}");
            }
            println!("peers:      {} connected", s.connected_peers.len());
            println!("roster:     {} member(s), {} node(s)", s.members, s.nodes);
            println!("alerts:     {} ({} open)", s.alerts, s.open_alerts);
            println!("shelters:   {}", s.shelters);
            println!("check-ins:  {}", s.checkins);
            println!(
                "refused:    {} connection(s), {} change(s)",
                s.refused_connections, s.rejected_changes
            );
            Ok(())
        }
        Response::Invite { code, expires_at } => {
            println!("{code}");
            eprintln!(
                "One-time invite, valid until {expires_at}. The newcomer runs: tejido join CODE"
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
                        m.role.as_str().to_string(),
                        m.region.clone().unwrap_or_else(|| "-".into()),
                        if m.revoked {
                            "revoked".into()
                        } else {
                            "".into()
                        },
                    ]
                })
                .collect();
            table(&["KEY", "NAME", "ORG", "ROLE", "REGION", ""], rows)
        }
        Response::Peers { peers } => {
            if peers.is_empty() {
                println!("No other nodes yet: invite one with tejido --data-dir DIR invite node");
                return Ok(());
            }
            let rows = peers
                .iter()
                .map(|p| {
                    vec![
                        p.key[..8].to_string(),
                        p.org.clone(),
                        if p.revoked {
                            "revoked".into()
                        } else if p.connected {
                            "connected".into()
                        } else {
                            "-".into()
                        },
                        p.last_sync.clone().unwrap_or_else(|| "never".into()),
                        p.addrs.join(" "),
                    ]
                })
                .collect();
            table(&["NODE", "ORG", "STATE", "LAST SYNC", "ADDRESSES"], rows)
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
            table(&["DOCUMENT", "EVENTS", "HEADS"], rows)
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
    println!("alert     {}", a.id);
    println!(
        "kind      {} ({}, {}, {})",
        kebab(&a.kind),
        kebab(&a.severity),
        kebab(&a.urgency),
        kebab(&a.certainty)
    );
    println!("region    {} ({})", a.region, a.org);
    println!("status    {}", a.status);
    if let Some(subject) = &a.subject {
        println!("member    {subject}");
    }
    if let Some(expires) = &a.expires_at {
        println!("expires   {expires}");
    }
    println!("text      {}", a.text);
    println!();
    let rows = a
        .history
        .iter()
        .map(|h| {
            vec![
                h.at.clone(),
                h.action.clone(),
                h.by_name.clone().unwrap_or_else(|| h.by[..8].to_string()),
                h.detail.clone().unwrap_or_default(),
                h.event[..8].to_string(),
            ]
        })
        .collect();
    table(&["AT", "ACTION", "BY", "DETAIL", "SIGNED EVENT"], rows)
}

pub(crate) fn directory(list: &[DirectoryEntry], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    if list.is_empty() {
        println!("No security contacts yet.");
        return Ok(());
    }
    let rows = list
        .iter()
        .map(|d| {
            vec![
                d.region.clone(),
                d.name.clone(),
                d.role.as_str().to_string(),
                d.org.clone(),
                d.key[..8].to_string(),
            ]
        })
        .collect();
    table(&["REGION", "NAME", "ROLE", "ORG", "KEY"], rows)
}
