//! Token buckets per key (a client peer, a member, a peer node), with time passed in: pure, so
//! the limits are tested without a clock. Entries are bounded by whoever creates them (the
//! connection limits for peers) and dropped with [`Limiter::forget`].

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

/// What [`Limiter::take`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    Allowed,
    /// Refused; the number of refusals in a row for this key, this one included.
    Refused(u32),
}

struct Bucket {
    tokens: f64,
    last: Instant,
    refused: u32,
}

/// One token bucket per key: `rate` tokens a second, at most `burst` held.
pub(crate) struct Limiter<K> {
    rate: f64,
    burst: f64,
    buckets: HashMap<K, Bucket>,
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst: burst.max(1.0),
            buckets: HashMap::new(),
        }
    }

    /// Takes `cost` tokens from `key`'s bucket at `now`.
    pub(crate) fn take(&mut self, key: &K, cost: f64, now: Instant) -> Take {
        let burst = self.burst;
        let bucket = self.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            last: now,
            refused: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= cost {
            bucket.tokens -= cost;
            bucket.refused = 0;
            return Take::Allowed;
        }
        bucket.refused = bucket.refused.saturating_add(1);
        Take::Refused(bucket.refused)
    }

    /// Forgets `key` (its connection closed).
    pub(crate) fn forget(&mut self, key: &K) {
        self.buckets.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut limiter = Limiter::new(2.0, 4.0);
        for _ in 0..4 {
            assert_eq!(limiter.take(&"a", 1.0, t0), Take::Allowed);
        }
        assert_eq!(limiter.take(&"a", 1.0, t0), Take::Refused(1));
        assert_eq!(limiter.take(&"a", 1.0, t0), Take::Refused(2));
        // Another key has its own bucket.
        assert_eq!(limiter.take(&"b", 1.0, t0), Take::Allowed);
        // Half a second later, one token came back (2 a second).
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(limiter.take(&"a", 1.0, t1), Take::Allowed);
        assert_eq!(limiter.take(&"a", 1.0, t1), Take::Refused(1));
        // Never more than the burst, however long the wait.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..4 {
            assert_eq!(limiter.take(&"a", 1.0, t2), Take::Allowed);
        }
        assert_eq!(limiter.take(&"a", 1.0, t2), Take::Refused(1));
        // Forgotten: a full bucket again.
        limiter.forget(&"a");
        for _ in 0..4 {
            assert_eq!(limiter.take(&"a", 1.0, t2), Take::Allowed);
        }
    }

    #[test]
    fn a_clock_going_back_takes_nothing_and_grants_nothing() {
        let t1 = Instant::now() + Duration::from_secs(10);
        let mut limiter = Limiter::new(1.0, 1.0);
        assert_eq!(limiter.take(&1, 1.0, t1), Take::Allowed);
        assert_eq!(
            limiter.take(&1, 1.0, t1 - Duration::from_secs(5)),
            Take::Refused(1)
        );
    }

    #[test]
    fn costs_above_one() {
        let t0 = Instant::now();
        let mut limiter = Limiter::new(100.0, 1000.0);
        assert_eq!(limiter.take(&(), 600.0, t0), Take::Allowed);
        assert_eq!(limiter.take(&(), 600.0, t0), Take::Refused(1));
        assert_eq!(limiter.take(&(), 400.0, t0), Take::Allowed);
    }
}
