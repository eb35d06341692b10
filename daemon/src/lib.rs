//! tejidod, the Tejido node, as a library: everything testable lives here and `main.rs` only
//! parses arguments, installs tracing and calls [`run`].
//!
//! # Layout
//! - `at_rest`: optional encryption of everything stored, under a passphrase (Argon2id).
//! - `bridge`: the `[[bridge]]` entries of `config.toml`, what a bridge says about an alert
//!   and how it delivers it (email, webhook, a program); the outbox is `node::bridges`.
//! - `backup`: one file of keys, configuration and documents under a passphrase; restoring it
//!   into a new data directory.
//! - `format`: the data directory's format version; refusing newer ones, migrating older ones.
//! - `config`: arguments and `config.toml` to a validated [`config::Config`]; first-start init.
//! - `store`: sled: document chunks and invites; writes are flushed once per turn of the node
//!   loop, before any client or operator is told they are stored.
//! - `engine`: documents in memory, the folded roster, submit, import, retention; `engine::views`
//!   folds what operators and members see. Takes the time as an argument.
//! - `sync`: the sync session between nodes, a state machine with no I/O.
//! - `heap`: gives the allocator's free memory back to the system after start-up and on ticks.
//! - `limiter`, `dialer`: token buckets and dial back-off, with time passed in.
//! - `gossip`: the gossipsub configuration of the alert fast path.
//! - `net`: the libp2p behaviour (trust gate first, then the protocols served to active nodes
//!   only, `net::nodes_only`), the node's swarm; re-exports the client pieces (key <-> peer
//!   id, `request_all`) from the `client` crate.
//! - `node`: the one task that owns the swarm; handlers by subject return actions.
//! - `control`: the operator socket (JSON lines over a 0600 Unix socket); its client side is
//!   `client::control`, re-exported.
//! - `readable`: `export-doc`'s documents for other automerge tools (plain values).
//! - `metrics`: Prometheus text over HTTP on loopback, when `--metrics` asks for it.
//! - `sim`: a deterministic simulator of many nodes' sync sessions and documents in virtual
//!   time (the benchmark's simulated network).
//! - `wipe`: destroying a data directory on request (`client::wipe`, re-exported).

pub mod at_rest;
pub mod backup;
pub mod bridge;
pub mod config;
pub mod control;
mod dialer;
mod engine;
pub mod format;
pub mod gossip;
mod heap;
mod limiter;
mod metrics;
pub mod net;
mod node;
mod readable;
pub mod sim;
mod store;
mod sync;
pub mod wipe;

use anyhow::Context;
use tokio::sync::mpsc;
use tracing::Instrument;

/// Runs a node until `shutdown` resolves or an operator asks it to stop.
pub async fn run(
    config: config::Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let me = config.node_key.public();
    let span = tracing::error_span!("node", me = %me.fmt_short());
    async move {
        let mut engine = engine::Engine::open(&config.store_dir(), config.at_rest.clone())?;
        engine.set_retention(config.retention);
        let dropped = engine.apply_retention(protocol::ids::Timestamp::now())?;
        if !dropped.is_empty() {
            tracing::info!(
                documents = dropped.len(),
                "dropped documents past retention"
            );
        }
        if engine.roster().network.is_none() {
            let admin = config
                .admin_key
                .as_ref()
                .context("a new node needs its admin key (admin.key) for the network's genesis")?;
            engine
                .genesis(
                    admin,
                    me,
                    &config.network,
                    &config.org,
                    config.consent,
                    protocol::ids::Timestamp::now(),
                )
                .context("creating the network's first roster")?;
        }
        engine.flush()?;
        // What the documents' load freed stays resident otherwise (`heap`).
        heap::give_back();
        let listener = control::bind(&config.socket_path())?;
        let mut node = node::Node::new(&config, engine)?;
        if let Some(addr) = config.metrics {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the metrics address {addr}"))?;
            let bound = listener.local_addr()?;
            let (tx, rx) = tokio::sync::watch::channel(String::new());
            node.set_metrics(tx, bound);
            tokio::spawn(metrics::serve(listener, rx).in_current_span());
            tracing::info!(%bound, "serving metrics");
        }
        let (tx, rx) = mpsc::channel(node::CONTROL_CHANNEL_CAP);
        tokio::spawn(control::serve(listener, tx).in_current_span());
        if config.fresh {
            print_welcome(&config);
        }
        tracing::info!(org = %config.org, "node started");
        node.run(rx, shutdown).await;
        let _ = std::fs::remove_file(config.socket_path());
        Ok(())
    }
    .instrument(span)
    .await
}

fn print_welcome(config: &config::Config) {
    let dir = config.data_dir.display();
    println!("Initialised a new Tejido node in {dir}");
    println!("  node id:      {}", config.node_key.public());
    println!("  organisation: {}", config.org);
    println!();
    println!("Next steps, in another terminal:");
    println!("  tejido --data-dir {dir} status");
    println!("  tejido --data-dir {dir} invite member --name NAME [--role security-contact] [--region REGION]");
    println!("and give the code it prints to the member, who runs: tejido join CODE");
}
