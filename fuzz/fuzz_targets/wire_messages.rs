//! The node-to-node and CLI-to-node messages, decoded from CBOR with the same library and
//! call libp2p's `request_response::cbor` codec uses (`cbor4ii::serde::from_slice`). Whatever
//! decodes must re-encode, and the re-encoding must decode and re-encode to the same bytes
//! (the wire enums have no `PartialEq`, so bytes are compared).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::wire::{ClientRequest, ClientResponse, SyncRequest, SyncResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: Serialize + DeserializeOwned>(data: &[u8]) {
    let Ok(value) = cbor4ii::serde::from_slice::<T>(data) else {
        return;
    };
    let once = cbor4ii::serde::to_vec(Vec::new(), &value).expect("a decoded message encodes");
    let again: T = cbor4ii::serde::from_slice(&once).expect("a re-encoded message decodes");
    let twice = cbor4ii::serde::to_vec(Vec::new(), &again).expect("encodes again");
    assert_eq!(once, twice, "{}", std::any::type_name::<T>());
}

fuzz_target!(|data: &[u8]| {
    round_trip::<ClientRequest>(data);
    round_trip::<ClientResponse>(data);
    round_trip::<SyncRequest>(data);
    round_trip::<SyncResponse>(data);
});
