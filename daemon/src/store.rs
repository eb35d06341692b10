//! The node's durable state: document chunks, invites and the rest in sled, full saves in files.
//!
//! A document is stored as a full save and a sequence of automerge chunks after it. The
//! chunks live under `doc_id 0x00 seq` in the `chunks` tree: each accepted change appends the
//! incremental save since the previous heads. The full save lives in a file of its own,
//! `saves/HEX` in the store's directory (HEX: the document id's bytes in hex), sealed as
//! every stored value is: sled keeps every value it read in its page cache for the life of
//! the process, and a month's save is megabytes (16.6 MB held after start-up, measured), read
//! once at start-up and needed again only when a cold document warms.
//!
//! Compaction writes the new full save to its file (written to a temporary file, synced and
//! renamed over the old one, so the file is always a whole save) before it removes the
//! chunks, which the save contains: a crash between the two leaves chunks already in the
//! save, which loading applies again without effect. Stores of data format 2 held their full
//! save as the first chunk; [`move_first_chunks`] moves it to the file.
//!
//! Writes are not flushed one by one: a flush (fsync) is the dearest thing a node does, and
//! most turns of the node loop make several writes. Every write marks the store dirty, and
//! [`Store::flush`] puts everything written so far on disk. The node loop flushes once per
//! turn, before it tells any client or operator that something is stored (`node/mod.rs`), so a
//! crash can only lose writes made since the last flush, which nobody was told about (peers
//! may hold them, and give them back by sync).

use std::path::Path;

use anyhow::Context;
use protocol::ids::DocId;
use serde::{Deserialize, Serialize};

mod saves;
pub(crate) use saves::move_first_chunks;

/// Chunks per document before they are merged into one full save. Start-up applies each
/// chunk after the first with a pass over the document so far; each compaction costs a full
/// save, which at one event per write and 32 chunks more than doubled the K = 10000 figures.
const COMPACT_AFTER_CHUNKS: u64 = 256;

/// The directory of the documents' full saves, in the store's directory.
const SAVES_DIR: &str = "saves";

/// Documents with their automerge heads, as an export recorded them.
pub(crate) type DocHeads = Vec<(DocId, Vec<[u8; 32]>)>;

/// A store entry outside the document chunks, in the clear: (tree, key, value).
pub(crate) type Entry = (String, Vec<u8>, Vec<u8>);

/// A pending invite, keyed by its one-time identity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct InviteRecord {
    pub(crate) kind: protocol::wire::InviteKind,
    pub(crate) name: String,
    pub(crate) role: protocol::event::Role,
    pub(crate) region: Option<String>,
    pub(crate) expires: protocol::ids::Timestamp,
    /// For a device's invite: the person it joins as (`InviteKind::Device`).
    pub(crate) device: Option<DeviceInvite>,
}

/// What a device's invite adds: a device of `person`, asked for by one of their devices
/// (`grant`, the signed `DeviceGrant`) or by an admin moving them (`replaces`, the key the
/// redemption revokes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct DeviceInvite {
    pub(crate) person: protocol::ids::PublicKey,
    pub(crate) grant: Option<Vec<u8>>,
    pub(crate) replaces: Option<protocol::ids::PublicKey>,
}

/// An invite as stores before devices wrote it (no `device`): still read.
#[derive(Deserialize)]
struct InviteRecordV1 {
    kind: protocol::wire::InviteKind,
    name: String,
    role: protocol::event::Role,
    region: Option<String>,
    expires: protocol::ids::Timestamp,
}

impl InviteRecord {
    fn decode(bytes: &[u8]) -> Option<Self> {
        if let Ok(invite) = postcard::from_bytes(bytes) {
            return Some(invite);
        }
        let old: InviteRecordV1 = postcard::from_bytes(bytes).ok()?;
        Some(Self {
            kind: old.kind,
            name: old.name,
            role: old.role,
            region: old.region,
            expires: old.expires,
            device: None,
        })
    }
}

/// A notification a bridge owes: kept until it is delivered (and its `Notified` event stored
/// in the same turn) or no longer owed, so that a crash or restart loses none. Keyed by alert
/// and bridge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct OutboxEntry {
    /// The alert.
    pub(crate) alert: protocol::ids::RecordId,
    /// The alert's document (its receipts document gets the `Notified` event).
    pub(crate) doc: DocId,
    /// The bridge's name.
    pub(crate) bridge: String,
    /// When this node claimed it (signed its `Notified` claim).
    pub(crate) claimed_at: protocol::ids::Timestamp,
    /// Delivery attempts so far.
    pub(crate) attempts: u32,
    /// Not before this time (the claims' wait, then back-off).
    pub(crate) next_at: protocol::ids::Timestamp,
    /// Why the last attempt failed.
    pub(crate) last_error: Option<String>,
}

