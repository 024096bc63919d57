//! The one integration-test binary of `portcullis-store` (one link, not one
//! per file), with its own harness (`libtest-mimic`): it takes libtest's
//! flags (`--include-ignored`, filters, `--test-threads`) and prints the
//! same report.
//!
//! `store_suite` holds the behaviour every [`portcullis_core::store::Store`]
//! must show, written against `dyn Store` only; each backend registers every
//! suite test once on a fresh database of its own (`sqlite::suite::*`,
//! `postgres::suite::*`) and adds the tests that only make sense for it
//! (files, URLs, servers, migrations).
//!
//! PostgreSQL tests run against `PORTCULLIS_TEST_POSTGRES`, or, when it is
//! unset, `postgres://postgres@127.0.0.1:5432` if a server answers there.
//! With neither they are reported as ignored, with the reason; with the
//! variable set and no server, they fail.

mod harness;
mod postgres;
mod sqlite;
mod store_suite;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut arguments = libtest_mimic::Arguments::from_args();
    // libtest reads `RUST_TEST_THREADS` (`.cargo/config.toml` sets it);
    // libtest-mimic only reads `--test-threads`.
    if arguments.test_threads.is_none() {
        arguments.test_threads = std::env::var("RUST_TEST_THREADS")
            .ok()
            .and_then(|threads| threads.parse().ok());
    }
    // Trials start in this order: each backend's own trials, which hold
    // the longest (they wait on locks, timeouts and late commits), before
    // the shared suite, so that none of them is left running alone at the end.
    let mut trials = postgres::trials();
    trials.extend(sqlite::trials());
    trials.extend(harness::suite_trials::<postgres::Postgres>());
    trials.extend(harness::suite_trials::<sqlite::Sqlite>());
    let conclusion = libtest_mimic::run(&arguments, trials);
    postgres::drop_run_database();
    conclusion.exit_code()
}
