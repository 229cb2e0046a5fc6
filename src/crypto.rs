//! Dump encryption in the age format (age-encryption.org/v1): every chunk and schema script is one
//! age file, so `age -d` decrypts any of them by hand.
//!
//! - Recipients mode (`encryption.recipients`): files are encrypted to the listed X25519 public
//!   keys. A CronJob that holds only public keys can write dumps it cannot read.
//! - Passphrase mode (`encryption.passphrase`): each dump gets a fresh X25519 key, stored in
//!   `key.age` encrypted with the passphrase (scrypt, once per dump: scrypt per chunk would cost
//!   seconds each), and files are encrypted to that key.
//!
//! The manifest stays readable (listing needs no key) and is authenticated by `manifest.json.age`,
//! an encrypted copy that restore and verify decrypt and compare byte for byte.

use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use anyhow::{bail, Context};

use crate::config::EncryptionConfig;
use crate::datastore::Datastore;

/// The file holding a passphrase-mode dump's key.
pub const KEY_FILE: &str = "key.age";
/// The authenticated copy of the manifest.
pub const MANIFEST_COPY: &str = "manifest.json.age";
/// scrypt's work factor for passphrase dumps: 2^18 iterations need 256 MiB (128 × r=8 × N bytes)
/// and about a second, once per dump and once per restore.
pub const SCRYPT_LOG_N: u8 = 18;
/// The memory scrypt takes at [`SCRYPT_LOG_N`].
pub const SCRYPT_BYTES: u64 = (128 * 8) << SCRYPT_LOG_N;

/// The manifest's `encryption` section: what a restore needs to know, never a secret.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncryptionManifest {
    pub format: String,
    /// `passphrase` or `recipients`.
    pub mode: String,
    /// The public keys files are encrypted to (recipients mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
}

/// Encrypts a dump's files (the create side).
pub struct Sealer {
    recipients: Vec<x25519::Recipient>,
    manifest: EncryptionManifest,
    /// Passphrase mode: the dump key, encrypted with the passphrase, to store as `key.age`.
    key_file: Option<Vec<u8>>,
}

impl Sealer {
    /// Checks `encryption:` and prepares the keys; `None` without encryption.
    pub fn from_config(config: Option<&EncryptionConfig>) -> anyhow::Result<Option<Sealer>> {
        let Some(config) = config else {
            return Ok(None);
        };
        if let Some(passphrase) = &config.passphrase {
            let key = x25519::Identity::generate();
            let mut key_file = Vec::new();
            // age would time scrypt to pick its work factor, so a fast machine could need 512 MiB
            // or more; a fixed 2^18 keeps it at 256 MiB, inside `dump.memory_limit`.
            let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.clone()));
            recipient.set_work_factor(SCRYPT_LOG_N);
            let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| anyhow::anyhow!("cannot encrypt the dump key with the passphrase: {e}"))?;
            let mut writer = encryptor.wrap_output(&mut key_file)?;
            writer.write_all(key.to_string().expose_secret().as_bytes())?;
            writer.finish()?;
            return Ok(Some(Sealer {
                recipients: vec![key.to_public()],
                manifest: EncryptionManifest {
                    format: "age".into(),
                    mode: "passphrase".into(),
                    recipients: Vec::new(),
                },
                key_file: Some(key_file),
            }));
        }
        let recipients = parse_recipients(&config.recipients)?;
        Ok(Some(Sealer {
            manifest: EncryptionManifest {
                format: "age".into(),
                mode: "recipients".into(),
                recipients: recipients.iter().map(ToString::to_string).collect(),
            },
            recipients,
            key_file: None,
        }))
    }

    pub fn manifest(&self) -> &EncryptionManifest {
        &self.manifest
    }

    /// Stores `key.age` in passphrase mode (before any file that needs it).
    pub fn store_key(&self, store: &dyn Datastore, dump: &str) -> io::Result<()> {
        match &self.key_file {
            Some(bytes) => store.write_all(&format!("{dump}/{KEY_FILE}"), bytes),
            None => Ok(()),
        }
    }

    /// Wraps `output` so what is written to it is encrypted; `finish` ends the age file.
    pub fn seal<W: Write>(&self, output: W) -> io::Result<age::stream::StreamWriter<W>> {
        let encryptor = age::Encryptor::with_recipients(self.recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(io::Error::other)?;
        encryptor.wrap_output(output)
    }

    /// `bytes` as one age file.
    pub fn seal_all(&self, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(bytes.len() + 256);
        let mut writer = self.seal(&mut out)?;
        writer.write_all(bytes)?;
        writer.finish()?;
        Ok(out)
    }
}

