//! The stored-hash formats Portcullis reads, each parsed into a [`Scheme`].
//!
//! PHC strings (`$argon2id$`, `$scrypt$`, `$pbkdf2-sha256$` with `i=`),
//! passlib's PBKDF2 strings (`$pbkdf2-sha256$rounds$salt$checksum` in its
//! adapted Base64), bcrypt (`$2a$`, `$2b$`, `$2y$`), and Django's
//! `pbkdf2_sha256$`, `pbkdf2_sha1$`, `argon2$` and `scrypt$`. Each parser
//! decodes salts and hashes exactly as the system that wrote them does, and
//! checks the syntax and the algorithm's own limits only; the import bounds
//! are [`StoredHash::check_bounds`](crate::hashing::StoredHash)'s.
//!
//! This module must never panic on any input, and never put a salt or a
//! hash in an error.

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Params, Version};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

use crate::hashing::stored::{MIN_BCRYPT_COST, Prf, Scheme, StoredHashError};

/// Hash outputs shorter or longer than this are refused (the PHC limits).
const OUTPUT_LENGTHS: std::ops::RangeInclusive<usize> = 10..=64;

/// Parses `text` in whichever format its prefix names.
pub(crate) fn read(text: &str) -> Result<Scheme, StoredHashError> {
    if text.starts_with("$argon2") {
        parse_phc_argon2(text, "PHC Argon2")
    } else if let Some(phc) = text
        .strip_prefix("argon2")
        .filter(|phc| phc.starts_with('$'))
    {
        // Django's Argon2PasswordHasher: "argon2" then argon2-cffi's PHC string.
        parse_phc_argon2(phc, "Django argon2")
    } else if text.starts_with("$scrypt$") {
        parse_phc_scrypt(text)
    } else if text.starts_with("scrypt$") {
        parse_django_scrypt(text)
    } else if let Some((prf, rest)) = strip_pbkdf2_ident(text) {
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            parse_passlib_pbkdf2(prf, rest)
        } else {
            parse_phc_pbkdf2(prf, text)
        }
    } else if let Some(rest) = text.strip_prefix("pbkdf2_sha256$") {
        parse_django_pbkdf2(Prf::Sha256, rest)
    } else if let Some(rest) = text.strip_prefix("pbkdf2_sha1$") {
        parse_django_pbkdf2(Prf::Sha1, rest)
    } else if text.starts_with("$2") {
        parse_bcrypt(text)
    } else {
        Err(StoredHashError::UnknownScheme)
    }
}

pub(crate) fn malformed(format: &'static str, reason: impl Into<String>) -> StoredHashError {
    StoredHashError::Malformed {
        format,
        reason: reason.into(),
    }
}

/// PHC strings with password-hash 0.5 (standard Base64 without padding; the
/// salt is hashed decoded, as the RustCrypto crates and argon2-cffi do).
fn parse_phc<'a>(text: &'a str, format: &'static str) -> Result<PasswordHash<'a>, StoredHashError> {
    let parsed = PasswordHash::new(text).map_err(|e| malformed(format, e.to_string()))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(malformed(format, "no salt or no hash"));
    }
    Ok(parsed)
}

fn phc_salt(parsed: &PasswordHash<'_>, format: &'static str) -> Result<Vec<u8>, StoredHashError> {
    let mut buffer = [0u8; 64];
    parsed
        .salt
        .ok_or_else(|| malformed(format, "no salt"))?
        .decode_b64(&mut buffer)
        .map(<[u8]>::to_vec)
        .map_err(|e| malformed(format, e.to_string()))
}

fn phc_hash(parsed: &PasswordHash<'_>, format: &'static str) -> Result<Vec<u8>, StoredHashError> {
    parsed
        .hash
        .map(|output| output.as_bytes().to_vec())
        .ok_or_else(|| malformed(format, "no hash"))
}

fn parse_phc_argon2(text: &str, format: &'static str) -> Result<Scheme, StoredHashError> {
    let parsed = parse_phc(text, format)?;
    let algorithm = Algorithm::try_from(parsed.algorithm)
        .map_err(|_| malformed(format, "not argon2id, argon2i or argon2d"))?;
    // No `v=` means version 16, as in the reference implementation (which
    // wrote none before 1.3); every hash Portcullis made says `v=19`.
    let version = parsed
        .version
        .map_or(Ok(Version::V0x10), Version::try_from)
        .map_err(|_| StoredHashError::Unsupported {
            format,
            reason: "only Argon2 versions 16 and 19 exist",
        })?;
    let params = Params::try_from(&parsed).map_err(|e| malformed(format, e.to_string()))?;
    Ok(Scheme::Argon2 {
        algorithm,
        version,
        params,
        salt: phc_salt(&parsed, format)?,
        hash: phc_hash(&parsed, format)?,
    })
}

