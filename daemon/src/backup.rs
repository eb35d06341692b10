//! Backups: one file holding a node's keys, its configuration and every document, sealed
//! under a passphrase, written while the node runs (`tejido --data-dir DIR backup`) and
//! brought back into a new data directory (`tejidod --data-dir NEW --restore FILE`).
//!
//! The file is `TJB0` followed by a postcard [`BackupFile`]: an Argon2id salt, a check value
//! and the body, each sealed by [`crate::at_rest::AtRest`] (ChaCha20-Poly1305 under the key
//! Argon2id derives from the passphrase, the same construction as encryption at rest). The
//! check value tells a wrong passphrase from a damaged body; a body that was altered or cut
//! short does not decrypt. Restoring writes into a temporary directory beside the target and
//! renames it into place only once everything is written and flushed, so a refused or failed
//! restore leaves nothing behind.

use std::path::Path;

use anyhow::Context;
use protocol::ids::{DocId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::at_rest::AtRest;

/// The first bytes of a backup file.
const MAGIC: &[u8; 4] = b"TJB0";

/// What the check value holds.
const CHECK: &[u8] = b"tejido-backup";

/// The largest backup a node writes or restores: the operator socket carries it in one line.
pub const MAX_BACKUP_BYTES: usize = protocol::bundle::MAX_BUNDLE_BYTES;

#[derive(Serialize, Deserialize)]
enum BackupFile {
    V0 {
        salt: [u8; 16],
        check: Vec<u8>,
        body: Vec<u8>,
    },
}

/// Everything a backup holds, in the clear (only ever in memory).
#[derive(Serialize, Deserialize)]
pub(crate) enum Contents {
    V0(ContentsV0),
}

/// Version 0 of [`Contents`].
#[derive(Serialize, Deserialize)]
pub(crate) struct ContentsV0 {
    /// The data format of the node that wrote it ([`crate::format`]).
    pub(crate) format: u32,
    /// When it was written (the node's clock).
    pub(crate) created: Timestamp,
    /// The node's key: the restored node is the same node to its peers.
    pub(crate) node_key: [u8; 32],
    /// The operator's admin key, when the node holds it (not when it is kept off the node).
    pub(crate) admin_key: Option<[u8; 32]>,
    /// Whether the node encrypted its data at rest; the restored one does too.
    pub(crate) encrypted_at_rest: bool,
    /// `config.toml` as it was.
    pub(crate) config_toml: String,
    /// Every document, as a full automerge save.
    pub(crate) docs: Vec<(DocId, Vec<u8>)>,
    /// The store's other entries (pending invites, bootstrap peers, bundles exported and
    /// imported), as (tree, key, value) in the clear.
    pub(crate) entries: Vec<crate::store::Entry>,
}

impl std::fmt::Debug for ContentsV0 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentsV0")
            .field("format", &self.format)
            .field("docs", &self.docs.len())
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// Why a backup was not restored; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0} is not a Tejido backup")]
    NotABackup(String),
    #[error("wrong passphrase for the backup {0}")]
    WrongPassphrase(String),
    #[error("the backup {0} is damaged or cut short (it does not decrypt)")]
    Damaged(String),
    #[error("the backup {path} is in data format {format}, newer than this tejidod knows (up to {current})")]
    Newer {
        path: String,
        format: u32,
        current: u32,
    },
    #[error("{0} exists and is not empty: restore into a new directory")]
    TargetExists(String),
}

/// Seals `contents` under `passphrase` (slow on purpose: Argon2id).
pub(crate) fn seal(contents: &Contents, passphrase: &[u8]) -> anyhow::Result<Vec<u8>> {
    let salt: [u8; 16] = protocol::ids::random_bytes();
    let key = AtRest::derive_with_salt(passphrase, &salt)?;
    let plain = postcard::to_stdvec(contents).context("encoding the backup")?;
    let file = BackupFile::V0 {
        salt,
        check: key.seal(CHECK)?,
        body: key.seal(&plain)?,
    };
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&postcard::to_stdvec(&file).context("encoding the backup")?);
    if out.len() > MAX_BACKUP_BYTES {
        anyhow::bail!(
            "the backup would take {} MiB, more than the {} MiB one file may hold",
            out.len() >> 20,
            MAX_BACKUP_BYTES >> 20
        );
    }
    Ok(out)
}

