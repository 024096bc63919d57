//! `RefreshToken::parse` on any string, and `lineage` of what parses against
//! a real session chain (the fixture's 1,100 generations).
//!
//! Properties:
//! - never panics;
//! - only the canonical wire form parses: `parse(s) == Some(t)` exactly when
//!   `s` is 75 characters of canonical base64url (decoded here by hand), and
//!   then `t.encode() == s`;
//! - `lineage` is exactly what the chain says: `Current`, `JustRotated`
//!   (with the session's current token), `Older`, or `Foreign`, never
//!   anything but `Foreign` for a secret that is not the chain's at that
//!   generation, a generation past the current one, or one more than
//!   `MAX_TRACE_DISTANCE` back;
//! - the genuine token of the same generation is placed correctly too (the
//!   fuzzer cannot compute HMACs, so this walks the chain for it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::refresh::{Lineage, MAX_TRACE_DISTANCE, RefreshToken};
use portcullis_fuzz::{CHAIN_LENGTH, decode_base64url, refresh_fixture};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let parsed = RefreshToken::parse(&input);
    let oracle = (input.len() == 75)
        .then(|| decode_base64url(&input))
        .flatten()
        .filter(|bytes| bytes.len() == 56);
    assert_eq!(
        parsed.is_some(),
        oracle.is_some(),
        "parse and the format disagree"
    );
    let Some(token) = parsed else { return };
    assert_eq!(
        token.encode(),
        input,
        "a token parsed from a non-canonical form"
    );

    let fixture = refresh_fixture();
    check_lineage(&token);
    let generation = usize::try_from(token.generation).unwrap_or(usize::MAX);
    if let Some(genuine) = fixture.chain.get(generation) {
        let genuine = RefreshToken {
            session_id: token.session_id,
            ..genuine.clone()
        };
        check_lineage(&genuine);
    }
});

/// Checks `token` against the fixture session at a few current generations:
/// the same, one and two on, and (for early tokens, whose walk is long) just
/// inside and just past the trace bound.
fn check_lineage(token: &RefreshToken) {
    let fixture = refresh_fixture();
    let mut currents = vec![token.generation, 0, 1];
    currents.extend(token.generation.checked_add(1));
    currents.extend(token.generation.checked_add(2));
    if token.generation < 3 {
        currents.push(token.generation + MAX_TRACE_DISTANCE);
        currents.push(token.generation + MAX_TRACE_DISTANCE + 1);
    }
    for current in currents {
        let Some(current_token) = usize::try_from(current)
            .ok()
            .and_then(|at| fixture.chain.get(at))
        else {
            continue;
        };
        let lineage = token.lineage(&fixture.key, current, &current_token.secret.hash());
        assert_eq!(
            lineage,
            expected(token, current),
            "current generation {current}"
        );
    }
}

/// Where `token` stands in the fixture's chain when `current` is the
/// session's current generation, worked out from the chain itself.
fn expected(token: &RefreshToken, current: u64) -> Lineage {
    let fixture = refresh_fixture();
    let Some(distance) = current.checked_sub(token.generation) else {
        return Lineage::Foreign;
    };
    let genuine = usize::try_from(token.generation)
        .ok()
        .filter(|&at| at < CHAIN_LENGTH)
        .is_some_and(|at| fixture.chain[at].secret == token.secret);
    if !genuine || distance > MAX_TRACE_DISTANCE {
        return Lineage::Foreign;
    }
    match distance {
        0 => Lineage::Current,
        1 => Lineage::JustRotated(RefreshToken {
            session_id: token.session_id,
            ..fixture.chain[usize::try_from(current).expect("within the chain")].clone()
        }),
        _ => Lineage::Older,
    }
}
