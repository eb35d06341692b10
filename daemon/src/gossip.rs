//! The gossipsub fast path for alerts. When a node stores a new alert from a member (or
//! raises one itself) it also publishes the signed event on one topic; nodes validate every
//! message before it is forwarded (a forged, out-of-role or misplaced alert is rejected,
//! counted, and never relayed) and show an accepted alert at once, until sync brings it into
//! its document. Gossip is only a hint: delivery is guaranteed by sync, receipts are only
//! signed for what sync stored, and a message lost on the way costs nothing but speed.

use std::time::Duration;

use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, MessageId, ValidationMode};
use protocol::event::{EventId, MAX_EVENT_BYTES};
use protocol::ids::SecretKey;

use crate::engine::Verdict;

/// The one topic: signed alert events.
pub const ALERTS_TOPIC: &str = "tejido/alerts/1";

/// The topic, for subscribing and publishing.
pub fn alerts_topic() -> IdentTopic {
    IdentTopic::new(ALERTS_TOPIC)
}

/// A gossipsub behaviour that signs what it publishes with the node key, accepts only signed
/// messages, and forwards nothing before the node has validated it. Message ids are the
/// event ids, so the same alert published by several nodes travels once.
pub fn behaviour(key: &SecretKey) -> anyhow::Result<gossipsub::Behaviour> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(|m: &gossipsub::Message| MessageId::from(EventId::of(&m.data).0.to_vec()))
        // A signed event and gossipsub's own framing and signature.
        .max_transmit_size(MAX_EVENT_BYTES + 1024)
        .heartbeat_interval(Duration::from_secs(1))
        .build()
        .map_err(|e| anyhow::anyhow!("gossipsub configuration: {e}"))?;
    gossipsub::Behaviour::new(
        MessageAuthenticity::Signed(crate::net::keypair(key)),
        config,
    )
    .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))
}

/// What gossipsub is told of a message the engine judged: only accepted messages are
/// forwarded, and only rejected ones count against the peer.
pub(crate) fn acceptance(verdict: &Verdict) -> gossipsub::MessageAcceptance {
    match verdict {
        Verdict::Accept => gossipsub::MessageAcceptance::Accept,
        Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
        Verdict::Reject(_) => gossipsub::MessageAcceptance::Reject,
    }
}
