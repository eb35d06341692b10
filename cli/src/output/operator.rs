//! Answers of the operator socket: status, invites, members, peers, documents, and the lists
//! an operator shares with members (alerts, check-ins, shelters).

use protocol::control::Response;

use super::{clean, role, short, Printer};

pub(crate) fn operator(p: &mut Printer<'_>, response: &Response) -> anyhow::Result<()> {
    if p.json() {
        return match response {
            Response::Status(s) => p.json_value(s),
            Response::Alerts { alerts } => p.json_value(alerts),
            Response::Checkins { checkins } => p.json_value(checkins),
            Response::Shelters { shelters } => p.json_value(shelters),
            Response::Members { members } => p.json_value(members),
            Response::Orgs { orgs, pending } => p.json_value(&serde_json::json!({
                "orgs": orgs,
                "pending": pending,
            })),
            Response::Peers { peers } => p.json_value(peers),
            Response::Docs { docs } => p.json_value(docs),
            other => p.json_value(other),
        };
    }
    match response {
        Response::Status(s) => {
            p.line(&tr!("status-node", value = clean(&s.node_id).as_ref()))?;
            p.line(&tr!("status-org", value = clean(&s.org).as_ref()))?;
            p.line(&tr!(
                "status-network",
                value = clean(s.network.as_deref().unwrap_or("-")).as_ref()
            ))?;
            for a in &s.listen_addrs {
                p.line(&tr!("status-listening", value = clean(a).as_ref()))?;
            }
            p.line(&tr!("status-peers", count = s.connected_peers.len()))?;
            p.line(&tr!("status-roster", members = s.members, nodes = s.nodes))?;
            p.line(&tr!(
                "status-alerts",
                count = s.alerts,
                open = s.open_alerts
            ))?;
            p.line(&tr!("status-shelters", count = s.shelters))?;
            p.line(&tr!("status-checkins", count = s.checkins))?;
            p.line(&tr!(
                "status-refused",
                connections = s.refused_connections,
                changes = s.rejected_changes
            ))?;
            for b in &s.bridges {
                p.line(&tr!(
                    "status-bridge",
                    name = clean(&b.name).as_ref(),
                    kind = b.kind.as_str(),
                    delivered = b.delivered,
                    failed = b.failed,
                    pending = b.pending
                ))?;
            }
            Ok(())
        }
        Response::BridgeTest { results } => {
            for r in results {
                match &r.error {
                    None => p.line(&tr!(
                        "bridge-test-ok",
                        name = clean(&r.name).as_ref(),
                        kind = r.kind.as_str()
                    ))?,
                    Some(e) => p.line(&tr!(
                        "bridge-test-failed",
                        name = clean(&r.name).as_ref(),
                        kind = r.kind.as_str(),
                        error = clean(e).as_ref()
                    ))?,
                }
            }
            Ok(())
        }
        Response::Invite { code, expires_at } => {
            p.line(&clean(code))?;
            p.warn(&tr!(
                "invite-created",
                expires = clean(&expires_at.to_string()).as_ref()
            ))
        }
        Response::Alerts { alerts: list } => super::alerts(p, list),
        Response::Checkins { checkins: list } => super::checkins(p, list),
        Response::Shelters { shelters: list } => super::shelters(p, list),
        Response::Members { members } => {
            let rows = members
                .iter()
                .map(|m| {
                    vec![
                        short(&m.key),
                        m.name.clone(),
                        m.org.clone(),
                        role(m.role),
                        m.region.clone().unwrap_or_else(|| "-".into()),
                        m.devices.len().to_string(),
                        match (m.revoked, m.cloned) {
                            (true, _) => tr!("member-revoked"),
                            (false, true) => tr!("member-cloned"),
                            (false, false) => "".into(),
                        },
                    ]
                })
                .collect();
            p.table(
                &[
                    "col-key",
                    "col-name",
                    "col-org",
                    "col-role",
                    "col-region",
                    "col-devices",
                    "",
                ],
                rows,
            )
        }
        Response::Peers { peers } => {
            if peers.is_empty() {
                return p.line(&tr!("no-peers"));
            }
            let rows = peers
                .iter()
                .map(|peer| {
                    vec![
                        short(&peer.key),
                        peer.org.clone(),
                        if peer.revoked {
                            tr!("peer-revoked")
                        } else if peer.suspended_until.is_some() {
                            tr!("peer-suspended")
                        } else if peer.connected {
                            tr!("peer-connected")
                        } else {
                            "-".into()
                        },
                        peer.last_sync
                            .clone()
                            .unwrap_or_else(|| tr!("peer-never-synced")),
                        peer.addrs.join(" "),
                    ]
                })
                .collect();
            p.table(
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
        Response::Orgs { orgs, pending } => {
            let rows = orgs
                .iter()
                .map(|o| {
                    vec![
                        o.org.clone(),
                        o.status.clone(),
                        o.nodes.to_string(),
                        o.admins.to_string(),
                    ]
                })
                .collect();
            p.table(&["col-org", "col-state", "col-nodes", "col-admins"], rows)?;
            for change in pending {
                p.line(&tr!(
                    "org-pending",
                    change = change.change.to_string(),
                    have = change.agreed.len(),
                    need = change.needed,
                    orgs = change.agreed.join(", ")
                ))?;
            }
            Ok(())
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
                            .map(|h| short(h))
                            .collect::<Vec<_>>()
                            .join(","),
                    ]
                })
                .collect();
            p.table(&["col-document", "col-events", "col-heads"], rows)
        }
        Response::File { summary, .. } => p.line(&clean(summary)),
        Response::Draft { event } => p.line(&clean(&format!("{event:?}"))),
        // `tejido doctor` prints its findings itself (`doctor.rs`).
        Response::Doctor(d) => p.json_value(d),
        Response::Done { message } => p.line(&clean(message)),
        Response::Error { message } => anyhow::bail!("{message}"),
    }
}