/// Opens a backup file's bytes (`path` names it in errors).
pub(crate) fn open(bytes: &[u8], passphrase: &[u8], path: &str) -> anyhow::Result<ContentsV0> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| RestoreError::NotABackup(path.into()))?;
    let BackupFile::V0 { salt, check, body } =
        postcard::from_bytes(body).map_err(|_| RestoreError::Damaged(path.into()))?;
    let key = AtRest::derive_with_salt(passphrase, &salt)?;
    match key.open_value(&check) {
        Ok(v) if v == CHECK => {}
        _ => return Err(RestoreError::WrongPassphrase(path.into()).into()),
    }
    let plain = key
        .open_value(&body)
        .map_err(|_| RestoreError::Damaged(path.into()))?;
    let Contents::V0(contents) =
        postcard::from_bytes(&plain).map_err(|_| RestoreError::Damaged(path.into()))?;
    if contents.format > crate::format::CURRENT {
        return Err(RestoreError::Newer {
            path: path.into(),
            format: contents.format,
            current: crate::format::CURRENT,
        }
        .into());
    }
    Ok(contents)
}

/// Restores the backup `file` into `data_dir`, which must not exist or be empty. With
/// `encrypt`, or when the backed-up node encrypted its data, the restored directory is
/// encrypted at rest under the backup's passphrase. Returns a line for the log.
pub fn restore(
    file: &Path,
    data_dir: &Path,
    passphrase: &[u8],
    encrypt: bool,
) -> anyhow::Result<String> {
    let shown = file.display().to_string();
    if data_dir.exists() {
        let empty = std::fs::read_dir(data_dir)
            .with_context(|| format!("reading {}", data_dir.display()))?
            .next()
            .is_none();
        if !empty {
            return Err(RestoreError::TargetExists(data_dir.display().to_string()).into());
        }
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
    if bytes.len() > MAX_BACKUP_BYTES + 4 {
        return Err(RestoreError::NotABackup(shown).into());
    }
    let contents = open(&bytes, passphrase, &shown)?;
    let in_place = data_dir.exists();
    let tmp = if in_place {
        // An empty directory made for the node (the package's /var/lib/tejido): its parent
        // may not be writable by the node's user, so the restore is put together inside it.
        data_dir.join(".restoring")
    } else {
        let name = data_dir
            .file_name()
            .context("the data directory has no name")?
            .to_string_lossy()
            .into_owned();
        let parent = match data_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        parent.join(format!(".{name}.restoring-{}", std::process::id()))
    };
    let placed = write_dir(&tmp, &contents, passphrase, encrypt).and_then(|()| {
        if in_place {
            move_entries(&tmp, data_dir)
        } else {
            std::fs::rename(&tmp, data_dir)
                .with_context(|| format!("moving the restored data into {}", data_dir.display()))?;
            sync_parent(data_dir)
        }
    });
    if let Err(e) = placed {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(format!(
        "restored {} document(s) written {} (data format {})",
        contents.docs.len(),
        contents.created.rfc3339(),
        contents.format
    ))
}

fn sync_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Moves what `from` holds into the empty `to`, the keys last (a data directory without its
/// node key is not taken for a node), then removes `from`. On failure what was moved is
/// removed again, so `to` is left empty.
fn move_entries(from: &Path, to: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(from)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort_by_key(|n| (n == "admin.key" || n == "node.key", n == "node.key"));
    let mut moved = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))?;
        for name in &names {
            std::fs::rename(from.join(name), to.join(name))
                .with_context(|| format!("moving the restored data into {}", to.display()))?;
            moved.push(to.join(name));
        }
        std::fs::remove_dir(from)?;
        std::fs::File::open(to)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        for path in moved {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
    result
}

/// Writes a data directory from `contents` at `dir` (created, mode 0700).
fn write_dir(
    dir: &Path,
    contents: &ContentsV0,
    passphrase: &[u8],
    encrypt: bool,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let at_rest = if encrypt || contents.encrypted_at_rest {
        Some(std::sync::Arc::new(AtRest::create(dir, passphrase)?))
    } else {
        None
    };
    let keys = [
        Some(("node.key", &contents.node_key)),
        contents.admin_key.as_ref().map(|k| ("admin.key", k)),
    ];
    for (name, secret) in keys.into_iter().flatten() {
        let bytes = match &at_rest {
            Some(at_rest) => at_rest.seal_key(secret)?,
            None => secret.to_vec(),
        };
        crate::config::write_private(&dir.join(name), &bytes)?;
    }
    crate::config::write_private(&dir.join("config.toml"), contents.config_toml.as_bytes())?;
    let mut store = crate::store::Store::open(&dir.join("store"), at_rest)?;
    for (doc, save) in &contents.docs {
        store.append_chunk(doc, save)?;
    }
    for (tree, key, value) in &contents.entries {
        store.put_entry(tree, key, value)?;
    }
    store.flush()?;
    drop(store);
    crate::format::write(dir, contents.format)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents() -> Contents {
        Contents::V0(ContentsV0 {
            format: crate::format::CURRENT,
            created: Timestamp(1_800_000_000_000),
            node_key: [7; 32],
            admin_key: Some([8; 32]),
            encrypted_at_rest: false,
            config_toml: "org = \"red-oax\"\n".into(),
            docs: Vec::new(),
            entries: vec![("meta".into(), b"bootstrap/x".to_vec(), Vec::new())],
        })
    }

    #[test]
    fn a_backup_opens_with_its_passphrase_only_and_not_once_altered() {
        let sealed = seal(&contents(), b"a long passphrase").expect("seal");
        let opened = open(&sealed, b"a long passphrase", "f").expect("open");
        assert_eq!(opened.node_key, [7; 32]);
        assert_eq!(opened.config_toml, "org = \"red-oax\"\n");

        let wrong = open(&sealed, b"another passphrase", "f").expect_err("wrong");
        assert!(matches!(
            wrong.downcast_ref::<RestoreError>(),
            Some(RestoreError::WrongPassphrase(_))
        ));
        for cut in [sealed.len() - 1, sealed.len() / 2, 10, 3] {
            let err = open(&sealed[..cut], b"a long passphrase", "f").expect_err("cut");
            assert!(err.downcast_ref::<RestoreError>().is_some(), "{err:#}");
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 1;
        let err = open(&flipped, b"a long passphrase", "f").expect_err("altered");
        assert!(matches!(
            err.downcast_ref::<RestoreError>(),
            Some(RestoreError::Damaged(_))
        ));
    }

    #[test]
    fn a_refused_restore_leaves_no_directory() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("b.tejido-backup");
        std::fs::write(
            &file,
            seal(&contents(), b"a long passphrase").expect("seal"),
        )
        .expect("write");
        let target = dir.path().join("node");
        restore(&file, &target, b"not the passphrase", false).expect_err("wrong");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "only the backup is left: {left:?}");

        restore(&file, &target, b"a long passphrase", false).expect("restore");
        assert_eq!(
            std::fs::read(target.join("node.key")).expect("key"),
            [7; 32]
        );
        assert_eq!(
            crate::format::read(&target).expect("format"),
            Some(crate::format::CURRENT)
        );
        let again = restore(&file, &target, b"a long passphrase", false).expect_err("exists");
        assert!(matches!(
            again.downcast_ref::<RestoreError>(),
            Some(RestoreError::TargetExists(_))
        ));

        // Into an empty directory made for it (the package's /var/lib/tejido).
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).expect("dir");
        restore(&file, &empty, b"not the passphrase", false).expect_err("wrong");
        assert_eq!(std::fs::read_dir(&empty).expect("list").count(), 0);
        restore(&file, &empty, b"a long passphrase", false).expect("restore in place");
        assert_eq!(std::fs::read(empty.join("node.key")).expect("key"), [7; 32]);
        assert!(!empty.join(".restoring").exists());
    }
}
