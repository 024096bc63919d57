//! `AccessTokens::verify` on tokens whose header and payload are fuzz input
//! (first line: the header JSON; the rest: the payload JSON), signed in
//! every way an attacker might try.
//!
//! Properties:
//! - signed by the ring's own key (so only the header and claim checks stand
//!   between the input and acceptance): accepted only when the header says
//!   `alg` exactly `EdDSA`, an access-token `typ` and the ring's `kid`, and
//!   the claims are ours and live (`assert_genuine_access_token`);
//! - signed by another Ed25519 key, HMAC-SHA256 keyed with the ring's public
//!   key in any published form (algorithm confusion), or not signed at all
//!   (`alg: none`, empty signature): always refused;
//! - never panics.
//!
//! Found here and fixed: claims whose `exp - iat` overflowed an `i64` made
//! `verify` panic (`corpus/access_token_forged/iat-most-negative`).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{assert_genuine_access_token, sign_with, split_first_line, token_fixture};
use sha2::Sha256;

fuzz_target!(|data: &[u8]| {
    let fixture = token_fixture();
    let (header, payload) = split_first_line(data);
    let payload = payload.unwrap_or_default();

    let genuine = fixture.sign(header, payload);
    if let Ok(claims) = fixture.tokens.verify(&genuine) {
        assert_genuine_access_token(&genuine, &claims);
    }

    let stranger = sign_with(&fixture.stranger_key, header, payload);
    assert!(
        fixture.tokens.verify(&stranger).is_err(),
        "accepted a token signed by a key outside the ring"
    );

    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let x = URL_SAFE_NO_PAD.encode(fixture.public_key);
    let published: [&[u8]; 3] = [
        &fixture.public_key,
        x.as_bytes(),
        fixture.public_jwk_json.as_bytes(),
    ];
    for secret in published {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
        mac.update(signing_input.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        let confused = format!("{signing_input}.{tag}");
        assert!(
            fixture.tokens.verify(&confused).is_err(),
            "accepted an HMAC made with the public key"
        );
    }

    for unsigned in [format!("{signing_input}."), signing_input.clone()] {
        assert!(
            fixture.tokens.verify(&unsigned).is_err(),
            "accepted an unsigned token"
        );
    }
});
