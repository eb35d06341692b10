//! Sealing a small payload to several people at once without naming them: who may read a
//! shelter request must not be readable from the request itself.
//!
//! A random content key encrypts the payload (ChaCha20-Poly1305, the caller's context as
//! associated data). For each recipient, the content key is sealed with HPKE (RFC 9180, base
//! mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305) to the Montgomery form of
//! their ed25519 identity, with a fresh ephemeral key per recipient and the context in HPKE's
//! `info`, so an entry opens only for the payloads of that context. The entries are all the
//! same size, carry no recipient name and are sorted, so neither their content nor their order
//! says who they are for; a recipient finds theirs by trying each (there are at most
//! [`MAX_RECIPIENTS`]). Only the number of recipients shows.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use serde::{Deserialize, Serialize};

use crate::hpke_wrap::{self, ENTRY};
use crate::ids::{PublicKey, SecretKey};

/// The most recipients one sealed payload has.
pub const MAX_RECIPIENTS: usize = 64;

/// Where HPKE's `info` starts: the format, then the caller's context.
const DOMAIN: &[u8] = b"tejido sealed v1";

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
    /// The construction before HPKE: neither made nor read. Its tag stays taken so that such
    /// a payload is never read as a later version.
    V0,
    V1 {
        /// One [`ENTRY`]-byte HPKE entry per recipient, sorted.
        #[serde(with = "serde_bytes")]
        keys: Vec<u8>,
        /// The payload under the content key.
        #[serde(with = "serde_bytes")]
        ciphertext: Vec<u8>,
    },
}

/// HPKE's `info` for every entry of a payload sealed with `context`.
fn info(context: &[u8]) -> Vec<u8> {
    let mut info = DOMAIN.to_vec();
    info.extend_from_slice(context);
    info
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

/// Like [`seal`], with the random values given by the caller: the content key, and the seed
/// of the generator HPKE draws each recipient's ephemeral X25519 key from. Both must be fresh
/// and secret for every payload (the payload is encrypted under the content key with a zero
/// nonce); the same arguments give the same bytes.
pub fn seal_with_randomness(
    plaintext: &[u8],
    recipients: &[PublicKey],
    context: &[u8],
    content_key: [u8; 32],
    ephemeral_seed: [u8; 32],
) -> Result<Vec<u8>, SealError> {
    let mut unique: Vec<PublicKey> = recipients.to_vec();
    unique.sort();
    unique.dedup();
    if unique.is_empty() || unique.len() > MAX_RECIPIENTS {
        return Err(SealError::Recipients(format!(
            "seal to 1 to {MAX_RECIPIENTS} people"
        )));
    }
    let info = info(context);
    let mut rng = hpke_wrap::rng(ephemeral_seed);
    let mut entries: Vec<[u8; ENTRY]> = Vec::with_capacity(unique.len());
    for key in &unique {
        let entry = hpke_wrap::Recipient::new(key)
            .and_then(|to| hpke_wrap::seal(&content_key, &to, &info, &mut rng))
            .ok_or_else(|| SealError::Recipients(format!("{} is not a valid key", key)))?;
        entries.push(entry);
    }
    // Sorted entries: their order says nothing about whose is whose.
    entries.sort();
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
    postcard::to_stdvec(&SealedBox::V1 {
        keys: entries.concat(),
        ciphertext,
    })
    .map_err(|e| SealError::Malformed(e.to_string()))
}

/// The number of recipients a sealed payload has, or an error if it is malformed.
pub fn recipients(sealed: &[u8]) -> Result<usize, SealError> {
    let (keys, _) = decode(sealed)?;
    Ok(keys.len() / ENTRY)
}

/// The entries and the ciphertext of a well-formed payload.
fn decode(sealed: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SealError> {
    let (sealed, rest): (SealedBox, &[u8]) =
        postcard::take_from_bytes(sealed).map_err(|e| SealError::Malformed(e.to_string()))?;
    let SealedBox::V1 { keys, ciphertext } = sealed else {
        return Err(SealError::Malformed("a format before version 1".into()));
    };
    if !rest.is_empty() {
        return Err(SealError::Malformed("trailing bytes".into()));
    }
    if keys.is_empty() || keys.len() % ENTRY != 0 || keys.len() / ENTRY > MAX_RECIPIENTS {
        return Err(SealError::Malformed("bad key list".into()));
    }
    Ok((keys, ciphertext))
}

/// Opens a sealed payload with `me`: `Ok(None)` when it was not sealed to `me`, an error when
/// it is malformed or was altered.
pub fn open(sealed: &[u8], me: &SecretKey, context: &[u8]) -> Result<Option<Vec<u8>>, SealError> {
    let (keys, ciphertext) = decode(sealed)?;
    let Some(opener) = hpke_wrap::Opener::new(me) else {
        return Ok(None);
    };
    let info = info(context);
    let Some(content_key) = keys
        .chunks(ENTRY)
        .find_map(|entry| hpke_wrap::open(entry, &opener, &info))
    else {
        return Ok(None);
    };
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
