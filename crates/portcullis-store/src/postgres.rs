//! PostgreSQL's side of the store: for several server instances sharing
//! one database.
//!
//! It keeps SQLite's semantics exactly (`tests/it/store_suite` runs on both):
//! same tables, times as BIGINT unix seconds, text ordered bytewise
//! (`COLLATE "C"`). PostgreSQL runs transactions concurrently at READ
//! COMMITTED where SQLite's `BEGIN IMMEDIATE` serialises every writer, so
//! the store's multi-statement writes take the lock that makes them behave
//! as if serialised: the user's row for `set_roles` ([`Dialect::LOCK_USER`]),
//! the role's row for `put_role` (its upsert), a table lock on
//! `signing_keys` for the first key and rotations. Ids bind as native
//! UUIDs, lists as arrays read with `unnest`; feed positions are
//! transaction ids. Every statement is bounded by
//! [`PgStoreOptions::statement_timeout`], so a stuck lock surfaces as
//! [`StoreError::Unavailable`] instead of a hung request. This module must
//! never hold a statement that both databases could run as written.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Connection as _, Postgres, Row as _};
use uuid::Uuid;

use portcullis_core::store::StoreError;

use crate::dialect::Dialect;
use crate::migration::{Migration, schema};
use crate::options::PgStoreOptions;
use crate::rows::{BackendRow, decode_error, query_users};
use crate::statement::{Statement, Value};
use crate::store_impl::import::{ImportStatements, import_statements};

/// The advisory lock held by whoever is migrating: a key of the schema the
/// tables go to (the first schema on the search path that exists).
/// Advisory locks are per database, so two Portcullis databases on one
/// server, or two schemas in one database, do not wait for each other's
/// migrations (two schemas whose keys collide would only take turns).
const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended(\
     'portcullis migrations ' || coalesce(current_schema(), ''), 0))";

/// The one key every migrator took before the key per schema
/// ("portcull" as eight ASCII bytes). An earlier release still takes it
/// alone, exclusively; taking it shared as well keeps such an instance and
/// this one from migrating at the same moment, while migrators of this
/// release do not wait for each other on it.
const MIGRATION_LOCK_OF_EARLIER_RELEASES: i64 = i64::from_be_bytes(*b"portcull");

/// A pooled connection idle this long is pinged before it is used again.
const PING_CONNECTIONS_IDLE_FOR: Duration = Duration::from_secs(1);

/// The [`Dialect`] of PostgreSQL.
#[derive(Debug)]
pub struct PostgresDialect;

impl Dialect for PostgresDialect {
    type Database = Postgres;
    type Row = PgRow;
    type Options = PgStoreOptions;

    const NAME: &'static str = "PostgreSQL";

    const BEGIN_WRITE: &'static str = "BEGIN";
    // The row lock queues concurrent `set_roles` (and `delete_user`) of the
    // same user, so the DELETE that follows sees what an earlier one inserted.
    const LOCK_USER: &'static str = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE";
    // SHARE ROW EXCLUSIVE conflicts with itself and with writes, not with
    // reads: serving the JWKS never waits.
    const LOCK_SIGNING_KEYS: Option<&'static str> =
        Some("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE");
    // One lock for every change that could remove the last administrator
    // (its key is arbitrary, fixed, and used for nothing else): two such
    // changes at once would each still see the other administrator.
    const LOCK_ADMINISTRATORS: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(7045306511)");

    const QUERY_USERS: &'static str = query_users!("strpos");
    const INSERT_USER_ROLES: &'static str =
        "INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[])";
    const INSERT_ROLE_PERMISSIONS: &'static str =
        "INSERT INTO role_permissions (role, permission) SELECT $1, unnest($2::text[])";
    const RECORD_TOKEN_USES: &'static str = "UPDATE personal_tokens AS t
         SET last_used_at = GREATEST(COALESCE(t.last_used_at, 0), uses.at)
         FROM unnest($1::uuid[], $2::bigint[]) AS uses(id, at) WHERE t.id = uses.id";
    const PRUNE_ACCOUNT_CHANGES: &'static str = "DELETE FROM account_changes WHERE ctid IN
         (SELECT ctid FROM account_changes WHERE xact < $1 LIMIT $2)";
    const PRUNE_REVOCATIONS: &'static str = "DELETE FROM revoked_sessions WHERE ctid IN
         (SELECT ctid FROM revoked_sessions WHERE xact < $1 LIMIT $2)";

