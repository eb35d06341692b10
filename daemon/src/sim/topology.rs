//! The simulation's seeded randomness and the graph of trusted peers it draws.

use std::collections::BTreeSet;

use super::NodeId;

/// SplitMix64: small, seeded, the same on every platform.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(super) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// A random graph where each node has between `lo` and `hi` peers (a configuration model,
/// then components joined by one link each).
pub(super) fn topology(n: usize, (lo, hi): (usize, usize), rng: &mut Rng) -> Vec<Vec<NodeId>> {
    let mut adj: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let target: Vec<usize> = (0..n)
        .map(|_| rng.range(lo as u64, hi as u64) as usize)
        .collect();
    for _ in 0..20 {
        let mut stubs: Vec<usize> = (0..n)
            .flat_map(|i| std::iter::repeat_n(i, target[i].saturating_sub(adj[i].len())))
            .collect();
        if stubs.len() < 2 {
            break;
        }
        rng.shuffle(&mut stubs);
        for pair in stubs.chunks_exact(2) {
            let (a, b) = (pair[0], pair[1]);
            if a != b
                && !adj[a].contains(&b)
                && adj[a].len() < target[a]
                && adj[b].len() < target[b]
            {
                adj[a].insert(b);
                adj[b].insert(a);
            }
        }
    }
    // Join the components.
    let mut comp = vec![usize::MAX; n];
    let mut roots = Vec::new();
    for s in 0..n {
        if comp[s] != usize::MAX {
            continue;
        }
        comp[s] = roots.len();
        let mut stack = vec![s];
        let mut members = vec![s];
        while let Some(x) = stack.pop() {
            for &y in &adj[x] {
                if comp[y] == usize::MAX {
                    comp[y] = roots.len();
                    stack.push(y);
                    members.push(y);
                }
            }
        }
        roots.push(members);
    }
    for c in 1..roots.len() {
        let a = roots[c][rng.below(roots[c].len() as u64) as usize];
        let b = roots[0][rng.below(roots[0].len() as u64) as usize];
        adj[a].insert(b);
        adj[b].insert(a);
    }
    adj.into_iter()
        .map(|s| s.into_iter().map(|x| x as NodeId).collect())
        .collect()
}

pub(super) fn key(a: NodeId, b: NodeId) -> (NodeId, NodeId) {
    (a.min(b), a.max(b))
}
