//! A person, not a key: the devices of a person, how they are added and moved, and which key
//! stands for the person in the views.
//!
//! A person is the key their organisation's admin added them with (`AddMember`); that key
//! names them in every view for good, even after it is revoked. Every further device is an
//! `AddDevice` by an admin of the person's organisation: a key of its own (its own sequence
//! numbers, its own duress tag, its own revocation) that the roster folds into the person's
//! name, organisation, role and region. Roles attach to the person: a device has the role the
//! person was added with, and nothing else.
//!
//! - A device added at another device's request carries that device's signed
//!   [`Body::DeviceGrant`]; the addition counts only while the granting device's events
//!   count (by sequence number, as every revocation), so a device revoked before it asked
//!   adds nothing, on every node, whatever node answered it.
//! - A move (`replaces`) adds the new key and revokes the old one in the same event: both
//!   count or neither does, and the revocation is weighed with every other
//!   ([`super::revocation_limits`]).
//! - Revoking one device leaves the person's others; revoking the person is revoking each of
//!   their devices.

use crate::event::{Body, Event, SignedEvent, VerifyError};
use crate::ids::{DocId, PublicKey};

use super::{member, AuthError, Member, RevokeSeen, Roster};

/// Field rules of `AddDevice` and `DeviceGrant` that hold whoever the author is.
pub(crate) fn check_device_fields(event: &Event) -> Result<(), VerifyError> {
    if event.doc != DocId::roster() {
        return Err(VerifyError::Invalid(format!(
            "event does not belong in {}",
            event.doc
        )));
    }
    let Body::AddDevice {
        org,
        person,
        device,
        grant,
        replaces,
    } = &event.body
    else {
        return Ok(());
    };
    crate::ids::check_slug("org", org).map_err(|e| VerifyError::Invalid(e.to_string()))?;
    if person == device || replaces.as_ref().is_some_and(|r| r.key == *device) {
        return Err(VerifyError::Invalid(
            "a new device has a key of its own".into(),
        ));
    }
    if let Some(bytes) = grant {
        let granted = SignedEvent::decode(bytes)?;
        if !matches!(granted.event().body, Body::DeviceGrant { .. })
            || granted.event().author == *device
        {
            return Err(VerifyError::Invalid(
                "a device is added at the request of another device of the person".into(),
            ));
        }
    }
    Ok(())
}

impl Roster {
    /// The person `key` is a device of: the key they were added with (itself, for that key
    /// and for keys the roster does not know).
    pub fn person_of(&self, key: &PublicKey) -> PublicKey {
        self.members.get(key).and_then(|m| m.person).unwrap_or(*key)
    }

    /// Every key of `person`, the first first, revoked ones included.
    pub fn devices_of(&self, person: &PublicKey) -> Vec<PublicKey> {
        let mut out: Vec<PublicKey> = self
            .members
            .iter()
            .filter(|(k, m)| m.person == Some(*person) || (*k == person && m.person.is_none()))
            .map(|(k, _)| *k)
            .collect();
        out.sort_by_key(|k| (k != person, *k));
        out
    }

    /// Whether some device of `person` is active ([`Roster::is_active`]).
    pub fn person_is_active(&self, person: &PublicKey) -> bool {
        self.devices_of(person).iter().any(|k| self.is_active(k))
    }

    /// The revocation a move makes, as [`super::revocation_limits`] weighs it.
    pub(super) fn move_seen(&self, event: &Event) -> Option<RevokeSeen> {
        let Body::AddDevice {
            replaces: Some(replaced),
            ..
        } = &event.body
        else {
            return None;
        };
        self.admit(event).ok()?;
        Some(RevokeSeen {
            by: event.author,
            seq: event.seq,
            target: replaced.key,
            last: replaced.last,
            at: event.at,
        })
    }

    /// Who may add a device: an admin of the person's organisation, for a person of the
    /// roster, a key new to it, a grant by a device of the same person that still counts
    /// (when `revocation`), and a replaced key of the same person.
    pub(super) fn check_add_device(
        &self,
        event: &Event,
        org: &str,
        is_admin: bool,
        revocation: bool,
    ) -> Result<(), AuthError> {
        let forbidden = |why: &str| Err(AuthError::Forbidden(why.to_string()));
        let Body::AddDevice {
            org: target,
            person,
            device,
            replaces,
            ..
        } = &event.body
        else {
            return forbidden("not a device's addition");
        };
        if !is_admin || target != org {
            return forbidden("only an organisation's admins add its members' devices");
        }
        match self.members.get(person) {
            Some(m) if m.person.is_none() && m.org == *target => {}
            _ => return forbidden("a device is added to a person of the organisation"),
        }
        if self.principal(device).is_some() {
            return forbidden("key already in the roster");
        }
        if let Some(r) = replaces {
            if self.person_of(&r.key) != *person || !self.members.contains_key(&r.key) {
                return forbidden("a move replaces a key of the same person");
            }
        }
        if let Some(grant) = event.body.device_grant() {
            let g = grant.event();
            if !self.members.contains_key(&g.author) || self.person_of(&g.author) != *person {
                return forbidden("a device is granted by a device of the same person");
            }
            let added = self.members[&g.author].added_at;
            if g.at < added.plus_ms(-crate::event::MAX_CLOCK_SKEW_MS) {
                return forbidden("a grant dated before its device was added");
            }
            let cut = self.limits.get(&g.author);
            if revocation && cut.is_some_and(|(last, _)| g.seq > *last) {
                return forbidden("the device that asked was revoked before it asked");
            }
        }
        Ok(())
    }

    /// Adds the device of an allowed `AddDevice`; returns its key when it is new.
    pub(super) fn apply_add_device(&mut self, event: &Event) -> Option<PublicKey> {
        let Body::AddDevice { person, device, .. } = &event.body else {
            return None;
        };
        if self.members.contains_key(device) {
            return None;
        }
        let of = self.members.get(person)?;
        let entry = Member {
            region: of.region.clone(),
            person: Some(*person),
            ..member(&of.name, &of.org, of.role, event.at)
        };
        self.members.insert(*device, entry);
        Some(*device)
    }
}