/// `encryption.recipients` as X25519 public keys; the error names the bad entry.
pub fn parse_recipients(recipients: &[String]) -> anyhow::Result<Vec<x25519::Recipient>> {
    recipients
        .iter()
        .enumerate()
        .map(|(i, r)| {
            x25519::Recipient::from_str(r.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "encryption.recipients entry {} is not an age public key ({e}); expected age1..., as `age-keygen` \
                     prints it",
                    i + 1
                )
            })
        })
        .collect()
}

/// What a restore or verify can decrypt with: the config's passphrase and an identity file.
#[derive(Default, Clone)]
pub struct Keys {
    pub passphrase: Option<SecretString>,
    pub identity_file: Option<PathBuf>,
}

impl Keys {
    /// The config's passphrase (when it has one) and the identity file given on the command line.
    pub fn new(config: &crate::config::Config, identity_file: Option<PathBuf>) -> Keys {
        Keys {
            passphrase: config
                .encryption
                .as_ref()
                .and_then(|e| e.passphrase.clone())
                .map(SecretString::from),
            identity_file,
        }
    }
}

/// Decrypts a dump's files (the restore side).
pub struct Opener {
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
}

// Never print a private key.
impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opener({} identities)", self.identities.len())
    }
}

impl Opener {
    /// The opener for dump `dump`, or an error that says which key is missing or wrong.
    pub fn for_dump(
        store: &dyn Datastore,
        dump: &str,
        encryption: &EncryptionManifest,
        keys: &Keys,
    ) -> anyhow::Result<Arc<Opener>> {
        if encryption.format != "age" {
            bail!(
                "dump {dump} is encrypted with `{}`, which this decoy cannot read; upgrade decoy",
                encryption.format
            );
        }
        let identities = match encryption.mode.as_str() {
            "passphrase" => {
                let Some(passphrase) = &keys.passphrase else {
                    bail!(crate::error::ConfigError::new(format!(
                        "dump {dump} is encrypted with a passphrase: set encryption.passphrase in the config (for \
                         example `${{DECOY_PASSPHRASE}}`)"
                    )));
                };
                let sealed = store
                    .read_all(&format!("{dump}/{KEY_FILE}"))
                    .with_context(|| format!("cannot read {KEY_FILE} of dump {dump}; the dump is damaged"))?;
                let identity = age::scrypt::Identity::new(passphrase.clone());
                let decryptor = age::Decryptor::new_buffered(sealed.as_slice())
                    .map_err(|e| anyhow::anyhow!("{KEY_FILE} of dump {dump} is damaged: {e}"))?;
                let mut key = String::new();
                decryptor
                    .decrypt(std::iter::once(&identity as &dyn age::Identity))
                    .map_err(|_| {
                        anyhow::anyhow!(crate::error::ConfigError::new(format!(
                            "wrong passphrase for dump {dump}: encryption.passphrase does not open its {KEY_FILE}"
                        )))
                    })?
                    .read_to_string(&mut key)
                    .with_context(|| format!("{KEY_FILE} of dump {dump} is damaged"))?;
                let key = x25519::Identity::from_str(key.trim())
                    .map_err(|e| anyhow::anyhow!("{KEY_FILE} of dump {dump} holds no age key: {e}"))?;
                vec![Box::new(key) as Box<dyn age::Identity + Send + Sync>]
            }
            "recipients" => {
                let Some(path) = &keys.identity_file else {
                    bail!(crate::error::ConfigError::new(format!(
                        "dump {dump} is encrypted to age public keys ({}): pass --identity FILE (or set \
                         DECOY_IDENTITY) with a matching private key",
                        encryption.recipients.join(", ")
                    )));
                };
                read_identities(path)?
            }
            other => bail!("dump {dump} has an unknown encryption mode `{other}`; upgrade decoy"),
        };
        Ok(Arc::new(Opener { identities }))
    }

