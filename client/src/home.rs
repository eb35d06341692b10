//! A member's home directory on their device: the member key (`member.key`), what joining
//! gave them (`profile.json`: their profile and the nodes they know), and the offline queue of
//! signed records not yet stored by any node (`queue/ID.event`). Every file is written
//! atomically (temporary file, fsync, rename, fsync of the directory) and readable by its
//! owner only.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use protocol::event::SignedEvent;
use protocol::ids::SecretKey;
use protocol::wire::{NodeContact, Profile};
use serde::{Deserialize, Serialize};

/// The key's file name.
const KEY_FILE: &str = "member.key";
/// The last sequence number this device gave an event of its key.
const SEQ_FILE: &str = "seq";
/// The lock that invocations take turns on to number events.
const SEQ_LOCK_FILE: &str = "seq.lock";
/// The profile's file name.
const PROFILE_FILE: &str = "profile.json";
/// The offline queue's directory name.
const QUEUE_DIR: &str = "queue";
/// The extension of a queued record.
const QUEUED_EXTENSION: &str = "event";

/// What `join` keeps in the home directory besides the key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    /// The member as their node knows them.
    pub profile: Profile,
    /// The nodes to send to and ask, as the last node that answered listed them.
    pub nodes: Vec<NodeContact>,
}

impl Saved {
    /// The member's own organisation's nodes among the known ones: the only ones a member's
    /// device talks to, but for a panic. A profile saved before nodes were listed in it (none
    /// known) falls back to every known node.
    pub fn own_nodes(&self) -> Vec<NodeContact> {
        if self.profile.org_nodes.is_empty() {
            return self.nodes.clone();
        }
        self.nodes
            .iter()
            .filter(|n| self.profile.org_nodes.contains(&n.key))
            .cloned()
            .collect()
    }

    /// Where a record goes: a panic to every known node (the member's own first), so that
    /// it gets out whichever nodes are up; anything else to the member's own nodes.
    pub fn nodes_for(&self, event: &protocol::event::SignedEvent) -> Vec<NodeContact> {
        let mut out = self.own_nodes();
        if goes_everywhere(event) {
            for n in &self.nodes {
                if !out.iter().any(|o| o.key == n.key) {
                    out.push(n.clone());
                }
            }
        }
        out
    }
}

/// Whether a record goes to every known node: a panic.
pub fn goes_everywhere(event: &protocol::event::SignedEvent) -> bool {
    matches!(
        &event.event().body,
        protocol::event::Body::Alert(a) if a.kind == protocol::event::AlertKind::Panic
    )
}

/// What went wrong with the home directory.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// The sequence number file does not hold a number.
    #[error("{} is damaged: it should hold one number", path.display())]
    DamagedSeq {
        /// Which file.
        path: PathBuf,
    },
    /// There is no member key: this device never joined.
    #[error("no member key in {}", dir.display())]
    NoKey {
        /// The home directory.
        dir: PathBuf,
    },
    /// There is a key but no profile: joining did not finish.
    #[error("not joined yet: {} has no profile", dir.display())]
    NotJoined {
        /// The home directory.
        dir: PathBuf,
    },
    /// The key file is not a key.
    #[error("{} is damaged", path.display())]
    DamagedKey {
        /// The key file.
        path: PathBuf,
    },
    /// The profile is not a profile.
    #[error("{} is damaged: {error}", path.display())]
    DamagedProfile {
        /// The profile file.
        path: PathBuf,
        /// Why it does not parse.
        error: serde_json::Error,
    },
    /// The profile could not be written as JSON.
    #[error("encoding the profile: {0}")]
    Encode(serde_json::Error),
    /// A directory could not be created.
    #[error("creating {}: {error}", path.display())]
    Create {
        /// The directory.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// A file could not be written (the temporary file, or the rename over the old one).
    #[error("writing {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// A queued record could not be removed.
    #[error("removing {}: {error}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
}

