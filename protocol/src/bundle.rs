//! Sneakernet bundles: signed events carried on a USB stick between nodes when the network is
//! cut. A bundle is encrypted to the nodes named at export (X25519 key agreement with keys
//! derived from their ed25519 identities, ChaCha20-Poly1305) and signed by the exporting node.
//! Importing checks the signature, then every event exactly as sync does.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use curve25519_dalek::montgomery::MontgomeryPoint;
use serde::{Deserialize, Serialize};

use crate::ids::{DocId, PublicKey, SecretKey, Timestamp};

/// The largest bundle read.
pub const MAX_BUNDLE_BYTES: usize = 256 * 1024 * 1024;

/// Why a bundle was refused. Nothing of it was applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    /// Not a bundle, or damaged.
    #[error("not a Tejido bundle, or damaged: {0}")]
    Malformed(String),
    /// The exporter's signature does not hold: the file was altered.
    #[error("the bundle's signature does not hold: it was altered after export")]
    BadSignature,
    /// Not encrypted to this node.
    #[error("the bundle was not made for this node")]
    NotForUs,
    /// Decryption failed.
    #[error("the bundle cannot be decrypted: it was altered after export")]
    Decrypt,
}

/// What a bundle carries: the signed events of each document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contents {
    /// Documents and their signed events (each in its signed byte form).
    pub docs: Vec<(DocId, Vec<Vec<u8>>)>,
}

#[derive(Serialize, Deserialize)]
struct Recipient {
    node: PublicKey,
    wrapped: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    exporter: PublicKey,
    id: [u8; 16],
    created: Timestamp,
    ephemeral: [u8; 32],
    recipients: Vec<Recipient>,
    nonce: [u8; 12],
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
enum BundleFile {
    V0 { sealed: Vec<u8>, sig: Vec<u8> },
}

/// A bundle that passed its signature check and was decrypted.
#[derive(Debug)]
pub struct Opened {
    /// The exporting node (check that it is a node of the network).
    pub exporter: PublicKey,
    /// The bundle's id (refuse one imported before).
    pub id: [u8; 16],
    /// When it was exported.
    pub created: Timestamp,
    /// The events.
    pub contents: Contents,
}

fn x25519_public(key: &PublicKey) -> Result<MontgomeryPoint, BundleError> {
    let vk = ed25519_dalek::VerifyingKey::from_bytes(key.as_bytes())
        .map_err(|_| BundleError::Malformed("invalid node key".into()))?;
    Ok(vk.to_montgomery())
}

fn kek(shared: &MontgomeryPoint, id: &[u8; 16], recipient: &PublicKey) -> [u8; 32] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(id), shared.as_bytes());
    let mut info = b"tejido bundle v0".to_vec();
    info.extend_from_slice(recipient.as_bytes());
    let mut out = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hk.expand(&info, &mut out);
    out
}

fn aad(id: &[u8; 16], exporter: &PublicKey) -> Vec<u8> {
    let mut aad = id.to_vec();
    aad.extend_from_slice(exporter.as_bytes());
    aad
}

/// The random values a bundle is sealed with. Each must be fresh and secret for every
/// bundle: the same content key and nonce for two bundles would break ChaCha20-Poly1305.
pub struct SealRandomness {
    /// The bundle's id.
    pub id: [u8; 16],
    /// The key the contents are encrypted with.
    pub content_key: [u8; 32],
    /// The nonce of the contents' encryption.
    pub nonce: [u8; 12],
    /// The ephemeral X25519 secret the content key is wrapped with for each recipient.
    pub ephemeral_secret: [u8; 32],
}

impl SealRandomness {
    /// Fresh values from the operating system's random source.
    pub fn generate() -> Self {
        Self {
            id: crate::ids::random_bytes(),
            content_key: crate::ids::random_bytes(),
            nonce: crate::ids::random_bytes(),
            ephemeral_secret: crate::ids::random_bytes(),
        }
    }
}

impl std::fmt::Debug for SealRandomness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealRandomness(id={:02x?}, secrets=..)", self.id)
    }
}

/// Encrypts `contents` to `recipients` and signs the result as `exporter`, recording
/// `created` as the export time. Randomness comes from the operating system.
pub fn seal(
    contents: &Contents,
    exporter: &SecretKey,
    recipients: &[PublicKey],
    created: Timestamp,
) -> Result<Vec<u8>, BundleError> {
    seal_with_id(contents, exporter, recipients, created).map(|(bytes, _)| bytes)
}

