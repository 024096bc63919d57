//! Opening the database a URL names: PostgreSQL for `postgres://` and
//! `postgresql://`, SQLite for anything else (a `sqlite:` URL or a plain
//! file path), migrated before use, and the URL as it may be shown.
//!
//! A database URL may hold a password; it must never reach a log or a
//! message except through [`without_password`].

use std::sync::Arc;

use anyhow::Context as _;
use portcullis_core::store::Store;
use portcullis_store::{PgStore, PgStoreOptions, SqliteStore, SqliteStoreOptions};

use crate::config::Config;

/// Opens the database named in `config` (PostgreSQL for `postgres://` URLs,
/// SQLite otherwise) and applies its migrations.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database.as_str();
    let pool = config.pool;
    let context = || format!("opening the database {}", without_password(url));
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let defaults = PgStoreOptions::default();
        let options = PgStoreOptions {
            max_connections: pool.max_connections.unwrap_or(defaults.max_connections),
            acquire_timeout: pool.acquire_timeout,
            statement_timeout: pool.statement_timeout,
        };
        let store = PgStore::connect_with(url, options)
            .await
            .with_context(context)?;
        store.migrate().await.context("applying migrations")?;
        Ok(Arc::new(store))
    } else {
        let defaults = SqliteStoreOptions::default();
        let options = SqliteStoreOptions {
            max_connections: pool.max_connections.unwrap_or(defaults.max_connections),
            acquire_timeout: pool.acquire_timeout,
        };
        let store = SqliteStore::connect_with(url, options)
            .await
            .with_context(context)?;
        store.migrate().await.context("applying migrations")?;
        Ok(Arc::new(store))
    }
}

/// The database URL with any password replaced, for logs and messages: the
/// one after the user name, and any query parameter named like `password`
/// (PostgreSQL takes `?password=` and `?sslpassword=` too). When the URL is
/// ambiguous (an `@` in the query), more is hidden rather than less.
pub(crate) fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The query first, since a password there may hold an `@`.
    let rest = match rest.split_once('?') {
        Some((location, query)) => {
            let parameters: Vec<String> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                        format!("{name}=***")
                    }
                    _ => parameter.to_owned(),
                })
                .collect();
            format!("{location}?{}", parameters.join("&"))
        }
        None => rest.to_owned(),
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => format!("{scheme}://{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_never_reach_the_log() {
        for (url, shown) in [
            (
                "postgres://app:s3cret@db:5432/auth",
                "postgres://app:***@db:5432/auth",
            ),
            ("postgres://app@db/auth", "postgres://app@db/auth"),
            (
                "postgres://app@db/auth?password=s3cret",
                "postgres://app@db/auth?password=***",
            ),
            (
                "postgresql://db/auth?sslmode=require&Password=s3cret&application_name=x",
                "postgresql://db/auth?sslmode=require&Password=***&application_name=x",
            ),
            (
                "postgres://app:s3cret@db/auth?sslpassword=k3y&password=s3cret",
                "postgres://app:***@db/auth?sslpassword=***&password=***",
            ),
            ("postgres://app:p@ss@db/auth", "postgres://app:***@db/auth"),
            ("postgres://app:p?ss@db/auth", "postgres://app:***@db/auth"),
            (
                "postgres://db:5432/auth?password=p@ss",
                "postgres://db:5432/auth?password=***",
            ),
            (
                "postgres://app:s3cret@db/auth?password=p@ss",
                "postgres://app:***@db/auth?password=***",
            ),
            ("sqlite://portcullis.db", "sqlite://portcullis.db"),
            (
                "sqlite://portcullis.db?mode=rwc",
                "sqlite://portcullis.db?mode=rwc",
            ),
            ("portcullis.db", "portcullis.db"),
        ] {
            assert_eq!(without_password(url), shown);
        }
    }
}
