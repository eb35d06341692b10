//! Nodes that cannot be reached directly, in network namespaces (root and iproute2, as CI
//! has): B has a public side and a private side; A is on the public side; C is on the private
//! side, can reach B's public address but nothing else there, and nothing on the public side
//! can reach it, as behind NAT. C listens through B (`--relay-via`), which relays for trusted
//! nodes (`--relay-server`).
//!
//! No NAT is built (iptables and nft are not available here): "behind NAT" is modelled by
//! routes. With B forwarding between the sides, hole punching (DCUtR) upgrades the relayed
//! connection to a direct one.

use std::process::Command;

use serde_json::Value;
use tests::{ip, wait_for, Node, TestDir};

/// Two bridges, three namespaces: `a` (public), `b` (both), `c` (private).
struct Lab {
    tag: String,
    n: u32,
}

impl Lab {
    fn new(forward: bool) -> Self {
        let n = std::process::id() % 200 + 20 + u32::from(forward);
        let lab = Self {
            tag: format!("tr{n}"),
            n,
        };
        lab.cleanup();
        for side in ["p", "l"] {
            let bridge = lab.name(side);
            ip(&["link", "add", &bridge, "type", "bridge"]);
            ip(&["link", "set", &bridge, "up"]);
        }
        for ns in ["a", "b", "c"] {
            ip(&["netns", "add", &lab.name(ns)]);
            ip(&["-n", &lab.name(ns), "link", "set", "lo", "up"]);
        }
        lab.link("a", "eth0", "p", &lab.public(2));
        lab.link("b", "eth0", "p", &lab.public(1));
        lab.link("b", "eth1", "l", &lab.private(1));
        lab.link("c", "eth0", "l", &lab.private(2));
        let c = lab.name("c");
        ip(&["-n", &c, "route", "add", "default", "via", &lab.private(1)]);
        let status = Command::new("ip")
            .args(["netns", "exec", &lab.name("b"), "sh", "-c"])
            .arg(format!(
                "echo {} > /proc/sys/net/ipv4/ip_forward",
                u8::from(forward)
            ))
            .status()
            .expect("sh");
        assert!(status.success());
        if forward {
            let a = lab.name("a");
            ip(&["-n", &a, "route", "add", "default", "via", &lab.public(1)]);
        }
        lab
    }
    fn name(&self, part: &str) -> String {
        format!("{}{part}", self.tag)
    }
    fn public(&self, host: u8) -> String {
        format!("10.216.{}.{host}", self.n)
    }
    fn private(&self, host: u8) -> String {
        format!("10.217.{}.{host}", self.n)
    }
    /// A veth from namespace `ns` (named `dev` inside) to bridge `side`, with address `addr`.
    fn link(&self, ns: &str, dev: &str, side: &str, addr: &str) {
        let outside = format!("{}{ns}{dev}", self.tag);
        ip(&[
            "link",
            "add",
            &outside,
            "type",
            "veth",
            "peer",
            "name",
            dev,
            "netns",
            &self.name(ns),
        ]);
        ip(&["link", "set", &outside, "master", &self.name(side)]);
        ip(&["link", "set", &outside, "up"]);
        let ns = self.name(ns);
        ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
        ip(&["-n", &ns, "link", "set", dev, "up"]);
    }
    fn cleanup(&self) {
        for ns in ["a", "b", "c"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name(ns)])
                .output();
        }
        for link in ["aeth0", "beth0", "beth1", "ceth0", "p", "l"] {
            let _ = Command::new("ip")
                .args(["link", "del", &self.name(link)])
                .output();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// The connections `node` has open to `peer`, as `peers` lists them.
fn connections(node: &Node, peer: &str) -> Vec<String> {
    let peers: Value = node.tejido(&["peers", "--json"]).json();
    peers
        .as_array()
        .expect("peers")
        .iter()
        .filter(|p| p["key"] == peer)
        .flat_map(|p| p["connections"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

/// Starts B (relay), A (public) and C (private, through B), all joined to B's network.
fn three(t: &TestDir, lab: &Lab, a_relayed: bool) -> (Node, Node, Node) {
    let b_public = format!("/ip4/{}/tcp/0", lab.public(1));
    let b_private = format!("/ip4/{}/tcp/0", lab.private(1));
    let b = Node::start_in_netns(
        t,
        "b",
        &lab.name("b"),
        &[
            "--org",
            "casa-chis",
            "--relay-server",
            "--listen",
            &b_public,
            "--listen",
            &b_private,
        ],
    );
    let relay = b.status()["listen_addrs"]
        .as_array()
        .expect("addrs")
        .iter()
        .filter_map(Value::as_str)
        .find(|s| s.contains(&lab.public(1)))
        .map(|s| format!("{s}/p2p/{}", b.status()["peer_id"].as_str().expect("peer")))
        .expect("B's public address");
    let a_listen = format!("/ip4/{}/tcp/0", lab.public(2));
    let mut a_args = vec!["--org", "red-oax", "--listen", &a_listen];
    if a_relayed {
        a_args.extend(["--relay-via", &relay]);
    }
    let a = Node::start_in_netns(t, "a", &lab.name("a"), &a_args);
    a.join_network(&b.invite_node());
    let c_listen = format!("/ip4/{}/tcp/0", lab.private(2));
    let c = Node::start_in_netns(
        t,
        "c",
        &lab.name("c"),
        &[
            "--org",
            "colectiva-gro",
            "--listen",
            &c_listen,
            "--relay-via",
            &relay,
        ],
    );
    c.join_network(&b.invite_node());
    (a, b, c)
}

/// A node behind NAT is reached through a trusted relay: A, which cannot route to C, holds a
/// connection to C through B (found from the circuit address C announced) and syncs over it.
#[test]
fn a_node_behind_nat_is_reached_through_a_trusted_relay() {
    let t = TestDir::new();
    let lab = Lab::new(false);
    let (a, b, c) = three(&t, &lab, false);
    // No route from A to C.
    let ping = Command::new("ip")
        .args(["netns", "exec", &lab.name("a"), "ping", "-c1", "-W1"])
        .arg(lab.private(2))
        .output();
    if let Ok(out) = ping {
        assert!(!out.status.success(), "A must not reach C directly");
    }
    let c_id = c.id();
    let via = wait_for("A connected to C through the relay", || {
        let conns = connections(&a, &c_id);
        conns
            .iter()
            .find(|addr| addr.contains("p2p-circuit"))
            .cloned()
    });
    assert!(
        via.contains(&b.status()["peer_id"].as_str().expect("B").to_string()),
        "{via}"
    );
    // C announced its circuit address in the roster, which is how A found it.
    let announced: Value = a.tejido(&["peers", "--json"]).json();
    let c_entry = announced
        .as_array()
        .expect("peers")
        .iter()
        .find(|p| p["key"] == c_id.as_str())
        .expect("C in A's peers")
        .clone();
    assert!(
        c_entry["addrs"]
            .as_array()
            .expect("addrs")
            .iter()
            .any(|a| a.as_str().is_some_and(|s| s.contains("p2p-circuit"))),
        "{c_entry}"
    );
    // A and C sync with each other over that connection.
    wait_for("A and C to exchange sync messages", || {
        let peers: Value = a.tejido(&["peers", "--json"]).json();
        peers
            .as_array()
            .expect("peers")
            .iter()
            .any(|p| p["key"] == c_id.as_str() && p["last_sync"].is_string())
            .then_some(())
    });
    // B relays for C: the reservation is logged there.
    assert!(b.log().contains("relaying for a trusted node"));
}

/// Where the two sides can route to each other but both are behind relays (so each announces
/// only its relayed address), the relayed connection between them is upgraded to a direct
/// one by hole punching (DCUtR): each learns from identify the address B sees it from, and
/// both dial at once.
#[test]
fn hole_punching_upgrades_a_relayed_connection() {
    let t = TestDir::new();
    let lab = Lab::new(true);
    let (a, _b, c) = three(&t, &lab, true);
    let c_id = c.id();
    wait_for("a direct connection from A to C", || {
        let conns = connections(&a, &c_id);
        conns
            .iter()
            .find(|addr| addr.contains(&lab.private(2)) && !addr.contains("p2p-circuit"))
            .cloned()
    });
    let logs = format!("{}{}", a.log(), c.log());
    assert!(
        logs.contains("direct connection through hole punching"),
        "the direct connection came from DCUtR"
    );
}

/// Three namespaces on one bridge: a local network.
struct Lan {
    tag: String,
    n: u32,
}

impl Lan {
    fn new() -> Self {
        let n = std::process::id() % 200 + 22;
        let lan = Self {
            tag: format!("tm{n}"),
            n,
        };
        lan.cleanup();
        let bridge = format!("{}br", lan.tag);
        ip(&["link", "add", &bridge, "type", "bridge"]);
        ip(&["link", "set", &bridge, "up"]);
        for i in 0..3u8 {
            let ns = lan.ns(i);
            let outside = format!("{}v{i}", lan.tag);
            ip(&["netns", "add", &ns]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            ip(&["link", "set", &outside, "master", &bridge]);
            ip(&["link", "set", &outside, "up"]);
            let addr = format!("{}/24", lan.addr(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            // mDNS sends to 224.0.0.251: multicast needs a route.
            ip(&["-n", &ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
        }
        lan
    }
    fn ns(&self, i: u8) -> String {
        format!("{}n{i}", self.tag)
    }
    fn addr(&self, i: u8) -> String {
        format!("10.218.{}.{}", self.n, i + 1)
    }
    fn cleanup(&self) {
        for i in 0..3u8 {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(i)])
                .output();
            let _ = Command::new("ip")
                .args(["link", "del", &format!("{}v{i}", self.tag)])
                .output();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &format!("{}br", self.tag)])
            .output();
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// mDNS, where the operator turns it on: B and C joined through A and dial only their
/// bootstrap peer, so they would never connect to each other; with `--mdns` they find each
/// other on the local network and connect. A, without it, announces nothing there.
#[test]
fn mdns_finds_trusted_nodes_on_the_local_network_when_turned_on() {
    let t = TestDir::new();
    let lan = Lan::new();
    let start = |i: u8, name: &str, org: &str, mdns: bool| {
        let listen = format!("/ip4/{}/tcp/0", lan.addr(i));
        let mut args = vec!["--org", org, "--listen", &listen, "--connect", "bootstrap"];
        if mdns {
            args.push("--mdns");
        }
        Node::start_in_netns(&t, name, &lan.ns(i), &args)
    };
    let a = start(0, "a", "red-oax", false);
    let b = start(1, "b", "casa-chis", true);
    let c = start(2, "c", "colectiva-gro", true);
    b.join_network(&a.invite_node());
    c.join_network(&a.invite_node());
    let c_id = c.id();
    wait_for("B and C connected through mDNS", || {
        (!connections(&b, &c_id).is_empty()).then_some(())
    });
    let logs = format!("{}{}", b.log(), c.log());
    assert!(logs.contains("dialling a trusted node found on the local network"));
    // A runs no mDNS: it found nobody, and nobody found it.
    assert!(!a
        .log()
        .contains("dialling a trusted node found on the local network"));
    let a_peer = a.status()["peer_id"].as_str().expect("peer").to_string();
    assert!(!logs
        .lines()
        .any(|l| l.contains("dialling a trusted node found") && l.contains(&a_peer)));
}
