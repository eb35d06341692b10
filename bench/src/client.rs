//! A member's client that keeps one libp2p connection to a node open and pipelines requests
//! over it (`/tejido/client/1`, the same behaviour and transport the CLI uses, built with
//! `daemon::net`). The CLI opens a connection per command; writing thousands of events that
//! way would measure Noise handshakes, not the node.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use libp2p::request_response::{self, Message, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use protocol::ids::SecretKey;
use protocol::wire::{
    ClientRequest, ClientRequestV0, ClientResponse, ClientResponseV0, NodeContact,
};

type ClientBehaviour = request_response::cbor::Behaviour<ClientRequest, ClientResponse>;

/// How long one request may take before the measurement is abandoned.
const REQUEST_DEADLINE: Duration = Duration::from_secs(60);

/// One open connection to one node.
pub(crate) struct Client {
    swarm: Swarm<ClientBehaviour>,
    peer: PeerId,
    addrs: Vec<Multiaddr>,
}

/// A response and how long after its request was sent it arrived.
pub(crate) struct Answer {
    /// Round trip.
    pub(crate) took: Duration,
    /// When it arrived.
    pub(crate) at: Instant,
    /// What the node said.
    pub(crate) response: ClientResponseV0,
}

impl Client {
    /// Connects to `node` as `key`.
    pub(crate) async fn connect(key: &SecretKey, node: &NodeContact) -> anyhow::Result<Self> {
        let behaviour: ClientBehaviour = daemon::net::request_response_behaviour(
            protocol::wire::CLIENT_PROTOCOL,
            ProtocolSupport::Outbound,
        );
        let swarm = daemon::net::build_swarm(key, behaviour, Duration::from_secs(3600))?;
        let peer = daemon::net::peer_id_of(&node.key).context("node key is not a peer id")?;
        let addrs = node.addrs.iter().filter_map(|a| a.parse().ok()).collect();
        let mut client = Self { swarm, peer, addrs };
        client.ensure_connected().await?;
        Ok(client)
    }

    /// Dials again if the node closed the connection (it closes idle ones after 90 s).
    async fn ensure_connected(&mut self) -> anyhow::Result<()> {
        if self.swarm.is_connected(&self.peer) {
            return Ok(());
        }
        let opts = libp2p::swarm::dial_opts::DialOpts::peer_id(self.peer)
            .addresses(self.addrs.clone())
            .build();
        self.swarm.dial(opts).context("dialling the node")?;
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        loop {
            let event = tokio::select! {
                _ = &mut deadline => bail!("no connection to the node within 10 s"),
                event = self.swarm.select_next_some() => event,
            };
            match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == self.peer => {
                    return Ok(())
                }
                SwarmEvent::OutgoingConnectionError {
                    peer_id: Some(p),
                    error,
                    ..
                } if p == self.peer => bail!("cannot connect to the node: {error}"),
                _ => {}
            }
        }
    }

    /// One request.
    pub(crate) async fn request(&mut self, request: ClientRequestV0) -> anyhow::Result<Answer> {
        let mut answers = self.pipeline(vec![request], 1).await?;
        answers.pop().context("no answer")
    }

    /// Sends `requests` in order with at most `window` of them waiting for their response,
    /// and returns the answers in request order. Fails on the first transport failure or
    /// error response.
    pub(crate) async fn pipeline(
        &mut self,
        requests: Vec<ClientRequestV0>,
        window: usize,
    ) -> anyhow::Result<Vec<Answer>> {
        self.ensure_connected().await?;
        let total = requests.len();
        let mut queue = requests.into_iter().enumerate();
        let mut in_flight: HashMap<OutboundRequestId, (usize, Instant)> = HashMap::new();
        let mut out: Vec<Option<Answer>> = (0..total).map(|_| None).collect();
        let mut done = 0;
        while done < total {
            while in_flight.len() < window.max(1) {
                let Some((i, request)) = queue.next() else {
                    break;
                };
                let sent = Instant::now();
                let id = self
                    .swarm
                    .behaviour_mut()
                    .send_request(&self.peer, ClientRequest::V0(request));
                in_flight.insert(id, (i, sent));
            }
            let event = tokio::time::timeout(REQUEST_DEADLINE, self.swarm.select_next_some())
                .await
                .context("the node did not answer within 60 s")?;
            match event {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message:
                        Message::Response {
                            request_id,
                            response: ClientResponse::V0(response),
                        },
                    ..
                }) => {
                    let at = Instant::now();
                    let Some((i, sent)) = in_flight.remove(&request_id) else {
                        continue;
                    };
                    if let ClientResponseV0::Error { kind, message } = &response {
                        bail!("the node refused request {i}: {kind:?}: {message}");
                    }
                    out[i] = Some(Answer {
                        took: at - sent,
                        at,
                        response,
                    });
                    done += 1;
                }
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => bail!("request failed: {error}"),
                SwarmEvent::ConnectionClosed {
                    peer_id,
                    num_established: 0,
                    ..
                } if peer_id == self.peer && !in_flight.is_empty() => {
                    bail!("the node closed the connection with requests in flight")
                }
                _ => {}
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}
