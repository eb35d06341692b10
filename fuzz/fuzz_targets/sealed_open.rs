//! Sealed shelter requests (`protocol::sealed`) as a node or device receives them from peers.
//!
//! The first input byte picks the mode:
//! - even: the rest is a sealed payload. Opening must not panic; it opens to nothing for a
//!   key it was not sealed to.
//! - odd: the rest is a plaintext, sealed to two people and opened again: both get it back, a
//!   stranger gets nothing, and one flipped bit anywhere (the ciphertext, an entry, the
//!   framing) never opens to other text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::sealed;
use tejido_fuzz::key;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let me = key("admin");
    if mode % 2 == 0 {
        let _ = sealed::open(rest, &me, b"context");
        let _ = sealed::recipients(rest);
        return;
    }
    let (plain, flip) = rest.split_at(rest.len() / 2);
    let other = key("member");
    let sealed_bytes = sealed::seal(plain, &[me.public(), other.public()], b"context")
        .expect("sealing to valid keys works");
    for who in [&me, &other] {
        assert_eq!(
            sealed::open(&sealed_bytes, who, b"context"),
            Ok(Some(plain.to_vec()))
        );
    }
    assert_eq!(
        sealed::open(&sealed_bytes, &key("stranger"), b"context"),
        Ok(None)
    );
    let at = flip.iter().fold(0usize, |a, b| {
        a.wrapping_mul(31).wrapping_add(usize::from(*b))
    });
    let mut tampered = sealed_bytes.clone();
    let i = at % tampered.len();
    tampered[i] ^= 1 << (at % 8);
    if let Ok(Some(text)) = sealed::open(&tampered, &me, b"context") {
        assert_eq!(
            text,
            plain,
            "bit {} of byte {i} flipped opened to other text",
            at % 8
        );
    }
});
