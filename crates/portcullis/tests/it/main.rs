//! Integration tests: the real server over real HTTP, one server and one
//! database per test, most of them inside this process (see `helpers`).
//! One test binary, one module per area of the contract; the tests that
//! need another service beside the server (several instances on
//! PostgreSQL, a database that goes away, nginx, PyJWT) are the `services`
//! binary, whose harness reports a missing service as ignored.

mod access_token_algorithms;
mod access_tokens;
mod accounts;
mod admin;
mod authorization;
mod authorization_code;
mod bad_input;
mod bookstore;
mod branding;
mod browser_pages;
mod browser_sign_in_rules;
mod cli;
mod clients;
mod configuration;
mod connections;
mod durability;
mod faults;
mod forward_auth;
mod helpers;
mod import_export;
mod introspection;
mod mail;
mod operations;
mod password_notices;
mod passwords;
mod permissions;
mod personal_tokens;
mod refresh;
mod secrets_at_rest;
mod sessions;
mod signing_keys;
mod smoke;
mod storms;

mod throttling;
mod token_endpoint;
