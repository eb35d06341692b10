//! The simulator's scenarios: alerts on a network that has settled, a partition and its heal,
//! and a node's catch-up after a day offline.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use protocol::doc::Document;
use protocol::event::SignedEvent;
use protocol::ids::{DocId, Timestamp};
use protocol::roster::Roster;

use super::docs::SimDocs;
use super::world::{World, DAY_MS, MONTH_START};
use super::{
    topology, AlertFigures, AlertRun, CatchUpRun, Cpu, Day, Kind, NodeId, Params, PartitionRun,
    Rng, Sim,
};

/// The alerts network: one organisation's members raise alerts in its region, whose month's
/// document already holds `prior` alerts on every node.
fn alert_network(params: &Params, prior: usize) -> (Sim, World) {
    let mut rng = Rng(params.seed);
    let adj = topology(params.nodes, params.degree, &mut rng);
    let world = World::new(params.seed, 1, 1, 8);
    let roster_doc = world.roster_doc();
    let roster = Rc::new(Roster::from_events(roster_doc.events().iter()));
    let t0 = MONTH_START + 9 * DAY_MS;
    let mut alerts = None;
    for i in 0..prior {
        let at = Timestamp(MONTH_START + (i as i64 + 1) * 3_600_000);
        let (e, _) = world.panic(i % world.members.len(), at, format!("earlier alert {i}"));
        let doc = alerts.get_or_insert_with(|| {
            let mut d = Document::new(e.event().doc.clone());
            d.set_actor(b"earlier");
            d
        });
        doc.insert(std::slice::from_ref(&e));
    }
    let saved: Vec<(DocId, Vec<u8>)> = std::iter::once(&roster_doc)
        .chain(alerts.as_ref())
        .map(|d| (d.id().clone(), d.save()))
        .collect();
    let sim = Sim::new(params.clone(), adj, t0, rng, |i| {
        let docs = saved
            .iter()
            .filter_map(|(id, bytes)| Document::load(id.clone(), std::slice::from_ref(bytes)).ok())
            .collect();
        SimDocs::new(docs, roster.clone(), format!("node-{i}").into_bytes())
    });
    (sim, world)
}

/// `count` alerts, `spacing_s` apart, each from a random node, on a network that has run
/// for 20 s. The first finds the peers' sync states of the alerts document fresh (nothing
/// was exchanged for it since they connected); the later ones find them warm.
pub fn alerts(params: &Params, count: usize, spacing_s: i64) -> (AlertRun, Cpu) {
    let started = Instant::now();
    let (mut sim, world) = alert_network(params, 20);
    sim.start();
    let warm = 20_000_000;
    sim.run_until(warm, |_| false);
    let n = sim.nodes.len();
    let mut figures = Vec::new();
    for k in 0..count {
        let t = warm + k as i64 * spacing_s * 1_000_000;
        sim.run_until(t, |_| false);
        let gossip0 = sim.sent(Kind::Gossip);
        let sync0 = sim.sent(Kind::Sync);
        let req0 = sim.sync_requests();
        let origin = sim.rng.below(n as u64) as NodeId;
        let (event, id) = world.panic(k % world.members.len(), sim.ts(t), format!("alert {k}"));
        let idx = sim.track(id);
        sim.publish(origin, event, t);
        let settled = sim.run_until(t + (spacing_s - 1) * 1_000_000, |s| {
            s.stored_count[idx] == n && s.pending_data == 0
        });
        let (t50, t99, t100, reached, stored99) = sim.figures(idx, t);
        figures.push(AlertFigures {
            reached,
            t50_ms: t50,
            t99_ms: t99,
            t100_ms: t100,
            settled_ms: settled.then(|| (sim.now - t) as f64 / 1000.0),
            stored99_ms: stored99,
            gossip_bytes_per_node: (sim.sent(Kind::Gossip) - gossip0) as f64 / n as f64,
            sync_bytes_per_node: (sim.sent(Kind::Sync) - sync0) as f64 / n as f64,
            sync_requests_per_node: (sim.sync_requests() - req0) as f64 / n as f64,
        });
    }
    let end = warm + count as i64 * spacing_s * 1_000_000;
    sim.run_until(end, |_| false);
    let minutes = end as f64 / 60e6;
    let links = sim.links.len();
    let run = AlertRun {
        alerts: figures,
        links,
        mean_degree: 2.0 * links as f64 / n as f64,
        summary_bytes_per_node_minute: sim.sent(Kind::Summary) as f64 / n as f64 / minutes,
        virtual_s: end as f64 / 1e6,
        messages: sim.messages,
    };
    let cpu = Cpu {
        real_code: sim.cpu,
        wall: started.elapsed(),
    };
    (run, cpu)
}

