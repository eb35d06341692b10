//! Connections: the trust gate, dialling with back-off, mDNS, and what the node knows of
//! its peers. Swarm events arrive here from `node/mod.rs`, which alone touches the swarm.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::request_response;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId};
use protocol::control;
use protocol::ids::Timestamp;
use protocol::wire::{ClientRequest, ClientResponse};
use tracing::{debug, info, warn};

use super::{Action, Core, INVITE_LINGER, MAX_DIAL_BACKOFF};
use crate::config::Connect;
use crate::net::{self, BehaviourEvent, NodeBehaviourEvent};

impl Core {
    /// Connected peers that are active nodes of the network.
    pub(super) fn node_peers(&self) -> Vec<PeerId> {
        let roster = self.engine.roster();
        self.connections
            .keys()
            .filter(|p| {
                net::key_of(p)
                    .is_some_and(|k| roster.nodes.contains_key(&k) && roster.is_active(&k))
            })
            .copied()
            .collect()
    }

    pub(super) fn is_node_peer(&self, peer: &PeerId) -> bool {
        let roster = self.engine.roster();
        net::key_of(peer)
            .is_some_and(|k| k != self.me && roster.nodes.contains_key(&k) && roster.is_active(&k))
    }

    /// Brings the gate's allow list in line with the roster and pending invites, closing the
    /// connections of anyone no longer allowed, and tells the swarm which peers are nodes
    /// (only they are served sync, gossip, identify and the relay). Expired invites are
    /// dropped from the store here, so an invite identity is refused from the first tick
    /// after its invite expires, whether or not it asks for anything.
    pub(super) fn refresh_gate(&mut self) {
        let now = Timestamp::now();
        let roster = self.engine.roster();
        let nodes: HashSet<PeerId> = roster
            .nodes
            .keys()
            .filter(|k| roster.is_active(k) && **k != self.me)
            .filter_map(net::peer_id_of)
            .collect();
        let mut wanted: HashSet<PeerId> = roster
            .members
            .keys()
            .filter(|k| roster.is_active(k) && **k != self.me)
            .filter_map(net::peer_id_of)
            .chain(nodes.iter().copied())
            .collect();
        match self.engine.store().invites() {
            Ok(invites) => {
                for (identity, invite) in invites {
                    if invite.expires > now {
                        wanted.extend(net::peer_id_of(&identity));
                    } else if let Err(e) = self.engine.store().remove_invite(&identity) {
                        warn!(error = %format!("{e:#}"), "cannot remove an expired invite");
                    } else {
                        info!("an invite expired unused");
                    }
                }
            }
            Err(e) => warn!(error = %format!("{e:#}"), "cannot read the invites"),
        }
        // A used invite's identity stays allowed until its answer has been sent, and a moment
        // after (`INVITE_LINGER`).
        wanted.extend(self.close_after_response.iter().copied());
        wanted.extend(self.answered_invites.keys().copied());
        for peer in self
            .allowed
            .difference(&wanted)
            .copied()
            .collect::<Vec<_>>()
        {
            self.actions.push(Action::Disallow(peer));
            self.sessions.disconnected(&peer);
        }
        for peer in wanted.difference(&self.allowed) {
            self.actions.push(Action::Allow(*peer));
        }
        self.allowed = wanted;
        if nodes != self.nodes {
            self.actions.push(Action::ServeNodes(nodes.clone()));
            self.nodes = nodes;
        }
    }

    /// A client's answer left (or could not be sent): if it was the last word to a used
    /// invite's identity, the identity has [`INVITE_LINGER`] left on the allow list.
    fn on_client_answered(
        &mut self,
        event: &request_response::Event<ClientRequest, ClientResponse>,
    ) {
        let peer = match event {
            request_response::Event::ResponseSent { peer, .. }
            | request_response::Event::InboundFailure { peer, .. } => peer,
            _ => return,
        };
        if self.close_after_response.remove(peer) {
            self.answered_invites.insert(*peer, Instant::now());
        }
    }

