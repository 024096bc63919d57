//! The PostgreSQL schema, embedded in the binary and applied on demand.
//!
//! The same hand-written runner as SQLite's (`crate::sqlite::migrations`),
//! for the same reason (`sqlx::migrate!` needs sqlx's `macros` feature), with
//! PostgreSQL's way of making it safe for several instances starting at
//! once: every step runs in a transaction that first takes a transaction-level
//! advisory lock ([`MIGRATION_LOCK`]), then checks `schema_migrations`. The
//! lock, not the check, is what serialises migrators: `CREATE TABLE IF NOT
//! EXISTS` and DDL in general race in PostgreSQL without it. A database that
//! has a migration this build does not know is refused. Applied migrations
//! must never be edited; add a new file instead.

use sqlx::{Executor as _, PgPool, Postgres, Row as _, Transaction};
use time::OffsetDateTime;

use portcullis_core::store::StoreError;

use crate::migration::{Migration, newest_version};
use crate::postgres::map_err;

/// Every migration of `migrations/postgres/`, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
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
];

/// The advisory lock key held by whoever is migrating ("portcull" as eight
/// ASCII bytes). Advisory locks are per database, so two Portcullis databases
/// on one server do not wait for each other.
const MIGRATION_LOCK: i64 = i64::from_be_bytes(*b"portcull");

/// Brings the schema up to date; does nothing when it already is.
pub(crate) async fn run(pool: &PgPool) -> Result<(), StoreError> {
    let mut transaction = begin_locked(pool).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT NOT NULL PRIMARY KEY,
            file_name  TEXT   NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut *transaction)
    .await
    .map_err(map_err)?;
    transaction.commit().await.map_err(map_err)?;

    let newest_known = newest_version(MIGRATIONS);
    let newest_applied: Option<i64> =
        sqlx::query("SELECT MAX(version) AS version FROM schema_migrations")
            .fetch_one(pool)
            .await
            .and_then(|row| row.try_get("version"))
            .map_err(map_err)?;
    if let Some(applied) = newest_applied.filter(|applied| *applied > newest_known) {
        return Err(StoreError::Other(format!(
            "the database schema is at version {applied}, newer than this build knows ({newest_known})"
        )));
    }

    for migration in MIGRATIONS {
        let mut transaction = begin_locked(pool).await?;
        let applied = sqlx::query("SELECT 1 FROM schema_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(map_err)?
            .is_some();
        if applied {
            transaction.rollback().await.map_err(map_err)?;
            continue;
        }
        // Simple-query protocol: a file may hold many statements. Through
        // `Executor` so that `migrate()` stays `Send` (see the SQLite runner).
        transaction
            .execute(sqlx::raw_sql(migration.sql))
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, file_name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.file_name)
        .bind(OffsetDateTime::now_utc().unix_timestamp())
        .execute(&mut *transaction)
        .await
        .map_err(map_err)?;
        transaction.commit().await.map_err(map_err)?;
        tracing::info!(
            version = migration.version,
            file = migration.file_name,
            "applied PostgreSQL migration"
        );
    }
    Ok(())
}

/// A transaction holding [`MIGRATION_LOCK`] until it ends.
async fn begin_locked(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut transaction = pool.begin().await.map_err(map_err)?;
    // A migration (or waiting for another instance's) may rightly take longer
    // than the per-statement timeout meant for requests.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        crate::migration::assert_embedded_in_order(
            concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"),
            MIGRATIONS,
        );
    }
}
