//! The handlers, one module per area of the contract. Each handler parses,
//! calls one use case of [`portcullis_core::Services`] and shapes the answer.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod discovery;
pub(crate) mod health;
pub(crate) mod personal_tokens;
pub(crate) mod protected_apis;
pub(crate) mod sessions;
pub(crate) mod token;
