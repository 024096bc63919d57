//! What a schema migration is, and the runner that applies them, shared by
//! every backend.
//!
//! Each backend embeds its own `migrations/<database>/NNNN_name.sql` files
//! (SQL differs between databases) and describes, in a [`MigrationDialect`],
//! what else differs: the `schema_migrations` table, the placeholders of the
//! two statements on it, and how to start a transaction that no other
//! migrator runs beside. [`run`] does the rest the same way for both: every
//! migration runs in its own such transaction that first checks
//! `schema_migrations`, so several instances starting at once apply it
//! exactly once, and a database that has a migration this build does not
//! know is refused rather than run with a schema the code does not expect.
//! This module holds no SQL of any database and must never decide locking:
//! both come from the dialect. Applied migrations must never be edited; add
//! a new file instead.

use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row as _, Transaction,
    Type,
};
use time::OffsetDateTime;

use portcullis_core::store::StoreError;

/// One schema step, applied in order of `version`.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) file_name: &'static str,
    pub(crate) sql: &'static str,
}

/// What a backend tells [`run`]: its migrations, its statements on
/// `schema_migrations`, and its way of serialising migrators.
pub(crate) trait MigrationDialect {
    type Database: Database;

    /// The database's name, for log lines.
    const NAME: &'static str;
    /// Every migration of `migrations/<database>/`, oldest first.
    const MIGRATIONS: &'static [Migration];
    /// `CREATE TABLE IF NOT EXISTS schema_migrations (version, file_name, applied_at)`.
    const CREATE_TABLE: &'static str;
    /// Selects a row of `schema_migrations` whose version is the one parameter.
    const SELECT_APPLIED: &'static str;
    /// Inserts into `schema_migrations` its version, file name and unix time.
    const INSERT_APPLIED: &'static str;

    /// A transaction that excludes every other migrator until it ends.
    fn begin_exclusive(
        pool: &Pool<Self::Database>,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Database>, StoreError>> + Send;

    /// The backend's mapping of driver errors.
    fn map_err(error: sqlx::Error) -> StoreError;
}

/// Brings the schema up to date; does nothing when it already is.
pub(crate) async fn run<D>(pool: &Pool<D::Database>) -> Result<(), StoreError>
where
    D: MigrationDialect,
    for<'c> &'c mut <D::Database as Database>::Connection: Executor<'c, Database = D::Database>,
    for<'q> <D::Database as Database>::Arguments<'q>: IntoArguments<'q, D::Database>,
    for<'q> i64: Encode<'q, D::Database> + Decode<'q, D::Database> + Type<D::Database>,
    for<'q> &'q str: Encode<'q, D::Database> + Type<D::Database>,
    for<'n> &'n str: ColumnIndex<<D::Database as Database>::Row>,
{
    let mut transaction = D::begin_exclusive(pool).await?;
    sqlx::query(D::CREATE_TABLE)
        .execute(&mut *transaction)
        .await
        .map_err(D::map_err)?;
    transaction.commit().await.map_err(D::map_err)?;

    let newest_known = D::MIGRATIONS
        .last()
        .map_or(0, |migration| migration.version);
    let newest_applied: Option<i64> =
        sqlx::query("SELECT MAX(version) AS version FROM schema_migrations")
            .fetch_one(pool)
            .await
            .and_then(|row| row.try_get("version"))
            .map_err(D::map_err)?;
    if let Some(applied) = newest_applied.filter(|applied| *applied > newest_known) {
        return Err(StoreError::Other(format!(
            "the database schema is at version {applied}, newer than this build knows ({newest_known})"
        )));
    }

    for migration in D::MIGRATIONS {
        let mut transaction = D::begin_exclusive(pool).await?;
        let applied = sqlx::query(D::SELECT_APPLIED)
            .bind(migration.version)
            .fetch_optional(&mut *transaction)
            .await
            .map_err(D::map_err)?
            .is_some();
        if applied {
            transaction.rollback().await.map_err(D::map_err)?;
            continue;
        }
        // A file may hold many statements (PostgreSQL's simple-query
        // protocol). Through `Executor` rather than `RawSql::execute`, whose
        // future is not provably `Send` and would keep `migrate()` out of
        // `tokio::spawn`.
        (&mut *transaction)
            .execute(sqlx::raw_sql(migration.sql))
            .await
            .map_err(D::map_err)?;
        sqlx::query(D::INSERT_APPLIED)
            .bind(migration.version)
            .bind(migration.file_name)
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(&mut *transaction)
            .await
            .map_err(D::map_err)?;
        transaction.commit().await.map_err(D::map_err)?;
        tracing::info!(
            version = migration.version,
            file = migration.file_name,
            "applied {} migration",
            D::NAME
        );
    }
    Ok(())
}

/// Panics unless `migrations` lists exactly the `.sql` files of `directory`,
/// in order, numbered 1, 2, 3… with the number as the file name's prefix. A
/// file added to the directory but not embedded would never run.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_embedded_in_order(directory: &str, migrations: &[Migration]) {
    let mut files: Vec<String> = std::fs::read_dir(directory)
        .expect("migrations directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .filter(|name| name.ends_with(".sql"))
        .collect();
    files.sort();
    let embedded: Vec<&str> = migrations
        .iter()
        .map(|migration| migration.file_name)
        .collect();
    assert_eq!(files, embedded, "{directory}");
    for (index, migration) in migrations.iter().enumerate() {
        let expected_version = i64::try_from(index).expect("few migrations") + 1;
        assert_eq!(
            migration.version, expected_version,
            "{}",
            migration.file_name
        );
        assert!(
            migration
                .file_name
                .starts_with(&format!("{expected_version:04}_")),
            "{}",
            migration.file_name
        );
    }
}
