//! What `StoredHash::parse` and `StoredHash::from_keycloak_credential`
//! accept and refuse: every bound on both sides, unknown and malformed
//! strings with a reason, and no salt or hash in an error or in `Debug`.

use portcullis_core::hashing::{
    HashScheme, MAX_ARGON2_ITERATIONS, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM,
    MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS, MAX_SCRYPT_LOG_N, MIN_PBKDF2_ITERATIONS,
    PasswordHashString, StoredHash, StoredHashError,
};

/// 16 bytes of salt and 32 of hash in PHC Base64.
const SALT: &str = "c2FsdHNhbHRzYWx0c2FsdA";
const HASH: &str = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
/// A bcrypt salt and hash (53 characters).
const BCRYPT_TAIL: &str = "4DMZiSTrq3pMDwQlmJuEq.1dC1az.GraIABNK2P3b1r8HM/u/aVCq";

#[derive(Debug)]
enum Expected {
    Accepted(HashScheme),
    OutOfBounds(&'static str),
    Refused(&'static str),
}
use Expected::{Accepted, OutOfBounds, Refused};

#[track_caller]
fn check(text: &str, expected: Expected) {
    let parsed = StoredHash::parse(text);
    match (&parsed, &expected) {
        (Ok(hash), Accepted(scheme)) => {
            assert_eq!(hash.scheme(), *scheme, "{text}");
            assert_eq!(hash.as_str(), text, "the stored form is the input");
            assert_eq!(PasswordHashString::from(hash.clone()).0, text);
            let debug = format!("{hash:?}");
            assert!(
                !debug.contains(SALT) && !debug.contains("DMZiSTrq"),
                "{debug}"
            );
        }
        (Err(StoredHashError::OutOfBounds { parameter, .. }), OutOfBounds(expected)) => {
            assert_eq!(parameter, expected, "{text}");
        }
        (Err(error), Refused(words)) if !matches!(error, StoredHashError::OutOfBounds { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(words),
                "{text}: {message:?} lacks {words:?}"
            );
            assert!(
                !message.contains(SALT) && !message.contains(HASH),
                "{message}"
            );
        }
        _ => panic!("{text}: expected {expected:?}, got {parsed:?}"),
    }
}

fn argon2(variant: &str, m: u32, t: u32, p: u32) -> String {
    format!("$argon2{variant}$v=19$m={m},t={t},p={p}${SALT}${HASH}")
}

fn scrypt(ln: u32, r: u32, p: u32) -> String {
    format!("$scrypt$ln={ln},r={r},p={p}${SALT}${HASH}")
}

#[test]
fn argon2_bounds_hold_on_both_sides() {
    let (m, t, p) = (
        MAX_ARGON2_MEMORY_KIB,
        MAX_ARGON2_ITERATIONS,
        MAX_ARGON2_PARALLELISM,
    );
    check(&argon2("id", m, t, p), Accepted(HashScheme::Argon2id));
    check(&argon2("i", 8, 1, 1), Accepted(HashScheme::Argon2i));
    check(&argon2("d", 19_456, 2, 1), Accepted(HashScheme::Argon2d));
    check(&argon2("id", m + 1, t, p), OutOfBounds("memory (KiB)"));
    check(&argon2("id", m, t + 1, p), OutOfBounds("iterations"));
    check(&argon2("id", m, t, p + 1), OutOfBounds("parallelism"));
    check(&argon2("id", 4, 1, 1), Refused("malformed PHC Argon2"));
    check(
        &format!("$argon2id$v=20$m=4096,t=1,p=1${SALT}${HASH}"),
        Refused("versions 16 and 19"),
    );
    check(
        &format!("argon2$argon2id$v=19$m=102400,t=2,p=8${SALT}${HASH}"),
        Accepted(HashScheme::Argon2id),
    );
    check("$argon2id$v=19$m=4096,t=1,p=1$c2FsdA", Refused("malformed"));
}

#[test]
fn scrypt_bounds_hold_on_both_sides() {
    let ln = u32::from(MAX_SCRYPT_LOG_N);
    // 2^20 · 8 · 128 bytes is exactly 1 GiB, and r·p = 64.
    check(&scrypt(ln, 8, 8), Accepted(HashScheme::Scrypt));
    check(&scrypt(ln + 1, 8, 1), OutOfBounds("log2(N)"));
    check(&scrypt(ln, 9, 1), OutOfBounds("memory (128·N·r bytes)"));
    check(&scrypt(14, 8, 9), OutOfBounds("r·p"));
    check(
        &format!("$scrypt$ln=16,r=8${SALT}${HASH}"),
        Refused("ln, r and p"),
    );
    check(&scrypt(0, 8, 1), Refused("scrypt's own limits"));
    let django = |n: u32, r: u32, p: u32| format!("scrypt${n}$someSaltText${r}${p}${HASH}=");
    check(&django(1 << 14, 8, 5), Accepted(HashScheme::Scrypt));
    check(&django(1 << 21, 8, 1), OutOfBounds("log2(N)"));
    check(&django(3000, 8, 1), Refused("power of two"));
}

#[test]
fn pbkdf2_bounds_hold_on_both_sides_in_every_format() {
    type Form = fn(u32) -> String;
    let forms: [(HashScheme, Form); 4] = [
        (HashScheme::Pbkdf2Sha256, |i| {
            format!("$pbkdf2-sha256$i={i},l=32${SALT}${HASH}")
        }),
        (HashScheme::Pbkdf2Sha256, |i| {
            format!("$pbkdf2-sha256${i}${SALT}${HASH}")
        }),
        (HashScheme::Pbkdf2Sha256, |i| {
            format!("pbkdf2_sha256${i}$someSaltText${HASH}=")
        }),
        (HashScheme::Pbkdf2Sha1, |i| {
            format!("$pbkdf2$i={i}${SALT}$aGFzaGhhc2hoYXNoaGFzaGhhc2g")
        }),
    ];
    for (scheme, form) in forms {
        check(&form(MIN_PBKDF2_ITERATIONS), Accepted(scheme));
        check(&form(MAX_PBKDF2_ITERATIONS), Accepted(scheme));
        check(&form(MIN_PBKDF2_ITERATIONS - 1), OutOfBounds("iterations"));
        check(&form(MAX_PBKDF2_ITERATIONS + 1), OutOfBounds("iterations"));
    }
    // passlib writes "." for "+"; "+" is read too, as passlib reads it.
    check(
        "$pbkdf2-sha256$29000$./v7./v7./v7./v7./v7.w$WxGCrniZ/phk3LYafRYjf8Q/PdSngK0V9Z1HIXy1HEU",
        Accepted(HashScheme::Pbkdf2Sha256),
    );
    check(
        "$pbkdf2-sha256$29000$+/v7+/v7+/v7+/v7+/v7+w$WxGCrniZ/phk3LYafRYjf8Q/PdSngK0V9Z1HIXy1HEU",
        Accepted(HashScheme::Pbkdf2Sha256),
    );
    check(
        &format!("$pbkdf2-sha512$25000${SALT}${HASH}"),
        Refused("one digest long"),
    );
    check(
        &format!("$pbkdf2-sha256$029000${SALT}${HASH}"),
        Refused("plain decimal"),
    );
    check(
        &format!("$pbkdf2-sha256$29000${SALT}"),
        Refused("$rounds$salt$checksum"),
    );
    check(
        &format!("$pbkdf2-sha256$i=29000,l=31${SALT}${HASH}"),
        Refused("l is not"),
    );
    check(
        &format!("$pbkdf2-sha256$l=32${SALT}${HASH}"),
        Refused("i (iterations)"),
    );
    check(
        &format!("pbkdf2_sha1$29000$salt${HASH}="),
        Refused("one digest long"),
    );
    check(
        &format!("pbkdf2_sha256$29000$${HASH}="),
        Refused("salt is empty"),
    );
}

#[test]
fn bcrypt_bounds_hold_on_both_sides() {
    for prefix in ["2a", "2b", "2y"] {
        check(
            &format!("${prefix}$04${BCRYPT_TAIL}"),
            Accepted(HashScheme::Bcrypt),
        );
        check(
            &format!("${prefix}${MAX_BCRYPT_COST}${BCRYPT_TAIL}"),
            Accepted(HashScheme::Bcrypt),
        );
        check(
            &format!("${prefix}${}${BCRYPT_TAIL}", MAX_BCRYPT_COST + 1),
            OutOfBounds("cost"),
        );
    }
    check(
        &format!("$2b$03${BCRYPT_TAIL}"),
        Refused("between 04 and 31"),
    );
    check(
        &format!("$2b$32${BCRYPT_TAIL}"),
        Refused("between 04 and 31"),
    );
    check(&format!("$2x$10${BCRYPT_TAIL}"), Refused("not supported"));
    check(
        &format!("$2b$10${}", &BCRYPT_TAIL[1..]),
        Refused("53 characters"),
    );
    check(
        &format!("$2b$10${}!", &BCRYPT_TAIL[1..]),
        Refused("bcrypt Base64"),
    );
    check(&format!("$2b$1a${BCRYPT_TAIL}"), Refused("plain decimal"));
}

#[test]
fn unknown_and_garbage_strings_are_refused_with_a_reason() {
    for text in [
        "",
        "!",
        "not a hash",
        "$1$saltsalt$hash",
        "$6$rounds=5000$salt$hash",
        "bcrypt_sha256$$2b$12$4DMZiSTrq3pMDwQlmJuEq.1dC1az.GraIABNK2P3b1r8HM/u/aVCq",
        "sha1$salt$hash",
        "{SSHA}abcdef",
        "argon2xyz",
    ] {
        check(text, Refused("not a password hash format"));
    }
    check(&"$2b$".repeat(200), Refused("longer than 512 bytes"));
    check("$argon2id$", Refused("malformed PHC Argon2"));
    check("$scrypt$$$$", Refused("malformed PHC scrypt"));
    check("$pbkdf2-sha256$$$", Refused("malformed"));
}

#[test]
fn keycloak_credentials_become_phc_strings_under_the_same_bounds() {
    let secret = r#"{"value":"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=","salt":"c2FsdHNhbHRzYWx0c2FsdA==","additionalParameters":{}}"#;
    let pbkdf2 = |iterations: u32, algorithm: &str| {
        format!(
            r#"{{"hashIterations":{iterations},"algorithm":"{algorithm}","additionalParameters":{{}}}}"#
        )
    };
    let stored =
        StoredHash::from_keycloak_credential(secret, &pbkdf2(27_500, "pbkdf2-sha256")).unwrap();
    assert_eq!(
        stored.as_str(),
        format!("$pbkdf2-sha256$i=27500,l=32${SALT}${HASH}")
    );
    let stored = StoredHash::from_keycloak_credential(secret, &pbkdf2(27_500, "pbkdf2")).unwrap();
    assert_eq!(stored.scheme(), HashScheme::Pbkdf2Sha1);

    let refused = |secret: &str, credential: &str, words: &str| {
        let error = StoredHash::from_keycloak_credential(secret, credential).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(words), "{message:?} lacks {words:?}");
        assert!(
            !message.contains("aGFzaGhhc2g") && !message.contains(SALT),
            "{message}"
        );
    };
    refused(
        secret,
        &pbkdf2(999, "pbkdf2-sha512"),
        "outside the accepted",
    );
    refused(secret, &pbkdf2(27_500, "bcrypt"), "not supported");
    refused("not json", &pbkdf2(27_500, "pbkdf2-sha256"), "secretData");
    refused(secret, r#"{"algorithm":"pbkdf2-sha256"}"#, "credentialData");
    refused(
        r#"{"value":"!!","salt":"c2FsdA=="}"#,
        &pbkdf2(27_500, "pbkdf2-sha256"),
        "Base64",
    );

    let argon2 = |memory: &str, length: &str| {
        format!(
            r#"{{"hashIterations":5,"algorithm":"argon2","additionalParameters":{{"hashLength":["{length}"],"memory":["{memory}"],"type":["id"],"version":["1.3"],"parallelism":["1"]}}}}"#
        )
    };
    let stored = StoredHash::from_keycloak_credential(secret, &argon2("7168", "32")).unwrap();
    assert_eq!(
        stored.as_str(),
        format!("$argon2id$v=19$m=7168,t=5,p=1${SALT}${HASH}")
    );
    refused(secret, &argon2("7168", "64"), "hashLength");
    refused(secret, &argon2("2000000", "32"), "outside the accepted");
    refused(
        secret,
        r#"{"hashIterations":5,"algorithm":"argon2","additionalParameters":{}}"#,
        "argon2 without",
    );
}
