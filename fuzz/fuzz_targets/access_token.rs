//! `AccessTokens::verify` on any string, with a real key ring.
//!
//! Properties: never panics; an accepted token is one the ring signed, with
//! `alg` exactly `EdDSA` and claims the rules allow
//! (`assert_genuine_access_token`); asking twice (the second answer comes
//! from the verified-token cache when the first was a success) gives the
//! same answer. The seeds are genuine tokens, which libFuzzer mutates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{assert_genuine_access_token, token_fixture};

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let tokens = &token_fixture().tokens;
    let first = tokens.verify(&token);
    if let Ok(claims) = &first {
        assert_genuine_access_token(&token, claims);
    }
    assert_eq!(tokens.verify(&token), first, "a second check disagrees");
});
