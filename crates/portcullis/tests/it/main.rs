//! Integration tests: the real `portcullis` binary over real HTTP, one
//! process and one SQLite file per test. One test binary, one module per
//! area of the contract.

mod access_tokens;
mod accounts;
mod bad_input;
mod cli;
mod configuration;
mod durability;
mod faults;
mod helpers;
mod multi_instance;
mod operations;
mod passwords;
mod refresh;
mod sessions;
mod signing_keys;
mod smoke;
mod throttling;
mod token_endpoint;
