//! The one-shot libp2p client: a Tejido key as a libp2p identity, the request-response
//! behaviour with Tejido's size limits, a TCP+QUIC swarm, and [`request_all`], which sends one
//! request to several nodes at once and collects what each answered.
//!
//! The CLI opens one of these per command; a node uses it to redeem a node invite with the
//! inviting node.

use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{request_response, PeerId, StreamProtocol};
use protocol::ids::{PublicKey, SecretKey};
use protocol::wire::{
    ClientRequest, ClientRequestV0, ClientResponse, ClientResponseV0, NodeContact,
};

/// How long a request may wait for its response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Streams one request-response behaviour keeps open at once.
const MAX_CONCURRENT_STREAMS: usize = 64;
/// How long the one-shot client keeps an unused connection (it lives for one command).
const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a one-shot client waits for nodes to answer.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// Why a swarm could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP transport with Noise and Yamux could not be set up.
    #[error("building the transport: {0}")]
    Transport(String),
    /// The behaviour could not be built.
    #[error("building behaviour: {0}")]
    Behaviour(String),
}

/// Why one node gave no answer to [`request_all`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The contact's key is not a valid ed25519 point, so it names no libp2p peer.
    #[error("not a node key")]
    NotAPeer,
    /// The dial could not even start (no usable address, for instance).
    #[error("cannot dial: {0}")]
    Dial(String),
    /// The connection or the request failed (refused, closed, timed out at the transport).
    #[error("{0}")]
    Failed(String),
    /// Nothing came back before [`REQUEST_DEADLINE`].
    #[error("no answer in time")]
    NoAnswerInTime,
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
        .with_max_concurrent_streams(MAX_CONCURRENT_STREAMS);
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
) -> Result<libp2p::Swarm<B>, Error> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair(key))
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .map_err(|e| Error::Transport(e.to_string()))?
        .with_quic()
        .with_behaviour(|_| behaviour)
        .map_err(|e| Error::Behaviour(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
        .build();
    Ok(swarm)
}

/// What [`request_all`] returns: each node's answer or why there was none.
pub type Answers = Vec<(PublicKey, Result<ClientResponseV0, NodeError>)>;

/// Sends `request` to every node in `nodes` at once (as `key`) and returns, for every one of
/// them, its answer or why there was none: answers in the order they came, then the nodes
/// that could not be asked, then those that did not answer in time.
pub async fn request_all(
    key: &SecretKey,
    nodes: &[NodeContact],
    request: ClientRequestV0,
) -> Result<Answers, Error> {
    let behaviour: request_response::cbor::Behaviour<ClientRequest, ClientResponse> =
        request_response_behaviour(
            protocol::wire::CLIENT_PROTOCOL,
            request_response::ProtocolSupport::Outbound,
        );
    let mut swarm = build_swarm(key, behaviour, CLIENT_IDLE_TIMEOUT)?;
    let mut pending: Vec<(PeerId, PublicKey)> = Vec::new();
    let mut failed: Answers = Vec::new();
    for node in nodes {
        let Some(peer) = peer_id_of(&node.key) else {
            failed.push((node.key, Err(NodeError::NotAPeer)));
            continue;
        };
        let addrs: Vec<libp2p::Multiaddr> =
            node.addrs.iter().filter_map(|a| a.parse().ok()).collect();
        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(peer)
            .addresses(addrs)
            .build();
        if let Err(e) = swarm.dial(opts) {
            failed.push((node.key, Err(NodeError::Dial(e.to_string()))));
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
            }) => (peer, Err(NodeError::Failed(error.to_string()))),
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                if swarm.is_connected(&peer) {
                    continue;
                }
                (peer, Err(NodeError::Failed(error.to_string())))
            }
            _ => continue,
        };
        if let Some(pos) = pending.iter().position(|(p, _)| *p == peer) {
            let (_, node) = pending.remove(pos);
            out.push((node, result));
        }
    }
    out.extend(failed);
    for (_, node) in pending {
        out.push((node, Err(NodeError::NoAnswerInTime)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_peer_ids_map_both_ways() {
        let key = SecretKey::generate();
        let peer = peer_id_of(&key.public()).expect("a valid key");
        assert_eq!(peer, keypair(&key).public().to_peer_id());
        assert_eq!(key_of(&peer), Some(key.public()));
    }

    #[test]
    fn a_peer_id_that_inlines_no_ed25519_key_has_no_tejido_key() {
        assert_eq!(key_of(&PeerId::random()), None);
    }

    /// Every node asked is in the answers, including those that cannot be dialled at all.
    #[tokio::test]
    async fn every_node_is_answered_for() {
        let me = SecretKey::generate();
        let no_address = NodeContact {
            key: SecretKey::generate().public(),
            addrs: vec!["not a multiaddr".into()],
        };
        let answers = request_all(
            &me,
            std::slice::from_ref(&no_address),
            ClientRequestV0::Whoami,
        )
        .await
        .expect("a swarm");
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].0, no_address.key);
        assert!(
            matches!(answers[0].1, Err(NodeError::Dial(_))),
            "{answers:?}"
        );
    }
}