fn parse_phc_scrypt(text: &str) -> Result<Scheme, StoredHashError> {
    const FORMAT: &str = "PHC scrypt";
    let parsed = parse_phc(text, FORMAT)?;
    if parsed.version.is_some() {
        return Err(malformed(FORMAT, "scrypt has no version"));
    }
    let mut values = [None; 3];
    for (name, value) in parsed.params.iter() {
        let slot = match name.as_str() {
            "ln" => &mut values[0],
            "r" => &mut values[1],
            "p" => &mut values[2],
            _ => return Err(malformed(FORMAT, "parameters other than ln, r and p")),
        };
        *slot = Some(
            value
                .decimal()
                .map_err(|e| malformed(FORMAT, e.to_string()))?,
        );
    }
    let [Some(log_n), Some(r), Some(p)] = values else {
        return Err(malformed(FORMAT, "ln, r and p are all required"));
    };
    let log_n = u8::try_from(log_n).map_err(|_| malformed(FORMAT, "ln is too large"))?;
    scrypt_scheme(
        FORMAT,
        log_n,
        r,
        p,
        phc_salt(&parsed, FORMAT)?,
        phc_hash(&parsed, FORMAT)?,
    )
}

fn scrypt_scheme(
    format: &'static str,
    log_n: u8,
    r: u32,
    p: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
) -> Result<Scheme, StoredHashError> {
    if log_n == 0 || log_n >= 64 || r == 0 || p == 0 || u64::from(r) * u64::from(p) >= 1 << 30 {
        return Err(malformed(format, "N, r or p outside scrypt's own limits"));
    }
    check_output_length(format, &hash)?;
    Ok(Scheme::Scrypt {
        log_n,
        r,
        p,
        salt,
        hash,
    })
}

/// Django 4+'s `scrypt$N$salt$r$p$base64(hash)`, salt used as text.
fn parse_django_scrypt(text: &str) -> Result<Scheme, StoredHashError> {
    const FORMAT: &str = "Django scrypt";
    let fields: Vec<&str> = text.split('$').collect();
    let [_, n, salt, r, p, hash] = fields[..] else {
        return Err(malformed(FORMAT, "expected scrypt$N$salt$r$p$hash"));
    };
    let n = decimal(FORMAT, n)?;
    if !n.is_power_of_two() || n < 2 {
        return Err(malformed(FORMAT, "N is not a power of two"));
    }
    let log_n = u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX);
    let hash = base64_standard(FORMAT, hash)?;
    scrypt_scheme(
        FORMAT,
        log_n,
        decimal(FORMAT, r)?,
        decimal(FORMAT, p)?,
        non_empty_text_salt(FORMAT, salt)?,
        hash,
    )
}

/// `$pbkdf2$` (SHA-1), `$pbkdf2-sha256$` and `$pbkdf2-sha512$`: the same
/// identifiers in PHC strings and in passlib's.
fn strip_pbkdf2_ident(text: &str) -> Option<(Prf, &str)> {
    [
        ("$pbkdf2$", Prf::Sha1),
        ("$pbkdf2-sha256$", Prf::Sha256),
        ("$pbkdf2-sha512$", Prf::Sha512),
    ]
    .into_iter()
    .find_map(|(ident, prf)| text.strip_prefix(ident).map(|rest| (prf, rest)))
}

/// RustCrypto's `$pbkdf2-sha256$i=N[,l=L]$salt$hash`.
fn parse_phc_pbkdf2(prf: Prf, text: &str) -> Result<Scheme, StoredHashError> {
    const FORMAT: &str = "PHC PBKDF2";
    let parsed = parse_phc(text, FORMAT)?;
    if parsed.version.is_some() {
        return Err(malformed(FORMAT, "PBKDF2 has no version"));
    }
    let hash = phc_hash(&parsed, FORMAT)?;
    let mut iterations = None;
    for (name, value) in parsed.params.iter() {
        let value = value
            .decimal()
            .map_err(|e| malformed(FORMAT, e.to_string()))?;
        match name.as_str() {
            "i" => iterations = Some(value),
            "l" if usize::try_from(value).is_ok_and(|l| l == hash.len()) => {}
            "l" => return Err(malformed(FORMAT, "l is not the hash's length")),
            _ => return Err(malformed(FORMAT, "parameters other than i and l")),
        }
    }
    let iterations = iterations.ok_or_else(|| malformed(FORMAT, "i (iterations) is required"))?;
    pbkdf2_scheme(FORMAT, prf, iterations, phc_salt(&parsed, FORMAT)?, hash)
}

/// passlib's `$pbkdf2-sha256$rounds$salt$checksum`, in its "adapted"
/// Base64 (`.` for `+`, no padding; `+` is read too, as passlib does).
fn parse_passlib_pbkdf2(prf: Prf, rest: &str) -> Result<Scheme, StoredHashError> {
    const FORMAT: &str = "passlib PBKDF2";
    let fields: Vec<&str> = rest.split('$').collect();
    let [rounds, salt, checksum] = fields[..] else {
        return Err(malformed(
            FORMAT,
            "expected $pbkdf2-<digest>$rounds$salt$checksum",
        ));
    };
    let hash = adapted_base64(FORMAT, checksum)?;
    if hash.len() != prf.output_length() {
        return Err(malformed(FORMAT, "the checksum is not one digest long"));
    }
    pbkdf2_scheme(
        FORMAT,
        prf,
        decimal(FORMAT, rounds)?,
        adapted_base64(FORMAT, salt)?,
        hash,
    )
}

