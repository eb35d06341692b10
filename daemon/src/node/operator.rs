//! Operator requests from the local socket: one function per request, each answered after
//! the turn's flush.

use std::collections::BTreeMap;

use libp2p::Multiaddr;
use protocol::control::{self, Request, Response};
use protocol::event::Body;
use protocol::ids::{DocId, PublicKey, Timestamp};
use protocol::wire::{ClientRequestV0, ClientResponseV0, InviteCode, InviteKind, NodeContact};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{Command, Core, Internal, JoinError, Signer};
use crate::net;
use crate::store::InviteRecord;

impl Core {
    pub(super) fn handle_command(&mut self, cmd: Command) {
        let response = match cmd.request {
            Request::Status => Response::Status(Box::new(self.status())),
            Request::InviteMember {
                name,
                role,
                region,
                ttl_secs,
            } => {
                let invite = InviteRecord {
                    kind: InviteKind::Member,
                    name,
                    role,
                    region,
                    expires: Timestamp::now().plus_ms(ttl_secs.saturating_mul(1000) as i64),
                    device: None,
                };
                self.create_invite(invite)
            }
            Request::Alerts { region, open_only } => {
                // The operator is this organisation's admin: the duress alerts of its members
                // are sealed to them too.
                let roster = self.engine.roster();
                let org_of = |k: &protocol::ids::PublicKey| roster.org_of(k).map(str::to_string);
                // All, then the open ones: a panic cancelled under duress is open only once
                // its duress alert is opened.
                let mut alerts = self
                    .engine
                    .alerts(region.as_deref(), false, Timestamp::now());
                for a in &mut alerts {
                    if let Some(admin) = &self.admin_key {
                        a.open_sealed(admin, org_of);
                    }
                }
                protocol::view::mark_duress_cancels(&mut alerts);
                alerts.retain(|a| !open_only || a.is_open());
                Response::Alerts { alerts }
            }
            Request::Checkins { overdue_only } => Response::Checkins {
                // The operator runs this organisation's node and reads what it reads.
                checkins: self.engine.checkins(
                    overdue_only,
                    Timestamp::now(),
                    Some(&self.node_key),
                ),
            },
            Request::Shelters {
                region,
                available_only,
            } => Response::Shelters {
                shelters: self.engine.shelters(region.as_deref(), available_only),
            },
            Request::Members => Response::Members {
                members: self.members_info(),
            },
            Request::MoveMember { member, ttl_secs } => self.move_member(&member, ttl_secs),
            Request::InviteNode { ttl_secs } => {
                let invite = InviteRecord {
                    kind: InviteKind::Node,
                    name: String::new(),
                    role: protocol::event::Role::Admin,
                    region: None,
                    expires: Timestamp::now().plus_ms(ttl_secs.saturating_mul(1000) as i64),
                    device: None,
                };
                self.create_invite(invite)
            }
            Request::BridgeTest { name } => {
                // Answered later, by `on_internal`.
                self.test_bridges(name, cmd.reply);
                return;
            }
            Request::JoinNetwork { code } => {
                // Answered later, by `on_internal`.
                self.join_network(&code, cmd.reply);
                return;
            }
            Request::Peers => Response::Peers {
                peers: self.peers_info(),
            },
            Request::Docs => Response::Docs {
                docs: self.engine.docs_info(),
            },
            Request::Revoke {
                key,
                reason,
                person,
            } => self.revoke(&key, reason, person),
            Request::Network { change } => self.agree_to(change),
            Request::Draft { admin, request } => self.draft(&admin, *request),
            Request::SubmitEvent { event } => self.submit_signed(&event),
            Request::TakeAdminKey => self.take_admin_key(),
            Request::Orgs => self.orgs(),
            Request::DeclareRegion { region } => match self.declare_region(&region) {
                Ok(()) => Response::Done {
                    message: format!("{} works in the region {region}", self.org),
                },
                Err(message) => Response::Error { message },
            },
            Request::Export { for_nodes, since } => self.export(&for_nodes, since.as_deref()),
            Request::Import { bundle } => self.import(&bundle),
            Request::ExportDoc { doc, raw } => self.export_doc(&doc, raw),
            Request::Backup { passphrase } => {
                // Answered later, by `on_internal`.
                self.backup(passphrase, cmd.reply);
                return;
            }
            Request::Doctor => Response::Doctor(Box::new(self.doctor())),
            Request::Wipe => {
                self.shutdown = true;
                // Nothing may be left to write into the files being destroyed: flush first
                // (the turn ends right after this command, with nothing more to flush).
                if let Err(e) = self.engine.flush() {
                    warn!(error = %format!("{e:#}"), "flush before wiping failed");
                }
                match crate::wipe::wipe_dir(&self.data_dir) {
                    Ok(removed) => {
                        warn!(files = removed.len(), "wiped this node's keys and data");
                        Response::Done {
                            message: format!(
                                "wiped {} file(s) (keys, configuration, store); the node stops",
                                removed.len()
                            ),
                        }
                    }
                    Err(e) => Response::Error {
                        message: format!("wipe failed part way: {e:#}"),
                    },
                }
            }
            Request::Shutdown => {
                self.shutdown = true;
                Response::Done {
                    message: "stopping".into(),
                }
            }
        };
        // Sent after the turn's flush, like every answer (`finish_turn`).
        self.reply_operator(cmd.reply, response);
    }

