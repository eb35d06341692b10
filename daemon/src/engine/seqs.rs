//! Authors' sequence numbers: the index of every author's events by number, the keys seen
//! with two events under one number (in use on two devices), and this node's own numbers,
//! reserved on disk in blocks so that none is ever used twice.

use std::collections::HashMap;

use protocol::event::{Body, EventId, SignedEvent};
use protocol::ids::{Collection, PublicKey};

use super::Engine;

/// How many sequence numbers a node reserves on disk at once for one of its keys: a crash
/// skips at most this many, and never reuses one.
const SEQ_BLOCK: u64 = 1024;

/// What the node knows of one author's sequence numbers.
#[derive(Default)]
pub(super) struct AuthorSeqs {
    /// The highest seen.
    max: u64,
    /// The event seen under each number.
    ids: HashMap<u64, EventId>,
}

impl Engine {
    /// Indexes events by author and sequence number; two different events under one number
    /// mean the key is in use on two devices ([`Engine::clones`]).
    /// Offers check-ins to the latest check-ins too.
    pub(super) fn note_events(&mut self, events: &[SignedEvent]) {
        self.note_numbers(events.iter().flat_map(numbered));
        self.index_checkins(events);
    }

    pub(super) fn note_numbers(
        &mut self,
        numbers: impl IntoIterator<Item = (PublicKey, u64, EventId)>,
    ) {
        for (author, seq, id) in numbers {
            let seen = self.seqs.entry(author).or_default();
            seen.max = seen.max.max(seq);
            let first = *seen.ids.entry(seq).or_insert(id);
            if first != id && self.clones.insert(author) {
                tracing::warn!(
                    key = %author.fmt_short(),
                    seq,
                    first = %first,
                    second = %id,
                    "a key is in use on two devices: two different events carry one number"
                );
                self.stats.cloned_keys += 1;
            }
        }
    }

    /// Keys seen with two different events under one sequence number.
    pub(crate) fn clones(&self) -> &std::collections::BTreeSet<PublicKey> {
        &self.clones
    }

    /// Keys known to be in use on two devices: those this node saw, and those a cloned-key
    /// alert names (another node of the key's organisation saw it).
    pub(crate) fn cloned_keys(&self) -> std::collections::BTreeSet<PublicKey> {
        let mut out = self.clones.clone();
        for doc in self.docs.values() {
            if doc.id().collection() != Collection::Alerts {
                continue;
            }
            for e in doc.kept_events() {
                if let Body::Alert(a) = &e.event().body {
                    if a.kind == protocol::event::AlertKind::ClonedKey
                        && self.roster.authorize(e.event()).is_ok()
                    {
                        out.extend(a.subject);
                    }
                }
            }
        }
        out
    }

    /// The highest sequence number seen of `key`'s events (0: none): what a revocation
    /// accepts.
    pub(crate) fn last_seq(&self, key: &PublicKey) -> u64 {
        self.seqs.get(key).map_or(0, |s| s.max)
    }

    /// The next sequence number for an event of this node's own `key`: past every number the
    /// node reserved on disk or holds an event under, so that none is ever used twice, even
    /// after a crash or a restore (the reservation is flushed with the event).
    pub(crate) fn next_seq(&mut self, key: &PublicKey) -> anyhow::Result<u64> {
        let (next, reserved) = match self.own_seqs.get(key) {
            Some(&slot) => slot,
            None => {
                let floor = self.store.seq_reserved(key)?.max(self.last_seq(key));
                (floor + 1, floor)
            }
        };
        let next = next.max(self.last_seq(key) + 1);
        let mut reserved = reserved;
        if next > reserved {
            // On disk before any event under these numbers can leave the node (peers may be
            // sent an event before the turn's flush).
            reserved = next + SEQ_BLOCK - 1;
            self.store.reserve_seq(key, reserved)?;
            self.store.flush()?;
        }
        self.own_seqs.insert(*key, (next + 1, reserved));
        Ok(next)
    }
}

/// The numbers an event carries: its own, and for a device's addition the number of the
/// grant the asking device signed, which travels inside it and nowhere else. A revocation of
/// that device names its last number; one that missed the grant's would cut the grant off, and
/// with it the device it added.
pub(super) fn numbered(e: &SignedEvent) -> impl Iterator<Item = (PublicKey, u64, EventId)> {
    let grant = e
        .event()
        .body
        .device_grant()
        .map(|g| (g.event().author, g.event().seq, g.id()));
    std::iter::once((e.event().author, e.event().seq, e.id())).chain(grant)
}
