//! Partitions: five nodes, each in its own network namespace on a shared bridge; a partition
//! moves one group's links to a second bridge, a heal moves them back. Under a randomised
//! schedule, alerts written on both sides all survive and every heal ends with identical
//! heads on all nodes. Needs root and `ip` (iproute2), as CI has.
//!
//! `TEJIDO_PARTITION_ROUNDS` sets the number of partition/heal rounds (default 3) and
//! `TEJIDO_PARTITION_SEED` the schedule.

use std::process::Command;
use std::time::Instant;

use tests::{ip, wait_converged, wait_for, Lcg, Node, TestDir};

const NODES: usize = 5;

/// Namespaces, links and bridges of one test run, removed on drop.
struct Lab {
    tag: String,
    subnet: String,
}

impl Lab {
    fn new() -> Self {
        let n = std::process::id() % 200 + 20;
        let lab = Self {
            tag: format!("tj{n}"),
            subnet: format!("10.213.{n}"),
        };
        lab.cleanup();
        for bridge in [lab.bridge(0), lab.bridge(1)] {
            ip(&["link", "add", &bridge, "type", "bridge"]);
            ip(&["link", "set", &bridge, "up"]);
        }
        for i in 0..NODES {
            let (ns, veth) = (lab.ns(i), lab.veth(i));
            ip(&["netns", "add", &ns]);
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            ip(&["link", "set", &veth, "master", &lab.bridge(0)]);
            ip(&["link", "set", &veth, "up"]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", lab.addr(i)),
                "dev",
                "eth0",
            ]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        lab
    }
    fn bridge(&self, b: usize) -> String {
        format!("{}b{b}", self.tag)
    }
    fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }
    fn veth(&self, i: usize) -> String {
        format!("{}v{i}", self.tag)
    }
    fn addr(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, i + 1)
    }
    /// Puts each node's link on bridge 1 if it is in `group`, else on bridge 0.
    fn split(&self, group: &[usize]) {
        for i in 0..NODES {
            let bridge = self.bridge(usize::from(group.contains(&i)));
            ip(&["link", "set", &self.veth(i), "master", &bridge]);
        }
    }
    fn cleanup(&self) {
        for i in 0..NODES {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(i)])
                .output();
            let _ = Command::new("ip")
                .args(["link", "del", &self.veth(i)])
                .output();
        }
        for b in 0..2 {
            let _ = Command::new("ip")
                .args(["link", "del", &self.bridge(b)])
                .output();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A member of node `i`'s organisation writes a panic through node `i`, from inside its
/// namespace (so it reaches its node whatever the partition).
fn panic_on(lab: &Lab, t: &TestDir, node: &Node, i: usize, note: &str) -> String {
    let home = t.path(&format!("home-{i}"));
    if !home.join("profile.json").exists() {
        let code = node.invite(&format!("M{i}"), "member", "oaxaca");
        run_in(lab, i, &home, &["join", &code]);
    }
    let out = run_in(lab, i, &home, &["panic", "--note", note, "--json"]);
    let value: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(value["level"], "stored", "{out}");
    value["id"].as_str().expect("id").to_string()
}

fn run_in(lab: &Lab, i: usize, home: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.ns(i)])
        .arg(tests::bin_dir().join("tejido"))
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("tejido");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn partitions_heal_to_identical_heads_and_lose_nothing() {
    let rounds: usize = tests::knob("TEJIDO_PARTITION_ROUNDS", 3);
    let seed: u64 = tests::knob("TEJIDO_PARTITION_SEED", 0x9a7);
    let t = TestDir::new();
    let lab = Lab::new();
    let nodes: Vec<Node> = (0..NODES)
        .map(|i| {
            let listen = format!("/ip4/{}/tcp/4717", lab.addr(i));
            Node::start_in_netns(
                &t,
                &format!("n{i}"),
                &lab.ns(i),
                &["--org", &format!("org-{i}"), "--listen", &listen],
            )
        })
        .collect();
    for (i, node) in nodes.iter().enumerate().skip(1) {
        if i >= 3 {
            nodes[1].approve(&format!("org-{i}"), &nodes[0]);
        }
        node.join_network(&nodes[0].invite_node());
    }
    let all: Vec<&Node> = nodes.iter().collect();
    wait_converged(&all);

    let mut rng = Lcg(seed);
    let mut written = Vec::new();
    for round in 0..rounds {
        // A random non-trivial split.
        let mut group: Vec<usize> = (0..NODES).filter(|_| rng.next(2) == 1).collect();
        if group.is_empty() || group.len() == NODES {
            group = vec![rng.next(NODES as u64) as usize];
        }
        let other: Vec<usize> = (0..NODES).filter(|i| !group.contains(i)).collect();
        lab.split(&group);
        // Both sides write while cut off from each other.
        let a = group[rng.next(group.len() as u64) as usize];
        let b = other[rng.next(other.len() as u64) as usize];
        written.push(panic_on(
            &lab,
            &t,
            &nodes[a],
            a,
            &format!("round {round} side A"),
        ));
        written.push(panic_on(
            &lab,
            &t,
            &nodes[b],
            b,
            &format!("round {round} side B"),
        ));
        // Each side converges by itself.
        let side: Vec<&Node> = group.iter().map(|i| &nodes[*i]).collect();
        wait_converged(&side);

        lab.split(&[]);
        let healed = Instant::now();
        let heads = wait_converged(&all);
        eprintln!(
            "partition round {round} (seed {seed}): {group:?} | {other:?}, healed to identical heads in {:?}",
            healed.elapsed()
        );
        assert!(!heads.is_empty());
        for node in &nodes {
            let alerts = node.tejido(&["alerts", "--json"]).json();
            for id in &written {
                assert!(
                    alerts
                        .as_array()
                        .expect("alerts")
                        .iter()
                        .any(|x| x["id"] == id.as_str()),
                    "round {round}: {id} lost"
                );
            }
        }
    }
    wait_for("every node to list every alert", || {
        nodes
            .iter()
            .all(|n| n.status()["alerts"].as_u64() == Some(written.len() as u64))
            .then_some(())
    });
}