    fn status(&self) -> control::Status {
        let now = Timestamp::now();
        let alerts = self.engine.alerts(None, false, now);
        let roster = self.engine.roster();
        control::Status {
            node_id: self.me.to_string(),
            peer_id: self.peer_id.to_string(),
            org: self.org.clone(),
            network: roster.network.clone(),
            listen_addrs: self.listen_addrs(),
            announced_addrs: roster
                .nodes
                .get(&self.me)
                .map(|n| n.addrs.clone())
                .unwrap_or_default(),
            connected_peers: self
                .node_peers()
                .iter()
                .filter_map(net::key_of)
                .map(|k| k.to_string())
                .collect(),
            documents: self.engine.docs().count(),
            open_alerts: alerts.iter().filter(|a| a.is_open()).count(),
            alerts: alerts.len(),
            shelters: self.engine.shelters(None, false).len(),
            checkins: self.engine.checkin_count(),
            members: roster.members.len(),
            nodes: roster.nodes.len(),
            refused_connections: self.engine.stats.refused_connections,
            rejected_changes: self.engine.stats.rejected_changes + self.sessions.stats.rejected,
            gossip_accepted: self.engine.stats.gossip_accepted,
            gossip_rejected: self.engine.stats.gossip_rejected,
            throttled_requests: self.engine.stats.throttled_requests,
            peer_faults: self.sessions.stats.faults,
            suspended_peers: self.sessions.suspended(now).len(),
            roster_news: self.engine.roster_news().to_vec(),
            store_bytes: self.engine.store_bytes(),
            bridges: self.bridges.status(),
            metrics_addr: self.metrics.as_ref().map(|(_, addr)| addr.to_string()),
        }
    }

    pub(super) fn create_invite(&mut self, invite: InviteRecord) -> Response {
        if let Some(region) = &invite.region {
            if protocol::ids::check_slug("region", region).is_err() {
                return Response::Error {
                    message: format!(
                        "region must be 1-32 characters of a-z, 0-9 and -, got {region:?}"
                    ),
                };
            }
            // Inviting someone for a region declares that this organisation works there.
            if let Err(message) = self.declare_region(&region.clone()) {
                return Response::Error { message };
            }
        }
        let addrs = self.listen_addrs();
        if addrs.is_empty() {
            return Response::Error {
                message: "the node is not listening on any address yet".into(),
            };
        }
        let code = InviteCode::V0 {
            kind: invite.kind,
            node: self.me,
            addrs,
            secret: protocol::ids::random_bytes(),
            expires: invite.expires,
        };
        let identity = code.identity().public();
        if let Err(e) = self.engine.store().put_invite(&identity, &invite) {
            return Response::Error {
                message: format!("{e:#}"),
            };
        }
        self.refresh_gate();
        info!(name = %invite.name, role = invite.role.as_str(), "invite created");
        Response::Invite {
            code: code.encode(),
            expires_at: invite.expires.rfc3339(),
        }
    }

    /// The heads `--since` names: an earlier bundle of this node's (its id), or a node's last
    /// known heads (its key).
    fn since_heads(
        &mut self,
        since: &str,
    ) -> Result<BTreeMap<DocId, Vec<automerge::ChangeHash>>, SinceError> {
        let to_hashes =
            |heads: Vec<[u8; 32]>| heads.into_iter().map(automerge::ChangeHash).collect();
        if let Ok(id) = since.parse::<protocol::ids::RecordId>() {
            return match self.engine.store().exported(&id.0) {
                Ok(Some(docs)) => Ok(docs.into_iter().map(|(d, h)| (d, to_hashes(h))).collect()),
                Ok(None) => Err(SinceError::NoBundle(since.to_string())),
                Err(e) => Err(SinceError::Store(e)),
            };
        }
        let key: PublicKey = since
            .parse()
            .map_err(|_| SinceError::Unparsed(since.to_string()))?;
        let peer = net::peer_id_of(&key).ok_or(SinceError::NotNodeKey)?;
        let heads = self
            .sessions
            .peer_heads(&peer)
            .ok_or_else(|| SinceError::NoHeads(key.fmt_short()))?;
        Ok(heads
            .iter()
            .map(|(d, h)| (d.clone(), to_hashes(h.clone())))
            .collect())
    }

