//! New password hashes: Argon2id (version 0x13) with the configured
//! parameters and a fresh random salt, as PHC strings, computed into memory
//! that the calling hashing thread keeps between hashes.
//!
//! Reading and checking stored hashes of every scheme is
//! [`StoredHash`](crate::hashing::StoredHash)'s job; this module only makes
//! the server's own. It never puts the password in an error.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::hashing::HashingError;

/// A new PHC hash of `secret` with `params`, using (and growing) `memory`.
pub(super) fn hash_with(
    params: &Params,
    secret: &str,
    memory: &mut Vec<Block>,
) -> Result<String, HashingError> {
    let salt = SaltString::generate(&mut OsRng);
    let internal = |e: argon2::Error| HashingError::Internal(e.to_string());
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| HashingError::Internal(e.to_string()))?;
    let output = compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        secret,
        salt_bytes,
        memory,
    )
    .map_err(internal)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| HashingError::Internal(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(|e| HashingError::Internal(e.to_string()))?),
    };
    Ok(hash.to_string())
}

/// Runs Argon2 into a buffer of the output length, reusing `memory`.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    secret: &str,
    salt: &[u8],
    memory: &mut Vec<Block>,
) -> Result<Vec<u8>, argon2::Error> {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut output = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        secret.as_bytes(),
        salt,
        &mut output,
        &mut memory[..params.block_count()],
    )?;
    Ok(output)
}
