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
//! One store, [`SqlStore`], holds every query once; a small dialect per
//! database holds what truly differs. Two databases pass the same test
//! suite (`tests/it/store_suite`) with the same semantics: SQLite
//! ([`SqliteStore`]) for one instance on one machine, PostgreSQL
//! ([`PgStore`]) for several instances sharing a database. Every write runs
//! to its end even when its caller's future is dropped, so a request whose
//! client hung up never leaves a transaction open.

mod dialect;
mod input;
mod migration;
mod options;
mod postgres;
mod rows;
mod sql_store;
mod sqlite;
mod statement;
mod store_impl;
mod transaction;

pub use options::{PgStoreOptions, SqliteStoreOptions};
pub use sql_store::SqlStore;

/// The store on one SQLite file.
pub type SqliteStore = SqlStore<sqlite::SqliteDialect>;

/// The store on one PostgreSQL database.
pub type PgStore = SqlStore<postgres::PostgresDialect>;
