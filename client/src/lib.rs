//! The client side of Tejido: what talks to a node from outside it. The `tejido` CLI is built
//! on it; the node uses its one-shot libp2p client to join another node's network, and the
//! integration tests and benchmarks use it to speak to real nodes.
//!
//! It does no presentation: errors are typed (`thiserror`) and in English, so that the CLI
//! can match on them and say them in the user's language. Every error's message carries its
//! cause, because callers print them with `{e}` as often as with `{e:#}`.
//!
//! # Layout
//! - `net`: the one-shot libp2p client ([`net::request_all`]) and what it is made of: a
//!   Tejido key as a libp2p identity and peer id, the request-response behaviour with Tejido's
//!   size limits, a TCP+QUIC swarm.
//! - `control`: the operator socket of a node's data directory ([`control::call`]).
//! - `home`: a member's home directory: key, profile and known nodes, the offline queue, all
//!   written atomically to files only their owner can read.
//! - `wipe`: overwriting and removing a directory, keys first.

pub mod control;
pub mod home;
pub mod net;
pub mod wipe;
