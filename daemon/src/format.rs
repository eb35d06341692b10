//! The data directory's format version: the file `format` in the data directory names the
//! version of the layout its keys, configuration and store were written in.
//!
//! At start-up a node refuses a data directory newer than it knows (an older binary would
//! misread it, or write what the newer one misreads), and brings an older one up to date: it
//! keeps a copy of the store first (`store.format-N`), then runs each migration step in turn,
//! logging each, and records the new version only once a step is done. A step that fails
//! leaves the version as it was, so the next start runs it again; the copy stays for the
//! operator to go back to.
//!
//! Versions:
//! - 1: every data directory written before the version was recorded (no `format` file).
//!   Its events carry no sequence number and cannot gain one (the signatures cover them): it
//!   is refused, unchanged.
//! - 2: the `format` file; events carry their author's sequence number.
//! - 3: a document's full save is a file of its own (`store/saves/`), no longer the first
//!   value of its chunks in sled; the migration moves each document's first chunk, sealed as
//!   it is, to that file ([`crate::store::move_first_chunks`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tracing::info;

/// The file in the data directory that names its format version.
pub const FORMAT_FILE: &str = "format";

/// The format this binary writes.
pub const CURRENT: u32 = 3;

/// The version recorded in `dir`, if any.
pub fn read(dir: &Path) -> anyhow::Result<Option<u32>> {
    let path = dir.join(FORMAT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let version = text
        .trim()
        .strip_prefix("tejido-data ")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{} is damaged: expected \"tejido-data N\"", path.display()))?;
    Ok(Some(version))
}

/// Records `version` in `dir`, atomically and durably.
pub fn write(dir: &Path, version: u32) -> anyhow::Result<()> {
    let path = dir.join(FORMAT_FILE);
    let tmp = dir.join(format!("{FORMAT_FILE}.tmp"));
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(format!("tejido-data {version}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Where the copy of the store kept before migrating from `version` goes.
pub fn kept_copy(dir: &Path, version: u32) -> PathBuf {
    dir.join(format!("store.format-{version}"))
}

/// Refuses a data directory newer than this binary and migrates an older one (see the module
/// doc). A fresh directory is recorded as [`CURRENT`].
pub fn check_and_migrate(dir: &Path, fresh: bool) -> anyhow::Result<()> {
    if fresh {
        return write(dir, CURRENT);
    }
    let version = read(dir)?.unwrap_or(1);
    if version > CURRENT {
        anyhow::bail!(
            "{} is in data format {version}, newer than this tejidod knows (up to {CURRENT}): run the newer tejidod that wrote it, or restore a backup into a new directory",
            dir.display()
        );
    }
    if version == CURRENT {
        return Ok(());
    }
    if version == 1 {
        // Format 1's events carry no sequence number, and a signed event cannot gain one.
        anyhow::bail!(
            "{} is in data format 1, from before events carried their author's sequence number: its signed events cannot be carried over, and nothing was changed; start a new data directory and join the network again (its peers still hold what it held)",
            dir.display()
        );
    }
    let copy = kept_copy(dir, version);
    let store = dir.join("store");
    if !copy.exists() && store.exists() {
        info!(from = version, copy = %copy.display(), "keeping a copy of the store before migrating it");
        let tmp = dir.join(format!("store.format-{version}.tmp"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .with_context(|| format!("removing the unfinished copy {}", tmp.display()))?;
        }
        copy_dir(&store, &tmp)
            .with_context(|| format!("copying the store to {}", tmp.display()))?;
        std::fs::rename(&tmp, &copy).with_context(|| format!("naming {}", copy.display()))?;
    }
    for step in version..CURRENT {
        info!(from = step, to = step + 1, "migrating the data directory");
        migrate(dir, step)?;
        write(dir, step + 1)?;
        info!(version = step + 1, "data directory migrated");
    }
    Ok(())
}

/// One migration step, from `from` to `from + 1` (format 1 cannot be migrated, see
/// [`check_and_migrate`]).
fn migrate(dir: &Path, from: u32) -> anyhow::Result<()> {
    match from {
        2 => crate::store::move_first_chunks(&dir.join("store")),
        _ => anyhow::bail!("no migration from data format {from}"),
    }
}

/// Copies a directory tree (the store, or a whole data directory: plain files and
/// directories, not sockets), syncing each file.
pub fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
            std::fs::File::open(&target)?.sync_all()?;
        }
    }
    std::fs::File::open(to)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_back_refused_when_newer_and_migrated_when_older() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        check_and_migrate(d, true).expect("fresh");
        assert_eq!(read(d).expect("read"), Some(CURRENT));

        write(d, CURRENT + 1).expect("write");
        let refused = check_and_migrate(d, false).expect_err("newer is refused");
        assert!(format!("{refused:#}").contains("newer than this tejidod"));
        assert_eq!(read(d).expect("read"), Some(CURRENT + 1), "nothing changed");

        // Format 1 (no format file) is refused untouched: its events cannot be carried over.
        std::fs::remove_file(d.join(FORMAT_FILE)).expect("remove");
        std::fs::create_dir_all(d.join("store/blobs")).expect("store");
        std::fs::write(d.join("store/db"), b"chunks").expect("db");
        let refused = check_and_migrate(d, false).expect_err("format 1 is refused");
        assert!(format!("{refused:#}").contains("data format 1"));
        assert_eq!(read(d).expect("read"), None, "nothing changed");
        assert!(!kept_copy(d, 1).exists());
        write(d, CURRENT).expect("write");

        std::fs::write(d.join(FORMAT_FILE), b"garbage").expect("damage");
        assert!(check_and_migrate(d, false).is_err());
    }
}
