//! Integration tests of `portcullis-verify` against a fake Portcullis served
//! in process: its JWKS and introspection endpoints count their requests,
//! and its tokens are signed by Portcullis's own code (`portcullis-core`), so
//! they are exactly what the real server issues. One test binary, one module
//! per concern.

mod algorithms;
mod fake;
mod fetching;
mod introspection;
mod jwks_cache;
mod rejections;
mod tls;
