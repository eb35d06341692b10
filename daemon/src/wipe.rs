//! Destroying a data directory on request: every file is overwritten with zeros, synced and
//! removed, keys first. On flash storage overwriting gives no guarantee (wear levelling keeps
//! old blocks); full-disk encryption is what makes a wipe final there. SECURITY.md says so.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Files removed first, so that an interrupted wipe has destroyed the keys.
const KEYS_FIRST: [&str; 3] = ["node.key", "admin.key", "member.key"];

/// Overwrites and removes every file under `dir` (keys first), then the directories.
/// Returns the files removed.
pub fn wipe_dir(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort_by_key(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        !KEYS_FIRST.contains(&name)
    });
    for file in &files {
        shred(file).with_context(|| format!("wiping {}", file.display()))?;
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(files)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(&entry.path(), out)?;
        } else {
            out.push(entry.path());
        }
    }
    Ok(())
}

fn shred(path: &Path) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_file() {
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        let zeros = vec![0u8; 64 * 1024];
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
