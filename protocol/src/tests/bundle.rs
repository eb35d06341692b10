//! Sneakernet bundles: sealing, opening and refusing altered ones.

use super::*;

#[test]
fn bundles_open_only_for_their_recipients_and_only_unaltered() {
    use crate::bundle::{open, seal, BundleError, Contents};
    let exporter = key("exporter");
    let (c, d, outsider) = (key("node-c"), key("node-d"), key("outsider"));
    let net = Net::new();
    let contents = Contents {
        docs: vec![(
            DocId::roster(),
            vec![net.genesis.to_bytes(), net.add_m.to_bytes()],
        )],
    };
    let bytes = seal(&contents, &exporter, &[c.public(), d.public()], at(0)).expect("seal");
    for node in [&c, &d] {
        let opened = open(&bytes, node).expect("open");
        assert_eq!(opened.contents, contents);
        assert_eq!(opened.exporter, exporter.public());
        assert_eq!(opened.created, at(0));
    }
    assert_eq!(open(&bytes, &outsider).unwrap_err(), BundleError::NotForUs);
    // The event text is not in the file in clear.
    let needle = net.add_m.to_bytes();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    // Any altered byte is refused.
    for pos in (0..bytes.len()).step_by(7) {
        let mut altered = bytes.clone();
        altered[pos] ^= 0x01;
        assert!(open(&altered, &c).is_err(), "altered byte {pos} accepted");
    }
    assert!(open(b"not a bundle", &c).is_err());
    // Two exports of the same contents are different bundles.
    let again = seal(&contents, &exporter, &[c.public()], at(0)).expect("seal");
    assert_ne!(
        open(&again, &c).expect("open").id,
        open(&bytes, &c).expect("open").id
    );
}

#[test]
fn bundles_take_their_time_and_randomness_from_the_caller() {
    use crate::bundle::{open, seal_with_randomness, SealRandomness};
    let exporter = key("exporter");
    let node = key("node-c");
    let net = Net::new();
    let contents = crate::bundle::Contents {
        docs: vec![(DocId::roster(), vec![net.genesis.to_bytes()])],
    };
    let randomness = || SealRandomness {
        id: [1; 16],
        content_key: [2; 32],
        nonce: [3; 12],
        ephemeral_seed: [4; 32],
    };
    let created = Timestamp(1_700_000_000_000);
    let seal = |r: &SealRandomness| {
        seal_with_randomness(&contents, &exporter, &[node.public()], created, r).expect("seal")
    };
    let (bytes, id) = seal(&randomness());
    assert_eq!(id, [1; 16]);
    assert_eq!(
        seal(&randomness()).0,
        bytes,
        "the same arguments give the same bundle"
    );
    let opened = open(&bytes, &node).expect("open");
    assert_eq!((opened.id, opened.created), (id, created));
    assert_eq!(opened.contents, contents);
    let mut other = randomness();
    other.nonce = [5; 12];
    assert_ne!(seal(&other).0, bytes);
    assert!(
        !format!("{:?}", randomness()).contains("2, 2"),
        "secrets are not printed"
    );
}

/// A bundle's signed part as its format lays it out: exporter, id, creation time, the
/// recipients with their entries, nonce, ciphertext.
type SealedParts = (
    PublicKey,
    [u8; 16],
    Timestamp,
    Vec<(PublicKey, serde_bytes::ByteBuf)>,
    [u8; 12],
    Vec<u8>,
);

fn unpack(bytes: &[u8]) -> (u8, SealedParts) {
    let (tag, sealed, _sig): (u8, Vec<u8>, Vec<u8>) =
        postcard::from_bytes(bytes).expect("a bundle file");
    (
        tag,
        postcard::from_bytes(&sealed).expect("a bundle's signed part"),
    )
}

/// A bundle file from its parts, signed by `exporter` (who may be dishonest).
fn repack(tag: u8, parts: &SealedParts, exporter: &SecretKey) -> Vec<u8> {
    let sealed = postcard::to_stdvec(parts).expect("encodes");
    let sig = exporter.sign(&sealed).to_vec();
    postcard::to_stdvec(&(tag, sealed, sig)).expect("encodes")
}

#[test]
fn a_bundle_entry_moved_to_another_bundle_does_not_open() {
    use crate::bundle::{open, seal_with_randomness, BundleError, SealRandomness};
    let (exporter, other_exporter) = (key("exporter"), key("other-exporter"));
    let node = key("node-c");
    let net = Net::new();
    let contents = crate::bundle::Contents {
        docs: vec![(DocId::roster(), vec![net.genesis.to_bytes()])],
    };
    // The same content key in both bundles, so that only the entry's binding to its bundle
    // can keep it from opening the other.
    let randomness = |id: [u8; 16], seed: u8| SealRandomness {
        id,
        content_key: [2; 32],
        nonce: [3; 12],
        ephemeral_seed: [seed; 32],
    };
    let seal = |by: &SecretKey, r: &SealRandomness| {
        seal_with_randomness(&contents, by, &[node.public()], at(0), r)
            .expect("seal")
            .0
    };
    let first = seal(&exporter, &randomness([1; 16], 4));
    let (tag, first_parts) = unpack(&first);
    assert_eq!(tag, 1, "version 1");
    assert_eq!(first_parts.3.len(), 1);
    assert_eq!(
        first_parts.3[0].0,
        node.public(),
        "node keys are in the clear"
    );
    assert_eq!(first_parts.3[0].1.len(), crate::hpke_wrap::ENTRY);
    // Re-signed unchanged, the bundle opens: the harness changes nothing else.
    assert!(open(&repack(tag, &first_parts, &exporter), &node).is_ok());
    for second in [
        seal(&exporter, &randomness([9; 16], 5)),
        seal(&other_exporter, &randomness([1; 16], 5)),
    ] {
        let (_, mut parts) = unpack(&second);
        assert!(open(&second, &node).is_ok());
        parts.3[0].1 = first_parts.3[0].1.clone();
        let by = if parts.0 == exporter.public() {
            &exporter
        } else {
            &other_exporter
        };
        assert_eq!(
            open(&repack(tag, &parts, by), &node).unwrap_err(),
            BundleError::Decrypt
        );
    }
}
