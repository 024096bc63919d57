//! The PostgreSQL schema, embedded in the binary, and what PostgreSQL's
//! migrations need of the shared runner ([`crate::migration::run`]).
//!
//! PostgreSQL's way of making that runner safe for several instances starting
//! at once: every step runs in a transaction that first takes a
//! transaction-level advisory lock ([`MIGRATION_LOCK`]), then checks
//! `schema_migrations`. The lock, not the check, is what serialises
//! migrators: `CREATE TABLE IF NOT EXISTS` and DDL in general race in
//! PostgreSQL without it.

use sqlx::{PgPool, Postgres, Transaction};

use portcullis_core::store::StoreError;

use crate::migration::{Migration, MigrationDialect};
use crate::postgres::map_err;

/// PostgreSQL's side of [`crate::migration::run`].
pub(crate) struct PgMigrations;

/// The advisory lock key held by whoever is migrating ("portcull" as eight
/// ASCII bytes). Advisory locks are per database, so two Portcullis databases
/// on one server do not wait for each other.
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"portcull");

impl MigrationDialect for PgMigrations {
    type Database = Postgres;

    const NAME: &'static str = "PostgreSQL";
    const MIGRATIONS: &'static [Migration] = &[
        Migration {
            version: 1,
            file_name: "0001_initial.sql",
            sql: include_str!("../../migrations/postgres/0001_initial.sql"),
        },
        Migration {
            version: 2,
            file_name: "0002_personal_tokens.sql",
            sql: include_str!("../../migrations/postgres/0002_personal_tokens.sql"),
        },
        Migration {
            version: 3,
            file_name: "0003_revoked_sessions.sql",
            sql: include_str!("../../migrations/postgres/0003_revoked_sessions.sql"),
        },
        Migration {
            version: 4,
            file_name: "0004_account_changes.sql",
            sql: include_str!("../../migrations/postgres/0004_account_changes.sql"),
        },
        Migration {
            version: 5,
            file_name: "0005_revocation_positions.sql",
            sql: include_str!("../../migrations/postgres/0005_revocation_positions.sql"),
        },
    ];
    const CREATE_TABLE: &'static str = "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT NOT NULL PRIMARY KEY,
            file_name  TEXT   NOT NULL,
            applied_at BIGINT NOT NULL
        )";
    const SELECT_APPLIED: &'static str = "SELECT 1 FROM schema_migrations WHERE version = $1";
    const INSERT_APPLIED: &'static str =
        "INSERT INTO schema_migrations (version, file_name, applied_at) VALUES ($1, $2, $3)";

    /// A transaction holding [`MIGRATION_LOCK`] until it ends.
    async fn begin_exclusive(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut transaction = pool.begin().await.map_err(map_err)?;
        // A migration (or waiting for another instance's) may rightly take
        // longer than the per-statement timeout meant for requests.
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *transaction)
            .await
            .map_err(map_err)?;
        Ok(transaction)
    }

    fn map_err(error: sqlx::Error) -> StoreError {
        map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        crate::migration::assert_embedded_in_order(
            concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"),
            PgMigrations::MIGRATIONS,
        );
    }
}