    /// Takes the used invites' identities whose answer left [`INVITE_LINGER`] ago off the
    /// allow list, which closes their connections (called on the watch tick).
    pub(super) fn close_answered_invites(&mut self) {
        let before = self.answered_invites.len();
        self.answered_invites.retain(|peer, answered| {
            let linger = answered.elapsed() < INVITE_LINGER;
            if !linger {
                debug!(%peer, "closing a used invite's connection");
            }
            linger
        });
        if self.answered_invites.len() != before {
            self.refresh_gate();
        }
    }

    /// Dials trusted nodes that are not connected, with exponential back-off and jitter.
    pub(super) fn dial_missing(&mut self) {
        let now = Instant::now();
        let roster = self.engine.roster();
        let mut targets: BTreeMap<PeerId, Vec<Multiaddr>> = roster
            .nodes
            .iter()
            .filter(|_| self.connect == Connect::All)
            .filter(|(k, n)| **k != self.me && roster.is_active(k) && !n.addrs.is_empty())
            .filter_map(|(k, n)| {
                Some((
                    net::peer_id_of(k)?,
                    n.addrs.iter().filter_map(|a| a.parse().ok()).collect(),
                ))
            })
            .collect();
        // Trusted nodes found on the local network, whatever `connect` says.
        for (peer, addrs) in &self.lan_peers {
            if net::key_of(peer)
                .is_some_and(|k| roster.nodes.contains_key(&k) && roster.is_active(&k))
            {
                let known = targets.entry(*peer).or_default();
                for addr in addrs {
                    if !known.contains(addr) {
                        known.push(addr.clone());
                    }
                }
            }
        }
        for addr in &self.bootstrap {
            let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() else {
                continue;
            };
            if net::key_of(&peer).is_some_and(|k| roster.is_active(&k)) {
                let addrs = targets.entry(peer).or_default();
                if !addrs.contains(addr) {
                    addrs.push(addr.clone());
                }
            }
        }
        for (peer, addrs) in targets {
            if self.connections.contains_key(&peer) {
                self.dialer.connected(&peer);
                continue;
            }
            let jitter =
                Duration::from_millis(u64::from(protocol::ids::random_bytes::<2>()[0]) * 4);
            if !self
                .dialer
                .due(&peer, &addrs, now, jitter, MAX_DIAL_BACKOFF)
            {
                continue;
            }
            if self.lan_peers.contains_key(&peer) {
                info!(%peer, "dialling a trusted node found on the local network");
            }
            let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
                .addresses(addrs)
                .build();
            self.actions.push(Action::Dial(opts));
        }
    }

