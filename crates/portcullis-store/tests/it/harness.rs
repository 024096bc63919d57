//! How the tests of this binary become `libtest-mimic` trials: each runs on
//! a Tokio runtime of its own, as `#[tokio::test]` would, and one that needs
//! a service decides at run time whether it can run.
//!
//! A trial that cannot reach what it needs is reported as ignored with the
//! reason, never as passed; this module must never turn a missing service
//! into a pass.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use libtest_mimic::{Completion, Failed, Trial};
use portcullis_core::store::Store;

use crate::store_suite::{self, SuiteTest};

/// The runtime a test runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Flavor {
    /// One thread, as `#[tokio::test]`.
    CurrentThread,
    /// Four worker threads, for tests that race tasks.
    MultiThread,
}

/// A boxed future, as suite tests are registered.
pub(crate) type TestFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Why a trial does not run its test.
#[derive(Debug, Clone)]
pub(crate) enum Unavailable {
    /// Reported as ignored, with this reason.
    Skip(String),
    /// Reported as failed, with this message.
    Broken(String),
}

/// A database to run the store suite on.
pub(crate) trait Backend: 'static {
    /// A fresh, migrated database; dropping it deletes it.
    type Database;
    /// The module the trials are named after (`sqlite`, `postgres`).
    const NAME: &'static str;

    /// Whether the backend can be tested here.
    fn available() -> Result<(), Unavailable>;
    /// An empty, migrated database of its own.
    fn fresh() -> impl Future<Output = Self::Database>;
    /// The store on `database`.
    fn store(database: &Self::Database) -> Arc<dyn Store>;
    /// Another pool on the same database (another instance).
    fn another_pool(database: &Self::Database) -> impl Future<Output = Arc<dyn Store>>;
}

/// A trial that runs `test` on a runtime of `flavor`.
pub(crate) fn trial<F, T>(name: impl Into<String>, flavor: Flavor, test: F) -> Trial
where
    F: FnOnce() -> T + Send + 'static,
    T: Future<Output = ()>,
{
    Trial::test(name, move || {
        runtime(flavor).block_on(test());
        Ok(())
    })
}

/// A trial that runs `test` when `available` says it can, and is ignored
/// (or fails) with its reason otherwise.
pub(crate) fn trial_needing<F, T>(
    name: impl Into<String>,
    flavor: Flavor,
    available: fn() -> Result<(), Unavailable>,
    test: F,
) -> Trial
where
    F: FnOnce() -> T + Send + 'static,
    T: Future<Output = ()>,
{
    Trial::ignorable_test(name, move || match available() {
        Ok(()) => {
            runtime(flavor).block_on(test());
            Ok(Completion::Completed)
        }
        Err(Unavailable::Skip(reason)) => Ok(Completion::ignored_with(reason)),
        Err(Unavailable::Broken(message)) => Err(Failed::from(message)),
    })
}

/// One trial per test of the store suite, each on a fresh database of `B`.
pub(crate) fn suite_trials<B: Backend>() -> Vec<Trial> {
    store_suite::TESTS
        .iter()
        .map(|test| {
            let SuiteTest { name, flavor, run } = *test;
            trial_needing(
                format!("{}::suite::{name}", B::NAME),
                flavor,
                B::available,
                move || async move {
                    let database = B::fresh().await;
                    match run {
                        store_suite::Run::OnOne(run) => run(B::store(&database)).await,
                        store_suite::Run::OnTwoPools(run) => {
                            run(B::store(&database), B::another_pool(&database).await).await;
                        }
                    }
                    drop(database);
                },
            )
        })
        .collect()
}

/// Trials named `$module::test` for `async fn test()`s of this module, each
/// on the runtime its `Flavor` names; with `needing`, each asks that
/// function first whether it can run.
macro_rules! trials {
    ($module:literal: $($flavor:ident $test:ident),* $(,)?) => {
        vec![$($crate::harness::trial(
            concat!($module, "::", stringify!($test)),
            $crate::harness::Flavor::$flavor,
            $test,
        )),*]
    };
    ($module:literal needing $available:path: $($flavor:ident $test:ident),* $(,)?) => {
        vec![$($crate::harness::trial_needing(
            concat!($module, "::", stringify!($test)),
            $crate::harness::Flavor::$flavor,
            $available,
            $test,
        )),*]
    };
}

pub(crate) use trials;

fn runtime(flavor: Flavor) -> tokio::runtime::Runtime {
    match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(4);
            builder
        }
    }
    .enable_all()
    .build()
    .expect("a Tokio runtime")
}
