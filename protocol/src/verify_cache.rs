//! What signature checks of this thread already established: decompressed verifying keys and
//! the ids of signed events whose signature held.
//!
//! `VerifyingKey::from_bytes` decompresses the key's curve point (a square root in the field),
//! about a tenth of a signature check, and a node checks thousands of events by the same few
//! authors. And a node checks many events twice: an alert arrives by gossip, which is checked
//! before it is forwarded, and again by sync. The check itself is unchanged (`verify_strict`,
//! one event at a time): events are remembered by the SHA-256 of their signed bytes (all 32
//! bytes, not the 16 of an event id), so the same digest means the same signature over the
//! same payload by the same key, which verified before. Each set
//! holds at most [`CAPACITY`] entries a thread and starts over when full, so input made of
//! ever new keys or events costs what it costs without it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use ed25519_dalek::VerifyingKey;

/// Entries remembered per thread, in each set.
pub(crate) const CAPACITY: usize = 4096;

thread_local! {
    static KEYS: RefCell<HashMap<[u8; 32], Option<VerifyingKey>>> =
        RefCell::new(HashMap::new());
    static VERIFIED: RefCell<HashSet<[u8; 32]>> = RefCell::new(HashSet::new());
}

/// The verifying key of `bytes`, or `None` if they are not a curve point.
pub(crate) fn verifying_key(bytes: &[u8; 32]) -> Option<VerifyingKey> {
    KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if let Some(key) = keys.get(bytes) {
            return *key;
        }
        if keys.len() >= CAPACITY {
            keys.clear();
        }
        let key = VerifyingKey::from_bytes(bytes).ok();
        keys.insert(*bytes, key);
        key
    })
}

/// Whether the signature of the event whose signed bytes have this SHA-256 held when this
/// thread checked it.
pub(crate) fn was_verified(digest: &[u8; 32]) -> bool {
    VERIFIED.with(|v| v.borrow().contains(digest))
}

/// Remembers that the signature of the event whose signed bytes have this SHA-256 held.
pub(crate) fn mark_verified(digest: [u8; 32]) {
    VERIFIED.with(|v| {
        let mut v = v.borrow_mut();
        if v.len() >= CAPACITY {
            v.clear();
        }
        v.insert(digest);
    });
}

/// How many keys and verified events this thread remembers (for tests).
#[cfg(test)]
pub(crate) fn cached() -> (usize, usize) {
    (
        KEYS.with(|k| k.borrow().len()),
        VERIFIED.with(|v| v.borrow().len()),
    )
}
