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
            vec![
                net.genesis.as_bytes().to_vec(),
                net.add_m.as_bytes().to_vec(),
            ],
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
    let needle = net.add_m.as_bytes();
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
        docs: vec![(DocId::roster(), vec![net.genesis.as_bytes().to_vec()])],
    };
    let randomness = || SealRandomness {
        id: [1; 16],
        content_key: [2; 32],
        nonce: [3; 12],
        ephemeral_secret: [4; 32],
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
