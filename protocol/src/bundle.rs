//! Sneakernet bundles: signed events carried on a USB stick between nodes when the network is
//! cut. A bundle is encrypted to the nodes named at export and signed by the exporting node:
//! a random content key encrypts the events (ChaCha20-Poly1305), and is sealed to each node's
//! ed25519 identity with HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256)), bound to the
//! bundle's id and exporter. Importing checks the signature, then every event exactly as sync
//! does.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use serde::{Deserialize, Serialize};

use crate::hpke_wrap;
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

/// Where HPKE's `info` starts: the format, then the bundle's id and exporter.
const DOMAIN: &[u8] = b"tejido bundle v1";

#[derive(Serialize, Deserialize)]
struct Recipient {
    /// Named in the clear, so that a node finds its entry.
    node: PublicKey,
    /// The content key sealed to `node` (an HPKE entry).
    #[serde(with = "serde_bytes")]
    entry: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    exporter: PublicKey,
    id: [u8; 16],
    created: Timestamp,
    recipients: Vec<Recipient>,
    nonce: [u8; 12],
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
enum BundleFile {
    /// The format before HPKE: neither made nor read. Its tag stays taken so that such a file
    /// is never read as a later version.
    V0,
    V1 {
        sealed: Vec<u8>,
        sig: Vec<u8>,
    },
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

/// HPKE's `info` for the entries of the bundle `id` by `exporter`: an entry cannot be moved
/// to another bundle. (HPKE binds the recipient's key itself.)
fn info(id: &[u8; 16], exporter: &PublicKey) -> Vec<u8> {
    let mut info = DOMAIN.to_vec();
    info.extend_from_slice(&aad(id, exporter));
    info
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
    /// The seed of the generator HPKE draws each recipient's ephemeral X25519 key from.
    pub ephemeral_seed: [u8; 32],
}

impl SealRandomness {
    /// Fresh values from the operating system's random source.
    pub fn generate() -> Self {
        Self {
            id: crate::ids::random_bytes(),
            content_key: crate::ids::random_bytes(),
            nonce: crate::ids::random_bytes(),
            ephemeral_seed: crate::ids::random_bytes(),
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
        ephemeral_seed,
    } = *randomness;
    let exporter_key = exporter.public();
    let info = info(&id, &exporter_key);
    let mut rng = hpke_wrap::rng(ephemeral_seed);
    let mut wrapped = Vec::new();
    for node in recipients {
        let entry = hpke_wrap::Recipient::new(node)
            .and_then(|to| hpke_wrap::seal(&content_key, &to, &info, &mut rng))
            .ok_or_else(|| BundleError::Malformed("invalid node key".into()))?;
        wrapped.push(Recipient {
            node: *node,
            entry: entry.to_vec(),
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
        recipients: wrapped,
        nonce,
        ciphertext,
    };
    let sealed = postcard::to_stdvec(&sealed).map_err(|e| BundleError::Malformed(e.to_string()))?;
    let sig = exporter.sign(&sealed).to_vec();
    let bytes = postcard::to_stdvec(&BundleFile::V1 { sealed, sig })
        .map_err(|e| BundleError::Malformed(e.to_string()))?;
    Ok((bytes, id))
}

/// Checks the exporter's signature and decrypts a bundle for `me`.
pub fn open(bytes: &[u8], me: &SecretKey) -> Result<Opened, BundleError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::Malformed("too large".into()));
    }
    let BundleFile::V1 { sealed, sig } =
        postcard::from_bytes(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?
    else {
        return Err(BundleError::Malformed("a format before version 1".into()));
    };
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
    let opener = hpke_wrap::Opener::new(me).ok_or(BundleError::NotForUs)?;
    let content_key = hpke_wrap::open(&entry.entry, &opener, &info(&sealed.id, &sealed.exporter))
        .ok_or(BundleError::Decrypt)?;
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
