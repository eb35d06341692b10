//! The member's home directory as the CLI uses it: `client::home` does the files; this says
//! its errors in the member's language and reports damaged queue files on standard error.

use client::home::HomeError;
pub(crate) use client::home::{Home, Saved};
use protocol::event::SignedEvent;
use protocol::ids::SecretKey;

/// A home directory error, said in this run's language.
pub(crate) fn local(e: HomeError) -> anyhow::Error {
    let shown = |p: &std::path::Path| p.display().to_string();
    match e {
        HomeError::NoKey { dir } => anyhow::anyhow!(tr!("no-member-key", dir = shown(&dir))),
        HomeError::NotJoined { dir } => anyhow::anyhow!(tr!("not-joined", dir = shown(&dir))),
        HomeError::DamagedKey { path } | HomeError::DamagedSeq { path } => {
            anyhow::anyhow!(tr!("damaged-file", path = shown(&path)))
        }
        HomeError::DamagedProfile { path, error } => {
            anyhow::Error::new(error).context(tr!("damaged-file", path = shown(&path)))
        }
        HomeError::Encode(error) => anyhow::Error::new(error),
        HomeError::Create { path, error } => {
            anyhow::Error::new(error).context(tr!("creating-dir", path = shown(&path)))
        }
        HomeError::Write { path, error } => {
            anyhow::Error::new(error).context(tr!("writing-file", path = shown(&path)))
        }
        HomeError::Remove { path, error } => {
            anyhow::Error::new(error).context(tr!("removing-file", path = shown(&path)))
        }
    }
}

/// The member key and what joining saved: what every command but `join` needs.
pub(crate) fn load(home: &Home) -> anyhow::Result<(SecretKey, Saved)> {
    Ok((home.key().map_err(local)?, home.saved().map_err(local)?))
}

/// The offline queue, oldest first; damaged files are skipped and reported.
pub(crate) fn queued(home: &Home) -> Vec<SignedEvent> {
    let queued = home.queued();
    for path in queued.damaged {
        eprintln!(
            "tejido: {}",
            tr!(
                "skipping-damaged-queue-file",
                path = path.display().to_string()
            )
        );
    }
    queued.events
}
