//! The shared vocabulary of Tejido: identities, signed events, the roster and its rules,
//! the automerge mapping of documents, the views built from them, and the wire messages.
//!
//! This crate does no I/O: no sockets, no files, no clocks except where a caller asks for
//! [`ids::Timestamp::now`]. Everything that crosses a trust boundary is checked here, so the
//! daemon and the CLI share one definition of "valid".
//!
//! # Layout
//! - [`bundle`]: sneakernet bundles, encrypted to nodes and signed by the exporter.
//! - [`ids`]: keys, ids and timestamps, with stable text forms.
//! - [`event`]: the signed, content-addressed events every document is made of.
//! - [`private`]: what only some may read (check-in notes, duress), sealed to them.
//! - [`roster`]: who belongs to the network, with which role, and what each may write.
//! - [`doc`]: automerge documents as grow-only maps of signed events, and their validation.
//! - [`view`]: alerts, check-ins and shelters folded from events.
//! - [`wire`]: messages between CLI and node and between nodes; invite codes.
//! - [`control`]: the operator API spoken over the node's local socket.
//! - [`sealed`]: a small payload sealed to several people without naming them.
//! - `hpke_wrap` (private): a content key sealed to one identity with HPKE, the entry
//!   [`sealed`] payloads and [`bundle`]s are made of.
#![deny(missing_docs)]

pub mod bundle;
pub mod control;
pub mod doc;
pub mod event;
mod hpke_wrap;
pub mod ids;
pub mod private;
pub mod receipts;
pub mod roster;
pub mod sealed;
mod verify_cache;
pub mod view;
pub mod wire;

#[cfg(test)]
mod tests;