/// The network split in two halves (by node index; the graph is random) for `minutes`, while
/// `alerts_per_side` alerts are raised on each side; then healed. Nodes reconnect on their
/// dial schedule, whose back-off grew while the other side was unreachable.
pub fn partition(
    params: &Params,
    minutes: i64,
    alerts_per_side: usize,
    limit_minutes: i64,
) -> (PartitionRun, Cpu) {
    let started = Instant::now();
    let (mut sim, world) = alert_network(params, 20);
    sim.start();
    let n = sim.nodes.len();
    let half = (n / 2) as NodeId;
    let cut_at = 20_000_000;
    sim.run_until(cut_at, |_| false);
    let crossing: Vec<(NodeId, NodeId)> = sim
        .links
        .keys()
        .copied()
        .filter(|(a, b)| (*a < half) != (*b < half))
        .collect();
    for &(a, b) in &crossing {
        sim.cut(a, b, cut_at);
    }
    let length = minutes * 60_000_000;
    let step = length / (alerts_per_side as i64 + 1);
    let mut raised = Vec::new();
    for i in 0..alerts_per_side {
        let t = cut_at + (i as i64 + 1) * step;
        sim.run_until(t, |_| false);
        for side in 0..2u64 {
            let origin = (side * u64::from(half) + sim.rng.below(u64::from(half))) as NodeId;
            let m = (2 * i + side as usize) % world.members.len();
            let (event, id) = world.panic(
                m,
                sim.ts(t + side as i64),
                format!("partitioned {i}/{side}"),
            );
            raised.push(sim.track(id));
            sim.publish(origin, event, t + side as i64);
        }
    }
    let heal_at = cut_at + length;
    sim.run_until(heal_at, |_| false);
    for &(a, b) in &crossing {
        sim.heal(a, b);
    }
    let bytes0 = sim.sent(Kind::Sync) + sim.sent(Kind::Summary) + sim.sent(Kind::Gossip);
    let limit = heal_at + limit_minutes * 60_000_000;
    let mut reconnected = None;
    let mut converged = None;
    let mut all_visible = None;
    let mut heal_bytes = 0;
    let mut t = heal_at;
    while t < limit && (converged.is_none() || reconnected.is_none()) {
        t += 1_000_000;
        sim.run_until(t, |_| false);
        if reconnected.is_none()
            && crossing
                .iter()
                .all(|k| sim.links.get(k).is_some_and(|l| l.connected))
        {
            reconnected = Some((t - heal_at) as f64 / 1000.0);
        }
        if all_visible.is_none() && raised.iter().all(|k| sim.visible_count[*k] == n) {
            all_visible = Some((t - heal_at) as f64 / 1000.0);
        }
        if converged.is_none() && sim.pending_data == 0 && sim.converged() {
            converged = Some((t - heal_at) as f64 / 1000.0);
            heal_bytes =
                sim.sent(Kind::Sync) + sim.sent(Kind::Summary) + sim.sent(Kind::Gossip) - bytes0;
        }
    }
    let bytes = heal_bytes;
    let run = PartitionRun {
        cut_links: crossing.len(),
        alerts_per_side,
        partition_s: length as f64 / 1e6,
        reconnected_ms: reconnected,
        converged_ms: converged,
        all_visible_ms: all_visible,
        heal_bytes_per_node: bytes as f64 / n as f64,
        virtual_s: sim.now as f64 / 1e6,
        messages: sim.messages,
    };
    (
        run,
        Cpu {
            real_code: sim.cpu,
            wall: started.elapsed(),
        },
    )
}

/// The events of days `from..to` of the month, in time order: each member's check-ins,
/// spread over the day, and the day's alerts, each acknowledged two minutes later by a member
/// of the same organisation and resolved by its admin half an hour later.
fn days(world: &World, day: &Day, from: usize, to: usize, rng: &mut Rng) -> Vec<SignedEvent> {
    let mut out: Vec<(i64, SignedEvent)> = Vec::new();
    let members = world.members.len();
    for d in from..to {
        let start = MONTH_START + d as i64 * DAY_MS;
        let every = DAY_MS / day.checkins.max(1) as i64;
        for m in 0..members {
            let offset = rng.below(every as u64) as i64;
            for c in 0..day.checkins {
                let at = start + offset + c as i64 * every;
                out.push((at, world.checkin(m, Timestamp(at), rng.next_u64())));
            }
        }
        for a in 0..day.alerts {
            let at = start + rng.below((DAY_MS - 3_600_000) as u64) as i64;
            let m = rng.below(members as u64) as usize;
            let (alert, id) = world.panic(m, Timestamp(at), format!("day {d} alert {a}"));
            let doc = alert.event().doc.clone();
            let org = world.members[m].org;
            let peer = org * day.members_per_org + (m + 1) % day.members_per_org.max(1);
            out.push((
                at + 120_000,
                world.ack(
                    peer.min(members - 1),
                    id,
                    doc.clone(),
                    Timestamp(at + 120_000),
                ),
            ));
            out.push((
                at + 1_800_000,
                world.resolve(org, id, doc, Timestamp(at + 1_800_000)),
            ));
            out.push((at, alert));
        }
    }
    out.sort_by_key(|(at, e)| (*at, e.id()));
    out.into_iter().map(|(_, e)| e).collect()
}

