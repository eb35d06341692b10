//! Prometheus metrics over HTTP on a loopback address (`--metrics`, off by default). The node
//! loop takes a [`Snapshot`] of its figures every watch tick and [`render`]s it; this task
//! serves the latest rendering to whoever asks, and nothing else.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a client may take to send its request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves the latest metrics text until the node loop drops its sender: HTTP/1.1 by hyper,
/// one request per connection, every path answering the metrics.
pub(crate) async fn serve(listener: TcpListener, mut latest: watch::Receiver<String>) {
    loop {
        let accepted = tokio::select! {
            changed = latest.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let latest = latest.clone();
        tokio::spawn(async move {
            let answer = service_fn(move |_: Request<Incoming>| {
                let body = latest.borrow().clone();
                async move {
                    Response::builder()
                        .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                        .body(Full::new(Bytes::from(body)))
                }
            });
            // A malformed request is answered 400 by hyper; either way the connection ends.
            let _ = http1::Builder::new()
                .keep_alive(false)
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), answer)
                .await;
        });
    }
}

/// The node's figures at one moment.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) peers_connected: u64,
    pub(crate) documents: u64,
    pub(crate) events_by_collection: std::collections::BTreeMap<String, u64>,
    pub(crate) changes_applied: u64,
    pub(crate) changes_rejected: u64,
    pub(crate) gossip_accepted: u64,
    pub(crate) gossip_rejected: u64,
    pub(crate) refused_connections: u64,
    pub(crate) throttled_requests: u64,
    pub(crate) peer_faults: u64,
    pub(crate) peers_suspended: u64,
    pub(crate) roster_additions: u64,
    pub(crate) cloned_keys: u64,
    pub(crate) sync_in_flight: u64,
    pub(crate) control_queue: u64,
    pub(crate) store_bytes: u64,
    /// Per document, the connected nodes whose last summary differs from ours.
    pub(crate) sync_lag: Vec<(String, u64)>,
    /// Per bridge: deliveries, failures, skipped and pending notifications.
    pub(crate) bridges: Vec<protocol::control::BridgeStatus>,
}

/// The Prometheus text of a snapshot.
pub(crate) fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let one = |v: u64| vec![(String::new(), v)];
    metric(
        &mut out,
        "tejido_peers_connected",
        "gauge",
        "Trusted nodes connected now.",
        &one(s.peers_connected),
    );
    metric(
        &mut out,
        "tejido_documents",
        "gauge",
        "Documents held.",
        &one(s.documents),
    );
    let samples: Vec<(String, u64)> = s
        .events_by_collection
        .iter()
        .map(|(c, n)| (format!("{{collection=\"{c}\"}}"), *n))
        .collect();
    metric(
        &mut out,
        "tejido_events",
        "gauge",
        "Signed events held, by collection.",
        &samples,
    );
    metric(
        &mut out,
        "tejido_changes_applied_total",
        "counter",
        "Submits and sync messages that added events.",
        &one(s.changes_applied),
    );
    metric(
        &mut out,
        "tejido_gossip_messages_total",
        "counter",
        "Gossiped alerts validated, by verdict (rejected ones are never forwarded).",
        &[
            ("{verdict=\"accepted\"}".to_string(), s.gossip_accepted),
            ("{verdict=\"rejected\"}".to_string(), s.gossip_rejected),
        ],
    );
    metric(
        &mut out,
        "tejido_changes_rejected_total",
        "counter",
        "Events or sync messages refused as invalid.",
        &one(s.changes_rejected),
    );
    metric(
        &mut out,
        "tejido_connections_refused_total",
        "counter",
        "Connections closed because the peer is not in the roster.",
        &one(s.refused_connections),
    );
    metric(
        &mut out,
        "tejido_requests_throttled_total",
        "counter",
        "Client requests refused by the rate limit.",
        &one(s.throttled_requests),
    );
    metric(
        &mut out,
        "tejido_peer_faults_total",
        "counter",
        "Faults counted against peer nodes (invalid messages, contained crashes).",
        &one(s.peer_faults),
    );
    metric(
        &mut out,
        "tejido_roster_additions_total",
        "counter",
        "Organisations, nodes and admins that appeared in the roster since start.",
        &one(s.roster_additions),
    );
    metric(
        &mut out,
        "tejido_cloned_keys_total",
        "counter",
        "Keys seen in use on two devices (two events under one sequence number) since start.",
        &one(s.cloned_keys),
    );
    metric(
        &mut out,
        "tejido_peers_suspended",
        "gauge",
        "Peer nodes suspended after repeated faults.",
        &one(s.peers_suspended),
    );
    metric(
        &mut out,
        "tejido_sync_requests_in_flight",
        "gauge",
        "Sync exchanges waiting for a peer's answer.",
        &one(s.sync_in_flight),
    );
    metric(
        &mut out,
        "tejido_control_queue_depth",
        "gauge",
        "Operator commands waiting for the node loop.",
        &one(s.control_queue),
    );
    metric(
        &mut out,
        "tejido_store_bytes",
        "gauge",
        "Size of the store on disk.",
        &one(s.store_bytes),
    );
    let lag: Vec<(String, u64)> = s
        .sync_lag
        .iter()
        .map(|(doc, n)| (format!("{{doc=\"{doc}\"}}"), *n))
        .collect();
    metric(
        &mut out,
        "tejido_sync_lag_peers",
        "gauge",
        "Connected nodes whose last summary of the document differs from ours.",
        &lag,
    );
    // Bridge names are slugs, so they need no escaping in a label.
    let per_bridge = |f: fn(&protocol::control::BridgeStatus) -> u64| -> Vec<(String, u64)> {
        s.bridges
            .iter()
            .map(|b| (format!("{{bridge=\"{}\"}}", b.name), f(b)))
            .collect()
    };
    metric(
        &mut out,
        "tejido_bridge_deliveries_total",
        "counter",
        "Alerts a bridge delivered outside the network since start.",
        &per_bridge(|b| b.delivered),
    );
    metric(
        &mut out,
        "tejido_bridge_failures_total",
        "counter",
        "Delivery attempts of a bridge that failed since start (each is retried).",
        &per_bridge(|b| b.failed),
    );
    metric(
        &mut out,
        "tejido_bridge_pending",
        "gauge",
        "Notifications of a bridge waiting in the outbox.",
        &per_bridge(|b| b.pending as u64),
    );
    out
}

/// Appends one metric with its help and type lines.
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for (labels, value) in samples {
        out.push_str(&format!("{name}{labels} {value}\n"));
    }
}
