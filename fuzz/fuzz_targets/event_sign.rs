//! Events a fuzzer cannot forge a signature for still need their field checks fuzzed: decode
//! the input as a postcard `Event`, make one of the fixture keys its author, sign it, and
//! check that whatever `SignedEvent::sign` accepts, `SignedEvent::decode` accepts back
//! unchanged, and that the roster rules and the views fold it without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use protocol::doc::is_roster_body;
use protocol::event::{Event, SignedEvent};
use protocol::ids::Timestamp;
use protocol::roster::Roster;
use protocol::view;
use tejido_fuzz::{fixture_events, roster, signers};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok((mut event, _)) = postcard::take_from_bytes::<Event>(rest) else {
        return;
    };
    let signers = signers();
    let key = &signers[usize::from(pick) % signers.len()];
    event.author = key.public();
    let Ok(signed) = SignedEvent::sign(event.clone(), key) else {
        return;
    };
    let decoded =
        SignedEvent::decode(&signed.to_bytes()).expect("what sign accepts, decode accepts");
    assert_eq!(decoded.event(), &event);
    assert_eq!(decoded.id(), signed.id());
    assert_eq!(decoded.to_bytes(), signed.to_bytes());

    // The honest roster with every fixture event folded in, then this one.
    static FULL: OnceLock<Roster> = OnceLock::new();
    let mut full = FULL
        .get_or_init(|| Roster::from_events(fixture_events()))
        .clone();
    let _ = roster().authorize(decoded.event());
    let _ = full.authorize(decoded.event());
    if is_roster_body(&decoded.event().body) {
        let _ = full.apply(&decoded);
    }
    let _ = Roster::from_events([&decoded]);
    let now = Timestamp(decoded.event().at.0.saturating_add(1));
    let events = [&decoded];
    let _ = view::alerts(&full, events, now);
    let _ = view::checkins(&full, events, now, None);
    let _ = view::shelters(&full, events);
    let _ = decoded.event().at.rfc3339();
    let _ = decoded.event().at.month();
    let _ = format!("{:?}", decoded);
});
