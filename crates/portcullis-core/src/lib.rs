//! The Portcullis domain: who a user is, how a password is judged and hashed,
//! how access and refresh tokens are made and checked, and what a session is.
//!
//! This crate knows neither HTTP nor SQL. It talks to storage only through the
//! [`store::Store`] trait, and the HTTP layer and the command line talk to it
//! only through the use cases of [`services::Services`] and the value types
//! re-exported here. Everything a security reviewer needs to read lives here,
//! in plain functions with tests.

mod account_cache;
mod account_directory;
pub mod authorization;
pub mod clients;
pub mod clock;
mod core;
pub mod email;
pub mod email_tokens;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod hashing;
pub mod key_encryption;
mod key_loading;
pub mod keys;
mod login_attempts;
mod mail_requests;
pub mod names;
pub mod password;
mod password_sign_in;
pub mod personal_tokens;
pub mod principal;
pub mod rate_limits;
pub mod refresh;
pub mod revocation;
pub mod roles;
pub mod services;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod tokens;
pub mod user;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use core::PersonalTokensOnNewPassword;
pub use email::Email;
pub use error::{AuthError, FieldError};
pub use password::{Password, PasswordPolicy};
pub use principal::{Authorized, ManageClients, ManageRoles, ManageUsers, Operator, Principal};
pub use secrecy::{ExposeSecret, SecretString};
pub use services::Services;
pub use settings::AuthSettings;
pub use user::User;