/// The queue as read: the records, oldest first, and the files that held no record.
#[derive(Debug, Default)]
pub struct Queued {
    /// Signed records waiting for a node, oldest first.
    pub events: Vec<SignedEvent>,
    /// Queue files that could not be read or decoded; they are left in place.
    pub damaged: Vec<PathBuf>,
}

/// The member's home directory.
#[derive(Clone, Debug)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// The home directory at `dir` (nothing is read or created yet).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Where it is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    fn profile_path(&self) -> PathBuf {
        self.dir.join(PROFILE_FILE)
    }

    fn queue_dir(&self) -> PathBuf {
        self.dir.join(QUEUE_DIR)
    }

    fn queued_path(&self, event: &SignedEvent) -> PathBuf {
        self.queue_dir()
            .join(format!("{}.{QUEUED_EXTENSION}", event.id()))
    }

    /// The member key, created on first use.
    pub fn key_or_create(&self) -> Result<SecretKey, HomeError> {
        if self.key_path().exists() {
            return self.key();
        }
        std::fs::create_dir_all(&self.dir).map_err(|error| HomeError::Create {
            path: self.dir.clone(),
            error,
        })?;
        let key = SecretKey::generate();
        write_atomic(&self.key_path(), &key.to_bytes())?;
        Ok(key)
    }

    /// The member key.
    pub fn key(&self) -> Result<SecretKey, HomeError> {
        let path = self.key_path();
        let bytes = std::fs::read(&path).map_err(|_| HomeError::NoKey {
            dir: self.dir.clone(),
        })?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| HomeError::DamagedKey { path })?;
        Ok(SecretKey::from_bytes(bytes))
    }

    /// The profile and known nodes that joining (and every `whoami` since) saved.
    pub fn saved(&self) -> Result<Saved, HomeError> {
        let path = self.profile_path();
        let text = std::fs::read_to_string(&path).map_err(|_| HomeError::NotJoined {
            dir: self.dir.clone(),
        })?;
        serde_json::from_str(&text).map_err(|error| HomeError::DamagedProfile { path, error })
    }

    /// Replaces the saved profile and known nodes.
    pub fn save(&self, saved: &Saved) -> Result<(), HomeError> {
        let text = serde_json::to_string_pretty(saved).map_err(HomeError::Encode)?;
        write_atomic(&self.profile_path(), text.as_bytes())
    }

    /// The next sequence number for an event of this member's key, on disk before it is used:
    /// no two events of one device ever share one (two that do mean two devices hold the
    /// key). Invocations running at once take turns on a lock.
    pub fn next_seq(&self) -> Result<u64, HomeError> {
        let lock_path = self.dir.join(SEQ_LOCK_FILE);
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|error| HomeError::Write {
                path: lock_path.clone(),
                error,
            })?;
        lock.lock().map_err(|error| HomeError::Write {
            path: lock_path,
            error,
        })?;
        let path = self.dir.join(SEQ_FILE);
        let last: u64 = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse()
                .map_err(|_| HomeError::DamagedSeq { path: path.clone() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => return Err(HomeError::Write { path, error }),
        };
        let next = last + 1;
        write_atomic(&path, next.to_string().as_bytes())?;
        Ok(next)
    }

    /// Puts a signed event in the queue, durably, before any attempt to send it.
    pub fn enqueue(&self, event: &SignedEvent) -> Result<(), HomeError> {
        let dir = self.queue_dir();
        std::fs::create_dir_all(&dir).map_err(|error| HomeError::Create { path: dir, error })?;
        write_atomic(&self.queued_path(event), &event.to_bytes())
    }

    /// Takes an event out of the queue (nothing to do if it is not there).
    pub fn dequeue(&self, event: &SignedEvent) -> Result<(), HomeError> {
        let path = self.queued_path(event);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(HomeError::Remove { path, error }),
        }
    }

    /// The queue, oldest first; files that hold no record are listed apart and left alone.
    pub fn queued(&self) -> Queued {
        let mut queued = Queued::default();
        let Ok(entries) = std::fs::read_dir(self.queue_dir()) else {
            return queued;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != QUEUED_EXTENSION) {
                continue;
            }
            match std::fs::read(&path)
                .ok()
                .and_then(|b| SignedEvent::decode(&b).ok())
            {
                Some(ev) => queued.events.push(ev),
                None => queued.damaged.push(path),
            }
        }
        queued.events.sort_by_key(|e| e.event().at);
        queued
    }
}

