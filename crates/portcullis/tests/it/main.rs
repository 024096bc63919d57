//! Integration tests: the real `portcullis` binary over real HTTP, one
//! process and one SQLite file per test. One test binary, one module per
//! area of the contract.

mod access_tokens;
mod accounts;
mod admin;
mod bad_input;
mod bookstore;
mod cli;
mod configuration;
mod connections;
mod durability;
mod faults;
mod forward_auth;
mod helpers;
mod introspection;
mod multi_instance;
mod nginx;
mod operations;
mod passwords;
mod permissions;
mod personal_tokens;
mod python_jwks;
mod refresh;
mod sessions;
mod signing_keys;
mod smoke;
mod throttling;
mod token_endpoint;
