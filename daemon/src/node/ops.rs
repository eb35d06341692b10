//! What keeps a node running for years: backups while it runs, doctor's view of what usually
//! goes wrong, and documents for other automerge tools.

use std::collections::HashSet;
use std::path::PathBuf;

use libp2p::PeerId;
use protocol::control::{self, Response};
use protocol::ids::{DocId, Timestamp};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{Core, Internal};
use crate::net;

/// What the node keeps for backups and doctor.
#[derive(Debug, Default)]
pub(crate) struct Ops {
    /// The configuration file the node read.
    pub(crate) config_path: PathBuf,
    /// Whether the data directory is encrypted at rest.
    pub(crate) encrypted: bool,
    /// The configuration's warnings (`Config::warnings`).
    pub(crate) config_warnings: Vec<String>,
    /// Peers whose direct connection hole punching made (DCUtR), while it lasts.
    pub(crate) punched: HashSet<PeerId>,
}

impl Ops {
    pub(crate) fn new(config: &crate::config::Config) -> Self {
        Self {
            config_path: config.config_path.clone(),
            encrypted: config.at_rest.is_some(),
            config_warnings: config.warnings(),
            punched: HashSet::new(),
        }
    }
}

/// Alert bridges named in the configuration file, one line each (`[[bridge]]` tables): read
/// from the file as it is, so that doctor lists them whatever fields a bridge has.
fn bridges(config_path: &std::path::Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(config_path) else {
        return Vec::new();
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(toml::Value::Array(list)) = table.get("bridge") else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|b| b.as_table())
        .map(|b| {
            let field = |name: &str| b.get(name).and_then(|v| v.as_str()).map(str::to_string);
            let kind = field("kind")
                .or_else(|| field("type"))
                .unwrap_or_else(|| "bridge".into());
            match field("name").or_else(|| field("region")) {
                Some(name) => format!("{kind} {name}"),
                None => kind,
            }
        })
        .collect()
}

