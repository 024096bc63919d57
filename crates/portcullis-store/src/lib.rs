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
//! Two backends pass the same test suite (`tests/it/store_suite.rs`) and keep
//! the same semantics: SQLite ([`SqliteStore`]) for one instance on one
//! machine, PostgreSQL ([`PgStore`]) for several instances sharing a database.

mod migration;
mod postgres;
mod rows;
mod sqlite;

pub use postgres::{PgStore, PgStoreOptions};
pub use sqlite::{SqliteStore, SqliteStoreOptions};
