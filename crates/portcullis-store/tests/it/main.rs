//! The one integration-test binary of `portcullis-store` (one link, not one per file).
//!
//! `store_suite` holds the behaviour every [`portcullis_core::store::Store`]
//! must show, written against `dyn Store` only; each backend module runs every
//! suite function on a fresh database of its own and adds the tests that only
//! make sense for it (files, URLs, migrations).

mod sqlite;
mod store_suite;
