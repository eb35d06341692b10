//! The libp2p side of a node: the behaviour, how the swarm is built, and the mapping between
//! Tejido keys and libp2p peer ids (an ed25519 key is both).

use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::SwarmEvent;
use libp2p::{
    allow_block_list, connection_limits, request_response, swarm::NetworkBehaviour, PeerId,
    StreamProtocol,
};
use protocol::ids::{PublicKey, SecretKey};
use protocol::wire::{
    ClientRequest, ClientRequestV0, ClientResponse, ClientResponseV0, NodeContact, SyncRequest,
    SyncResponse,
};

/// Connections a node keeps at most; beyond this, new ones are refused.
const MAX_ESTABLISHED: u32 = 512;
/// Connections one peer may hold at once.
const MAX_PER_PEER: u32 = 4;
/// Connections still in their handshake; bounds what an unauthenticated dialler can cost.
const MAX_PENDING_INCOMING: u32 = 64;
/// How long a request may wait for its response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an unused connection stays open; anti-entropy runs more often than this, so
/// connections between nodes stay up.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Everything a node speaks. The gate comes first: a peer that is not in the roster is
/// refused right after the Noise handshake, before any other behaviour sees the connection,
/// so it receives nothing, not even a protocol list.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) gate: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) client: request_response::cbor::Behaviour<ClientRequest, ClientResponse>,
    pub(crate) sync: request_response::cbor::Behaviour<SyncRequest, SyncResponse>,
    pub(crate) gossip: libp2p::gossipsub::Behaviour,
    /// Tells trusted peers the addresses we listen on and the address they are seen from (the
    /// candidates hole punching tries). Only trusted peers ever get this far.
    pub(crate) identify: libp2p::identify::Behaviour,
    /// Reaching nodes behind NAT through a trusted relay (circuit v2), and being reached so.
    pub(crate) relay_client: libp2p::relay::client::Behaviour,
    /// Serving as that relay, for trusted nodes only (the gate admits no one else).
    pub(crate) relay: Toggle<libp2p::relay::Behaviour>,
    /// Upgrading a relayed connection to a direct one (hole punching).
    pub(crate) dcutr: libp2p::dcutr::Behaviour,
    /// Finding trusted nodes on the local network, where the operator turned it on.
    pub(crate) mdns: Toggle<libp2p::mdns::tokio::Behaviour>,
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
            sync: request_response_behaviour(
                protocol::wire::SYNC_PROTOCOL,
                request_response::ProtocolSupport::Full,
            ),
            gossip: crate::gossip::behaviour(key)?,
            identify: libp2p::identify::Behaviour::new(
                libp2p::identify::Config::new(IDENTIFY_PROTOCOL.into(), keypair.public())
                    // No version: a peer learns that this is Tejido, which it knew, and nothing more.
                    .with_agent_version("tejido".into()),
            ),
            relay_client,
            relay: relay.into(),
            dcutr: libp2p::dcutr::Behaviour::new(me),
            mdns: mdns.into(),
        })
    }
}

/// A request-response behaviour with Tejido's size limits.
pub fn request_response_behaviour<Req, Resp>(
    name: &'static str,
    support: request_response::ProtocolSupport,
) -> request_response::cbor::Behaviour<Req, Resp>
where
    Req: Send + Clone + serde::Serialize + serde::de::DeserializeOwned + 'static,
    Resp: Send + Clone + serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    let codec = request_response::cbor::codec::Codec::default()
        .set_request_size_maximum(protocol::wire::MAX_REQUEST_BYTES)
        .set_response_size_maximum(protocol::wire::MAX_RESPONSE_BYTES);
    let cfg = request_response::Config::default()
        .with_request_timeout(REQUEST_TIMEOUT)
        .with_max_concurrent_streams(64);
    request_response::Behaviour::with_codec(codec, [(StreamProtocol::new(name), support)], cfg)
}

