//! The one integration-test binary of `portcullis-core` (one link, not one per file).
//!
//! `legacy_hashes` checks the hashes other systems made (the fixtures in
//! `testdata/legacy_hashes`, written by `make_fixtures.py` with those
//! systems' own tools) through the public hasher; `stored_hashes` checks
//! what `StoredHash::parse` accepts and refuses; `verification_timing`
//! measures that a wrong password costs what an unknown email costs,
//! whatever the scheme.

mod fixtures;
mod legacy_hashes;
mod stored_hashes;
mod verification_timing;
