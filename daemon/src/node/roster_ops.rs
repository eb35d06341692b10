//! Operator requests that change the roster: regions, revocations, changes to the network
//! (and the organisations' list), and the roster events an admin key kept off the node signs.

use protocol::control::{self, Request, Response};
use protocol::event::Body;
use protocol::ids::{DocId, PublicKey, Timestamp};
use tracing::{info, warn};

use super::{Core, Signer};

impl Core {
    /// Declares that this node's organisation works in `region` (nothing to do if it did).
    pub(super) fn declare_region(&mut self, region: &str) -> Result<(), String> {
        if protocol::ids::check_slug("region", region).is_err() {
            return Err(format!(
                "region must be 1-32 characters of a-z, 0-9 and -, got {region:?}"
            ));
        }
        if self.engine.roster().declares(&self.org, region) {
            return Ok(());
        }
        let body = Body::DeclareRegion {
            org: self.org.clone(),
            region: region.to_string(),
        };
        self.sign_and_store(Signer::Admin, DocId::roster(), body)
            .map_err(|e| format!("cannot declare the region {region}: {e}"))?;
        info!(%region, "region declared");
        Ok(())
    }

    pub(super) fn revoke(&mut self, key: &str, reason: String, person: bool) -> Response {
        let key: PublicKey = match key.parse() {
            Ok(k) => k,
            Err(e) => {
                return Response::Error {
                    message: e.to_string(),
                }
            }
        };
        if key == self.me {
            return Response::Error {
                message:
                    "a node does not revoke itself; revoke it from another node of its organisation"
                        .into(),
            };
        }
        if person {
            return self.revoke_person(&key, reason);
        }
        // Everything of the key's that this node holds still counts; nothing after it.
        let last = self.engine.last_seq(&key);
        let stored = self.sign_and_store(
            Signer::Admin,
            DocId::roster(),
            Body::Revoke { key, reason, last },
        );
        match stored {
            Ok(_) => {
                info!(key = %key.fmt_short(), "revoked");
                Response::Done {
                    message: format!("revoked {key}: its new changes are refused on every node that learns of it"),
                }
            }
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        }
    }

    /// Signs this organisation's agreement to a change to the network.
    pub(super) fn agree_to(&mut self, change: protocol::event::NetworkChange) -> Response {
        let stored = self.sign_and_store(
            Signer::Admin,
            DocId::roster(),
            Body::Network {
                change: change.clone(),
            },
        );
        if let Err(e) = stored {
            return Response::Error {
                message: e.to_string(),
            };
        }
        let roster = self.engine.roster();
        let org = change.org();
        let done = match &change {
            protocol::event::NetworkChange::Approve { .. } => roster.orgs.contains_key(org),
            protocol::event::NetworkChange::Suspend { .. } => roster.suspended.contains(org),
            protocol::event::NetworkChange::Reinstate { .. } => roster.in_good_standing(org),
            protocol::event::NetworkChange::Remove { .. } => roster.removed.contains(org),
        };
        let (have, need) = roster.consent_for(&change);
        info!(?change, have, need, "agreed to a change to the network");
        Response::Done {
            message: if done {
                format!("{change}: in effect")
            } else {
                format!("{change}: {have} of the {need} organisations needed agree so far")
            },
        }
    }

    /// The roster event a request would make, for an admin key kept off the node.
    pub(super) fn draft(&mut self, admin: &str, request: Request) -> Response {
        let fail = |message: String| Response::Error { message };
        let admin: PublicKey = match admin.parse() {
            Ok(k) => k,
            Err(e) => return fail(format!("admin key: {e}")),
        };
        let body = match request {
            Request::Revoke { person: true, .. } => {
                return fail(
                    "an admin key off the node revokes one device at a time: revoke each of the person's keys".into(),
                )
            }
            Request::Revoke { key, reason, .. } => match key.parse::<PublicKey>() {
                Ok(key) if key == self.me => {
                    return fail("a node does not revoke itself; revoke it from another node of its organisation".into())
                }
                Ok(key) => Body::Revoke {
                    key,
                    reason,
                    last: self.engine.last_seq(&key),
                },
                Err(e) => return fail(e.to_string()),
            },
            Request::DeclareRegion { region } => Body::DeclareRegion {
                org: self.org.clone(),
                region,
            },
            Request::Network { change } => Body::Network { change },
            _ => {
                return fail(
                    "an admin key off the node signs roster changes: revoke, region, org".into(),
                )
            }
        };
        let event = protocol::event::Event {
            author: admin,
            at: Timestamp::now(),
            seq: self.engine.last_seq(&admin) + 1,
            doc: DocId::roster(),
            body,
        };
        // Checked now as it will be when signed, so that a refusal is said before signing.
        if let Err(e) = self.engine.roster().authorize(&event) {
            return fail(format!("the roster refuses it: {e}"));
        }
        Response::Draft { event }
    }

    /// Stores a roster event signed off the node.
    pub(super) fn submit_signed(&mut self, event: &str) -> Response {
        let fail = |message: String| Response::Error { message };
        let event = match data_encoding::BASE64
            .decode(event.as_bytes())
            .ok()
            .and_then(|b| protocol::event::SignedEvent::decode(&b).ok())
        {
            Some(e) => e,
            None => return fail("not a signed event".into()),
        };
        if !protocol::doc::is_roster_body(&event.event().body) {
            return fail("only roster events are submitted here".into());
        }
        let id = event.id();
        match self.store_own(vec![event]) {
            Ok(_) => {
                info!(event = %id, "roster event signed off the node stored");
                Response::Done {
                    message: format!("stored {id}"),
                }
            }
            Err(e) => fail(e.to_string()),
        }
    }

    /// Hands the admin key over and deletes it from the node.
    pub(super) fn take_admin_key(&mut self) -> Response {
        let Some(key) = self.admin_key.take() else {
            return Response::Error {
                message: "this node does not hold an admin key".into(),
            };
        };
        let path = self.data_dir.join("admin.key");
        if let Err(e) = std::fs::remove_file(&path) {
            self.admin_key = Some(key);
            return Response::Error {
                message: format!("cannot delete {}: {e}", path.display()),
            };
        }
        warn!("the admin key left this node; roster changes are signed off the node from now on");
        Response::File {
            summary: format!("the admin key {}", key.public()),
            data: data_encoding::BASE64.encode(&key.to_bytes()),
        }
    }

    pub(super) fn orgs(&self) -> Response {
        let roster = self.engine.roster();
        let orgs = roster
            .orgs
            .keys()
            .map(|org| control::OrgInfo {
                org: org.clone(),
                status: if roster.removed.contains(org) {
                    "removed"
                } else if roster.suspended.contains(org) {
                    "suspended"
                } else {
                    "active"
                }
                .into(),
                nodes: roster.org_nodes(org).len(),
                admins: roster.org_admins(org).len(),
            })
            .collect();
        let pending = roster
            .pending_changes()
            .map(|(change, _)| {
                let (_, needed) = roster.consent_for(change);
                control::PendingChange {
                    change: change.clone(),
                    agreed: roster.agreed_to(change),
                    needed,
                }
            })
            .collect();
        Response::Orgs { orgs, pending }
    }
}
