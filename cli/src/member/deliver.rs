//! Sending to nodes: a signed record goes to every known node at once (and stays queued on
//! the device until one stores it); a query goes to the known nodes one by one until one
//! answers.

use client::net::{request_all, NodeError};
use protocol::event::SignedEvent;
use protocol::ids::{PublicKey, SecretKey};
use protocol::wire::{ClientRequestV0, ClientResponseV0, NodeContact};

use super::home::{self, Home, Saved};
use crate::output::{self, Printer};
use crate::Exit;

/// Records sent in one request when the queue is flushed.
const QUEUE_BATCH: usize = 32;

/// Sends a query to the known nodes one by one until one answers.
pub(crate) async fn query(
    key: &SecretKey,
    nodes: &[NodeContact],
    request: ClientRequestV0,
) -> anyhow::Result<ClientResponseV0> {
    let mut errors = Vec::new();
    for node in nodes {
        for (node_key, result) in
            request_all(key, std::slice::from_ref(node), request.clone()).await?
        {
            match result {
                Ok(ClientResponseV0::Error { message, .. }) => anyhow::bail!("{message}"),
                Ok(response) => return Ok(response),
                Err(e) => errors.push(format!("{}: {e}", node_key.fmt_short())),
            }
        }
    }
    Err(Unreachable(errors.join("; ")).into())
}

/// No known node could be reached.
#[derive(Debug)]
pub(crate) struct Unreachable(pub(crate) String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&tr!("no-node-could-be-reached", errors = self.0.as_str()))
    }
}

impl std::error::Error for Unreachable {}

/// The outcome of sending signed events to every known node.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// Nodes that stored them (flushed to disk).
    pub(crate) stored_by: Vec<PublicKey>,
    /// Nodes that refused them, with why.
    pub(crate) refused: Vec<(PublicKey, String)>,
    /// Nodes that could not be reached.
    pub(crate) unreachable: Vec<(PublicKey, NodeError)>,
}

/// Sends events to every known node; removes them from the queue once a node stored them
/// or refused them for good.
pub(crate) async fn deliver(
    home: &Home,
    key: &SecretKey,
    nodes: &[NodeContact],
    events: Vec<SignedEvent>,
) -> anyhow::Result<Delivery> {
    let results = request_all(
        key,
        nodes,
        ClientRequestV0::Submit {
            events: events.clone(),
        },
    )
    .await?;
    let mut delivery = Delivery {
        stored_by: Vec::new(),
        refused: Vec::new(),
        unreachable: Vec::new(),
    };
    for (node, result) in results {
        match result {
            Ok(ClientResponseV0::Stored { node, .. }) => delivery.stored_by.push(node),
            Ok(ClientResponseV0::Error { message, .. }) => delivery.refused.push((node, message)),
            Ok(_) => delivery.refused.push((node, tr!("unexpected-answer"))),
            Err(e) => delivery.unreachable.push((node, e)),
        }
    }
    if !delivery.stored_by.is_empty()
        || (delivery.unreachable.is_empty() && !delivery.refused.is_empty())
    {
        for event in &events {
            home.dequeue(event).map_err(home::local)?;
        }
    }
    // A stable order: the output says which nodes, not which answered first.
    delivery.stored_by.sort();
    Ok(delivery)
}

/// Sends queued records; best effort, reports what happened on stderr.
pub(crate) async fn flush_queue(home: &Home, key: &SecretKey, saved: &Saved) {
    let queued = home::queued(home);
    for chunk in queued.chunks(QUEUE_BATCH) {
        // Panics may go to any node; everything else only to the member's own.
        let (panics, others): (Vec<SignedEvent>, Vec<SignedEvent>) = chunk
            .iter()
            .cloned()
            .partition(client::home::goes_everywhere);
        if !panics.is_empty() {
            let nodes = saved.nodes_for(&panics[0]);
            if deliver(home, key, &nodes, panics).await.is_err() {
                return;
            }
        }
        if others.is_empty() {
            continue;
        }
        match deliver(home, key, &saved.own_nodes(), others).await {
            Ok(d) if !d.stored_by.is_empty() => {
                eprintln!("tejido: {}", tr!("sent-queued", count = chunk.len()));
            }
            Ok(d) => {
                for (node, why) in d.refused {
                    eprintln!(
                        "tejido: {}",
                        tr!(
                            "queued-refused",
                            node = node.fmt_short(),
                            why = output::clean(&why).as_ref()
                        )
                    );
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// Sends the queued records other than `except`, in one request; best effort.
async fn flush_queue_except(home: &Home, key: &SecretKey, saved: &Saved, except: &SignedEvent) {
    let others: Vec<SignedEvent> = home::queued(home)
        .into_iter()
        .filter(|e| e.id() != except.id())
        .collect();
    if others.is_empty() {
        return;
    }
    if let Ok(d) = deliver(home, key, &saved.own_nodes(), others.clone()).await {
        if !d.stored_by.is_empty() {
            eprintln!("tejido: {}", tr!("sent-queued", count = others.len()));
        }
    }
}

/// Queues a signed record on the device, then sends it to every known node: exit 0 if a
/// node stored it, 3 if none could be reached (it stays queued), 1 if every node refused it.
pub(crate) async fn send_record(
    p: &mut Printer<'_>,
    home: &Home,
    key: &SecretKey,
    saved: &Saved,
    event: SignedEvent,
    what: &str,
) -> anyhow::Result<Exit> {
    home.enqueue(&event).map_err(home::local)?;
    flush_queue_except(home, key, saved, &event).await;
    let nodes = saved.nodes_for(&event);
    let delivery = deliver(home, key, &nodes, vec![event.clone()]).await?;
    output::delivery(p, what, &event, &delivery, nodes.len())?;
    if !delivery.stored_by.is_empty() {
        Ok(Exit::Ok)
    } else if delivery.unreachable.is_empty() {
        Ok(Exit::Error)
    } else {
        Ok(Exit::Queued)
    }
}
