//! Sealing a small payload to several people at once without naming them: who may read a
//! shelter request must not be readable from the request itself.
//!
//! A random content key encrypts the payload (ChaCha20-Poly1305). For each recipient, the
//! content key is wrapped under a key agreed by X25519 between a fresh ephemeral key and the
//! recipient's key (the Montgomery form of their ed25519 identity), through HKDF-SHA256. The
//! wrapped keys carry no recipient name and are sorted, so neither their content nor their
//! order says who they are for; a recipient finds theirs by trying each (there are at most
//! [`MAX_RECIPIENTS`]). Only the number of recipients shows.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use curve25519_dalek::montgomery::MontgomeryPoint;
use serde::{Deserialize, Serialize};

use crate::ids::{PublicKey, SecretKey};

/// The most recipients one sealed payload has.
pub const MAX_RECIPIENTS: usize = 64;

/// A wrapped content key: 32 bytes and a 16-byte tag.
const WRAPPED: usize = 48;

/// Why a sealed payload cannot be made or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Not a sealed payload, or damaged.
    #[error("not a sealed payload, or damaged: {0}")]
    Malformed(String),
    /// No recipients, too many, or a key that is not a valid identity.
    #[error("bad recipients: {0}")]
    Recipients(String),
}

#[derive(Serialize, Deserialize)]
enum SealedBox {
    V0 {
        ephemeral: [u8; 32],
        #[serde(with = "serde_bytes")]
        keys: Vec<u8>,
        #[serde(with = "serde_bytes")]
        ciphertext: Vec<u8>,
    },
}

fn montgomery(key: &PublicKey) -> Option<MontgomeryPoint> {
    ed25519_dalek::VerifyingKey::from_bytes(key.as_bytes())
        .ok()
        .map(|vk| vk.to_montgomery())
}

/// The wrapping key for one recipient: bound to the ephemeral key, the recipient and the
/// caller's context, so a wrapped key cannot be moved to another payload.
fn kek(
    shared: &MontgomeryPoint,
    ephemeral: &[u8; 32],
    recipient: &MontgomeryPoint,
    context: &[u8],
) -> [u8; 32] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(ephemeral), shared.as_bytes());
    let mut info = b"tejido sealed v0".to_vec();
    info.extend_from_slice(recipient.as_bytes());
    info.extend_from_slice(context);
    let mut out = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hk.expand(&info, &mut out);
    out
}

/// Seals `plaintext` so that each of `recipients` (ed25519 identities) and nobody else can
/// open it. `context` is authenticated, not stored: opening needs the same context.
/// Randomness comes from the operating system.
pub fn seal(
    plaintext: &[u8],
    recipients: &[PublicKey],
    context: &[u8],
) -> Result<Vec<u8>, SealError> {
    seal_with_randomness(
        plaintext,
        recipients,
        context,
        crate::ids::random_bytes(),
        crate::ids::random_bytes(),
    )
}

/// Like [`seal`], with the random values given by the caller: the content key and the
/// ephemeral X25519 secret. Both must be fresh and secret for every payload (the payload is
/// encrypted under the content key with a zero nonce); the same arguments give the same bytes.
pub fn seal_with_randomness(
    plaintext: &[u8],
    recipients: &[PublicKey],
    context: &[u8],
    content_key: [u8; 32],
    ephemeral_secret: [u8; 32],
) -> Result<Vec<u8>, SealError> {
    let mut unique: Vec<PublicKey> = recipients.to_vec();
    unique.sort();
    unique.dedup();
    if unique.is_empty() || unique.len() > MAX_RECIPIENTS {
        return Err(SealError::Recipients(format!(
            "seal to 1 to {MAX_RECIPIENTS} people"
        )));
    }
    let ephemeral = MontgomeryPoint::mul_base_clamped(ephemeral_secret).to_bytes();
    let mut wrapped: Vec<Vec<u8>> = Vec::with_capacity(unique.len());
    for key in &unique {
        let point = montgomery(key)
            .ok_or_else(|| SealError::Recipients(format!("{} is not a valid key", key)))?;
        let shared = point.mul_clamped(ephemeral_secret);
        let cipher = ChaCha20Poly1305::new(&kek(&shared, &ephemeral, &point, context).into());
        let entry = cipher
            .encrypt(&[0u8; 12].into(), content_key.as_slice())
            .map_err(|_| SealError::Malformed("cannot wrap".into()))?;
        wrapped.push(entry);
    }
    // Sorted wrapped keys: their order says nothing about whose is whose.
    wrapped.sort();
    // The content key is fresh for every payload, so a zero nonce is never reused under it.
    let ciphertext = ChaCha20Poly1305::new(&content_key.into())
        .encrypt(
            &[0u8; 12].into(),
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .map_err(|_| SealError::Malformed("cannot encrypt".into()))?;
    postcard::to_stdvec(&SealedBox::V0 {
        ephemeral,
        keys: wrapped.concat(),
        ciphertext,
    })
    .map_err(|e| SealError::Malformed(e.to_string()))
}

/// The number of recipients a sealed payload has, or an error if it is malformed.
pub fn recipients(sealed: &[u8]) -> Result<usize, SealError> {
    let SealedBox::V0 { keys, .. } = decode(sealed)?;
    Ok(keys.len() / WRAPPED)
}

fn decode(sealed: &[u8]) -> Result<SealedBox, SealError> {
    let (sealed, rest): (SealedBox, &[u8]) =
        postcard::take_from_bytes(sealed).map_err(|e| SealError::Malformed(e.to_string()))?;
    let SealedBox::V0 { keys, .. } = &sealed;
    if !rest.is_empty() {
        return Err(SealError::Malformed("trailing bytes".into()));
    }
    if keys.is_empty() || keys.len() % WRAPPED != 0 || keys.len() / WRAPPED > MAX_RECIPIENTS {
        return Err(SealError::Malformed("bad key list".into()));
    }
    Ok(sealed)
}

/// Opens a sealed payload with `me`: `Ok(None)` when it was not sealed to `me`, an error when
/// it is malformed or was altered.
pub fn open(sealed: &[u8], me: &SecretKey, context: &[u8]) -> Result<Option<Vec<u8>>, SealError> {
    let SealedBox::V0 {
        ephemeral,
        keys,
        ciphertext,
    } = decode(sealed)?;
    let my_point = match montgomery(&me.public()) {
        Some(p) => p,
        None => return Ok(None),
    };
    let my_secret = ed25519_dalek::SigningKey::from_bytes(&me.to_bytes()).to_scalar_bytes();
    let shared = MontgomeryPoint(ephemeral).mul_clamped(my_secret);
    let cipher = ChaCha20Poly1305::new(&kek(&shared, &ephemeral, &my_point, context).into());
    let Some(content_key) = keys
        .chunks(WRAPPED)
        .find_map(|entry| cipher.decrypt(&[0u8; 12].into(), entry).ok())
    else {
        return Ok(None);
    };
    let content_key: [u8; 32] = content_key
        .try_into()
        .map_err(|_| SealError::Malformed("bad content key".into()))?;
    ChaCha20Poly1305::new(&content_key.into())
        .decrypt(
            &[0u8; 12].into(),
            Payload {
                msg: &ciphertext,
                aad: context,
            },
        )
        .map(Some)
        .map_err(|_| SealError::Malformed("altered after sealing".into()))
}
