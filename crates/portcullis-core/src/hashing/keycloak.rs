//! Keycloak password credentials, turned into the PHC strings Portcullis stores.
//!
//! A Keycloak realm export keeps each password as two JSON documents inside
//! strings: `secretData` (`value`, the Base64 hash, and `salt`, Base64) and
//! `credentialData` (`hashIterations`, `algorithm`, and for Argon2 its
//! `additionalParameters`). [`StoredHash::from_keycloak_credential`] reads
//! both and writes the same hash as a PHC string, so the store keeps one text
//! column and a Keycloak hash is verified like any other PHC hash.
//!
//! Keycloak pads a password shorter than 14 UTF-16 units with NUL characters
//! before PBKDF2. That changes nothing: HMAC pads its key with zero bytes to
//! the block size (64 or 128 bytes) anyway, and a padded password is at most
//! 40 bytes of UTF-8 (13 units of 3 bytes and a NUL), so plain PBKDF2 over
//! the password gives Keycloak's hash.
//! The fixtures are computed with the padding, which the tests confirm.
//!
//! This module must never accept a credential it would verify otherwise than
//! Keycloak does, nor put a hash or a salt in an error.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use crate::hashing::formats::base64_standard;
use crate::hashing::stored::{StoredHash, StoredHashError};

const FORMAT: &str = "Keycloak credential";

#[derive(serde::Deserialize)]
struct SecretData {
    value: String,
    salt: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialData {
    hash_iterations: u32,
    algorithm: String,
    #[serde(default)]
    additional_parameters: HashMap<String, Vec<String>>,
}

impl StoredHash {
    /// Reads a Keycloak password credential: the `secretData` and
    /// `credentialData` strings of an entry of a realm export's
    /// `users[].credentials[]`, as they appear there (JSON text). Algorithms
    /// `pbkdf2` (HMAC-SHA-1), `pbkdf2-sha256`, `pbkdf2-sha512` and `argon2`
    /// are read; the result's [`StoredHash::as_str`] is a PHC string, under
    /// the same bounds as [`StoredHash::parse`].
    ///
    /// # Errors
    /// [`StoredHashError`] when either document is not what Keycloak writes,
    /// the algorithm is another, or the parameters are out of bounds.
    pub fn from_keycloak_credential(
        secret_data: &str,
        credential_data: &str,
    ) -> Result<Self, StoredHashError> {
        let secret: SecretData = serde_json::from_str(secret_data).map_err(|_| {
            malformed("secretData is not JSON with the strings \"value\" and \"salt\"")
        })?;
        let credential: CredentialData = serde_json::from_str(credential_data).map_err(|_| {
            malformed(
                "credentialData is not JSON with \"hashIterations\" (a number) and \"algorithm\"",
            )
        })?;
        let salt = STANDARD_NO_PAD.encode(base64_standard(FORMAT, &secret.salt)?);
        let hash = base64_standard(FORMAT, &secret.value)?;
        let iterations = credential.hash_iterations;
        let text = match credential.algorithm.as_str() {
            "pbkdf2" | "pbkdf2-sha256" | "pbkdf2-sha512" => format!(
                "${}$i={iterations},l={}${salt}${}",
                credential.algorithm,
                hash.len(),
                STANDARD_NO_PAD.encode(&hash)
            ),
            "argon2" => {
                let parameter = |name| {
                    credential
                        .additional_parameters
                        .get(name)
                        .and_then(|values| values.first())
                        .map(String::as_str)
                        .ok_or_else(|| malformed(format!("argon2 without \"{name}\"")))
                };
                let variant = match parameter("type")? {
                    variant @ ("id" | "i" | "d") => variant,
                    _ => return Err(malformed("argon2 \"type\" is not id, i or d")),
                };
                let version = match parameter("version")? {
                    "1.3" => 19,
                    "1.0" => 16,
                    _ => return Err(malformed("argon2 \"version\" is not 1.3 or 1.0")),
                };
                if parameter("hashLength")?.parse::<usize>().ok() != Some(hash.len()) {
                    return Err(malformed("argon2 \"hashLength\" is not the hash's length"));
                }
                let memory = number(parameter("memory")?)?;
                let parallelism = number(parameter("parallelism")?)?;
                format!(
                    "$argon2{variant}$v={version}$m={memory},t={iterations},p={parallelism}${salt}${}",
                    STANDARD_NO_PAD.encode(&hash)
                )
            }
            _ => {
                return Err(StoredHashError::Unsupported {
                    format: FORMAT,
                    reason: "only pbkdf2, pbkdf2-sha256, pbkdf2-sha512 and argon2 are read",
                });
            }
        };
        Self::parse(&text)
    }
}

fn number(text: &str) -> Result<u32, StoredHashError> {
    text.parse()
        .map_err(|_| malformed("an argon2 parameter is not a number"))
}

fn malformed(reason: impl Into<String>) -> StoredHashError {
    StoredHashError::Malformed {
        format: FORMAT,
        reason: reason.into(),
    }
}