impl OutboxEntry {
    /// The entry's key: the alert's id and the bridge's name.
    pub(crate) fn key(&self) -> Vec<u8> {
        let mut key = self.alert.0.to_vec();
        key.extend_from_slice(self.bridge.as_bytes());
        key
    }
}

/// The sled database of one node, and the files of its documents' full saves.
pub(crate) struct Store {
    db: sled::Db,
    /// The directory of the full saves (`saves/` in the store's directory).
    saves: std::path::PathBuf,
    chunks: sled::Tree,
    invites: sled::Tree,
    meta: sled::Tree,
    outbox: sled::Tree,
    /// Seals values before they are written, when the data directory is encrypted.
    at_rest: Option<std::sync::Arc<crate::at_rest::AtRest>>,
    /// Next chunk sequence number and chunk count per document, to decide on compaction.
    next_seq: std::collections::HashMap<DocId, (u64, u64)>,
    /// Something was written since the last flush.
    dirty: bool,
}

/// The document and sequence number of a chunk's key ([`chunk_key`]).
fn parse_chunk_key(key: &[u8]) -> anyhow::Result<(DocId, u64)> {
    let split = key
        .iter()
        .position(|b| *b == 0)
        .context("corrupt chunk key")?;
    let doc: DocId = std::str::from_utf8(&key[..split])
        .ok()
        .and_then(|s| s.parse().ok())
        .context("corrupt chunk key")?;
    let seq = u64::from_be_bytes(key[split + 1..].try_into().context("corrupt chunk key")?);
    Ok((doc, seq))
}

