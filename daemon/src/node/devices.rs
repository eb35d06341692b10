//! A person's devices: a member's request for an invite for another device of theirs, its
//! redemption (the `AddDevice` this node's admin signs), an admin's move of a person to a new
//! device, revoking every device of a person, and the operator's list of people.

use libp2p::PeerId;
use protocol::control::{self, Response};
use protocol::event::{Body, Replaced, SignedEvent};
use protocol::ids::{DocId, PublicKey, Timestamp};
use protocol::wire::{ClientResponseV0, ErrorKind, InviteKind};
use tracing::info;

use super::{Core, Signer};
use crate::store::{DeviceInvite, InviteRecord};

/// The longest a device's invite may stay valid.
const MAX_DEVICE_INVITE_MS: i64 = 7 * 24 * 3600 * 1000;

/// The most device invites one person may have pending at once.
const MAX_PENDING_DEVICE_INVITES: usize = 4;

impl Core {
    /// Holds an invite for another device of `key`'s person, at the request of `key` (an
    /// active member of this node's organisation): `grant` is their signed `DeviceGrant`.
    pub(super) fn invite_device(&mut self, key: PublicKey, grant: SignedEvent) -> ClientResponseV0 {
        let error = |kind, message: &str| ClientResponseV0::Error {
            kind,
            message: message.to_string(),
        };
        let g = grant.event();
        let Body::DeviceGrant { identity, expires } = &g.body else {
            return error(ErrorKind::BadRequest, "not a device grant");
        };
        if g.author != key {
            return error(
                ErrorKind::Forbidden,
                "a device grant is signed by the requester",
            );
        }
        let roster = self.engine.roster();
        let Some(m) = roster.members.get(&key) else {
            return error(ErrorKind::Forbidden, "only members add devices");
        };
        let (name, role, person) = (m.name.clone(), m.role, roster.person_of(&key));
        if m.org != self.org {
            return error(
                ErrorKind::Forbidden,
                "ask a node of your own organisation to add a device",
            );
        }
        if self.admin_key.is_none() {
            return error(
                ErrorKind::Forbidden,
                "this node cannot add devices: its admin key is kept off it",
            );
        }
        let now = Timestamp::now();
        if *expires <= now || *expires > now.plus_ms(MAX_DEVICE_INVITE_MS) {
            return error(
                ErrorKind::BadRequest,
                "a device's invite is valid for up to 7 days",
            );
        }
        let invites = self.engine.store().invites().unwrap_or_default();
        if invites.iter().any(|(k, _)| k == identity) {
            return error(ErrorKind::BadRequest, "this invite exists already");
        }
        let pending = invites
            .iter()
            .filter(|(_, i)| i.device.as_ref().is_some_and(|d| d.person == person))
            .count();
        if pending >= MAX_PENDING_DEVICE_INVITES {
            return error(
                ErrorKind::BadRequest,
                "too many device invites waiting: use one or let them expire",
            );
        }
        let invite = InviteRecord {
            kind: InviteKind::Device,
            name,
            role,
            region: None,
            expires: *expires,
            device: Some(DeviceInvite {
                person,
                grant: Some(grant.to_bytes()),
                replaces: None,
            }),
        };
        if let Err(e) = self.engine.store().put_invite(identity, &invite) {
            return error(ErrorKind::Internal, &format!("{e:#}"));
        }
        self.refresh_gate();
        info!(person = %person.fmt_short(), "device invite held");
        ClientResponseV0::Stored {
            node: self.me,
            ids: vec![grant.id()],
        }
    }

    /// Redeems a device's invite: this node's admin adds `device` to the invite's person,
    /// citing the grant, or revoking the replaced key in the same event.
    pub(super) fn redeem_device(
        &mut self,
        peer: PeerId,
        identity: PublicKey,
        device: PublicKey,
        invite: &DeviceInvite,
    ) -> ClientResponseV0 {
        let error = |kind, message: &str| ClientResponseV0::Error {
            kind,
            message: message.to_string(),
        };
        let roster = self.engine.roster();
        if let Some(bytes) = &invite.grant {
            let asked = SignedEvent::decode(bytes).map(|g| g.event().author);
            if !asked.is_ok_and(|k| roster.is_active(&k)) {
                // Revoked since it asked: its code adds nobody.
                let _ = self.engine.store().remove_invite(&identity);
                self.close_after_response.insert(peer);
                return error(
                    ErrorKind::Forbidden,
                    "the device that made this code was revoked",
                );
            }
        }
        let body = Body::AddDevice {
            org: self.org.clone(),
            person: invite.person,
            device,
            grant: invite.grant.clone(),
            replaces: invite.replaces.map(|key| {
                Box::new(Replaced {
                    key,
                    // Everything of the old key's that this node holds still counts.
                    last: self.engine.last_seq(&key),
                })
            }),
        };
        if let Err(e) = self.sign_and_store(Signer::Admin, DocId::roster(), body) {
            return error(
                super::client::own_error_kind(&e, ErrorKind::Forbidden),
                &e.to_string(),
            );
        }
        self.use_invite(peer, &identity);
        info!(person = %invite.person.fmt_short(), device = %device.fmt_short(), "device added");
        match self.profile(&device) {
            Some(profile) => ClientResponseV0::Profile {
                profile,
                nodes: self.node_contacts(),
            },
            None => error(ErrorKind::Internal, "the device was not added"),
        }
    }