    /// Wraps an encrypted file's reader; an identity that does not match is a clear error.
    pub fn open<'a, R: Read + 'a>(&self, input: R, what: &str) -> anyhow::Result<Box<dyn Read + 'a>> {
        let decryptor = age::Decryptor::new_buffered(BufReader::new(input))
            .map_err(|e| anyhow::anyhow!("{what} is not a valid age file ({e}); it is damaged"))?;
        let reader = decryptor
            .decrypt(self.identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => anyhow::anyhow!(crate::error::ConfigError::new(format!(
                    "no key given can decrypt {what}: the identity does not match the dump's recipients"
                ))),
                other => anyhow::anyhow!("{what} cannot be decrypted ({other}); it is damaged"),
            })?;
        Ok(Box::new(reader))
    }

    /// A whole encrypted file, decrypted; tampering or truncation is an error.
    pub fn open_all(&self, bytes: &[u8], what: &str) -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(bytes.len());
        self.open(bytes, what)?
            .read_to_end(&mut out)
            .map_err(|e| anyhow::anyhow!("{what} cannot be decrypted ({e}); it is damaged or truncated"))?;
        Ok(out)
    }
}

fn read_identities(path: &Path) -> anyhow::Result<Vec<Box<dyn age::Identity + Send + Sync>>> {
    let file = std::fs::File::open(path).map_err(|e| {
        anyhow::anyhow!(crate::error::ConfigError::new(format!(
            "cannot read identity file {}: {e}",
            path.display()
        )))
    })?;
    let identities = age::IdentityFile::from_buffer(BufReader::new(file))
        .and_then(|f| f.into_identities().map_err(io::Error::other))
        .map_err(|e| {
            anyhow::anyhow!(crate::error::ConfigError::new(format!(
                "{} is not an age identity file ({e}); it should hold AGE-SECRET-KEY-1... lines, as `age-keygen` writes",
                path.display()
            )))
        })?;
    if identities.is_empty() {
        bail!(crate::error::ConfigError::new(format!(
            "{} holds no age identity",
            path.display()
        )));
    }
    Ok(identities)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_round_trip_and_a_wrong_key_is_named() {
        let key = x25519::Identity::generate();
        let config = EncryptionConfig {
            passphrase: None,
            recipients: vec![key.to_public().to_string()],
        };
        let sealer = Sealer::from_config(Some(&config)).unwrap().unwrap();
        let sealed = sealer.seal_all(b"rows\n").unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"rows"));
        let opener = Opener {
            identities: vec![Box::new(key)],
        };
        assert_eq!(opener.open_all(&sealed, "x").unwrap(), b"rows\n");
        let stranger = Opener {
            identities: vec![Box::new(x25519::Identity::generate())],
        };
        let err = stranger.open_all(&sealed, "chunk x").unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
        let mut truncated = sealed.clone();
        truncated.truncate(sealed.len() - 5);
        assert!(opener.open_all(&truncated, "x").is_err());
    }

    #[test]
    fn bad_recipients_name_the_entry() {
        let err = parse_recipients(&["age1qqq".into()]).unwrap_err().to_string();
        assert!(err.contains("entry 1") && err.contains("age1"), "{err}");
    }
}
