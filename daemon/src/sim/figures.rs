//! What a simulation is given (the network's parameters) and what it reports.

use super::*;

/// The network the simulation runs on.
#[derive(Clone, Debug)]
pub struct Params {
    /// Nodes.
    pub nodes: usize,
    /// The seed of everything random.
    pub seed: u64,
    /// Trusted peers per node, drawn uniformly in this range.
    pub degree: (usize, usize),
    /// One-way latency per link, drawn uniformly in this range (ms).
    pub latency_ms: (u32, u32),
    /// Packet loss on every link.
    pub loss: f64,
    /// Each node's access link, each way, in bytes per second.
    pub bandwidth: u64,
    /// Whether nodes gossip alerts (the fast path) besides syncing them.
    pub gossip: bool,
    /// The longest wait between dials of an unreachable peer (the node's is 300 s).
    pub max_dial_backoff: Duration,
}

impl Params {
    /// 1,000 nodes of 6 to 8 peers at 100 ms per link, 5 % loss, 4 Mbit/s.
    pub fn network(seed: u64) -> Self {
        Self {
            nodes: 1000,
            seed,
            degree: (6, 8),
            latency_ms: (100, 100),
            loss: 0.05,
            bandwidth: 500_000,
            gossip: true,
            max_dial_backoff: MAX_DIAL_BACKOFF,
        }
    }
}

/// How one alert spread.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertFigures {
    /// Nodes that showed it (gossip hint or synced), the origin included.
    pub reached: usize,
    /// Virtual time until 50 %, 99 % and 100 % of the nodes showed it (ms).
    pub t50_ms: Option<f64>,
    pub t99_ms: Option<f64>,
    pub t100_ms: Option<f64>,
    /// Virtual time until every node had stored it by sync and the last message about it
    /// was answered (ms).
    pub settled_ms: Option<f64>,
    /// Virtual time until 99 % of the nodes had stored it by sync (ms).
    pub stored99_ms: Option<f64>,
    /// Bytes sent per node while it spread: gossip, and sync messages (summaries excluded).
    pub gossip_bytes_per_node: f64,
    pub sync_bytes_per_node: f64,
    /// Sync requests per node while it spread.
    pub sync_requests_per_node: f64,
}

/// A run of alerts on one network.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRun {
    pub alerts: Vec<AlertFigures>,
    /// Links of the topology and the mean degree.
    pub links: usize,
    pub mean_degree: f64,
    /// Anti-entropy summaries' bytes per node per minute, over the run.
    pub summary_bytes_per_node_minute: f64,
    /// Virtual time simulated (s).
    pub virtual_s: f64,
    /// Messages delivered.
    pub messages: u64,
}

/// A partition and its heal.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionRun {
    /// Links cut between the two halves.
    pub cut_links: usize,
    /// Alerts written on each side during the partition.
    pub alerts_per_side: usize,
    /// How long the partition lasted (s).
    pub partition_s: f64,
    /// After the heal: until every cut link was connected again, and until every node held
    /// the same documents (ms); `None` if not within the limit.
    pub reconnected_ms: Option<f64>,
    pub converged_ms: Option<f64>,
    /// Until every node showed every alert of the other side (ms).
    pub all_visible_ms: Option<f64>,
    /// Bytes sent per node from the heal until converged (sync and summaries).
    pub heal_bytes_per_node: f64,
    pub virtual_s: f64,
    pub messages: u64,
}

/// What a day of the network writes.
#[derive(Clone, Debug)]
pub struct Day {
    pub orgs: usize,
    pub regions: usize,
    pub members_per_org: usize,
    /// Check-ins per member per day.
    pub checkins: usize,
    /// Alerts per day over the network, each acknowledged and resolved.
    pub alerts: usize,
    /// Days of the month already held before the day offline.
    pub prior_days: usize,
}

impl Day {
    /// 50 organisations of 10 members in 5 regions, four check-ins a day each (BENCHMARKS.md's
    /// month of 500 members), 20 alerts a day, the day offline being the month's eighth.
    pub fn default_day() -> Self {
        Self {
            orgs: 50,
            regions: 5,
            members_per_org: 10,
            checkins: 4,
            alerts: 20,
            prior_days: 7,
        }
    }

    /// Events the day writes.
    pub fn events(&self) -> usize {
        self.orgs * self.members_per_org * self.checkins + self.alerts * 3
    }
}

/// A node's catch-up after a day offline.
#[derive(Clone, Debug, PartialEq)]
pub struct CatchUpRun {
    /// Events written while it was away, and held before.
    pub day_events: usize,
    pub prior_events: usize,
    /// Its peers (all up to date).
    pub peers: usize,
    /// From coming back until it held everything (ms); `None` if not within the limit.
    pub caught_up_ms: Option<f64>,
    /// Bytes it received, and that it and its peers sent in all, until then.
    pub received_bytes: u64,
    pub sent_bytes: u64,
    /// Messages delivered (sync and summaries, all nodes).
    pub messages: u64,
    /// Messages over the wire limit (17 MiB), which the real node cannot send.
    pub oversized: u64,
    /// The largest message (bytes).
    pub largest_message: usize,
}

/// Wall-clock CPU of the real code, by the simulation (not deterministic, not in virtual time).
#[derive(Clone, Debug, Default)]
pub struct Cpu {
    /// Time in the sessions and documents (`on_request`, `on_response`, `local_change`,
    /// `tick`, gossip checks), over all nodes.
    pub real_code: Duration,
    /// The whole run, set-up included.
    pub wall: Duration,
}
