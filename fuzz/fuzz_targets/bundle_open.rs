//! Sneakernet bundles read from a USB stick (`protocol::bundle::open`), as the recipient node.
//!
//! The first input byte picks the mode:
//! - even: the rest is a bundle file. Opening must not panic; a fuzzer cannot forge the
//!   exporter's signature, so this exercises the framing and the checks before it.
//! - odd: the rest is postcard `Contents`, which is sealed to this node by another and opened
//!   again: the contents must come back unchanged, a node it was not sealed to must get
//!   `NotForUs`, and the same file with one bit flipped (chosen by the input) must not open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::bundle::{self, BundleError, Contents};
use tejido_fuzz::{key, now};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let me = key("node");
    if mode % 2 == 0 {
        if let Ok(opened) = bundle::open(rest, &me) {
            let _ = postcard::to_stdvec(&opened.contents).expect("contents encode");
        }
        return;
    }
    let Ok((contents, flip)) = postcard::take_from_bytes::<Contents>(rest) else {
        return;
    };
    let exporter = key("node2");
    let sealed = bundle::seal(
        &contents,
        &exporter,
        &[me.public(), key("contact").public()],
        now(),
    )
    .expect("sealing to valid keys works");
    let opened = bundle::open(&sealed, &me).expect("a bundle opens for its recipient");
    assert_eq!(opened.contents, contents);
    assert_eq!(opened.exporter, exporter.public());
    assert_eq!(
        bundle::open(&sealed, &key("stranger")).map(|o| o.contents),
        Err(BundleError::NotForUs)
    );
    // One flipped bit anywhere in the file must be refused.
    let at = flip.iter().fold(0usize, |a, b| {
        a.wrapping_mul(31).wrapping_add(usize::from(*b))
    });
    let mut tampered = sealed.clone();
    let i = at % tampered.len();
    tampered[i] ^= 1 << (at % 8);
    assert!(
        bundle::open(&tampered, &me).is_err(),
        "a bundle with bit {} of byte {i} flipped still opens",
        at % 8
    );
});
