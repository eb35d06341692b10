//! The integration tests: real `tejidod` processes driven by the real `tejido` binary.
//!
//! - `bridges`: alerts delivered by email, webhook and a program, once across a crash and
//!   across two nodes; duress only to the member's own contacts, never named; broken entries;
//!   escalation of an unacknowledged panic tier by tier.
//! - `cancel`: a member calls off her own panic, cancelled everywhere with her note; under the
//!   duress code it looks the same on her device and stands for her security contacts.
//! - `authority`: whether an event counts does not depend on when a node learnt of a
//!   revocation.
//! - `backup`: a running node backed up and restored on a new directory is the same node to
//!   its peers and catches up; a wrong passphrase or a damaged backup leaves nothing.
//! - `devices`: a person, not a key: a second device checks in as the same person; a person
//!   moved to a new key keeps their history, and the old key is refused.
//! - `crash`: kill -9 at random moments under a stream of writes; nothing acknowledged is lost.
//! - `doctor`: `tejido doctor` reports an unreachable peer and a skewed clock.
//! - `export_doc`: an exported document read back by standard automerge readers.
//! - `gossip_gate`: only active nodes get gossip, sync, identify and the relay; an invite
//!   identity redeems and nothing else, and is gone once its invite is used or expires.
//! - `hostile`: in-process peers with crafted messages: outsiders, forged and out-of-role
//!   changes and gossip from a trusted node.
//! - `partition`: five nodes in network namespaces under a randomised partition schedule.
//! - `lang`: the CLI in Spanish and English (`--lang`, `TEJIDO_LANG`, the locale).
//! - `nat`: a node behind NAT reached through a trusted relay; hole punching (namespaces).
//! - `network`: organisations replicating: multi-hop, restarts, outsiders, revocation, the
//!   gossip fast path.
//! - `receipts`: delivery receipts signed by nodes; `tejido watch` across a node restart.
//! - `retention`: old documents dropped whole, refused from clients and peers.
//! - `safety`: missed check-ins raised once network-wide and resolved by a late check-in,
//!   the directory, an alert's history.
//! - `safety_net`: a trusted node gone bad or a foreign region's security contact against a
//!   member's missed check-in, panic, duress alert and shelter request.
//! - `shelters`: occupancy counted at two nodes at once; sealed shelter requests that a third
//!   node carries but cannot read.
//! - `sneakernet`: bundles on a file between nodes that never connect; bad bundles refused.
//! - `seizure`: encryption at rest: no record in clear on disk, the passphrase is required.
//! - `single_node`: one organisation's node end to end (invite, join, check-in, panic,
//!   alerts, shelters), crash safety of acknowledged writes, the offline queue, refusals.
//! - `upgrade`: a data directory of format 1 (a committed fixture) opens with every record;
//!   a newer one is refused.

mod authority;
mod backup;
mod bridges;
mod cancel;
mod crash;
mod devices;
mod doctor;
mod door;
mod export_doc;
mod gossip_gate;
mod hostile;
mod lang;
mod nat;
mod network;
mod partition;
mod receipts;
mod retention;
mod safety;
mod safety_net;
mod seizure;
mod shelters;
mod single_node;
mod sneakernet;
mod upgrade;