/// A node back after a day offline, with `peers` peers that hold everything (they are in step
/// with the rest of the network, so only it and they are simulated): it held the month up to
/// the day it left; the day's events reach it by sync alone.
pub fn catch_up(params: &Params, day: &Day, peers: usize, limit_minutes: i64) -> (CatchUpRun, Cpu) {
    let started = Instant::now();
    let mut rng = Rng(params.seed.wrapping_add(0xDA7));
    let world = World::new(params.seed, day.orgs, day.regions, day.members_per_org);
    let roster_doc = world.roster_doc();
    let roster = Rc::new(Roster::from_events(roster_doc.events().iter()));
    // The month's documents, one change per event as the nodes that stored them made.
    let mut docs: BTreeMap<DocId, Document> = BTreeMap::new();
    let add = |events: Vec<SignedEvent>, docs: &mut BTreeMap<DocId, Document>| {
        let n = events.len();
        for e in events {
            let id = e.event().doc.clone();
            let d = docs.entry(id.clone()).or_insert_with(|| {
                let mut d = Document::new(id);
                d.set_actor(b"network");
                d
            });
            d.insert(std::slice::from_ref(&e));
        }
        n
    };
    let prior_events = add(days(&world, day, 0, day.prior_days, &mut rng), &mut docs);
    let before: Vec<(DocId, Vec<u8>)> = docs.values().map(|d| (d.id().clone(), d.save())).collect();
    let day_events = add(
        days(&world, day, day.prior_days, day.prior_days + 1, &mut rng),
        &mut docs,
    );
    let after: Vec<(DocId, Vec<u8>)> = std::iter::once(&roster_doc)
        .chain(docs.values())
        .map(|d| (d.id().clone(), d.save()))
        .collect();
    drop(docs);
    let before: Vec<(DocId, Vec<u8>)> = std::iter::once((DocId::roster(), roster_doc.save()))
        .chain(before)
        .collect();
    // A star: the node 0 and its peers 1..=peers.
    let adj: Vec<Vec<NodeId>> = std::iter::once((1..=peers as NodeId).collect())
        .chain((1..=peers).map(|_| vec![0]))
        .collect();
    let t0 = MONTH_START + (day.prior_days as i64 + 1) * DAY_MS;
    let load = |saved: &[(DocId, Vec<u8>)]| -> Vec<Document> {
        saved
            .iter()
            .filter_map(|(id, bytes)| Document::load(id.clone(), std::slice::from_ref(bytes)).ok())
            .collect()
    };
    let mut sim = Sim::new(params.clone(), adj, t0, rng, |i| {
        let docs = if i == 0 { load(&before) } else { load(&after) };
        SimDocs::new(docs, roster.clone(), format!("node-{i}").into_bytes())
    });
    let target = sim.nodes[1].docs.fingerprint();
    let total_events = sim.nodes[1].docs.events();
    sim.nodes[0].online = false;
    sim.start();
    let back = 1_000_000;
    sim.run_until(back, |_| false);
    sim.set_online(0, true, back);
    let received0: u64 = sim.nodes[0].received.iter().sum();
    let sent0: u64 = sim.nodes.iter().map(|n| n.sent.iter().sum::<u64>()).sum();
    let messages0 = sim.messages;
    let limit = back + limit_minutes * 60_000_000;
    let mut caught_up = None;
    let mut t = back;
    while t < limit {
        t += 100_000;
        sim.run_until(t, |_| false);
        if sim.nodes[0].docs.events() == total_events && sim.nodes[0].docs.fingerprint() == target {
            caught_up = Some((t - back) as f64 / 1000.0);
            break;
        }
    }
    let run = CatchUpRun {
        day_events,
        prior_events,
        peers,
        caught_up_ms: caught_up,
        received_bytes: sim.nodes[0].received.iter().sum::<u64>() - received0,
        sent_bytes: sim
            .nodes
            .iter()
            .map(|n| n.sent.iter().sum::<u64>())
            .sum::<u64>()
            - sent0,
        messages: sim.messages - messages0,
        oversized: sim.oversized,
        largest_message: sim.largest,
    };
    (
        run,
        Cpu {
            real_code: sim.cpu,
            wall: started.elapsed(),
        },
    )
}
