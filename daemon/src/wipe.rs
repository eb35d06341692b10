//! Destroying a data directory on request (`wipe`): every file is overwritten with zeros,
//! synced and removed, keys first. The member's CLI wipes its home the same way, so the code is
//! the `client` crate's, re-exported here.

pub use client::wipe::{wipe_dir, WipeError};
