//! The node's figures for the Prometheus endpoint (`crate::metrics` renders them).

use protocol::ids::Timestamp;

use super::Core;

impl Core {
    /// Renders the Prometheus text for the metrics task.
    pub(super) fn render_metrics(&self) {
        let Some((tx, _)) = &self.metrics else { return };
        let _ = tx.send(crate::metrics::render(&self.metrics_snapshot()));
    }

    /// The figures the metrics show, as of now.
    fn metrics_snapshot(&self) -> crate::metrics::Snapshot {
        let connected = self.node_peers();
        let mut events_by_collection: std::collections::BTreeMap<String, u64> = Default::default();
        for doc in self.engine.docs() {
            let name = doc.id().as_str().split('/').next().unwrap_or("other");
            *events_by_collection.entry(name.to_string()).or_default() += doc.len() as u64;
        }
        let lag = self
            .engine
            .summary()
            .into_iter()
            .map(|d| {
                let mut mine = d.heads.clone();
                mine.sort();
                let behind = connected
                    .iter()
                    .filter(|p| {
                        self.sessions.peer_heads(p).and_then(|h| h.get(&d.doc)) != Some(&mine)
                    })
                    .count();
                (d.doc.to_string(), behind as u64)
            })
            .collect();
        let stats = self.engine.stats;
        crate::metrics::Snapshot {
            peers_connected: connected.len() as u64,
            documents: self.engine.docs().count() as u64,
            events_by_collection,
            changes_applied: stats.applied_changes,
            changes_rejected: stats.rejected_changes + self.sessions.stats.rejected,
            gossip_accepted: stats.gossip_accepted,
            gossip_rejected: stats.gossip_rejected,
            refused_connections: stats.refused_connections,
            throttled_requests: stats.throttled_requests,
            peer_faults: self.sessions.stats.faults,
            peers_suspended: self.sessions.suspended(Timestamp::now()).len() as u64,
            roster_additions: stats.roster_additions,
            cloned_keys: stats.cloned_keys,
            sync_in_flight: self.sessions.in_flight() as u64,
            control_queue: self.control_queue as u64,
            store_bytes: self.engine.store_bytes(),
            sync_lag: lag,
            bridges: self.bridges.status(),
        }
    }
}