    /// An invite that moves a person of this organisation (named, or by one of their keys) to
    /// a new device: its redemption revokes the replaced key in the same roster event.
    pub(super) fn move_member(&mut self, member: &str, ttl_secs: u64) -> Response {
        let fail = |message: String| Response::Error { message };
        if self.admin_key.is_none() {
            return fail("moving a person needs the admin key on the node".into());
        }
        let roster = self.engine.roster();
        let own = |k: &PublicKey| roster.members.get(k).is_some_and(|m| m.org == self.org);
        let (person, replaces) = match member.parse::<PublicKey>() {
            Ok(key) if own(&key) => (roster.person_of(&key), Some(key)),
            Ok(key) => return fail(format!("{key} is no member of {}", self.org)),
            Err(_) => {
                let people: Vec<PublicKey> = roster
                    .members
                    .iter()
                    .filter(|(_, m)| m.person.is_none() && m.org == self.org && m.name == member)
                    .map(|(k, _)| *k)
                    .collect();
                let [person] = people[..] else {
                    return fail(if people.is_empty() {
                        format!("nobody in {} is called {member:?}", self.org)
                    } else {
                        format!(
                            "{} people are called {member:?}: name the key",
                            people.len()
                        )
                    });
                };
                let active: Vec<PublicKey> = roster
                    .devices_of(&person)
                    .into_iter()
                    .filter(|k| roster.members[k].revoked_at.is_none())
                    .collect();
                match active[..] {
                    [] => (person, None),
                    [one] => (person, Some(one)),
                    _ => {
                        return fail(format!(
                            "{member} has {} devices: name the key of the one to replace",
                            active.len()
                        ))
                    }
                }
            }
        };
        let m = &roster.members[&person];
        let invite = InviteRecord {
            kind: InviteKind::Device,
            name: m.name.clone(),
            role: m.role,
            region: None,
            expires: Timestamp::now().plus_ms(ttl_secs.saturating_mul(1000) as i64),
            device: Some(DeviceInvite {
                person,
                grant: None,
                replaces,
            }),
        };
        info!(person = %person.fmt_short(), "move invite");
        self.create_invite(invite)
    }

    /// Revokes every device of the person `key` is a device of (those not revoked yet).
    pub(super) fn revoke_person(&mut self, key: &PublicKey, reason: String) -> Response {
        let roster = self.engine.roster();
        let person = roster.person_of(key);
        if !roster.members.contains_key(&person) {
            return Response::Error {
                message: format!("{key} is no member"),
            };
        }
        let devices: Vec<PublicKey> = roster
            .devices_of(&person)
            .into_iter()
            .filter(|k| roster.members[k].revoked_at.is_none())
            .collect();
        for device in &devices {
            let body = Body::Revoke {
                key: *device,
                reason: reason.clone(),
                last: self.engine.last_seq(device),
            };
            if let Err(e) = self.sign_and_store(Signer::Admin, DocId::roster(), body) {
                return Response::Error {
                    message: e.to_string(),
                };
            }
        }
        info!(person = %person.fmt_short(), devices = devices.len(), "person revoked");
        Response::Done {
            message: format!(
                "revoked {person} and its {} device(s): their new changes are refused on every node that learns of it",
                devices.len()
            ),
        }
    }

    /// The people of the roster, each once, under the key they were added with, with their
    /// devices that are not revoked.
    pub(super) fn members_info(&self) -> Vec<control::MemberInfo> {
        let roster = self.engine.roster();
        let cloned = self.engine.cloned_keys();
        roster
            .members
            .iter()
            .filter(|(_, m)| m.person.is_none())
            .map(|(k, m)| {
                let all = roster.devices_of(k);
                let devices: Vec<String> = all
                    .iter()
                    .filter(|d| roster.members[*d].revoked_at.is_none())
                    .map(|d| d.to_string())
                    .collect();
                control::MemberInfo {
                    key: k.to_string(),
                    name: m.name.clone(),
                    org: m.org.clone(),
                    role: m.role,
                    region: m.region.clone(),
                    revoked: devices.is_empty(),
                    cloned: all.iter().any(|d| cloned.contains(d)),
                    devices,
                }
            })
            .collect()
    }
}
