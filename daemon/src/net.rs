//! The libp2p side of a node: the behaviour and how the node's swarm is built. The pieces a
//! client needs as well (a Tejido key as a libp2p identity and peer id, the request-response
//! behaviour with Tejido's size limits, a TCP+QUIC swarm, the one-shot `request_all`) live in
//! the `client` crate and are re-exported here.
//!
//! Two doors, one after the other: the gate admits the roster (members, nodes, pending
//! invites), and `NodesOnly` (`net/nodes_only.rs`) serves the node-to-node protocols
//! (sync, gossip, identify, relay, hole punching) to active nodes only. Members and invite
//! identities get the client protocol and nothing else.

mod nodes_only;

use std::time::Duration;

pub use client::net::{
    build_swarm, key_of, keypair, peer_id_of, request_all, request_response_behaviour, NodeError,
    REQUEST_DEADLINE,
};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{allow_block_list, connection_limits, request_response, swarm::NetworkBehaviour};
use protocol::ids::SecretKey;
use protocol::wire::{ClientRequest, ClientResponse, SyncRequest, SyncResponse};

use nodes_only::NodesOnly;

/// Connections a node keeps at most; beyond this, new ones are refused.
const MAX_ESTABLISHED: u32 = 512;
/// Connections one peer may hold at once.
const MAX_PER_PEER: u32 = 4;
/// Connections still in their handshake; bounds what an unauthenticated dialler can cost.
const MAX_PENDING_INCOMING: u32 = 64;
/// How long an unused connection stays open; anti-entropy runs more often than this, so
/// connections between nodes stay up.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Everything a node speaks. The gate comes first: a peer that is not in the roster is
/// refused right after the Noise handshake, before any other behaviour sees the connection,
/// so it receives nothing, not even a protocol list. A peer in the roster that is not an
/// active node (a member's device, an invite identity) gets the client protocol only.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) gate: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) client: request_response::cbor::Behaviour<ClientRequest, ClientResponse>,
    /// What only the network's active nodes are served.
    pub(crate) nodes: NodesOnly<NodeBehaviour>,
    /// Finding trusted nodes on the local network, where the operator turned it on.
    pub(crate) mdns: Toggle<libp2p::mdns::tokio::Behaviour>,
}

/// The protocols between nodes. None of them exists on a connection with anyone else.
#[derive(NetworkBehaviour)]
pub(crate) struct NodeBehaviour {
    pub(crate) sync: request_response::cbor::Behaviour<SyncRequest, SyncResponse>,
    pub(crate) gossip: libp2p::gossipsub::Behaviour,
    /// Tells peer nodes the addresses we listen on and the address they are seen from (the
    /// candidates hole punching tries).
    pub(crate) identify: libp2p::identify::Behaviour,
    /// Reaching nodes behind NAT through a relay node (circuit v2), and being reached so.
    pub(crate) relay_client: libp2p::relay::client::Behaviour,
    /// Serving as that relay: reservations and circuits for nodes only, at both ends (only a
    /// node can open a circuit, and only a node can hold a reservation to be reached at).
    pub(crate) relay: Toggle<libp2p::relay::Behaviour>,
    /// Upgrading a relayed connection to a direct one (hole punching).
    pub(crate) dcutr: libp2p::dcutr::Behaviour,
}

/// Which optional parts of the behaviour a node runs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Options {
    /// Relay circuits between trusted nodes.
    pub(crate) relay_server: bool,
    /// Announce and discover on the local network by mDNS.
    pub(crate) mdns: bool,
}

/// Identify's protocol name.
const IDENTIFY_PROTOCOL: &str = "/tejido/id/1";
/// How long a relayed connection may last and carry before the relay closes it; the nodes then
/// reconnect (directly, if hole punching worked meanwhile).
const MAX_CIRCUIT_DURATION: Duration = Duration::from_secs(30 * 60);
const MAX_CIRCUIT_BYTES: u64 = 256 * 1024 * 1024;

impl Behaviour {
    pub(crate) fn new(
        key: &SecretKey,
        relay_client: libp2p::relay::client::Behaviour,
        options: Options,
    ) -> anyhow::Result<Self> {
        let keypair = keypair(key);
        let me = keypair.public().to_peer_id();
        let relay = options.relay_server.then(|| {
            libp2p::relay::Behaviour::new(
                me,
                libp2p::relay::Config {
                    max_circuit_duration: MAX_CIRCUIT_DURATION,
                    max_circuit_bytes: MAX_CIRCUIT_BYTES,
                    ..Default::default()
                },
            )
        });
        let mdns = if options.mdns {
            Some(
                libp2p::mdns::tokio::Behaviour::new(libp2p::mdns::Config::default(), me)
                    .map_err(|e| anyhow::anyhow!("starting mDNS: {e}"))?,
            )
        } else {
            None
        };
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(MAX_ESTABLISHED))
            .with_max_established_per_peer(Some(MAX_PER_PEER))
            .with_max_pending_incoming(Some(MAX_PENDING_INCOMING));
        Ok(Self {
            gate: allow_block_list::Behaviour::default(),
            limits: connection_limits::Behaviour::new(limits),
            client: request_response_behaviour(
                protocol::wire::CLIENT_PROTOCOL,
                request_response::ProtocolSupport::Inbound,
            ),
            nodes: NodesOnly::new(NodeBehaviour {
                sync: request_response_behaviour(
                    protocol::wire::SYNC_PROTOCOL,
                    request_response::ProtocolSupport::Full,
                ),
                gossip: crate::gossip::behaviour(key)?,
                identify: libp2p::identify::Behaviour::new(
                    libp2p::identify::Config::new(IDENTIFY_PROTOCOL.into(), keypair.public())
                        // No version: a peer learns that this is Tejido, which it knew, and
                        // nothing more.
                        .with_agent_version("tejido".into()),
                ),
                relay_client,
                relay: relay.into(),
                dcutr: libp2p::dcutr::Behaviour::new(me),
            }),
            mdns: mdns.into(),
        })
    }
}

/// Builds a node's swarm: TCP and QUIC as [`build_swarm`], plus the relay client transport so
/// that it can listen on and dial `/p2p-circuit` addresses.
pub(crate) fn build_node_swarm(
    key: &SecretKey,
    options: Options,
    idle: Duration,
) -> anyhow::Result<libp2p::Swarm<Behaviour>> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair(key))
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )?
        .with_quic()
        .with_relay_client(libp2p::noise::Config::new, libp2p::yamux::Config::default)?
        .with_behaviour(|_, relay_client| {
            Behaviour::new(key, relay_client, options)
                .map_err(Into::<Box<dyn std::error::Error + Send + Sync>>::into)
        })
        .map_err(|e| anyhow::anyhow!("building behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok(swarm)
}