/// Like [`seal`], and also returns the bundle's id (for `export --since BUNDLE`).
pub fn seal_with_id(
    contents: &Contents,
    exporter: &SecretKey,
    recipients: &[PublicKey],
    created: Timestamp,
) -> Result<(Vec<u8>, [u8; 16]), BundleError> {
    seal_with_randomness(
        contents,
        exporter,
        recipients,
        created,
        &SealRandomness::generate(),
    )
}

/// Like [`seal_with_id`], with the random values given by the caller (see
/// [`SealRandomness`]): the same arguments give the same bytes.
pub fn seal_with_randomness(
    contents: &Contents,
    exporter: &SecretKey,
    recipients: &[PublicKey],
    created: Timestamp,
    randomness: &SealRandomness,
) -> Result<(Vec<u8>, [u8; 16]), BundleError> {
    let plaintext =
        postcard::to_stdvec(contents).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let SealRandomness {
        id,
        content_key,
        nonce,
        ephemeral_secret,
    } = *randomness;
    let ephemeral = MontgomeryPoint::mul_base_clamped(ephemeral_secret);
    let exporter_key = exporter.public();
    let mut wrapped = Vec::new();
    for node in recipients {
        let shared = x25519_public(node)?.mul_clamped(ephemeral_secret);
        let cipher = ChaCha20Poly1305::new(&kek(&shared, &id, node).into());
        let key = cipher
            .encrypt(&[0u8; 12].into(), content_key.as_slice())
            .map_err(|_| BundleError::Decrypt)?;
        wrapped.push(Recipient {
            node: *node,
            wrapped: key,
        });
    }
    let ciphertext = ChaCha20Poly1305::new(&content_key.into())
        .encrypt(
            &nonce.into(),
            Payload {
                msg: &plaintext,
                aad: &aad(&id, &exporter_key),
            },
        )
        .map_err(|_| BundleError::Decrypt)?;
    let sealed = Sealed {
        exporter: exporter_key,
        id,
        created,
        ephemeral: ephemeral.to_bytes(),
        recipients: wrapped,
        nonce,
        ciphertext,
    };
    let sealed = postcard::to_stdvec(&sealed).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let sig = exporter.sign(&sealed).to_vec();
    let bytes = postcard::to_stdvec(&BundleFile::V0 { sealed, sig })
        .map_err(|e| BundleError::Malformed(e.to_string()))?;
    Ok((bytes, id))
}

/// Checks the exporter's signature and decrypts a bundle for `me`.
pub fn open(bytes: &[u8], me: &SecretKey) -> Result<Opened, BundleError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::Malformed("too large".into()));
    }
    let BundleFile::V0 { sealed, sig } =
        postcard::from_bytes(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let sealed_bytes = sealed;
    let sealed: Sealed =
        postcard::from_bytes(&sealed_bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let sig: [u8; 64] = sig
        .try_into()
        .map_err(|_| BundleError::Malformed("signature length".into()))?;
    if !sealed.exporter.verify(&sealed_bytes, &sig) {
        return Err(BundleError::BadSignature);
    }
    let my_key = me.public();
    let entry = sealed
        .recipients
        .iter()
        .find(|r| r.node == my_key)
        .ok_or(BundleError::NotForUs)?;
    let my_secret = ed25519_dalek::SigningKey::from_bytes(&me.to_bytes()).to_scalar_bytes();
    let shared = MontgomeryPoint(sealed.ephemeral).mul_clamped(my_secret);
    let content_key = ChaCha20Poly1305::new(&kek(&shared, &sealed.id, &my_key).into())
        .decrypt(&[0u8; 12].into(), entry.wrapped.as_slice())
        .map_err(|_| BundleError::Decrypt)?;
    let content_key: [u8; 32] = content_key.try_into().map_err(|_| BundleError::Decrypt)?;
    let plaintext = ChaCha20Poly1305::new(&content_key.into())
        .decrypt(
            &sealed.nonce.into(),
            Payload {
                msg: &sealed.ciphertext,
                aad: &aad(&sealed.id, &sealed.exporter),
            },
        )
        .map_err(|_| BundleError::Decrypt)?;
    let contents: Contents =
        postcard::from_bytes(&plaintext).map_err(|e| BundleError::Malformed(e.to_string()))?;
    Ok(Opened {
        exporter: sealed.exporter,
        id: sealed.id,
        created: sealed.created,
        contents,
    })
}
