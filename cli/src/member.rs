//! The member side of the CLI: the member's key and profile in the home directory, the
//! offline queue, and requests to nodes over libp2p (Noise-authenticated with the member key).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use protocol::event::SignedEvent;
use protocol::ids::{PublicKey, SecretKey};
use protocol::wire::{ClientRequestV0, ClientResponseV0, NodeContact, Profile};
use serde::{Deserialize, Serialize};

/// What `join` keeps in the home directory besides the key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Saved {
    pub(crate) profile: Profile,
    pub(crate) nodes: Vec<NodeContact>,
}

/// The member's home directory.
pub(crate) struct Home {
    dir: PathBuf,
}

impl Home {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("member.key")
    }

    fn queue_dir(&self) -> PathBuf {
        self.dir.join("queue")
    }

    /// The member key, created on first use.
    pub(crate) fn key_or_create(&self) -> anyhow::Result<SecretKey> {
        if self.key_path().exists() {
            return self.key();
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| tr!("creating-dir", path = self.dir.display().to_string()))?;
        let key = SecretKey::generate();
        write_atomic(&self.key_path(), &key.to_bytes())?;
        Ok(key)
    }

    pub(crate) fn key(&self) -> anyhow::Result<SecretKey> {
        let path = self.key_path();
        let bytes = std::fs::read(&path).map_err(|_| {
            anyhow::anyhow!(tr!("no-member-key", dir = self.dir.display().to_string()))
        })?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!(tr!("damaged-file", path = path.display().to_string())))?;
        Ok(SecretKey::from_bytes(bytes))
    }

    pub(crate) fn saved(&self) -> anyhow::Result<Saved> {
        let path = self.dir.join("profile.json");
        let text = std::fs::read_to_string(&path).map_err(|_| {
            anyhow::anyhow!(tr!("not-joined", dir = self.dir.display().to_string()))
        })?;
        serde_json::from_str(&text)
            .with_context(|| tr!("damaged-file", path = path.display().to_string()))
    }

    pub(crate) fn save(&self, saved: &Saved) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join("profile.json"),
            serde_json::to_string_pretty(saved)?.as_bytes(),
        )
    }

    /// Puts a signed event in the queue, durably, before any attempt to send it.
    pub(crate) fn enqueue(&self, event: &SignedEvent) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.queue_dir())?;
        write_atomic(
            &self.queue_dir().join(format!("{}.event", event.id())),
            event.as_bytes(),
        )
    }

    pub(crate) fn dequeue(&self, event: &SignedEvent) -> anyhow::Result<()> {
        let path = self.queue_dir().join(format!("{}.event", event.id()));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(e).with_context(|| tr!("removing-file", path = path.display().to_string()))
            }
        }
    }

    /// Queued events, oldest first. Unreadable files are skipped and reported.
    pub(crate) fn queued(&self) -> Vec<SignedEvent> {
        let Ok(entries) = std::fs::read_dir(self.queue_dir()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "event") {
                continue;
            }
            match std::fs::read(&path)
                .ok()
                .and_then(|b| SignedEvent::decode(&b).ok())
            {
                Some(ev) => out.push(ev),
                None => eprintln!(
                    "tejido: {}",
                    tr!(
                        "skipping-damaged-queue-file",
                        path = path.display().to_string()
                    )
                ),
            }
        }
        out.sort_by_key(|e| e.event().at);
        out
    }
}

/// Writes a file readable by its owner only: temporary file, fsync, rename, fsync directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| tr!("writing-file", path = tmp.display().to_string()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
        .with_context(|| tr!("writing-file", path = path.display().to_string()))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

pub(crate) use daemon::net::request_all;

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
pub(crate) struct Delivery {
    /// Nodes that stored them (flushed to disk).
    pub(crate) stored_by: Vec<PublicKey>,
    /// Nodes that refused them, with why.
    pub(crate) refused: Vec<(PublicKey, String)>,
    /// Nodes that could not be reached.
    pub(crate) unreachable: Vec<(PublicKey, String)>,
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
            Err(e) => delivery.unreachable.push((node, e.to_string())),
        }
    }
    if !delivery.stored_by.is_empty()
        || (delivery.unreachable.is_empty() && !delivery.refused.is_empty())
    {
        for event in &events {
            home.dequeue(event)?;
        }
    }
    // A stable order: the output says which nodes, not which answered first.
    delivery.stored_by.sort();
    Ok(delivery)
}
