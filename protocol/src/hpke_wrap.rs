//! A content key sealed to one ed25519 identity with HPKE (RFC 9180): base mode, single-shot,
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305. Sealed payloads
//! ([`crate::sealed`]) and bundles ([`crate::bundle`]) are both made of these entries.
//!
//! Nobody holds a second key for encryption: an ed25519 identity is used as an X25519 key by
//! the standard map between the two curves (the public key's Montgomery form, and the clamped
//! scalar the ed25519 secret expands to), as libsodium's `crypto_sign_ed25519_pk_to_curve25519`
//! does.

use hpke::rand_core::CryptoRng;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};

use crate::ids::{PublicKey, SecretKey};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::ChaCha20Poly1305;

/// A content key: a ChaCha20-Poly1305 key.
pub(crate) const KEY: usize = 32;

/// The encapsulated key: HPKE's ephemeral X25519 public key, fresh for every entry.
const ENC: usize = 32;

/// One entry: the encapsulated key, then the content key sealed under the key HPKE derived,
/// with its 16-byte tag.
pub(crate) const ENTRY: usize = ENC + KEY + 16;

/// A recipient's identity as an HPKE public key.
pub(crate) struct Recipient(<Kem as hpke::Kem>::PublicKey);

impl Recipient {
    /// `None` if `key` is not a valid ed25519 public key.
    pub(crate) fn new(key: &PublicKey) -> Option<Self> {
        let montgomery = ed25519_dalek::VerifyingKey::from_bytes(key.as_bytes())
            .ok()?
            .to_montgomery();
        <Kem as hpke::Kem>::PublicKey::from_bytes(montgomery.as_bytes())
            .ok()
            .map(Self)
    }
}

/// One's own identity as an HPKE private key, to open entries with.
pub(crate) struct Opener(<Kem as hpke::Kem>::PrivateKey);

impl Opener {
    pub(crate) fn new(me: &SecretKey) -> Option<Self> {
        let scalar = ed25519_dalek::SigningKey::from_bytes(&me.to_bytes()).to_scalar_bytes();
        <Kem as hpke::Kem>::PrivateKey::from_bytes(&scalar)
            .ok()
            .map(Self)
    }
}

/// The generator HPKE draws each entry's ephemeral key from. A seeded generator, not the
/// operating system's, so that the same seed gives the same bytes; the seed must be fresh
/// and secret for every payload.
pub(crate) fn rng(seed: [u8; 32]) -> impl CryptoRng {
    <chacha20::ChaCha20Rng as chacha20::rand_core::SeedableRng>::from_seed(seed)
}

/// Seals `content_key` to `to`, bound to `info`. `None` if HPKE refuses the recipient's key
/// (one of small order, whose shared secret would be known to everyone).
pub(crate) fn seal(
    content_key: &[u8; KEY],
    to: &Recipient,
    info: &[u8],
    rng: &mut impl CryptoRng,
) -> Option<[u8; ENTRY]> {
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &to.0,
        info,
        content_key,
        &[],
        rng,
    )
    .ok()?;
    let mut entry = [0u8; ENTRY];
    let (enc_part, sealed_part) = entry.split_at_mut(ENC);
    enc_part.copy_from_slice(&enc.to_bytes());
    if sealed_part.len() != ciphertext.len() {
        return None;
    }
    sealed_part.copy_from_slice(&ciphertext);
    Some(entry)
}

/// The content key in `entry` if it was sealed to `me` with this `info`, else `None`.
pub(crate) fn open(entry: &[u8], me: &Opener, info: &[u8]) -> Option<[u8; KEY]> {
    if entry.len() != ENTRY {
        return None;
    }
    let (enc, sealed) = entry.split_at(ENC);
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).ok()?;
    let key =
        hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &me.0, &enc, info, sealed, &[])
            .ok()?;
    key.try_into().ok()
}