impl Core {
    /// Gathers a backup of this node and seals it on a blocking thread (Argon2id takes a
    /// moment); the answer goes back through `Internal::Answer`.
    pub(super) fn backup(&mut self, passphrase: String, reply: oneshot::Sender<Response>) {
        if passphrase.chars().count() < 8 {
            return self.reply_operator(
                reply,
                Response::Error {
                    message: "the backup passphrase must have at least 8 characters".into(),
                },
            );
        }
        let contents = match self.backup_contents() {
            Ok(c) => c,
            Err(e) => {
                return self.reply_operator(
                    reply,
                    Response::Error {
                        message: format!("cannot read what to back up: {e:#}"),
                    },
                )
            }
        };
        let summary = format!(
            "backup of node {} ({}): keys, configuration and {} document(s), sealed under your passphrase",
            self.me.fmt_short(),
            self.org,
            contents.docs.len()
        );
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let sealed = tokio::task::spawn_blocking(move || {
                crate::backup::seal(
                    &crate::backup::Contents::V0(contents),
                    passphrase.as_bytes(),
                )
            })
            .await;
            let response = match sealed {
                Ok(Ok(bytes)) => {
                    info!(bytes = bytes.len(), "backup written");
                    Response::File {
                        data: data_encoding::BASE64.encode(&bytes),
                        summary,
                    }
                }
                Ok(Err(e)) => Response::Error {
                    message: format!("{e:#}"),
                },
                Err(e) => Response::Error {
                    message: format!("the backup task failed: {e}"),
                },
            };
            let _ = tx.send(Internal::Answer { reply, response }).await;
        });
    }

    fn backup_contents(&mut self) -> anyhow::Result<crate::backup::ContentsV0> {
        let config_toml = std::fs::read_to_string(&self.ops.config_path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", self.ops.config_path.display()))?;
        let mut docs = Vec::new();
        for d in self.engine.docs().filter(|d| !d.is_empty()) {
            if let Some(saved) = self.engine.saved(d.id())? {
                docs.push((d.id().clone(), saved));
            }
        }
        Ok(crate::backup::ContentsV0 {
            format: crate::format::CURRENT,
            created: Timestamp::now(),
            node_key: self.node_key.to_bytes(),
            admin_key: self.admin_key.as_ref().map(|k| k.to_bytes()),
            encrypted_at_rest: self.ops.encrypted,
            config_toml,
            docs,
            entries: self.engine.store().entries()?,
        })
    }

    /// What doctor checks, as this node sees it.
    pub(super) fn doctor(&self) -> control::Doctor {
        let now = Timestamp::now();
        let roster = self.engine.roster();
        let peers = roster
            .nodes
            .iter()
            .filter(|(k, _)| **k != self.me && roster.is_active(k))
            .map(|(k, n)| {
                let peer = net::peer_id_of(k);
                let addrs: Vec<String> = peer
                    .and_then(|p| self.connections.get(&p))
                    .map(|c| c.values().map(|a| a.to_string()).collect())
                    .unwrap_or_default();
                let reached = if addrs.is_empty() {
                    None
                } else if addrs.iter().all(|a| a.contains("/p2p-circuit")) {
                    Some("relayed")
                } else if peer.is_some_and(|p| self.ops.punched.contains(&p)) {
                    Some("hole-punched")
                } else {
                    Some("direct")
                };
                control::DoctorPeer {
                    key: k.to_string(),
                    org: n.org.clone(),
                    addrs: n.addrs.clone(),
                    reached: reached.map(str::to_string),
                    last_sync: peer
                        .and_then(|p| self.sessions.last_sync(&p))
                        .map(|t| t.rfc3339()),
                    clock_offset_ms: peer.and_then(|p| self.sessions.clock_offset_ms(&p)),
                    suspended: peer
                        .and_then(|p| self.sessions.suspended_until(&p, now))
                        .is_some(),
                }
            })
            .collect();
        control::Doctor {
            node_id: self.me.to_string(),
            org: self.org.clone(),
            now: now.rfc3339(),
            listen_addrs: self.listen_addrs(),
            announced_addrs: roster
                .nodes
                .get(&self.me)
                .map(|n| n.addrs.clone())
                .unwrap_or_default(),
            peers,
            store_bytes: self.engine.store_bytes(),
            disk_free_bytes: fs2::available_space(&self.data_dir).ok(),
            disk_total_bytes: fs2::total_space(&self.data_dir).ok(),
            encrypted_at_rest: self.ops.encrypted,
            bridges: bridges(&self.ops.config_path),
            config_warnings: self.ops.config_warnings.clone(),
            data_format: crate::format::read(&self.data_dir)
                .ok()
                .flatten()
                .unwrap_or(crate::format::CURRENT),
        }
    }

    /// `export-doc`: the document for other automerge tools, or with `raw` as replicated.
    pub(super) fn export_doc(&self, doc: &str, raw: bool) -> Response {
        let no_doc = || Response::Error {
            message: format!("no document {doc}"),
        };
        let Ok(id) = doc.parse::<DocId>() else {
            return no_doc();
        };
        if raw {
            return match self.engine.export_doc(&id) {
                Ok(Some(bytes)) => Response::File {
                    summary: format!(
                        "{doc}: {} bytes in automerge's format, as replicated",
                        bytes.len()
                    ),
                    data: data_encoding::BASE64.encode(&bytes),
                },
                Ok(None) => no_doc(),
                Err(e) => Response::Error {
                    message: format!("cannot export {doc}: {e:#}"),
                },
            };
        }
        let Some(document) = self.engine.docs().find(|d| *d.id() == id) else {
            return no_doc();
        };
        match crate::readable::export(document, self.engine.roster(), &self.me, Timestamp::now()) {
            Ok(bytes) => Response::File {
                summary: format!(
                    "{doc}: {} bytes in automerge's format, {} event(s) as plain values",
                    bytes.len(),
                    document.len()
                ),
                data: data_encoding::BASE64.encode(&bytes),
            },
            Err(e) => {
                warn!(error = %format!("{e:#}"), %doc, "cannot export the document");
                Response::Error {
                    message: format!("cannot export {doc}: {e:#}"),
                }
            }
        }
    }
}
