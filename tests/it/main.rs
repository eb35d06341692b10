//! The integration tests: real `tejidod` processes driven by the real `tejido` binary.
//!
//! - `single_node`: one organisation's node end to end (invite, join, check-in, panic,
//!   alerts, shelters), crash safety of acknowledged writes, the offline queue, refusals.

mod single_node;