/// Django's `pbkdf2_sha256$iterations$salt$base64(hash)`, salt used as text.
fn parse_django_pbkdf2(prf: Prf, rest: &str) -> Result<Scheme, StoredHashError> {
    const FORMAT: &str = "Django PBKDF2";
    let fields: Vec<&str> = rest.split('$').collect();
    let [iterations, salt, hash] = fields[..] else {
        return Err(malformed(
            FORMAT,
            "expected pbkdf2_<digest>$iterations$salt$hash",
        ));
    };
    let hash = base64_standard(FORMAT, hash)?;
    if hash.len() != prf.output_length() {
        return Err(malformed(FORMAT, "the hash is not one digest long"));
    }
    pbkdf2_scheme(
        FORMAT,
        prf,
        decimal(FORMAT, iterations)?,
        non_empty_text_salt(FORMAT, salt)?,
        hash,
    )
}

fn pbkdf2_scheme(
    format: &'static str,
    prf: Prf,
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
) -> Result<Scheme, StoredHashError> {
    if iterations == 0 {
        return Err(malformed(format, "zero iterations"));
    }
    check_output_length(format, &hash)?;
    Ok(Scheme::Pbkdf2 {
        prf,
        iterations,
        salt,
        hash,
    })
}

impl Prf {
    fn output_length(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// `$2a$`, `$2b$` and `$2y$`, which differ only in bugs of implementations
/// that never made them; `$2x$` (crypt_blowfish's sign-extension bug) and
/// the original `$2$` would need those bugs reproduced and are refused.
fn parse_bcrypt(text: &str) -> Result<Scheme, StoredHashError> {
    const FORMAT: &str = "bcrypt";
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .into_iter()
        .find_map(|prefix| text.strip_prefix(prefix))
    else {
        return Err(if text.starts_with("$2x$") || text.starts_with("$2$") {
            StoredHashError::Unsupported {
                format: FORMAT,
                reason: "only $2a$, $2b$ and $2y$ are read",
            }
        } else {
            StoredHashError::UnknownScheme
        });
    };
    let (cost, encoded) = rest
        .split_once('$')
        .filter(|(cost, encoded)| cost.len() == 2 && encoded.len() == 53 && encoded.is_ascii())
        .ok_or_else(|| malformed(FORMAT, "expected $2b$NN$ and 53 characters"))?;
    let cost: u32 = decimal(FORMAT, cost.trim_start_matches('0'))?;
    if !(MIN_BCRYPT_COST..32).contains(&cost) {
        return Err(malformed(FORMAT, "the cost is not between 04 and 31"));
    }
    // OpenBSD's own alphabet; the unused low bits of the last character are
    // ignored, as OpenBSD and crypt_blowfish ignore them.
    let engine = GeneralPurpose::new(
        &alphabet::BCRYPT,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let (salt, hash) = encoded.split_at(22);
    let salt = engine
        .decode(salt)
        .ok()
        .and_then(|bytes| bytes.try_into().ok());
    let hash = engine
        .decode(hash)
        .ok()
        .and_then(|bytes| bytes.try_into().ok());
    match (salt, hash) {
        (Some(salt), Some(hash)) => Ok(Scheme::Bcrypt { cost, salt, hash }),
        _ => Err(malformed(FORMAT, "the salt or hash is not bcrypt Base64")),
    }
}

fn check_output_length(format: &'static str, hash: &[u8]) -> Result<(), StoredHashError> {
    if OUTPUT_LENGTHS.contains(&hash.len()) {
        Ok(())
    } else {
        Err(malformed(
            format,
            "the hash is shorter than 10 or longer than 64 bytes",
        ))
    }
}

/// A decimal without sign or leading zero that fits in a `u32`.
fn decimal(format: &'static str, text: &str) -> Result<u32, StoredHashError> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return Err(malformed(format, "a number is not a plain decimal"));
    }
    text.parse()
        .map_err(|_| malformed(format, "a number is too large"))
}

fn non_empty_text_salt(format: &'static str, salt: &str) -> Result<Vec<u8>, StoredHashError> {
    if salt.is_empty() {
        Err(malformed(format, "the salt is empty"))
    } else {
        Ok(salt.as_bytes().to_vec())
    }
}

/// Standard Base64, padded or not (Django's and Keycloak's).
pub(crate) fn base64_standard(
    format: &'static str,
    text: &str,
) -> Result<Vec<u8>, StoredHashError> {
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
    .decode(text)
    .map_err(|_| malformed(format, "a field is not Base64"))
}

/// passlib's `ab64_decode`: `.` read as `+`, no padding, stray low bits ignored.
fn adapted_base64(format: &'static str, text: &str) -> Result<Vec<u8>, StoredHashError> {
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'+'))
    {
        return Err(malformed(format, "a field is not passlib's adapted Base64"));
    }
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    )
    .decode(text.replace('.', "+"))
    .map_err(|_| malformed(format, "a field is not passlib's adapted Base64"))
}
