//! What the fuzz targets in `fuzz/` need from this crate and cannot reach
//! through its public API (feature `fuzzing`, off in every build that serves).
//!
//! Only names, no behaviour: each item calls the code under test unchanged,
//! so that a property checked here is a property of that code. Never add
//! logic here, and never enable the feature outside `fuzz/`: it exposes the
//! normalised form of a password, which the rest of the crate keeps sealed.

use crate::password::Password;

/// The form a password takes before it is hashed or compared
/// ([`Password::normalise`], NFKC), as a plain string.
#[must_use]
pub fn normalised_password(input: &str) -> String {
    Password::normalise(input).expose().to_owned()
}

/// The normalised text inside a [`Password`] (from
/// [`crate::PasswordPolicy::check`] or [`Password::normalise`]).
#[must_use]
pub fn exposed_password(password: &Password) -> &str {
    password.expose()
}
