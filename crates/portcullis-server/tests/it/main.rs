//! The integration tests of `portcullis-server`, one binary (STYLE.md).

mod openapi;