/// The libp2p keypair of a Tejido key.
pub fn keypair(key: &SecretKey) -> libp2p::identity::Keypair {
    // A 32-byte ed25519 secret is always valid.
    #[allow(clippy::expect_used)]
    libp2p::identity::Keypair::ed25519_from_bytes(key.to_bytes()).expect("32-byte ed25519 secret")
}

/// The peer id of a Tejido key, if the bytes are a valid ed25519 point.
pub fn peer_id_of(key: &PublicKey) -> Option<PeerId> {
    let pk = libp2p::identity::ed25519::PublicKey::try_from_bytes(key.as_bytes()).ok()?;
    Some(PeerId::from_public_key(&libp2p::identity::PublicKey::from(
        pk,
    )))
}

/// The Tejido key behind a peer id (ed25519 peer ids inline their key).
pub fn key_of(peer: &PeerId) -> Option<PublicKey> {
    let mh: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if mh.code() != 0 {
        return None;
    }
    let pk = libp2p::identity::PublicKey::try_decode_protobuf(mh.digest()).ok()?;
    let ed = pk.try_into_ed25519().ok()?;
    Some(PublicKey::from_bytes(ed.to_bytes()))
}

/// Builds a swarm over TCP and QUIC (Noise and Yamux on TCP) with the given identity.
pub fn build_swarm<B: NetworkBehaviour>(
    key: &SecretKey,
    behaviour: B,
    idle: Duration,
) -> anyhow::Result<libp2p::Swarm<B>> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair(key))
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )?
        .with_quic()
        .with_behaviour(|_| behaviour)
        .map_err(|e| anyhow::anyhow!("building behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok(swarm)
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

/// How long a one-shot client waits for nodes to answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// Sends `request` to every node in `nodes` at once (as `key`) and returns each node's answer
/// or failure, in the order they came.
pub async fn request_all(
    key: &SecretKey,
    nodes: &[NodeContact],
    request: ClientRequestV0,
) -> anyhow::Result<Vec<(PublicKey, Result<ClientResponseV0, String>)>> {
    let behaviour: request_response::cbor::Behaviour<ClientRequest, ClientResponse> =
        request_response_behaviour(
            protocol::wire::CLIENT_PROTOCOL,
            request_response::ProtocolSupport::Outbound,
        );
    let mut swarm = build_swarm(key, behaviour, Duration::from_secs(30))?;
    let mut pending: Vec<(PeerId, PublicKey)> = Vec::new();
    for node in nodes {
        let Some(peer) = peer_id_of(&node.key) else {
            continue;
        };
        let addrs: Vec<libp2p::Multiaddr> =
            node.addrs.iter().filter_map(|a| a.parse().ok()).collect();
        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
            .addresses(addrs)
            .build();
        if swarm.dial(opts).is_err() {
            continue;
        }
        swarm
            .behaviour_mut()
            .send_request(&peer, ClientRequest::V0(request.clone()));
        pending.push((peer, node.key));
    }
    let mut out = Vec::new();
    let deadline = tokio::time::sleep(REQUEST_DEADLINE);
    tokio::pin!(deadline);
    while !pending.is_empty() {
        let event = tokio::select! {
            _ = &mut deadline => break,
            event = swarm.select_next_some() => event,
        };
        let (peer, result) = match event {
            SwarmEvent::Behaviour(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Response {
                        response: ClientResponse::V0(response),
                        ..
                    },
                ..
            }) => (peer, Ok(response)),
            SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                peer, error, ..
            }) => (peer, Err(error.to_string())),
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                if swarm.is_connected(&peer) {
                    continue;
                }
                (peer, Err(error.to_string()))
            }
            _ => continue,
        };
        if let Some(pos) = pending.iter().position(|(p, _)| *p == peer) {
            let (_, node) = pending.remove(pos);
            out.push((node, result));
        }
    }
    for (_, node) in pending {
        out.push((node, Err("no answer in time".into())));
    }
    Ok(out)
}
