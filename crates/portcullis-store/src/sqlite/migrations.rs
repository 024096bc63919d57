//! The SQLite schema, embedded in the binary and applied on demand.
//!
//! A hand-written runner rather than `sqlx::migrate!`, which would need
//! sqlx's `macros` feature (a second build of sqlx, see NOTES.md). Each
//! migration runs in its own `BEGIN IMMEDIATE` transaction that first checks
//! `schema_migrations`, so two instances starting at once on the same file
//! apply it exactly once. A database that has a migration this build does
//! not know is refused rather than run with a schema the code does not
//! expect. Applied migrations must never be edited; add a new file instead.

use sqlx::{Executor as _, Row as _, SqlitePool};
use time::OffsetDateTime;

use portcullis_core::store::StoreError;

use crate::migration::{Migration, newest_version};
use crate::sqlite::map_err;

/// Every migration of `migrations/sqlite/`, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
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
];

/// Brings the schema up to date; does nothing when it already is.
pub(crate) async fn run(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER NOT NULL PRIMARY KEY,
            file_name  TEXT    NOT NULL,
            applied_at INTEGER NOT NULL
        ) STRICT",
    )
    .execute(pool)
    .await
    .map_err(map_err)?;

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
        let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
        let applied = sqlx::query("SELECT 1 FROM schema_migrations WHERE version = ?")
            .bind(migration.version)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(map_err)?
            .is_some();
        if applied {
            transaction.rollback().await.map_err(map_err)?;
            continue;
        }
        // Through `Executor` rather than `RawSql::execute`, whose future is not
        // provably `Send` and would keep `migrate()` out of `tokio::spawn`.
        transaction
            .execute(sqlx::raw_sql(migration.sql))
            .await
            .map_err(map_err)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, file_name, applied_at) VALUES (?, ?, ?)",
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
            "applied SQLite migration"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        crate::migration::assert_embedded_in_order(
            concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"),
            MIGRATIONS,
        );
    }
}