    fn export(&mut self, for_nodes: &[String], since: Option<&str>) -> Response {
        let roster = self.engine.roster();
        let recipients: Vec<PublicKey> = if for_nodes.is_empty() {
            roster
                .nodes
                .keys()
                .filter(|k| **k != self.me && roster.is_active(k))
                .copied()
                .collect()
        } else {
            let mut keys = Vec::new();
            for text in for_nodes {
                let Ok(key) = text.parse::<PublicKey>() else {
                    return Response::Error {
                        message: format!("not a node key: {text}"),
                    };
                };
                if !roster.nodes.contains_key(&key) || !roster.is_active(&key) {
                    return Response::Error {
                        message: format!("{text} is not a trusted node of this network"),
                    };
                }
                keys.push(key);
            }
            keys
        };
        if recipients.is_empty() {
            return Response::Error {
                message: "no other node to export to".into(),
            };
        }
        let since = match since.map(|s| self.since_heads(s)).transpose() {
            Ok(since) => since,
            Err(e) => {
                return Response::Error {
                    message: format!("{e:#}"),
                }
            }
        };
        let contents = self.engine.export_contents(since.as_ref());
        let events: usize = contents.docs.iter().map(|(_, e)| e.len()).sum();
        match protocol::bundle::seal_with_id(
            &contents,
            &self.node_key,
            &recipients,
            Timestamp::now(),
        ) {
            Ok((bytes, id)) => {
                let heads: Vec<(DocId, Vec<[u8; 32]>)> = self
                    .engine
                    .summary()
                    .into_iter()
                    .map(|d| (d.doc, d.heads))
                    .collect();
                if let Err(e) = self.engine.store().put_exported(&id, &heads) {
                    warn!(error = %format!("{e:#}"), "cannot record the export");
                }
                let id = protocol::ids::RecordId(id);
                Response::File {
                    summary: format!(
                        "bundle {id}: {events} events of {} documents, encrypted to {} node(s), signed by this node",
                        contents.docs.len(),
                        recipients.len()
                    ),
                    data: data_encoding::BASE64.encode(&bytes),
                }
            }
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        }
    }

    fn import(&mut self, bundle: &str) -> Response {
        let fail = |message: String| {
            warn!(error = %message, "refused bundle");
            Response::Error { message }
        };
        let Ok(bytes) = data_encoding::BASE64.decode(bundle.as_bytes()) else {
            return fail("the bundle is not valid base64".into());
        };
        let opened = match protocol::bundle::open(&bytes, &self.node_key) {
            Ok(opened) => opened,
            Err(e) => {
                self.engine.stats.rejected_changes += 1;
                return fail(e.to_string());
            }
        };
        let roster = self.engine.roster();
        if !roster.nodes.contains_key(&opened.exporter) || !roster.is_active(&opened.exporter) {
            self.engine.stats.rejected_changes += 1;
            return fail(format!(
                "the bundle comes from {}, which is not a trusted node of this network",
                opened.exporter.fmt_short()
            ));
        }
        if self.engine.store().was_imported(&opened.id) {
            return fail("this bundle was imported before".into());
        }
        match self.engine.import(opened.contents, Timestamp::now()) {
            Ok((added, changed)) => {
                if let Err(e) = self.engine.store().mark_imported(&opened.id) {
                    warn!(error = %format!("{e:#}"), "cannot record the import");
                }
                for doc in &changed {
                    self.on_local_change(doc, None);
                }
                info!(added, exporter = %opened.exporter.fmt_short(), "bundle imported");
                Response::Done {
                    message: format!(
                        "imported {added} new event(s) in {} document(s) from node {}, exported {}",
                        changed.len(),
                        opened.exporter.fmt_short(),
                        opened.created.rfc3339()
                    ),
                }
            }
            Err(e) => {
                self.engine.stats.rejected_changes += 1;
                fail(format!("refused, nothing applied: {e}"))
            }
        }
    }

