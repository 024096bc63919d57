//! Where Portcullis keeps its state: the [`portcullis_core::store::Store`]
//! trait implemented on a database, with that database's migrations.
//!
//! This crate exists so that the domain never sees SQL and the server never
//! sees a driver: everything above it speaks `Store` and
//! [`StoreError`](portcullis_core::store::StoreError). It must never return a
//! driver error, hold business rules (who may do what is decided in
//! `portcullis-core`), or read configuration itself: the binary passes a URL
//! and options in.
//!
//! Today the one backend is SQLite ([`SqliteStore`]); a PostgreSQL backend
//! will sit beside it and pass the same test suite (`tests/it/store_suite.rs`).

mod sqlite;

pub use sqlite::{SqliteStore, SqliteStoreOptions};
