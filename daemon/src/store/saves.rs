//! A document's full save as a file of its own (`saves/HEX` in the store's directory), and
//! the move of format 2's saves out of sled (see the parent module's doc).

use std::path::Path;

use anyhow::Context;
use protocol::ids::DocId;

use super::{parse_chunk_key, Store};

impl Store {
    /// The documents that have a full save file.
    pub(super) fn saved_docs(&self) -> anyhow::Result<Vec<DocId>> {
        let mut docs = Vec::new();
        let entries = std::fs::read_dir(&self.saves)
            .with_context(|| format!("reading {}", self.saves.display()))?;
        for entry in entries {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                // A compaction that did not finish: the chunks it would have replaced are
                // still there.
                let _ = std::fs::remove_file(self.saves.join(&*name));
                continue;
            }
            let doc = data_encoding::HEXLOWER
                .decode(name.as_bytes())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.parse::<DocId>().ok())
                .with_context(|| format!("{} is not a document's save", name))?;
            docs.push(doc);
        }
        docs.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(docs)
    }

    pub(super) fn save_path(&self, doc: &DocId) -> std::path::PathBuf {
        self.saves
            .join(data_encoding::HEXLOWER.encode(doc.as_str().as_bytes()))
    }

    /// A document's full save, if it has one in a file.
    pub(super) fn read_save(&self, doc: &DocId) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.save_path(doc);
        match std::fs::read(&path) {
            Ok(bytes) if self.at_rest.is_none() => Ok(Some(bytes)),
            Ok(bytes) => Ok(Some(self.open_value(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes a document's full save to its file, durably, replacing the old one whole.
    pub(super) fn write_save(&self, doc: &DocId, full: &[u8]) -> anyhow::Result<()> {
        let sealed = self.seal(full)?;
        self.write_save_bytes(doc, &sealed)
    }

    /// [`Store::write_save`] of bytes sealed already.
    fn write_save_bytes(&self, doc: &DocId, sealed: &[u8]) -> anyhow::Result<()> {
        use std::io::Write;
        let path = self.save_path(doc);
        let tmp = path.with_extension("tmp");
        let mut file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(sealed)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        std::fs::File::open(&self.saves)
            .and_then(|dir| dir.sync_all())
            .with_context(|| format!("syncing {}", self.saves.display()))?;
        Ok(())
    }
}

/// Data format 2 to 3: moves each document's first chunk (its full save, or its first change
/// if it never had one) to the document's save file, sealed as it is, and removes it from
/// sled. A document that has a save file already is left alone, so that a migration
/// interrupted after writing a file and before removing its chunk runs again safely (the
/// chunk then loads twice, which changes nothing).
pub(crate) fn move_first_chunks(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let mut store = Store::open(dir, None)?;
    let mut first: Vec<(DocId, sled::IVec, sled::IVec)> = Vec::new();
    for item in store.chunks.iter() {
        let (key, value) = item.context("reading chunks")?;
        let (doc, _) = parse_chunk_key(&key)?;
        if first.last().is_none_or(|(last, _, _)| *last != doc) {
            first.push((doc, key, value));
        }
    }
    let moved = first.len();
    for (doc, key, value) in first {
        if store.save_path(&doc).exists() {
            continue;
        }
        // Written as it is stored: sealed when the directory is encrypted.
        store.write_save_bytes(&doc, &value)?;
        store.chunks.remove(key).context("removing a moved chunk")?;
        store.dirty = true;
    }
    store.flush()?;
    tracing::info!(documents = moved, "full saves moved to their files");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{chunk_key, SAVES_DIR};
    use super::*;

    /// A compaction puts the full save in its file and removes the chunks; the chunks written
    /// after it load after the save; chunks left behind by a crash after the file was written
    /// load again beside it; a removed document leaves neither.
    #[test]
    fn full_saves_live_in_files_and_chunks_follow_them() {
        let dir = tempfile::tempdir().expect("dir");
        let doc: DocId = "checkins/org-a/2026-11".parse().expect("doc id");
        let mut store = Store::open(dir.path(), None).expect("open");
        for i in 0..3u8 {
            store.append_chunk(&doc, &[i; 8]).expect("chunk");
        }
        store.compact(&doc, b"full save").expect("compact");
        store.append_chunk(&doc, b"after").expect("chunk");
        store.flush().expect("flush");
        assert_eq!(store.chunk_count(&doc), 2);
        let files: Vec<_> = std::fs::read_dir(dir.path().join(SAVES_DIR))
            .expect("saves")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        drop(store);

        let mut store = Store::open(dir.path(), None).expect("reopen");
        let loaded = store.load_docs().expect("load");
        let expected = vec![b"full save".to_vec(), b"after".to_vec()];
        assert_eq!(loaded, vec![(doc.clone(), expected.clone())]);
        assert_eq!(store.load_doc(&doc).expect("load one"), expected);
        assert_eq!(store.chunk_count(&doc), 2);

        // A crash after the save's file and before the chunks' removal reached the disk.
        store
            .chunks
            .insert(chunk_key(&doc, 0), &b"stale"[..])
            .expect("stale chunk");
        store.dirty = true;
        store.flush().expect("flush");
        assert_eq!(store.load_doc(&doc).expect("load").len(), 3);

        store.remove_doc(&doc).expect("remove");
        drop(store);
        let mut store = Store::open(dir.path(), None).expect("reopen");
        assert!(store.load_docs().expect("load").is_empty());
        assert_eq!(store.chunk_count(&doc), 0);
    }

    /// Format 2 to 3: each document's first chunk moves, sealed as it was, to its file, and
    /// the documents load as before; an interrupted move runs again without moving twice.
    #[test]
    fn format_two_saves_move_to_their_files() {
        let dir = tempfile::tempdir().expect("dir");
        let a: DocId = "checkins/org-a/2026-11".parse().expect("doc id");
        let b = DocId::roster();
        let mut store = Store::open(dir.path(), None).expect("open");
        // As a format-2 store held them: the save as the first chunk.
        for (doc, chunks) in [(&a, [&b"save a"[..], b"a1"]), (&b, [b"save b", b"b1"])] {
            for chunk in chunks {
                store.append_chunk(doc, chunk).expect("chunk");
            }
        }
        store.flush().expect("flush");
        let before = store.load_docs().expect("load");
        drop(store);

        move_first_chunks(dir.path()).expect("migrate");
        move_first_chunks(dir.path()).expect("migrate again");
        let mut store = Store::open(dir.path(), None).expect("reopen");
        let mut after = store.load_docs().expect("load");
        after.sort_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
        let mut before = before;
        before.sort_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
        assert_eq!(after, before);
        assert_eq!(store.chunks.len(), 2, "one chunk left per document");
        assert_eq!(
            std::fs::read_dir(dir.path().join(SAVES_DIR))
                .expect("saves")
                .count(),
            2
        );
    }
}
