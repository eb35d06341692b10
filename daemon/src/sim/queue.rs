//! The simulator's events: messages on the way, ticks and connections, ordered by (time,
//! sequence) out of a max-heap.

use std::cmp::Ordering;
use std::rc::Rc;

use protocol::wire::{SyncRequestV0, SyncResponseV0};

use super::NodeId;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Gossip = 0,
    Sync = 1,
    Summary = 2,
}

pub(super) enum Msg {
    Req(SyncRequestV0),
    Resp(SyncResponseV0),
    /// A gossiped signed alert and the node that published it.
    Gossip(Rc<Vec<u8>>, NodeId),
}

pub(super) enum Ev {
    Msg {
        from: NodeId,
        to: NodeId,
        epoch: u32,
        kind: Kind,
        msg: Msg,
    },
    /// A request of `node` to `peer` failed on the way (over the size limit).
    Failed {
        node: NodeId,
        peer: NodeId,
    },
    Tick {
        node: NodeId,
    },
    /// `a` dialled `b` and the connection is set up.
    Up {
        a: NodeId,
        b: NodeId,
        epoch: u32,
    },
}

pub(super) struct Item {
    pub(super) t: i64,
    pub(super) seq: u64,
    pub(super) ev: Ev,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        (self.t, self.seq) == (other.t, other.seq)
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    // Earliest first out of the max-heap.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.t, other.seq).cmp(&(self.t, self.seq))
    }
}