fn chunk_key(doc: &DocId, seq: u64) -> Vec<u8> {
    let mut key = doc.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

impl Store {
    /// Opens (or creates) the store in `dir`, with a clear error if another process holds it.
    pub(crate) fn open(
        dir: &Path,
        at_rest: Option<std::sync::Arc<crate::at_rest::AtRest>>,
    ) -> anyhow::Result<Self> {
        let db = sled::Config::new().path(dir).open().map_err(|e| match e {
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("lock") =>
            {
                anyhow::anyhow!(
                    "the store {} is in use by another tejidod (it holds the lock)",
                    dir.display()
                )
            }
            other => anyhow::anyhow!("cannot open the store {}: {other}", dir.display()),
        })?;
        let chunks = db.open_tree("chunks").context("opening chunks")?;
        let invites = db.open_tree("invites").context("opening invites")?;
        let meta = db.open_tree("meta").context("opening meta")?;
        let outbox = db.open_tree("outbox").context("opening outbox")?;
        let saves = dir.join(SAVES_DIR);
        std::fs::create_dir_all(&saves).with_context(|| format!("creating {}", saves.display()))?;
        Ok(Self {
            db,
            saves,
            chunks,
            invites,
            meta,
            outbox,
            at_rest,
            next_seq: Default::default(),
            dirty: false,
        })
    }

    /// Every document's full save and chunks, in order.
    pub(crate) fn load_docs(&mut self) -> anyhow::Result<Vec<(DocId, Vec<Vec<u8>>)>> {
        let mut out: Vec<(DocId, Vec<Vec<u8>>)> = Vec::new();
        for doc in self.saved_docs()? {
            let save = self.read_save(&doc)?.context("a full save went missing")?;
            self.next_seq.insert(doc.clone(), (0, 1));
            out.push((doc, vec![save]));
        }
        let saved: std::collections::HashMap<DocId, usize> = out
            .iter()
            .enumerate()
            .map(|(i, (doc, _))| (doc.clone(), i))
            .collect();
        let mut last: Option<usize> = None;
        for item in self.chunks.iter() {
            let (key, value) = item.context("reading chunks")?;
            let (doc, seq) = parse_chunk_key(&key)?;
            let entry = self.next_seq.entry(doc.clone()).or_insert((0, 0));
            *entry = (seq + 1, entry.1 + 1);
            let chunk = self.open_value(&value)?;
            let at = match last {
                Some(i) if out[i].0 == doc => i,
                _ => match saved.get(&doc) {
                    Some(i) => *i,
                    None => {
                        out.push((doc, Vec::new()));
                        out.len() - 1
                    }
                },
            };
            out[at].1.push(chunk);
            last = Some(at);
        }
        Ok(out)
    }

    /// Appends a chunk to a document (not flushed). Returns whether the document now has
    /// enough chunks to be worth compacting.
    pub(crate) fn append_chunk(&mut self, doc: &DocId, chunk: &[u8]) -> anyhow::Result<bool> {
        let value = self.seal(chunk)?;
        let entry = self.next_seq.entry(doc.clone()).or_insert((0, 0));
        let seq = entry.0;
        self.chunks
            .insert(chunk_key(doc, seq), value)
            .context("writing chunk")?;
        *entry = (seq + 1, entry.1 + 1);
        let compact = entry.1 >= COMPACT_AFTER_CHUNKS;
        self.dirty = true;
        Ok(compact)
    }

    /// A batch removing every chunk of a document.
    fn removal(&self, doc: &DocId) -> anyhow::Result<sled::Batch> {
        let mut prefix = doc.as_str().as_bytes().to_vec();
        prefix.push(0);
        let mut batch = sled::Batch::default();
        for item in self.chunks.scan_prefix(&prefix) {
            let (key, _) = item.context("reading chunks")?;
            batch.remove(key);
        }
        Ok(batch)
    }

    /// Replaces a document's save and chunks by one full save: the save's file is on disk
    /// when this returns, the chunks' removal at the next flush (see the module doc).
    pub(crate) fn compact(&mut self, doc: &DocId, full: &[u8]) -> anyhow::Result<()> {
        self.write_save(doc, full)?;
        let batch = self.removal(doc)?;
        self.chunks.apply_batch(batch).context("compacting")?;
        let entry = self.next_seq.entry(doc.clone()).or_insert((0, 0));
        entry.1 = 1;
        self.dirty = true;
        Ok(())
    }

    /// One document's full save and chunks, in order.
    pub(crate) fn load_doc(&self, doc: &DocId) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut prefix = doc.as_str().as_bytes().to_vec();
        prefix.push(0);
        let mut out: Vec<Vec<u8>> = self.read_save(doc)?.into_iter().collect();
        for item in self.chunks.scan_prefix(&prefix) {
            let (_, value) = item.context("reading chunks")?;
            out.push(self.open_value(&value)?);
        }
        Ok(out)
    }

    /// How many chunks a document has in the store (0: none).
    pub(crate) fn chunk_count(&self, doc: &DocId) -> u64 {
        self.next_seq.get(doc).map_or(0, |(_, count)| *count)
    }

    /// Removes a document (retention): its chunks, flushed, and then its save's file, so
    /// that a crash never leaves chunks without the save they follow.
    pub(crate) fn remove_doc(&mut self, doc: &DocId) -> anyhow::Result<()> {
        let batch = self.removal(doc)?;
        self.chunks
            .apply_batch(batch)
            .context("removing a document")?;
        self.next_seq.remove(doc);
        self.dirty = true;
        self.flush()?;
        let path = self.save_path(doc);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
        Ok(())
    }

    /// Stores an invite under its one-time identity (not flushed).
    pub(crate) fn put_invite(
        &mut self,
        identity: &protocol::ids::PublicKey,
        invite: &InviteRecord,
    ) -> anyhow::Result<()> {
        let bytes = self.seal(&postcard::to_stdvec(invite)?)?;
        self.invites
            .insert(identity.as_bytes(), bytes)
            .context("writing invite")?;
        self.dirty = true;
        Ok(())
    }

    /// Removes an invite; it cannot be used again (once flushed).
    pub(crate) fn remove_invite(
        &mut self,
        identity: &protocol::ids::PublicKey,
    ) -> anyhow::Result<()> {
        self.invites
            .remove(identity.as_bytes())
            .context("removing invite")?;
        self.dirty = true;
        Ok(())
    }

    /// Every pending invite.
    pub(crate) fn invites(&self) -> anyhow::Result<Vec<(protocol::ids::PublicKey, InviteRecord)>> {
        let mut out = Vec::new();
        for item in self.invites.iter() {
            let (key, value) = item.context("reading invites")?;
            let Ok(key): Result<[u8; 32], _> = key.as_ref().try_into() else {
                continue;
            };
            let value = self.open_value(&value)?;
            if let Some(invite) = InviteRecord::decode(&value) {
                out.push((protocol::ids::PublicKey::from_bytes(key), invite));
            }
        }
        Ok(out)
    }

    /// The store's entries besides document chunks (invites, bootstrap peers, bundles
    /// exported and imported) as (tree, key, value), values in the clear: for backups.
    pub(crate) fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for (name, tree) in [("invites", &self.invites), ("meta", &self.meta)] {
            for item in tree.iter() {
                let (key, value) = item.with_context(|| format!("reading {name}"))?;
                // Markers (bootstrap peers, imported bundles) are empty and never sealed.
                let value = if value.is_empty() {
                    Vec::new()
                } else {
                    self.open_value(&value)?
                };
                out.push((name.to_string(), key.to_vec(), value));
            }
        }
        Ok(out)
    }

    /// Writes an entry that [`Store::entries`] returned (not flushed); other trees are
    /// refused.
    pub(crate) fn put_entry(&mut self, tree: &str, key: &[u8], value: &[u8]) -> anyhow::Result<()> {
        let tree = match tree {
            "invites" => &self.invites,
            "meta" => &self.meta,
            other => anyhow::bail!("a backup entry names an unknown tree {other:?}"),
        };
        let sealed = match &self.at_rest {
            Some(at_rest) if !value.is_empty() => at_rest.seal(value)?,
            _ => value.to_vec(),
        };
        tree.insert(key, sealed)
            .context("writing a restored entry")?;
        self.dirty = true;
        Ok(())
    }

    fn seal(&self, value: &[u8]) -> anyhow::Result<Vec<u8>> {
        match &self.at_rest {
            Some(at_rest) => at_rest.seal(value),
            None => Ok(value.to_vec()),
        }
    }

    fn open_value(&self, value: &[u8]) -> anyhow::Result<Vec<u8>> {
        match &self.at_rest {
            Some(at_rest) => at_rest.open_value(value),
            None => Ok(value.to_vec()),
        }
    }

    /// Writes (adds or updates) an outbox entry (not flushed).
    pub(crate) fn put_outbox(&mut self, entry: &OutboxEntry) -> anyhow::Result<()> {
        let bytes = self.seal(&postcard::to_stdvec(entry)?)?;
        self.outbox
            .insert(entry.key(), bytes)
            .context("writing the outbox")?;
        self.dirty = true;
        Ok(())
    }

    /// Removes an outbox entry (not flushed).
    pub(crate) fn remove_outbox(&mut self, key: &[u8]) -> anyhow::Result<()> {
        self.outbox
            .remove(key)
            .context("removing from the outbox")?;
        self.dirty = true;
        Ok(())
    }

    /// Every outbox entry (entries that no longer decode are skipped).
    pub(crate) fn outbox(&self) -> anyhow::Result<Vec<OutboxEntry>> {
        let mut out = Vec::new();
        for item in self.outbox.iter() {
            let (_, value) = item.context("reading the outbox")?;
            if let Ok(entry) = postcard::from_bytes(&self.open_value(&value)?) {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Remembers a peer to dial at every start (the node that admitted this one; not flushed).
    pub(crate) fn add_bootstrap(&mut self, addr: &str) -> anyhow::Result<()> {
        let mut key = b"bootstrap/".to_vec();
        key.extend_from_slice(addr.as_bytes());
        self.meta
            .insert(key, &[])
            .context("writing bootstrap peer")?;
        self.dirty = true;
        Ok(())
    }

    /// Peers remembered by [`Store::add_bootstrap`].
    pub(crate) fn bootstrap(&self) -> Vec<String> {
        self.meta
            .scan_prefix(b"bootstrap/")
            .filter_map(|item| item.ok())
            .filter_map(|(k, _)| String::from_utf8(k[b"bootstrap/".len()..].to_vec()).ok())
            .collect()
    }

    /// Records the heads a bundle carried everything up to, for `export --since BUNDLE` (not
    /// flushed).
    pub(crate) fn put_exported(&mut self, id: &[u8; 16], heads: &DocHeads) -> anyhow::Result<()> {
        let mut key = b"exported/".to_vec();
        key.extend_from_slice(id);
        let value = self.seal(&postcard::to_stdvec(heads)?)?;
        self.meta.insert(key, value).context("recording export")?;
        self.dirty = true;
        Ok(())
    }

    /// The heads an earlier export carried, if this node made it.
    pub(crate) fn exported(&self, id: &[u8; 16]) -> anyhow::Result<Option<DocHeads>> {
        let mut key = b"exported/".to_vec();
        key.extend_from_slice(id);
        let Some(value) = self.meta.get(key).context("reading exports")? else {
            return Ok(None);
        };
        Ok(Some(postcard::from_bytes(&self.open_value(&value)?)?))
    }

    /// Records that a bundle was imported, so that it cannot be replayed (once flushed).
    pub(crate) fn mark_imported(&mut self, id: &[u8; 16]) -> anyhow::Result<()> {
        let mut key = b"bundle/".to_vec();
        key.extend_from_slice(id);
        self.meta.insert(key, &[]).context("recording import")?;
        self.dirty = true;
        Ok(())
    }

    /// Whether a bundle was imported before.
    pub(crate) fn was_imported(&self, id: &[u8; 16]) -> bool {
        let mut key = b"bundle/".to_vec();
        key.extend_from_slice(id);
        self.meta.contains_key(key).unwrap_or(false)
    }

    /// The highest sequence number this node may have given an event of `key`'s (0: none).
    pub(crate) fn seq_reserved(&self, key: &protocol::ids::PublicKey) -> anyhow::Result<u64> {
        let value = self
            .meta
            .get(seq_key(key))
            .context("reading a sequence number")?;
        Ok(value
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Records that `key`'s events may use sequence numbers up to `upto` (not flushed: it is
    /// flushed with the first event that uses one of them, before that event leaves the node).
    pub(crate) fn reserve_seq(
        &mut self,
        key: &protocol::ids::PublicKey,
        upto: u64,
    ) -> anyhow::Result<()> {
        self.meta
            .insert(seq_key(key), &upto.to_be_bytes())
            .context("recording a sequence number")?;
        self.dirty = true;
        Ok(())
    }

    /// Bytes on disk, for status: sled's files and the full saves.
    pub(crate) fn size_on_disk(&self) -> u64 {
        let saves: u64 = std::fs::read_dir(&self.saves)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        self.db.size_on_disk().unwrap_or(0) + saves
    }

    /// Waits until everything written so far is on disk; does nothing when nothing was
    /// written since the last flush. After an error the store stays dirty.
    pub(crate) fn flush(&mut self) -> anyhow::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.db.flush().context("flushing the store")?;
        self.dirty = false;
        Ok(())
    }

    /// [`Store::flush`] without blocking the caller's thread: the flush waits on one of
    /// tokio's blocking threads while the runtime runs other tasks (the connections sending
    /// what the node loop queued, for one). Tokio keeps a task woken by the current one in a
    /// slot no other worker takes from, so a blocking flush on the node task's thread would
    /// hold back the very messages the node sent before it.
    ///
    /// Not sled's `flush_async`: that waits on a thread of sled's own small pool, the pool
    /// that also writes the log, and several stores flushing at once (nodes in one process)
    /// filled it with waiters and stopped every store.
    pub(crate) async fn flush_async(&mut self) -> anyhow::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .context("the flush task")?
            .context("flushing the store")?;
        self.dirty = false;
        Ok(())
    }
}

fn seq_key(key: &protocol::ids::PublicKey) -> Vec<u8> {
    let mut out = b"seq/".to_vec();
    out.extend_from_slice(key.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many stores in one process flushing at once all finish (with sled's own `flush_async`
    /// the waits filled sled's I/O pool and every store stopped). The stores run on a thread
    /// of their own, so that a hang fails the test instead of stopping it.
    #[test]
    fn many_stores_flushing_at_once_all_finish() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let result = runtime.block_on(async {
                let dir = tempfile::tempdir()?;
                let mut stores = (0..48)
                    .map(|i| Store::open(&dir.path().join(format!("s{i}")), None))
                    .collect::<anyhow::Result<Vec<Store>>>()?;
                for round in 0..8u8 {
                    for store in &mut stores {
                        store.append_chunk(&DocId::roster(), &[round; 4096])?;
                    }
                    let flushes = stores.iter_mut().map(|s| s.flush_async());
                    for flushed in futures::future::join_all(flushes).await {
                        flushed?;
                    }
                    anyhow::ensure!(stores.iter().all(|s| !s.dirty), "a store is still dirty");
                }
                Ok(())
            });
            let _ = done.send(result.map_err(|e| format!("{e:#}")));
        });
        let result = finished
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("every flush finishes within 120 s");
        result.expect("every store flushed");
    }
}
