//! Encryption at rest: with `--encrypt`, every value the store writes and both key files are
//! sealed with ChaCha20-Poly1305 under a key derived from a passphrase by Argon2id (memory
//! hard, so guessing passphrases from a seized disk is slow). The derived key lives only in
//! memory; the data directory holds the salt and a check value in `encryption`.
//!
//! Not encrypted: `config.toml` (organisation slug, listen addresses) and the store's keys
//! (document ids: regions, organisations and months). SECURITY.md says so.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use serde::{Deserialize, Serialize};

/// Name of the file holding the salt and the check value.
pub const ENCRYPTION_FILE: &str = "encryption";

/// Prefix of sealed key files, so that a node refuses to read them without a passphrase.
const SEALED_KEY_MAGIC: &[u8; 4] = b"TJE0";

/// Argon2id cost: 64 MiB and 3 passes, about a third of a second on a small machine.
const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const ARGON2_PASSES: u32 = 3;

#[derive(Serialize, Deserialize)]
enum EncryptionFile {
    V0 { salt: [u8; 16], check: Vec<u8> },
}

/// The cipher for one data directory.
pub struct AtRest {
    aead: ChaCha20Poly1305,
}

impl std::fmt::Debug for AtRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AtRest(..)")
    }
}

fn derive(passphrase: &[u8], salt: &[u8; 16]) -> anyhow::Result<ChaCha20Poly1305> {
    let params = argon2::Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, 1, Some(32))
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon
        .hash_password_into(passphrase, salt, &mut key)
        .map_err(|e| anyhow::anyhow!("deriving the key: {e}"))?;
    Ok(ChaCha20Poly1305::new(&key.into()))
}

impl AtRest {
    /// The cipher a passphrase and salt give, with no file (backups keep the salt in the
    /// backup file).
    pub(crate) fn derive_with_salt(passphrase: &[u8], salt: &[u8; 16]) -> anyhow::Result<Self> {
        Ok(Self {
            aead: derive(passphrase, salt)?,
        })
    }

    /// Sets up encryption for a new data directory with `passphrase`.
    pub fn create(dir: &Path, passphrase: &[u8]) -> anyhow::Result<Self> {
        if passphrase.len() < 8 {
            anyhow::bail!("the passphrase must have at least 8 characters");
        }
        let salt: [u8; 16] = protocol::ids::random_bytes();
        let at_rest = Self {
            aead: derive(passphrase, &salt)?,
        };
        let check = at_rest.seal(b"tejido")?;
        let bytes = postcard::to_stdvec(&EncryptionFile::V0 { salt, check })?;
        crate::config::write_private(&dir.join(ENCRYPTION_FILE), &bytes)?;
        Ok(at_rest)
    }

    /// Opens an encrypted data directory, checking the passphrase.
    pub fn open(dir: &Path, passphrase: &[u8]) -> anyhow::Result<Self> {
        let path = dir.join(ENCRYPTION_FILE);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let EncryptionFile::V0 { salt, check } = postcard::from_bytes(&bytes)
            .map_err(|_| anyhow::anyhow!("{} is damaged", path.display()))?;
        let at_rest = Self {
            aead: derive(passphrase, &salt)?,
        };
        match at_rest.open_value(&check) {
            Ok(v) if v == b"tejido" => Ok(at_rest),
            _ => anyhow::bail!("wrong passphrase for {}", dir.display()),
        }
    }

    /// Seals a value: random nonce, then ciphertext and tag.
    pub fn seal(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce: [u8; 12] = protocol::ids::random_bytes();
        let ciphertext = self
            .aead
            .encrypt(&nonce.into(), plaintext)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens a sealed value.
    pub fn open_value(&self, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < 12 {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into()?;
        self.aead.decrypt(&nonce.into(), ciphertext).map_err(|_| {
            anyhow::anyhow!("a stored value does not decrypt: damaged, or another key")
        })
    }

    /// The file form of a sealed key.
    pub fn seal_key(&self, secret: &[u8; 32]) -> anyhow::Result<Vec<u8>> {
        let mut out = SEALED_KEY_MAGIC.to_vec();
        out.extend_from_slice(&self.seal(secret)?);
        Ok(out)
    }

    /// Reads a key file written by [`AtRest::seal_key`].
    pub fn open_key(&self, bytes: &[u8]) -> anyhow::Result<[u8; 32]> {
        let sealed = bytes
            .strip_prefix(SEALED_KEY_MAGIC)
            .context("key file is not sealed")?;
        let plain = self.open_value(sealed)?;
        plain
            .try_into()
            .map_err(|_| anyhow::anyhow!("sealed key has the wrong length"))
    }
}

/// Whether a key file is sealed.
pub fn is_sealed_key(bytes: &[u8]) -> bool {
    bytes.starts_with(SEALED_KEY_MAGIC)
}

/// The name of the systemd credential that holds the passphrase (`LoadCredential=` or
/// `LoadCredentialEncrypted=tejido-passphrase:...` in the unit).
pub const CREDENTIAL: &str = "tejido-passphrase";

/// Where the passphrase comes from, in order: a file descriptor, a file, the systemd
/// credential, the terminal.
#[derive(Debug, Default, Clone)]
pub struct PassphraseSource {
    /// `--passphrase-fd N`.
    pub fd: Option<i32>,
    /// `--passphrase-file PATH`.
    pub file: Option<std::path::PathBuf>,
}

/// The first line of `path`.
fn first_line(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("reading the passphrase from {what}"))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("reading the passphrase from {what}"))?;
    Ok(text.lines().next().unwrap_or("").as_bytes().to_vec())
}

/// Reads the passphrase (up to a newline) from `source`, or from the systemd credential
/// `tejido-passphrase` when the service manager passes one (`$CREDENTIALS_DIRECTORY`), or
/// asks on the terminal.
pub fn read_passphrase(source: &PassphraseSource, confirm: bool) -> anyhow::Result<Vec<u8>> {
    if let Some(fd) = source.fd {
        return first_line(
            Path::new(&format!("/proc/self/fd/{fd}")),
            &format!("fd {fd}"),
        );
    }
    if let Some(path) = &source.file {
        return first_line(path, &path.display().to_string());
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join(CREDENTIAL);
        if path.exists() {
            return first_line(&path, &format!("the credential {CREDENTIAL}"));
        }
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        anyhow::bail!("this node's data is encrypted: give the passphrase on a terminal, with --passphrase-fd N or --passphrase-file PATH, or as the systemd credential {CREDENTIAL}");
    }
    let first = rpassword::prompt_password("Passphrase for this node's data: ")?;
    if confirm {
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            anyhow::bail!("the passphrases differ");
        }
    }
    Ok(first.into_bytes())
}
