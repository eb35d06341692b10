//! The simulator on small networks: reproducible, and what it simulates converges.

use super::*;

fn small(seed: u64) -> Params {
    Params {
        nodes: 60,
        latency_ms: (50, 300),
        ..Params::network(seed)
    }
}

#[test]
fn the_same_seed_gives_the_same_figures() {
    let (a, _) = alerts(&small(7), 2, 20);
    let (b, _) = alerts(&small(7), 2, 20);
    assert_eq!(a, b);
    for alert in &a.alerts {
        assert_eq!(alert.reached, 60, "{alert:?}");
        assert!(alert.settled_ms.is_some(), "{alert:?}");
        assert!(alert.gossip_bytes_per_node > 0.0 && alert.sync_bytes_per_node > 0.0);
    }
    let (c, _) = alerts(&small(8), 2, 20);
    assert_ne!(a, c, "another seed, another network");
}

#[test]
fn sync_alone_carries_an_alert_to_every_node() {
    let params = Params {
        gossip: false,
        ..small(3)
    };
    let (run, _) = alerts(&params, 1, 30);
    let alert = &run.alerts[0];
    assert_eq!(alert.reached, 60, "{alert:?}");
    assert_eq!(alert.gossip_bytes_per_node, 0.0);
}

#[test]
fn a_partition_that_heals_converges() {
    let (run, _) = partition(&small(11), 2, 2, 15);
    assert!(run.cut_links > 0);
    assert!(run.reconnected_ms.is_some(), "{run:?}");
    assert!(run.all_visible_ms.is_some(), "{run:?}");
    assert!(run.converged_ms.is_some(), "{run:?}");
}

#[test]
fn a_node_back_after_a_day_catches_up() {
    let day = Day {
        orgs: 3,
        regions: 2,
        members_per_org: 4,
        checkins: 2,
        alerts: 2,
        prior_days: 1,
    };
    let (run, _) = catch_up(&small(5), &day, 3, 10);
    assert_eq!(run.day_events, day.events());
    assert!(run.caught_up_ms.is_some(), "{run:?}");
    assert_eq!(run.oversized, 0);
}
