//! [`NodesOnly`]: a behaviour that exists only on connections with the network's nodes.
//!
//! The gate (`allow_block_list`) admits everyone in the roster: members, whose devices speak
//! the client protocol, and the one-time identities of pending invites, which may only redeem.
//! Being admitted is not being a node. Everything that only nodes may use (sync, gossip,
//! identify, the relay and hole punching) sits behind this wrapper: on a connection with any
//! other peer it installs libp2p's dummy handler, so none of those protocols is even offered
//! (the peer's attempts fail as "unsupported"), and the inner behaviour never learns that the
//! connection exists. In particular gossipsub never hears a non-node's subscription, so it can
//! put such a peer in no mesh or fanout and send it nothing.
//!
//! Which peers are nodes is told from outside ([`NodesOnly::set_nodes`], from the roster).
//! A connection keeps the handler it was opened with, so when a peer's standing changes its
//! connections are closed and it reconnects as what it now is (a revoked node is refused at
//! the gate anyway).
//!
//! gossipsub's own `blacklist_peer` was not enough for this: it stops a peer's messages and
//! our subscription announcement, but a blacklisted peer that subscribes is still added to the
//! topic and may be grafted into the mesh (libp2p-gossipsub 0.50, `handle_received_subscriptions`).

use std::collections::{HashMap, HashSet, VecDeque};
use std::task::{Context, Poll, Waker};

use either::Either;
use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::swarm::{
    behaviour::ConnectionEstablished, dummy, CloseConnection, ConnectionClosed, ConnectionDenied,
    ConnectionId, FromSwarm, NetworkBehaviour, NotifyHandler, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use tracing::debug;

/// `inner`, for the peers in the node set only (see the module doc).
pub(crate) struct NodesOnly<B> {
    inner: B,
    /// The peers that get the inner behaviour on their connections.
    nodes: HashSet<PeerId>,
    /// Every connection a handler was made for, its peer, and whether it is the inner
    /// behaviour's. Bounded by the connection limits.
    connections: HashMap<ConnectionId, (PeerId, bool)>,
    /// Connections whose peer changed standing, to be closed.
    closing: VecDeque<(PeerId, ConnectionId)>,
    waker: Option<Waker>,
}

impl<B> NodesOnly<B> {
    /// `inner`, serving nobody until [`NodesOnly::set_nodes`] names the nodes.
    pub(crate) fn new(inner: B) -> Self {
        Self {
            inner,
            nodes: HashSet::new(),
            connections: HashMap::new(),
            closing: VecDeque::new(),
            waker: None,
        }
    }

    /// The peers served from now on. Open connections whose peer changed standing are
    /// closed, so that each reconnects with the handler it is now due.
    pub(crate) fn set_nodes(&mut self, nodes: HashSet<PeerId>) {
        for (id, (peer, served)) in &self.connections {
            if *served != nodes.contains(peer) && !self.closing.contains(&(*peer, *id)) {
                debug!(%peer, now_a_node = !*served, "closing a connection whose peer changed standing");
                self.closing.push_back((*peer, *id));
            }
        }
        self.nodes = nodes;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn is_served(&self, id: ConnectionId) -> bool {
        self.connections.get(&id).is_some_and(|(_, served)| *served)
    }

    /// The inner behaviour's connections with `peer`, leaving out `except`.
    fn served_with(&self, peer: PeerId, except: Option<ConnectionId>) -> Vec<ConnectionId> {
        self.connections
            .iter()
            .filter(|(id, (p, served))| *served && *p == peer && Some(**id) != except)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Records a new connection and picks its handler.
    fn choose<H>(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        make: impl FnOnce(&mut B) -> Result<H, ConnectionDenied>,
    ) -> Result<Either<H, dummy::ConnectionHandler>, ConnectionDenied> {
        if self.nodes.contains(&peer) {
            let handler = make(&mut self.inner)?;
            self.connections.insert(id, (peer, true));
            Ok(Either::Left(handler))
        } else {
            self.connections.insert(id, (peer, false));
            Ok(Either::Right(dummy::ConnectionHandler))
        }
    }
}

impl<B> std::ops::Deref for NodesOnly<B> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.inner
    }
}

impl<B> std::ops::DerefMut for NodesOnly<B> {
    fn deref_mut(&mut self) -> &mut B {
        &mut self.inner
    }
}

impl<B: NetworkBehaviour> NetworkBehaviour for NodesOnly<B> {
    type ConnectionHandler = Either<THandler<B>, dummy::ConnectionHandler>;
    type ToSwarm = B::ToSwarm;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.choose(id, peer, |inner| {
            inner.handle_established_inbound_connection(id, peer, local_addr, remote_addr)
        })
    }

    fn handle_pending_outbound_connection(
        &mut self,
        id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner
            .handle_pending_outbound_connection(id, maybe_peer, addresses, effective_role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.choose(id, peer, |inner| {
            inner.handle_established_outbound_connection(id, peer, addr, role_override, port_use)
        })
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        // The inner behaviour hears of its own connections only, and counts only those.
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                if self.is_served(e.connection_id) {
                    let other = self.served_with(e.peer_id, Some(e.connection_id)).len();
                    self.inner.on_swarm_event(FromSwarm::ConnectionEstablished(
                        ConnectionEstablished {
                            other_established: other,
                            ..e
                        },
                    ));
                }
            }
            FromSwarm::ConnectionClosed(e) => {
                let served = self.is_served(e.connection_id);
                self.connections.remove(&e.connection_id);
                if served {
                    let remaining = self.served_with(e.peer_id, None).len();
                    self.inner
                        .on_swarm_event(FromSwarm::ConnectionClosed(ConnectionClosed {
                            remaining_established: remaining,
                            ..e
                        }));
                }
            }
            FromSwarm::AddressChange(e) => {
                if self.is_served(e.connection_id) {
                    self.inner.on_swarm_event(event);
                }
            }
            // A connection refused by a later behaviour never becomes established. The
            // failure goes to the inner behaviour either way: it may have dialled.
            FromSwarm::DialFailure(e) => {
                self.connections.remove(&e.connection_id);
                self.inner.on_swarm_event(event);
            }
            FromSwarm::ListenFailure(e) => {
                self.connections.remove(&e.connection_id);
                self.inner.on_swarm_event(event);
            }
            _ => self.inner.on_swarm_event(event),
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            Either::Left(event) => self.inner.on_connection_handler_event(peer, id, event),
            Either::Right(never) => match never {},
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        if let Some((peer_id, id)) = self.closing.pop_front() {
            return Poll::Ready(ToSwarm::CloseConnection {
                peer_id,
                connection: CloseConnection::One(id),
            });
        }
        while let Poll::Ready(event) = self.inner.poll(cx) {
            let event = match event {
                // Only the inner behaviour's own handlers may be told anything: a dummy
                // handler cannot take the event, and the peer is no node.
                ToSwarm::NotifyHandler {
                    peer_id,
                    handler,
                    event,
                } => {
                    let target = match handler {
                        NotifyHandler::One(id) => self.is_served(id).then_some(id),
                        NotifyHandler::Any => self.served_with(peer_id, None).into_iter().next(),
                    };
                    let Some(id) = target else {
                        debug!(peer = %peer_id, "dropped an event for a connection it does not serve");
                        continue;
                    };
                    ToSwarm::NotifyHandler {
                        peer_id,
                        handler: NotifyHandler::One(id),
                        event: Either::Left(event),
                    }
                }
                other => other.map_in(Either::Left),
            };
            return Poll::Ready(event);
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
