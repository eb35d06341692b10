//! Destroying a directory on request (a node's data directory, a member's home): every file
//! is overwritten with zeros, synced and removed, keys first. On flash storage overwriting
//! gives no guarantee (wear levelling keeps old blocks); full-disk encryption is what makes a
//! wipe final there. SECURITY.md says so.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Files removed first, so that an interrupted wipe has destroyed the keys.
const KEYS_FIRST: [&str; 3] = ["node.key", "admin.key", "member.key"];

/// Zeros written per call while overwriting.
const CHUNK_BYTES: usize = 64 * 1024;

/// A wipe that stopped part way: what it was doing, on which path, and why.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {error}", path.display())]
pub struct WipeError {
    /// "reading" (listing a directory) or "wiping" (a file).
    pub what: &'static str,
    /// The directory or file.
    pub path: PathBuf,
    /// The cause.
    pub error: std::io::Error,
}

/// Overwrites and removes every file under `dir` (keys first), then the directories.
/// Returns the files removed. A missing `dir` is nothing to wipe.
pub fn wipe_dir(dir: &Path) -> Result<Vec<PathBuf>, WipeError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort_by_key(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        !KEYS_FIRST.contains(&name)
    });
    for file in &files {
        shred(file).map_err(|error| WipeError {
            what: "wiping",
            path: file.clone(),
            error,
        })?;
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(files)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), WipeError> {
    let failed = |error| WipeError {
        what: "reading",
        path: dir.to_path_buf(),
        error,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(failed(e)),
    };
    for entry in entries {
        let entry = entry.map_err(failed)?;
        let kind = entry.file_type().map_err(failed)?;
        if kind.is_dir() {
            collect(&entry.path(), out)?;
        } else {
            out.push(entry.path());
        }
    }
    Ok(())
}

fn shred(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_file() {
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        let zeros = vec![0u8; CHUNK_BYTES];
        let mut left = meta.len();
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        file.sync_all()?;
    }
    std::fs::remove_file(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_everything_keys_first() {
        let dir = tempfile::tempdir().expect("dir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join("queue")).expect("mkdir");
        std::fs::write(home.join("profile.json"), b"{}").expect("write");
        std::fs::write(home.join("queue").join("a.event"), [1u8; 100_000]).expect("write");
        std::fs::write(home.join("member.key"), [7u8; 32]).expect("write");
        let removed = wipe_dir(&home).expect("wipe");
        assert_eq!(removed.len(), 3);
        assert_eq!(removed[0], home.join("member.key"));
        assert!(!home.exists());
    }

    #[test]
    fn a_missing_directory_is_nothing_to_wipe() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(wipe_dir(&dir.path().join("absent"))
            .expect("wipe")
            .is_empty());
    }
}
