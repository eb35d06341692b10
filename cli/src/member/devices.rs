//! `tejido device add`: a one-time code for another device of the same person. The device
//! makes the code's secret itself and tells its node only the one-time identity derived from
//! it, in a grant it signs; the new device redeems the code with `tejido join CODE`.

use std::time::Duration;

use protocol::event::Body;
use protocol::ids::{DocId, Timestamp};
use protocol::wire::{ClientRequestV0, ClientResponseV0, InviteCode, InviteKind};

use super::home::{load, Home};
use super::{deliver, millis, sign};
use crate::output::{self, Printer};
use crate::Exit;

/// Asks one of the person's own organisation's nodes to hold an invite for another device,
/// and prints the code.
pub(super) async fn add(p: &mut Printer<'_>, home: &Home, ttl: Duration) -> anyhow::Result<Exit> {
    let (key, saved) = load(home)?;
    let secret = protocol::ids::random_bytes::<32>();
    let expires = Timestamp::now().plus_ms(millis(ttl));
    let code_for = |node, addrs| InviteCode::V0 {
        kind: InviteKind::Device,
        node,
        addrs,
        secret,
        expires,
    };
    let identity = code_for(key.public(), Vec::new()).identity().public();
    let grant = sign(
        home,
        &key,
        DocId::roster(),
        Timestamp::now(),
        Body::DeviceGrant { identity, expires },
    )?;
    let request = ClientRequestV0::InviteDevice {
        grant: Box::new(grant),
    };
    let answer = deliver::query(&key, &saved.own_nodes(), request)
        .await
        .map_err(|e| anyhow::anyhow!(tr!("device-refused", message = format!("{e:#}"))))?;
    let ClientResponseV0::Stored { node, .. } = answer else {
        anyhow::bail!(tr!("unexpected-answer"));
    };
    let addrs = saved
        .nodes
        .iter()
        .find(|c| c.key == node)
        .map(|c| c.addrs.clone())
        .unwrap_or_default();
    if addrs.is_empty() {
        anyhow::bail!(tr!("unexpected-answer"));
    }
    output::device_code(p, &code_for(node, addrs).encode(), &expires.rfc3339())?;
    Ok(Exit::Ok)
}