    /// Dials trusted nodes that mDNS found on the local network; anyone else is ignored (the
    /// gate would refuse them anyway).
    /// Peers found are kept (a node found before it joined the network is dialled once it
    /// has).
    pub(super) fn on_mdns(&mut self, found: Vec<(PeerId, Multiaddr)>) {
        for (peer, addr) in found {
            let addrs = self.lan_peers.entry(peer).or_default();
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        self.dial_missing();
    }

    /// The addresses this node listens on, without unspecified ones.
    pub(super) fn listen_addrs(&self) -> Vec<String> {
        self.listeners
            .iter()
            .filter(|a| {
                !a.iter().any(
                    |p| matches!(p, libp2p::multiaddr::Protocol::Ip4(ip) if ip.is_unspecified()),
                )
            })
            .map(|a| a.to_string())
            .collect()
    }

    /// The addresses other nodes should dial: the listen addresses, except for a node that
    /// listens through relays (`relay_via`): it is behind NAT, its own addresses are private,
    /// so only its relayed addresses are announced, and hole punching finds a direct path.
    pub(super) fn announced_addrs(&self) -> Vec<String> {
        let all = self.listen_addrs();
        if !self.behind_relay {
            return all;
        }
        all.into_iter()
            .filter(|a| a.contains("/p2p-circuit"))
            .collect()
    }

    pub(super) fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(%address, "listening");
                // A relay tells the nodes it serves where to be reached: its own addresses.
                let relayed = address
                    .iter()
                    .any(|p| matches!(p, libp2p::multiaddr::Protocol::P2pCircuit));
                if self.relay_server && !relayed {
                    self.actions.push(Action::ExternalAddress(address));
                }
                self.announce_addrs();
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                debug!(peer = %peer_id, "connected");
                self.connections
                    .entry(peer_id)
                    .or_default()
                    .insert(connection_id, endpoint.get_remote_address().clone());
                if num_established.get() == 1 && self.is_node_peer(&peer_id) {
                    self.dialer.connected(&peer_id);
                    let out = self.sessions.connected(peer_id, &self.engine);
                    self.on_sync_outputs(out);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } if num_established > 0 => {
                if let Some(c) = self.connections.get_mut(&peer_id) {
                    c.remove(&connection_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.connections.remove(&peer_id);
                self.ops.punched.remove(&peer_id);
                self.clients.forget(&peer_id);
                debug!(peer = %peer_id, "disconnected");
                self.sessions.disconnected(&peer_id);
                let used_invite = self.close_after_response.remove(&peer_id);
                if self.answered_invites.remove(&peer_id).is_some() || used_invite {
                    self.refresh_gate();
                }
            }
            SwarmEvent::IncomingConnectionError {
                error,
                send_back_addr,
                ..
            } => {
                if matches!(error, libp2p::swarm::ListenError::Denied { .. }) {
                    self.engine.stats.refused_connections += 1;
                }
                debug!(addr = %send_back_addr, error = %error, "incoming connection refused or failed");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Client(event)) => {
                self.on_client_answered(&event);
                self.on_client_event(event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Nodes(NodeBehaviourEvent::Sync(event))) => {
                self.on_sync_event(event)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Nodes(NodeBehaviourEvent::Gossip(
                libp2p::gossipsub::Event::Message {
                    propagation_source,
                    message_id,
                    message,
                },
            ))) => self.on_gossip(propagation_source, message_id, &message),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Discovered(found))) => {
                self.on_mdns(found)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Expired(gone))) => {
                for (peer, addr) in gone {
                    if let Some(addrs) = self.lan_peers.get_mut(&peer) {
                        addrs.retain(|a| *a != addr);
                        if addrs.is_empty() {
                            self.lan_peers.remove(&peer);
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Nodes(NodeBehaviourEvent::RelayClient(
                libp2p::relay::client::Event::ReservationReqAccepted { relay_peer_id, .. },
            ))) => info!(relay = %relay_peer_id, "reachable through the relay"),
            SwarmEvent::Behaviour(BehaviourEvent::Nodes(NodeBehaviourEvent::Relay(
                libp2p::relay::Event::ReservationReqAccepted { src_peer_id, .. },
            ))) => info!(peer = %src_peer_id, "relaying for a trusted node"),
            SwarmEvent::Behaviour(BehaviourEvent::Nodes(NodeBehaviourEvent::Dcutr(
                libp2p::dcutr::Event {
                    remote_peer_id,
                    result,
                },
            ))) => match result {
                Ok(_) => {
                    self.ops.punched.insert(remote_peer_id);
                    info!(peer = %remote_peer_id, "direct connection through hole punching")
                }
                Err(e) => debug!(peer = %remote_peer_id, error = %e, "hole punching failed"),
            },
            _ => {}
        }
    }

    pub(super) fn peers_info(&self) -> Vec<control::PeerInfo> {
        self.engine
            .roster()
            .nodes
            .iter()
            .filter(|(k, _)| **k != self.me)
            .map(|(k, n)| {
                let peer = net::peer_id_of(k);
                control::PeerInfo {
                    key: k.to_string(),
                    org: n.org.clone(),
                    addrs: n.addrs.clone(),
                    connected: peer.is_some_and(|p| self.connections.contains_key(&p)),
                    connections: peer
                        .and_then(|p| self.connections.get(&p))
                        .map(|c| c.values().map(|a| a.to_string()).collect())
                        .unwrap_or_default(),
                    last_sync: peer
                        .and_then(|p| self.sessions.last_sync(&p))
                        .map(|t| t.rfc3339()),
                    revoked: n.revoked_at.is_some(),
                    faults: peer.map_or(0, |p| self.sessions.faults_of(&p)),
                    suspended_until: peer
                        .and_then(|p| self.sessions.suspended_until(&p, Timestamp::now()))
                        .map(|t| t.rfc3339()),
                }
            })
            .collect()
    }
}
