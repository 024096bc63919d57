//! The SQLite schema, embedded in the binary, and what SQLite's migrations
//! need of the shared runner ([`crate::migration::run`]).
//!
//! A hand-written runner rather than `sqlx::migrate!`, which would need
//! sqlx's `macros` feature (a second build of sqlx, see NOTES.md). Every step
//! runs in a `BEGIN IMMEDIATE` transaction, which takes the database's write
//! lock up front: two instances starting at once on the same file take turns.

use sqlx::{Sqlite, SqlitePool, Transaction};

use portcullis_core::store::StoreError;

use crate::migration::{Migration, MigrationDialect};

/// SQLite's side of [`crate::migration::run`].
pub(crate) struct SqliteMigrations;

impl MigrationDialect for SqliteMigrations {
    type Database = Sqlite;

    const NAME: &'static str = "SQLite";
    const MIGRATIONS: &'static [Migration] = &[
        Migration {
            version: 1,
            file_name: "0001_initial.sql",
            sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
        },
        Migration {
            version: 2,
            file_name: "0002_personal_tokens.sql",
            sql: include_str!("../../migrations/sqlite/0002_personal_tokens.sql"),
        },
        Migration {
            version: 3,
            file_name: "0003_revoked_sessions.sql",
            sql: include_str!("../../migrations/sqlite/0003_revoked_sessions.sql"),
        },
        Migration {
            version: 4,
            file_name: "0004_account_changes.sql",
            sql: include_str!("../../migrations/sqlite/0004_account_changes.sql"),
        },
        Migration {
            version: 5,
            file_name: "0005_revocation_positions.sql",
            sql: include_str!("../../migrations/sqlite/0005_revocation_positions.sql"),
        },
    ];
    const CREATE_TABLE: &'static str = "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER NOT NULL PRIMARY KEY,
            file_name  TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        ) STRICT";
    const SELECT_APPLIED: &'static str = "SELECT 1 FROM schema_migrations WHERE version = ?";
    const INSERT_APPLIED: &'static str =
        "INSERT INTO schema_migrations (version, file_name, applied_at) VALUES (?, ?, ?)";

    async fn begin_exclusive(
        pool: &SqlitePool,
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        pool.begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(crate::sqlite::map_err)
    }

    fn map_err(error: sqlx::Error) -> StoreError {
        crate::sqlite::map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        crate::migration::assert_embedded_in_order(
            concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"),
            SqliteMigrations::MIGRATIONS,
        );
    }
}