    // Transaction ids are the cluster's, so every database's count (those of
    // other roles only with pg_read_all_stats, as pg_monitor grants).
    const OLDEST_WRITING_TRANSACTION: Option<&'static str> = Some(
        "SELECT (extract(epoch FROM clock_timestamp() - min(xact_start)) * 1000)::BIGINT AS running_ms
         FROM pg_stat_activity WHERE backend_xid IS NOT NULL",
    );

    // The oldest transaction still running, taken before reading. A
    // transaction that commits after a read ran, or started, after this
    // one, so the next read, from here, sees its entries.
    const REVOCATIONS_POSITION: &'static str =
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::BIGINT AS position";
    const REVOCATIONS_AFTER: &'static str =
        "SELECT session_id AS id, revoked_at FROM revoked_sessions WHERE xact >= $1";
    const ACCOUNT_CHANGES_POSITION: &'static str = Self::REVOCATIONS_POSITION;
    const ACCOUNT_CHANGES_AFTER: &'static str =
        "SELECT kind, user_id FROM account_changes WHERE xact >= $1 LIMIT $2";

    const IMPORT: ImportStatements = import_statements!(
        accounts: "(SELECT * FROM jsonb_to_recordset($1::jsonb) AS x (id uuid, email text,
                   name text, password_hash text, password_hash_class text,
                   email_verified boolean, disabled boolean, created_at bigint))",
        grants: "(SELECT * FROM jsonb_to_recordset($1::jsonb) AS x (user_id uuid, role text))",
        ids: "(SELECT unnest($1::uuid[]) AS id)",
        names: "(SELECT unnest($1::text[]) AS name)",
    );

    const MIGRATIONS: &'static [Migration] = schema!("postgres");
    const CREATE_MIGRATIONS_TABLE: &'static str = "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    BIGINT NOT NULL PRIMARY KEY,
            file_name  TEXT   NOT NULL,
            applied_at BIGINT NOT NULL
        )";

    /// A transaction-level advisory lock: it, not the check of
    /// `schema_migrations`, serialises migrators, since DDL (`CREATE TABLE
    /// IF NOT EXISTS` included) races in PostgreSQL without it. A migration,
    /// or waiting for another instance's, may rightly take longer than the
    /// statement timeout meant for requests.
    fn migration_lock() -> Vec<Statement<'static>> {
        vec![
            Statement::new("SET LOCAL statement_timeout = 0"),
            Statement::new("SELECT pg_advisory_xact_lock_shared($1)")
                .bind(MIGRATION_LOCK_OF_EARLIER_RELEASES),
            Statement::new(MIGRATION_LOCK),
        ]
    }

    async fn connect(url: &str, options: PgStoreOptions) -> Result<PgPool, StoreError> {
        // Sent in the startup packet, so it holds from a connection's first
        // statement and costs no round trip. Rounded up to whole milliseconds,
        // since 0 would mean "no limit".
        let statement_timeout_ms = if options.statement_timeout.is_zero() {
            0
        } else {
            options.statement_timeout.as_millis().max(1)
        };
        // The driver would read any scheme as PostgreSQL's, and try to reach
        // `sqlite://portcullis.db` as a host named `portcullis.db`.
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Other(
                "invalid PostgreSQL URL: it starts with postgres:// or postgresql://".into(),
            ));
        }
        let connect_options = PgConnectOptions::from_str(url)
            .map_err(|error| StoreError::Other(format!("invalid PostgreSQL URL: {error}")))?
            .options([("statement_timeout", format!("{statement_timeout_ms}ms"))]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            // sqlx pings every connection as it goes back to the pool, and by
            // default again as it is taken out: two extra round trips to the
            // server per statement, which on a busy machine cost as much as
            // the statements (issue 14, docs/benchmarks.md). Only a connection
            // that sat idle long enough to have been cut (a restarted server,
            // a proxy's timeout) is tested before use.
            .test_before_acquire(false)
            .before_acquire(|connection, metadata| {
                Box::pin(async move {
                    if metadata.idle_for >= PING_CONNECTIONS_IDLE_FOR {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect_options)
            .await
            .map_err(Self::map_err)?;
        warn_if_autovacuum_is_off(&pool).await;
        Ok(pool)
    }

    fn is_transient(sqlstate: &str) -> bool {
        // Class 08: connection exceptions. Class 53: insufficient resources
        // (53300 too many connections, 53100 disk full, 53200 out of memory).
        sqlstate.starts_with("08")
            || sqlstate.starts_with("53")
            || matches!(
                sqlstate,
                // admin_shutdown, crash_shutdown, cannot_connect_now
                "57P01" | "57P02" | "57P03"
                // query_canceled: statement_timeout elapsed
                | "57014"
                // lock_not_available (lock_timeout), serialization_failure,
                // deadlock_detected: SQLite's BUSY and LOCKED
                | "55P03" | "40001" | "40P01"
                // read_only_sql_transaction: a standby, or a database made
                // read-only, until a failover completes
                | "25006"
            )
    }

    crate::dialect::executing_methods!(PgConnection, PgRow);

    /// An `UPDATE` that matches no row, undone: it needs what any write
    /// needs (a database that is not read-only or a standby, the table's
    /// write lock within `bound`) and changes nothing.
    fn writable_check(bound: Duration) -> Vec<String> {
        vec![
            "BEGIN".to_owned(),
            format!("SET LOCAL statement_timeout = {}", bound.as_millis().max(1)),
            "UPDATE sessions SET revoked_at = revoked_at WHERE false".to_owned(),
            "ROLLBACK".to_owned(),
        ]
    }
}

/// Warns when the server's autovacuum does not run. Every rotation,
/// revocation and pruning of a feed leaves dead rows behind, so without it
/// the database grows for as long as it serves, reclaimed only by a VACUUM
/// someone runs (6.4 times in a 15-minute soak, docs/benchmarks.md). A
/// server that does not answer is left to the store's first real
/// statement to report.
async fn warn_if_autovacuum_is_off(pool: &PgPool) {
    let settings = sqlx::query_as::<_, (String, String)>(
        "SELECT current_setting('autovacuum'), current_setting('track_counts')",
    )
    .fetch_one(pool)
    .await;
    if let Ok((autovacuum, track_counts)) = settings
        && let Some(warning) = autovacuum_warning(&autovacuum, &track_counts)
    {
        tracing::warn!("{warning}");
    }
}

/// What to say about these settings: autovacuum needs both.
fn autovacuum_warning(autovacuum: &str, track_counts: &str) -> Option<&'static str> {
    (autovacuum == "off" || track_counts == "off").then_some(
        "autovacuum is off on this PostgreSQL server (autovacuum or track_counts): dead rows are reclaimed only by a VACUUM someone runs, and the database grows with every refresh, logout and deletion; turn both on, or run VACUUM on a schedule",
    )
}

/// `statement` with its values bound as PostgreSQL stores them: ids as
/// native UUIDs, lists as arrays, which `unnest` reads back.
fn query<'q>(statement: &'q Statement<'_>) -> Query<'q, Postgres, PgArguments> {
    statement.to_query(|query, value| match value {
        Value::Id(id) => query.bind(*id),
        Value::Texts(texts) => query.bind(texts.iter().map(AsRef::as_ref).collect::<Vec<&str>>()),
        Value::Ids(ids) => query.bind(ids.as_slice()),
        Value::Integers(integers) => query.bind(integers.as_slice()),
        // Bound by `to_query` itself.
        Value::Integer(_) | Value::Text(_) | Value::Bytes(_) | Value::Flag(_) => query,
    })
}

/// Ids are stored as native UUIDs.
impl BackendRow for PgRow {
    fn uuid(&self, name: &str) -> Result<Uuid, StoreError> {
        self.try_get(name).map_err(decode_error)
    }

    fn optional_uuid(&self, name: &str) -> Result<Option<Uuid>, StoreError> {
        self.try_get(name).map_err(decode_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autovacuum_is_named_when_either_setting_is_off() {
        assert_eq!(autovacuum_warning("on", "on"), None);
        for (autovacuum, track_counts) in [("off", "on"), ("on", "off"), ("off", "off")] {
            let warning = autovacuum_warning(autovacuum, track_counts);
            assert!(
                warning.is_some_and(|warning| warning.starts_with("autovacuum is off")),
                "{autovacuum} {track_counts}"
            );
        }
    }

    #[test]
    fn sqlstates_that_are_worth_retrying() {
        let cases = [
            ("08006", true),  // connection_failure
            ("08001", true),  // sqlclient_unable_to_establish_sqlconnection
            ("53300", true),  // too_many_connections
            ("53100", true),  // disk_full
            ("57P01", true),  // admin_shutdown
            ("57P02", true),  // crash_shutdown
            ("57P03", true),  // cannot_connect_now
            ("57014", true),  // query_canceled (statement_timeout)
            ("55P03", true),  // lock_not_available
            ("40001", true),  // serialization_failure
            ("40P01", true),  // deadlock_detected
            ("25006", true),  // read_only_sql_transaction
            ("23505", false), // unique_violation (Conflict, checked first)
            ("23503", false), // foreign_key_violation
            ("22P02", false), // invalid_text_representation
            ("42P01", false), // undefined_table
            ("3D000", false), // invalid_catalog_name: a configuration error
            ("28P01", false), // invalid_password: a configuration error
            ("57P04", false), // database_dropped
        ];
        for (sqlstate, transient) in cases {
            assert_eq!(
                PostgresDialect::is_transient(sqlstate),
                transient,
                "{sqlstate}"
            );
        }
    }

    #[test]
    fn driver_errors_outside_the_database() {
        assert!(matches!(
            PostgresDialect::map_err(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            PostgresDialect::map_err(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            PostgresDialect::map_err(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            PostgresDialect::map_err(sqlx::Error::RowNotFound),
            StoreError::Other(_)
        ));
        assert!(matches!(
            PostgresDialect::map_err(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Other(_)
        ));
    }
}