/// Writes a file readable by its owner only: temporary file, fsync, rename, fsync directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), HomeError> {
    let tmp = path.with_extension("tmp");
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |error| HomeError::Write { path, error }
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(failed(&tmp))?;
    file.write_all(bytes).map_err(failed(&tmp))?;
    file.sync_all().map_err(failed(&tmp))?;
    std::fs::rename(&tmp, path).map_err(failed(path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use protocol::event::{Body, CheckinBody, CheckinStatus, Event};
    use protocol::ids::{DocId, Timestamp};

    use super::*;

    fn checkin(key: &SecretKey, at: Timestamp) -> SignedEvent {
        let sealed =
            protocol::private::CheckinPrivate::without_code(CheckinStatus::Ok, String::new())
                .seal(&key.public(), at, &[key.public()])
                .expect("seal");
        let body = Body::Checkin(CheckinBody {
            next_due: None,
            sealed,
        });
        let event = Event {
            author: key.public(),
            at,
            seq: (at).0 as u64,
            doc: DocId::checkins("org", at),
            body,
        };
        SignedEvent::sign(event, key).expect("sign")
    }

    #[test]
    fn a_new_home_has_no_key_and_no_profile() {
        let dir = tempfile::tempdir().expect("dir");
        let home = Home::new(dir.path().join("home"));
        assert!(matches!(home.key(), Err(HomeError::NoKey { .. })));
        assert!(matches!(home.saved(), Err(HomeError::NotJoined { .. })));
        assert!(home.queued().events.is_empty());
    }

    #[test]
    fn the_key_is_created_once_and_private() {
        let dir = tempfile::tempdir().expect("dir");
        let home = Home::new(dir.path().join("home"));
        let key = home.key_or_create().expect("key");
        assert_eq!(home.key_or_create().expect("again").public(), key.public());
        let mode = std::fs::metadata(home.key_path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn damaged_files_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let home = Home::new(dir.path().to_path_buf());
        std::fs::write(home.key_path(), b"short").expect("write");
        std::fs::write(home.profile_path(), b"{").expect("write");
        assert!(matches!(home.key(), Err(HomeError::DamagedKey { .. })));
        assert!(matches!(
            home.saved(),
            Err(HomeError::DamagedProfile { .. })
        ));
    }

    #[test]
    fn the_queue_keeps_records_oldest_first_and_sets_damaged_files_apart() {
        let dir = tempfile::tempdir().expect("dir");
        let home = Home::new(dir.path().to_path_buf());
        let key = SecretKey::generate();
        let now = Timestamp::now();
        let later = checkin(&key, now.plus_ms(1000));
        let earlier = checkin(&key, now);
        home.enqueue(&later).expect("enqueue");
        home.enqueue(&earlier).expect("enqueue");
        std::fs::write(home.queue_dir().join("junk.event"), b"junk").expect("write");
        let queued = home.queued();
        let ids: Vec<_> = queued.events.iter().map(|e| e.id()).collect();
        assert_eq!(ids, vec![earlier.id(), later.id()]);
        assert_eq!(queued.damaged, vec![home.queue_dir().join("junk.event")]);
        home.dequeue(&earlier).expect("dequeue");
        home.dequeue(&earlier).expect("dequeue twice");
        assert_eq!(home.queued().events.len(), 1);
    }
}
