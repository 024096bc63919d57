//! The Portcullis domain: who a user is, how a password is judged and hashed,
//! how access and refresh tokens are made and checked, and what a session is.
//!
//! This crate knows neither HTTP nor SQL. It talks to storage only through the
//! [`store::Store`] trait, and the HTTP layer talks to it only through
//! [`service::AuthService`] and the value types re-exported here. Everything a
//! security reviewer needs to read lives here, in plain functions with tests.

pub mod email;
pub mod hashing;
pub mod keys;
pub mod password;
pub mod personal_tokens;
pub mod refresh;
pub mod revocation;
pub mod roles;
pub mod service;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod tokens;

pub use email::Email;
pub use password::{Password, PasswordPolicy};
pub use service::{AuthError, AuthService};
pub use settings::AuthSettings;
