//! `SignedEvent::decode` on arbitrary bytes: the form events take inside documents, on the
//! wire and in the CLI's outbox. Whatever decodes must decode again from its own bytes to the
//! same event and id, and travel through postcard and CBOR (as `SignedEvent` is serialised
//! inside wire messages) unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::event::SignedEvent;

fuzz_target!(|data: &[u8]| {
    let Ok(ev) = SignedEvent::decode(data) else {
        return;
    };
    // The bytes are not kept but encoded again: decode accepts only what encodes back to them.
    let bytes = ev.to_bytes();
    assert_eq!(
        bytes, data,
        "a decoded event encodes to the bytes it was decoded from"
    );
    let again = SignedEvent::decode(&bytes).expect("a decoded event decodes again");
    assert_eq!(again.id(), ev.id());
    assert_eq!(again.event(), ev.event());

    let pc = postcard::to_stdvec(&ev).expect("postcard encodes");
    let back: SignedEvent = postcard::from_bytes(&pc).expect("postcard round trip");
    assert_eq!(back.id(), ev.id());

    let cb = cbor4ii::serde::to_vec(Vec::new(), &ev).expect("cbor encodes");
    let back: SignedEvent = cbor4ii::serde::from_slice(&cb).expect("cbor round trip");
    assert_eq!(back.id(), ev.id());
});
