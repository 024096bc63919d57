//! The integration tests of `portcullis-server`, one binary (STYLE.md).

mod app;
mod conformance;
mod documented_outcomes;
mod openapi;
mod unstorable_text;
