//! What each test needs, whether this machine has it, and how a test runs:
//! on a multi-threaded runtime of its own, reported as ignored with the
//! reason when what it needs is missing (or failed, when
//! `PORTCULLIS_REQUIRE_SERVICES=1` says it must be there).

use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

use libtest_mimic::{Failed, Trial};

use crate::helpers::TestDatabase;

/// A service a test cannot do without.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Needs {
    /// A PostgreSQL server: `PORTCULLIS_TEST_POSTGRES`, else 127.0.0.1:5432.
    Postgres,
    /// PostgreSQL's own programs (`initdb`, `pg_ctl`) and a `postgres` user
    /// to run them, for a cluster the test can stop.
    PostgresCluster,
    /// The nginx binary.
    Nginx,
    /// python3 with PyJWT and its crypto extra.
    Python,
    /// Chromium, Node.js with the packages of `tests/oidc` installed
    /// (`npm ci`), and python3 (its static file server serves the SPA).
    Browser,
    /// [`Needs::Browser`] and [`Needs::Postgres`].
    BrowserOnPostgres,
}

/// The PostgreSQL server tests use when `PORTCULLIS_TEST_POSTGRES` is unset.
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

/// One trial of `test` (an `async fn()` path), named by its path.
macro_rules! trial {
    ($needs:expr, $($test:ident)::+) => {
        $crate::harness::trial_of(
            stringify!($($test)::+),
            $needs,
            || Box::pin($($test)::+()),
        )
    };
}
pub(crate) use trial;

pub(crate) type TestFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// A trial that runs `test` when what it needs is here, and is ignored
/// with the reason otherwise.
pub(crate) fn trial_of(
    name: &str,
    needs: Needs,
    test: impl FnOnce() -> TestFuture + Send + 'static,
) -> Trial {
    let missing = missing(needs);
    let reason = missing.clone();
    let required = std::env::var("PORTCULLIS_REQUIRE_SERVICES").is_ok_and(|value| value == "1");
    let ignored = missing.is_some() && !required;
    // `stringify!` spaces (and may break) the path: `module :: test`.
    let name: String = name.split_whitespace().collect();
    let trial = Trial::test(name, move || {
        if let Some(reason) = reason {
            return Err(Failed::from(format!(
                "PORTCULLIS_REQUIRE_SERVICES=1, but {reason}"
            )));
        }
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .map_err(|error| Failed::from(format!("no runtime: {error}")))?
            .block_on(test());
        Ok(())
    })
    .with_ignored_flag(ignored);
    match (ignored, missing) {
        (true, Some(reason)) => trial.with_kind(format!("needs {}", short(&reason))),
        _ => trial,
    }
}

/// The first words of a reason, short enough for the report's kind column.
fn short(reason: &str) -> String {
    reason.split(':').next().unwrap_or(reason).to_owned()
}

/// Why `needs` cannot be met here, if it cannot.
fn missing(needs: Needs) -> Option<String> {
    match needs {
        Needs::Postgres => postgres_server().err(),
        Needs::PostgresCluster => crate::database_outage::postgres_binaries()
            .is_none()
            .then(|| "PostgreSQL's initdb: none under /usr/lib/postgresql".to_owned()),
        Needs::Nginx => crate::nginx::find_nginx()
            .is_none()
            .then(|| "nginx: not on PATH nor in /usr/sbin".to_owned()),
        Needs::Python => {
            static PYJWT: OnceLock<bool> = OnceLock::new();
            (!*PYJWT.get_or_init(|| succeeds("python3", &["-c", "import jwt, cryptography"])))
                .then(|| "PyJWT: `python3 -c 'import jwt, cryptography'` fails".to_owned())
        }
        Needs::Browser => crate::browser::missing_tools(),
        Needs::BrowserOnPostgres => {
            crate::browser::missing_tools().or_else(|| postgres_server().err())
        }
    }
}

/// The URL of a PostgreSQL server that answers, looked for once.
fn postgres_server() -> Result<String, String> {
    static FOUND: OnceLock<Result<String, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let url = std::env::var("PORTCULLIS_TEST_POSTGRES")
                .unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
            let admin = format!("{}/postgres", url.trim_end_matches('/'));
            let answers = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()
                .is_some_and(|runtime| {
                    runtime.block_on(async {
                        use sqlx::Connection as _;
                        sqlx::PgConnection::connect(&admin).await.is_ok()
                    })
                });
            if answers {
                Ok(url)
            } else {
                Err(format!("PostgreSQL: nothing answers at {url}"))
            }
        })
        .clone()
}

/// A fresh database on the PostgreSQL server the harness found.
pub(crate) fn postgres_database() -> Arc<TestDatabase> {
    TestDatabase::on_postgres(&postgres_server().expect("the harness found PostgreSQL"))
}

/// A port free right now on 127.0.0.1, for a server that must know its
/// address before it starts.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
