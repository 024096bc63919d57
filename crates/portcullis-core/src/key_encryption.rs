//! Private signing keys sealed at rest under a key-encryption key (KEK),
//! so that a copy of the database (a backup, a readable file) does not
//! hand out the power to mint tokens.
//!
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) with a random
//! 192-bit nonce per seal and the key's `kid` as associated data, so a
//! sealed key cannot be swapped onto another `kid`. Sealed bytes start with
//! [`SEALED_PREFIX`], which PKCS#8 (a DER `SEQUENCE`, byte 0x30) never
//! does, so one column holds either form and every key says which it is.
//! Without a KEK keys are kept in the clear and the server says so at
//! every start. This module must never log or show a key or the KEK.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::keys::{PrivateKey, SigningKey};

/// What sealed bytes start with (the format's version is its last byte).
pub const SEALED_PREFIX: &[u8] = b"PCKEK1";

const NONCE_LENGTH: usize = 24;

/// The 256-bit key that seals signing keys. `Debug` never shows it.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

/// Why a KEK or a sealed key was refused; safe to show.
#[derive(Debug, thiserror::Error)]
pub enum KeyEncryptionError {
    #[error(
        "a key-encryption key is 32 bytes written in base64 (e.g. `head -c 32 /dev/urandom | base64`)"
    )]
    MalformedKey,
    #[error(
        "the signing key {kid} is encrypted: give the key-encryption key (--key-encryption-key-file or PORTCULLIS_KEY_ENCRYPTION_KEY)"
    )]
    KeyNeeded { kid: String },
    #[error("the key-encryption key does not open the signing key {kid}: is it the right one?")]
    WrongKey { kid: String },
}

impl KeyEncryptionKey {
    /// Reads 32 bytes written in base64 (standard or URL-safe, padded or
    /// not; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`KeyEncryptionError::MalformedKey`].
    pub fn from_base64(text: &str) -> Result<Self, KeyEncryptionError> {
        let text = text.trim();
        let bytes = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or(KeyEncryptionError::MalformedKey)?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(Self)
            .map_err(|_| KeyEncryptionError::MalformedKey)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

/// Seals and opens private keys with the KEK, if there is one.
#[derive(Debug, Clone)]
pub struct KeyVault {
    kek: Option<KeyEncryptionKey>,
}

impl KeyVault {
    #[must_use]
    pub fn new(kek: Option<KeyEncryptionKey>) -> Self {
        Self { kek }
    }

    /// Whether keys are kept sealed.
    #[must_use]
    pub fn seals(&self) -> bool {
        self.kek.is_some()
    }

    /// `key` as it is to be stored: sealed when there is a KEK.
    ///
    /// # Panics
    /// Never in practice: sealing fails only for inputs gigabytes long.
    #[must_use]
    pub fn seal(&self, key: SigningKey) -> SigningKey {
        let (Some(kek), PrivateKey::Plain(pkcs8)) = (&self.kek, &key.private_key) else {
            return key;
        };
        let mut nonce = [0u8; NONCE_LENGTH];
        getrandom::getrandom(&mut nonce).expect("the OS CSPRNG is unavailable");
        let ciphertext = kek
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: pkcs8,
                    aad: key.kid.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any key");
        let mut sealed = SEALED_PREFIX.to_vec();
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        SigningKey {
            private_key: PrivateKey::Sealed(sealed),
            ..key
        }
    }

    /// `key` ready to sign with: opened when sealed.
    ///
    /// # Errors
    /// [`KeyEncryptionError::KeyNeeded`] without a KEK,
    /// [`KeyEncryptionError::WrongKey`] when it does not open.
    pub fn open(&self, key: SigningKey) -> Result<SigningKey, KeyEncryptionError> {
        let PrivateKey::Sealed(sealed) = &key.private_key else {
            return Ok(key);
        };
        let Some(kek) = &self.kek else {
            return Err(KeyEncryptionError::KeyNeeded { kid: key.kid });
        };
        let wrong = || KeyEncryptionError::WrongKey {
            kid: key.kid.clone(),
        };
        let body = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(wrong)?;
        if body.len() < NONCE_LENGTH {
            return Err(wrong());
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LENGTH);
        let pkcs8 = kek
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: key.kid.as_bytes(),
                },
            )
            .map_err(|_| wrong())?;
        Ok(SigningKey {
            private_key: PrivateKey::Plain(pkcs8),
            ..key
        })
    }
}

/// Reads stored private-key bytes: sealed when they start with
/// [`SEALED_PREFIX`], PKCS#8 in the clear otherwise.
#[must_use]
pub fn stored_private_key(bytes: Vec<u8>) -> PrivateKey {
    if bytes.starts_with(SEALED_PREFIX) {
        PrivateKey::Sealed(bytes)
    } else {
        PrivateKey::Plain(bytes)
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::keys::SigningAlgorithm;

    fn kek(byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey([byte; 32])
    }

    #[test]
    fn a_sealed_key_opens_with_its_kek_only_and_only_for_its_kid() {
        let now = OffsetDateTime::now_utc();
        for algorithm in SigningAlgorithm::ALL {
            let key = SigningKey::generate(algorithm, now, now);
            let vault = KeyVault::new(Some(kek(7)));
            let sealed = vault.seal(key.clone());
            let PrivateKey::Sealed(bytes) = &sealed.private_key else {
                panic!("{algorithm}: sealed");
            };
            assert!(bytes.starts_with(SEALED_PREFIX));
            let pkcs8 = key.pkcs8().unwrap();
            assert!(
                !bytes
                    .windows(16)
                    .any(|window| pkcs8.windows(16).any(|p| p == window)),
                "{algorithm}: the sealed bytes hold part of the PKCS#8 key"
            );
            assert_eq!(stored_private_key(bytes.clone()), sealed.private_key);
            assert_eq!(vault.open(sealed.clone()).unwrap(), key, "{algorithm}");
            assert!(matches!(
                KeyVault::new(Some(kek(8))).open(sealed.clone()),
                Err(KeyEncryptionError::WrongKey { .. })
            ));
            assert!(matches!(
                KeyVault::new(None).open(sealed.clone()),
                Err(KeyEncryptionError::KeyNeeded { .. })
            ));
            let moved = SigningKey {
                kid: "another".into(),
                ..sealed
            };
            assert!(matches!(
                vault.open(moved),
                Err(KeyEncryptionError::WrongKey { .. })
            ));
            let plain = KeyVault::new(None).seal(key.clone());
            assert_eq!(plain, key, "no KEK, no sealing");
            assert_ne!(vault.seal(key.clone()).private_key, key.private_key);
        }
    }

    #[test]
    fn a_kek_is_32_bytes_of_base64() {
        let text = STANDARD.encode([3u8; 32]);
        assert!(KeyEncryptionKey::from_base64(&format!(" {text}\n")).is_ok());
        assert!(KeyEncryptionKey::from_base64(&URL_SAFE_NO_PAD.encode([3u8; 32])).is_ok());
        assert!(KeyEncryptionKey::from_base64(&STANDARD.encode([3u8; 31])).is_err());
        assert!(KeyEncryptionKey::from_base64("not base64 at all!").is_err());
        assert_eq!(format!("{:?}", kek(1)), "KeyEncryptionKey([redacted])");
    }
}
