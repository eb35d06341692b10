//! What only some may read: a check-in's status, note and code; a member's duress tag; a
//! duress alert. Each is sealed ([`crate::sealed`]) to the people and nodes that need it, and
//! bound by its context to the one event that carries it, so it cannot be moved to another.
//!
//! Who reads what ([`crate::roster::Roster`] computes the lists, the same on every node):
//! - a check-in's private part: the member's organisation's nodes and admins, and the
//!   security contacts of the member's region ([`crate::roster::Roster::checkin_readers`]);
//! - a member's duress tag: the member's organisation's nodes, which compare it with the code
//!   of each check-in ([`crate::roster::Roster::org_nodes`]);
//! - a duress alert: the security contacts of the member's region and the admins of the
//!   member's organisation, never the member ([`crate::roster::Roster::duress_readers`]).

use serde::{Deserialize, Serialize};

use crate::event::{CheckinStatus, EventId, SealedAlertBody};
use crate::ids::{PublicKey, RecordId, SecretKey, Timestamp};
use crate::sealed::{self, SealError};

/// A check-in's private part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinPrivate {
    /// How the member is.
    pub status: CheckinStatus,
    /// Free text.
    pub note: String,
    /// The tag of the code the member typed ([`crate::event::duress_tag`]), or random bytes
    /// when they typed none: the sealed part is the same size either way.
    pub code_tag: [u8; 16],
}

fn checkin_context(author: &PublicKey, at: Timestamp) -> Vec<u8> {
    let mut out = b"tejido check-in v1".to_vec();
    out.extend_from_slice(author.as_bytes());
    out.extend_from_slice(&at.0.to_le_bytes());
    out
}

impl CheckinPrivate {
    /// The private part of a check-in without a code.
    pub fn without_code(status: CheckinStatus, note: String) -> Self {
        Self {
            status,
            note,
            code_tag: crate::ids::random_bytes(),
        }
    }

    /// Seals this part of `author`'s check-in at `at` to `readers`.
    pub fn seal(
        &self,
        author: &PublicKey,
        at: Timestamp,
        readers: &[PublicKey],
    ) -> Result<Vec<u8>, SealError> {
        if self.note.len() > crate::event::MAX_TEXT_BYTES {
            return Err(SealError::Malformed(format!(
                "a note is at most {} bytes",
                crate::event::MAX_TEXT_BYTES
            )));
        }
        let plain = postcard::to_stdvec(self).map_err(|e| SealError::Malformed(e.to_string()))?;
        sealed::seal(&plain, readers, &checkin_context(author, at))
    }

    /// Opens the private part of `author`'s check-in at `at` with `me`: `None` if it is not
    /// sealed to `me` or is damaged.
    pub fn open(sealed: &[u8], author: &PublicKey, at: Timestamp, me: &SecretKey) -> Option<Self> {
        let plain = sealed::open(sealed, me, &checkin_context(author, at)).ok()??;
        postcard::from_bytes(&plain).ok()
    }
}

/// A cancel's private part: the tag of the code the member typed, as in a check-in. A
/// cancel with the duress code and one without look the same to everybody but the member's
/// organisation's nodes, which hold the member's duress tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelPrivate {
    /// The tag of the code the member typed ([`crate::event::duress_tag`]), or random bytes.
    pub code_tag: [u8; 16],
}

fn cancel_context(author: &PublicKey, at: Timestamp, alert: &RecordId) -> Vec<u8> {
    let mut out = b"tejido cancel v1".to_vec();
    out.extend_from_slice(author.as_bytes());
    out.extend_from_slice(&at.0.to_le_bytes());
    out.extend_from_slice(&alert.0);
    out
}

impl CancelPrivate {
    /// The private part of a cancel without a code.
    pub fn without_code() -> Self {
        Self {
            code_tag: crate::ids::random_bytes(),
        }
    }

    /// Seals this part of `author`'s cancel of `alert` at `at` to `readers`.
    pub fn seal(
        &self,
        author: &PublicKey,
        at: Timestamp,
        alert: &RecordId,
        readers: &[PublicKey],
    ) -> Result<Vec<u8>, SealError> {
        let plain = postcard::to_stdvec(self).map_err(|e| SealError::Malformed(e.to_string()))?;
        sealed::seal(&plain, readers, &cancel_context(author, at, alert))
    }

    /// Opens the private part of `author`'s cancel of `alert` at `at` with `me`: `None` if
    /// it is not sealed to `me` or is damaged.
    pub fn open(
        sealed: &[u8],
        author: &PublicKey,
        at: Timestamp,
        alert: &RecordId,
        me: &SecretKey,
    ) -> Option<Self> {
        let plain = sealed::open(sealed, me, &cancel_context(author, at, alert)).ok()??;
        postcard::from_bytes(&plain).ok()
    }
}

fn duress_tag_context(member: &PublicKey) -> Vec<u8> {
    let mut out = b"tejido duress tag v1".to_vec();
    out.extend_from_slice(member.as_bytes());
    out
}

/// Seals `member`'s duress tag to `readers` (their organisation's nodes).
pub fn seal_duress_tag(
    tag: &[u8; 16],
    member: &PublicKey,
    readers: &[PublicKey],
) -> Result<Vec<u8>, SealError> {
    sealed::seal(tag, readers, &duress_tag_context(member))
}

/// Opens `member`'s sealed duress tag with `me`.
pub fn open_duress_tag(sealed: &[u8], member: &PublicKey, me: &SecretKey) -> Option<[u8; 16]> {
    let plain = sealed::open(sealed, me, &duress_tag_context(member)).ok()??;
    plain.try_into().ok()
}

/// What a duress alert says, readable only by its readers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuressAlert {
    /// The member who checked in with their duress code.
    pub subject: PublicKey,
    /// Their display name.
    pub name: String,
    /// The check-in, or the cancel of a panic, given under duress.
    pub checkin: EventId,
    /// Its time.
    pub checkin_at: Timestamp,
}

fn alert_context(region: &str, org: &str, node: &PublicKey) -> Vec<u8> {
    let mut out = b"tejido sealed alert v1".to_vec();
    out.extend_from_slice(node.as_bytes());
    out.extend_from_slice(&(region.len() as u64).to_le_bytes());
    out.extend_from_slice(region.as_bytes());
    out.extend_from_slice(org.as_bytes());
    out
}

impl DuressAlert {
    /// Seals the alert to `readers`, as `node` of `org` writes it in `region`.
    pub fn seal(
        &self,
        region: &str,
        org: &str,
        node: &PublicKey,
        readers: &[PublicKey],
    ) -> Result<SealedAlertBody, SealError> {
        let plain = postcard::to_stdvec(self).map_err(|e| SealError::Malformed(e.to_string()))?;
        let sealed = sealed::seal(&plain, readers, &alert_context(region, org, node))?;
        Ok(SealedAlertBody {
            id: SealedAlertBody::id_for(node, &sealed),
            region: region.to_string(),
            org: org.to_string(),
            sealed,
        })
    }

    /// Opens a sealed alert that `node` wrote, with `me`: `None` if it is not sealed to `me`
    /// or is damaged.
    pub fn open(alert: &SealedAlertBody, node: &PublicKey, me: &SecretKey) -> Option<Self> {
        let context = alert_context(&alert.region, &alert.org, node);
        let plain = sealed::open(&alert.sealed, me, &context).ok()??;
        postcard::from_bytes(&plain).ok()
    }
}
