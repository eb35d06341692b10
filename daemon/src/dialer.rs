//! When to dial a trusted node that is not connected: exponential back-off with jitter, with
//! time and randomness passed in (pure, tested without a clock). New addresses for a node
//! (it moved, or is now behind a relay) are tried at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The first wait after a failed dial.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

struct Dial<A> {
    next: Instant,
    backoff: Duration,
    /// The addresses last tried.
    addrs: Vec<A>,
}

/// Dial schedules per peer.
pub(crate) struct Dialer<P, A> {
    dials: HashMap<P, Dial<A>>,
}

impl<P, A> Default for Dialer<P, A> {
    fn default() -> Self {
        Self {
            dials: HashMap::new(),
        }
    }
}

impl<P: Eq + Hash + Clone, A: PartialEq + Clone> Dialer<P, A> {
    /// Whether to dial `peer` at `addrs` now; if so, the next attempt waits twice as long as
    /// the last (at most `max_backoff`) plus `jitter`.
    pub(crate) fn due(
        &mut self,
        peer: &P,
        addrs: &[A],
        now: Instant,
        jitter: Duration,
        max_backoff: Duration,
    ) -> bool {
        let dial = self.dials.entry(peer.clone()).or_insert(Dial {
            next: now,
            backoff: FIRST_BACKOFF,
            addrs: Vec::new(),
        });
        if dial.addrs != addrs {
            dial.next = now;
            dial.backoff = FIRST_BACKOFF;
            dial.addrs = addrs.to_vec();
        }
        if dial.next > now {
            return false;
        }
        dial.next = now + dial.backoff + jitter;
        dial.backoff = (dial.backoff * 2).min(max_backoff);
        true
    }

    /// `peer` is connected: its schedule starts over next time.
    pub(crate) fn connected(&mut self, peer: &P) {
        self.dials.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_doubling_up_to_the_cap_and_retries_new_addresses_at_once() {
        let t0 = Instant::now();
        let max = Duration::from_secs(4);
        let no = Duration::ZERO;
        let mut d: Dialer<u8, &str> = Dialer::default();
        assert!(d.due(&1, &["a"], t0, no, max));
        assert!(!d.due(&1, &["a"], t0, no, max));
        assert!(d.due(&1, &["a"], t0 + Duration::from_secs(1), no, max));
        // Now 2 s.
        assert!(!d.due(&1, &["a"], t0 + Duration::from_millis(2900), no, max));
        assert!(d.due(&1, &["a"], t0 + Duration::from_secs(3), no, max));
        // Then 4 s, and never more.
        assert!(d.due(&1, &["a"], t0 + Duration::from_secs(7), no, max));
        assert!(!d.due(&1, &["a"], t0 + Duration::from_millis(10_900), no, max));
        assert!(d.due(&1, &["a"], t0 + Duration::from_secs(11), no, max));
        // A new address is tried at once.
        assert!(d.due(&1, &["b"], t0 + Duration::from_secs(11), no, max));
        // Jitter delays the next attempt.
        let jitter = Duration::from_millis(500);
        assert!(d.due(&2, &["a"], t0, jitter, max));
        assert!(!d.due(&2, &["a"], t0 + Duration::from_millis(1400), no, max));
        assert!(d.due(&2, &["a"], t0 + Duration::from_millis(1500), no, max));
        // Connected: starts over.
        d.connected(&2);
        assert!(d.due(&2, &["a"], t0 + Duration::from_millis(1500), no, max));
    }
}
