//! Message sizes as libp2p's request-response CBOR codec writes them.

use serde::Serialize;

/// Newtype variant `V0`, serialised as the wire enums' derive does, without moving the value.
struct V0<'a, T>(&'a T);

impl<T: Serialize> Serialize for V0<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_variant("V0", 0, "V0", self.0)
    }
}

/// Bytes of a sync request or response as the request-response CBOR codec writes them.
pub(super) fn cbor_len<T: Serialize>(value: &T) -> usize {
    cbor4ii::serde::to_vec(Vec::new(), &V0(value)).map_or(usize::MAX, |b| b.len())
}
