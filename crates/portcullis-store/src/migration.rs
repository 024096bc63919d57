//! What a schema migration is, and the runner that applies them, shared by
//! every database.
//!
//! Each database has its own `migrations/<database>/NNNN_name.sql` files (DDL
//! differs), with the same names; [`schema!`] embeds them. Its dialect says
//! what else differs: the `schema_migrations` table and how each migration's
//! transaction keeps other migrators out ([`Dialect::migration_lock`]).
//! [`run`] does the rest the same way for both: every migration runs in its
//! own such transaction that first checks `schema_migrations`, so several
//! instances starting at once apply it exactly once, and a database that has
//! a migration this build does not know is refused rather than run with a
//! schema the code does not expect. This module holds no DDL and must never
//! decide locking: both come from the dialect. Applied migrations must never
//! be edited; add a new file instead.

use time::OffsetDateTime;

use portcullis_core::store::StoreError;

use crate::dialect::Dialect;
use crate::rows::Columns as _;
use crate::sql_store::SqlStore;
use crate::statement::Statement;
use crate::transaction::Transaction;

/// One schema step, applied in order of `version`.
#[derive(Debug)]
pub struct Migration {
    pub(crate) version: i64,
    pub(crate) file_name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration of `migrations/<$database>/`, oldest first. A new file
/// is added here once, for both databases.
macro_rules! schema {
    ($database:literal) => {
        $crate::migration::schema!($database:
            1 => "0001_initial.sql",
            2 => "0002_personal_tokens.sql",
            3 => "0003_revoked_sessions.sql",
            4 => "0004_account_changes.sql",
            5 => "0005_revocation_positions.sql",
            6 => "0006_limits_keys_and_verified_emails.sql",
            7 => "0007_imported_users.sql",
            8 => "0008_mail.sql",
            9 => "0009_personal_token_changes.sql",
            10 => "0010_key_algorithms.sql",
            11 => "0011_oauth_clients.sql",
            12 => "0012_browser_sign_in.sql",
        )
    };
    ($database:literal: $($version:literal => $file:literal),* $(,)?) => {
        &[$($crate::migration::Migration {
            version: $version,
            file_name: $file,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/", $database, "/", $file)),
        }),*]
    };
}

pub(crate) use schema;

/// Brings the schema up to date; does nothing when it already is.
pub(crate) async fn run<D: Dialect>(store: &SqlStore<D>) -> Result<(), StoreError> {
    let mut transaction = begin_exclusive(store).await?;
    let created = transaction
        .execute(Statement::new(D::CREATE_MIGRATIONS_TABLE))
        .await;
    transaction.finish(created).await?;

    let newest_known = D::MIGRATIONS
        .last()
        .map_or(0, |migration| migration.version);
    let newest_applied = store
        .fetch_optional(Statement::new(
            "SELECT MAX(version) AS version FROM schema_migrations",
        ))
        .await?
        .map(|row| row.optional_integer("version"))
        .transpose()?
        .flatten();
    if let Some(applied) = newest_applied.filter(|applied| *applied > newest_known) {
        return Err(StoreError::Other(format!(
            "the database schema is at version {applied}, newer than this build knows ({newest_known})"
        )));
    }

    for migration in D::MIGRATIONS {
        let mut transaction = begin_exclusive(store).await?;
        let applied = apply(&mut transaction, migration).await;
        if transaction.finish(applied).await? {
            tracing::info!(
                version = migration.version,
                file = migration.file_name,
                "applied {} migration",
                D::NAME
            );
        }
    }
    Ok(())
}

/// A write transaction that excludes every other migrator until it ends.
async fn begin_exclusive<D: Dialect>(store: &SqlStore<D>) -> Result<Transaction<D>, StoreError> {
    let mut transaction = store.begin().await?;
    for statement in D::migration_lock() {
        transaction.execute(statement).await?;
    }
    Ok(transaction)
}

/// Applies `migration` unless `schema_migrations` says it was; whether it did.
async fn apply<D: Dialect>(
    transaction: &mut Transaction<D>,
    migration: &Migration,
) -> Result<bool, StoreError> {
    let applied = Statement::new("SELECT 1 FROM schema_migrations WHERE version = $1")
        .bind(migration.version);
    if transaction.fetch_optional(applied).await?.is_some() {
        return Ok(false);
    }
    transaction.execute_script(migration.sql).await?;
    let record = Statement::new(
        "INSERT INTO schema_migrations (version, file_name, applied_at) VALUES ($1, $2, $3)",
    )
    .bind(migration.version)
    .bind(migration.file_name)
    .bind(OffsetDateTime::now_utc().unix_timestamp());
    transaction.execute(record).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::PostgresDialect;
    use crate::sqlite::SqliteDialect;

    #[test]
    fn every_migration_file_is_embedded_in_order() {
        for (database, migrations) in [
            ("sqlite", SqliteDialect::MIGRATIONS),
            ("postgres", PostgresDialect::MIGRATIONS),
        ] {
            let directory = format!("{}/migrations/{database}", env!("CARGO_MANIFEST_DIR"));
            assert_embedded_in_order(&directory, migrations);
        }
    }

    /// Panics unless `migrations` lists exactly the `.sql` files of `directory`,
    /// in order, numbered upwards from 1 with the number as the file name's
    /// prefix. A number may be missing while the branch that adds it is not
    /// merged yet (the runner applies each version it has not applied, in
    /// order). A file added to the directory but not embedded would never run.
    #[track_caller]
    fn assert_embedded_in_order(directory: &str, migrations: &[Migration]) {
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
        let mut previous = 0;
        for migration in migrations {
            assert!(
                migration.version > previous,
                "{} is numbered after the one before",
                migration.file_name
            );
            previous = migration.version;
            assert!(
                migration
                    .file_name
                    .starts_with(&format!("{:04}_", migration.version)),
                "{}",
                migration.file_name
            );
        }
    }
}