    /// Joins the network of a node invite: redeems it from the invite's one-time identity in
    /// a task, then adopts the roster in `on_internal`.
    fn join_network(&mut self, code: &str, reply: oneshot::Sender<Response>) {
        let fail = |message: String| Response::Error { message };
        let invite = match InviteCode::decode(code) {
            Ok(invite) => invite,
            Err(e) => return self.reply_operator(reply, fail(e)),
        };
        let InviteCode::V0 {
            kind, node, addrs, ..
        } = invite.clone();
        if kind != InviteKind::Node {
            return self.reply_operator(
                reply,
                fail(
                    "this is a member invite: members run tejido join CODE without --data-dir"
                        .into(),
                ),
            );
        }
        if !self.engine.is_pristine() {
            return self.reply_operator(reply, fail(
                "this node already has members or records of its own; only a new node can join a network".into(),
            ));
        }
        let mut my_addrs = self.announced_addrs();
        my_addrs.sort();
        let body = Body::AddNode {
            org: self.org.clone(),
            node: self.me,
            addrs: my_addrs,
        };
        let add_node = match self.sign_own(Signer::Admin, DocId::roster(), body) {
            Ok(e) => e,
            Err(e) => return self.reply_operator(reply, fail(e.to_string())),
        };
        let admin = add_node.event().author;
        let Some(inviter_peer) = net::peer_id_of(&node) else {
            return self.reply_operator(reply, fail("the invite names an invalid node key".into()));
        };
        let inviter: Vec<Multiaddr> = addrs
            .iter()
            .filter_map(|a| a.parse::<Multiaddr>().ok())
            .map(|a| a.with(libp2p::multiaddr::Protocol::P2p(inviter_peer)))
            .collect();
        let request = ClientRequestV0::RedeemNode {
            node: self.me,
            org: self.org.clone(),
            admin,
            proof: self.node_key_sign(&invite.proof_message(&self.me)),
            add_node: Box::new(add_node),
        };
        let contact = NodeContact { key: node, addrs };
        let identity = invite.identity();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = match net::request_all(&identity, &[contact], request).await {
                Ok(mut answers) => match answers.pop() {
                    Some((_, Ok(ClientResponseV0::Network { roster }))) => Ok(roster),
                    Some((_, Ok(ClientResponseV0::Error { message, .. }))) => {
                        Err(JoinError::Refused(message))
                    }
                    Some((_, Err(e))) => Err(JoinError::Unreachable(e.to_string())),
                    _ => Err(JoinError::Unreachable("no answer".into())),
                },
                Err(e) => Err(JoinError::Unreachable(format!("{e:#}"))),
            };
            let _ = tx
                .send(Internal::Joined {
                    result,
                    inviter,
                    reply,
                })
                .await;
        });
    }

    pub(super) fn on_internal(&mut self, done: Internal) {
        match done {
            Internal::Joined {
                result,
                inviter,
                reply,
            } => {
                let response = match result.and_then(|roster| {
                    self.engine
                        .adopt_roster(&roster, &self.me)
                        .map_err(JoinError::Roster)
                }) {
                    Ok(()) => {
                        for addr in &inviter {
                            if let Err(e) = self.engine.store().add_bootstrap(&addr.to_string()) {
                                warn!(error = %format!("{e:#}"), "cannot remember the inviting node");
                            }
                        }
                        self.bootstrap.extend(inviter);
                        self.refresh_gate();
                        self.dial_missing();
                        let network = self.engine.roster().network.clone().unwrap_or_default();
                        info!(%network, "joined the network");
                        Response::Done {
                            message: format!(
                                "joined the network {network:?}: {} organisation(s), {} node(s)",
                                self.engine.roster().orgs.len(),
                                self.engine.roster().nodes.len()
                            ),
                        }
                    }
                    Err(e) => Response::Error {
                        message: format!("{e:#}"),
                    },
                };
                // After the turn's flush: the adopted roster is on disk when the operator
                // hears the node joined.
                self.reply_operator(reply, response);
            }
            Internal::Delivered { key, result } => self.on_delivered(key, result),
            Internal::BridgesTested { results, reply } => {
                self.reply_operator(reply, Response::BridgeTest { results })
            }
            Internal::Answer { reply, response } => self.reply_operator(reply, response),
        }
    }
}

/// Why `--since` names no heads.
#[derive(Debug, thiserror::Error)]
enum SinceError {
    #[error("this node made no bundle {0}")]
    NoBundle(String),
    #[error("--since takes a bundle id or a node key, not {0:?}")]
    Unparsed(String),
    #[error("not a node key")]
    NotNodeKey,
    #[error("no heads known for node {0} since this node started")]
    NoHeads(String),
    #[error("reading the record of earlier bundles")]
    Store(#[source] anyhow::Error),
}
