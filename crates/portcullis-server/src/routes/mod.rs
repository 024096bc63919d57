//! The handlers, one module per area of the contract. Each handler parses,
//! calls one [`portcullis_core::AuthService`] method and shapes the answer.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod personal_tokens;
pub(crate) mod protected_apis;
pub(crate) mod sessions;
pub(crate) mod token;
