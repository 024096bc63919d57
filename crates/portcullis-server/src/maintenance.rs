//! Background upkeep of a running server: picking up revocations, account
//! changes and key rotations made by other processes (the command line,
//! other instances).
//!
//! Five loops run side by side, so that none delays another:
//!
//! - Every half second, one loop reads the sessions revoked since its last
//!   read into the deny list, another the account-change feed into the
//!   account cache (each an indexed query returning few rows), and another
//!   the signing keys (a few rows; the ring is rebuilt only when they
//!   changed), so a change made anywhere takes effect here within a
//!   second. The account cache and the deny list answer only while their
//!   reads succeed.
//! - The slow loop, every 5 seconds, writes the batched use times of
//!   personal access tokens and reads the costs of imported password
//!   hashes (one index probe per kind), so the hasher times a kind imported
//!   while the server runs, and measures how long a transaction has held
//!   the feeds back (on PostgreSQL, one read of `pg_stat_activity`); every
//!   minute it deletes, in bounded batches,
//!   sessions, keys, login failures, rate-limit windows and feed entries
//!   that can serve no request any more.
//! - Every 5 seconds, the last folds the latencies recorded since into the
//!   metrics' histograms. The exporter keeps each sample until then (a
//!   scrape folds them too), so a server nobody scrapes grew by every
//!   request it answered: 1.2 MiB a minute at 77,000 requests a minute.
//!
//! Failures are logged and retried on the next tick; they never stop the server.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use portcullis_core::Services;
use tokio::task::JoinHandle;

const FAST_INTERVAL: Duration = Duration::from_millis(500);
const SLOW_INTERVAL: Duration = Duration::from_secs(5);
const HOUSEKEEPING_EVERY_TICKS: u32 = 12;

/// Starts the upkeep loops (with `metrics`, the recorder's too); abort the
/// handle to stop them.
pub fn spawn_maintenance(
    services: Arc<Services>,
    metrics: Option<PrometheusHandle>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::join!(
            follow_revocations(&services),
            follow_account_changes(&services),
            follow_signing_keys(&services),
            upkeep(&services),
            fold_latencies(metrics.as_ref())
        );
    })
}

async fn follow_revocations(services: &Services) {
    let mut interval = every(FAST_INTERVAL);
    loop {
        interval.tick().await;
        if let Err(error) = services.feeds.follow_revocations().await {
            tracing::warn!(%error, "could not read recent revocations");
        }
    }
}

async fn follow_account_changes(services: &Services) {
    let mut interval = every(FAST_INTERVAL);
    loop {
        interval.tick().await;
        if let Err(error) = services.feeds.follow_account_changes().await {
            tracing::warn!(%error, "could not read recent account changes");
        }
    }
}

async fn follow_signing_keys(services: &Services) {
    let mut interval = every(FAST_INTERVAL);
    loop {
        interval.tick().await;
        if let Err(error) = services.signing_keys.reload().await {
            tracing::warn!(%error, "could not reload the signing keys");
        }
    }
}

async fn upkeep(services: &Services) {
    let mut interval = every(SLOW_INTERVAL);
    let mut tick: u32 = 0;
    loop {
        interval.tick().await;
        tick = tick.wrapping_add(1);
        if let Err(error) = services.personal_tokens.flush_uses().await {
            tracing::warn!(%error, "could not record personal access token uses");
        }
        if let Err(error) = services.imports.expect_imported_hashes().await {
            tracing::warn!(%error, "could not time the imported password hashes");
        }
        if let Err(error) = services.feeds.measure_hold_back().await {
            tracing::warn!(%error, "could not measure what holds the feeds back");
        }
        if tick.is_multiple_of(HOUSEKEEPING_EVERY_TICKS) {
            match services.feeds.housekeeping().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(
                    deleted,
                    "housekeeping deleted finished sessions, old keys, failures and feed entries"
                ),
                Err(error) => tracing::warn!(%error, "housekeeping failed"),
            }
        }
    }
}

async fn fold_latencies(metrics: Option<&PrometheusHandle>) {
    let Some(metrics) = metrics else {
        return;
    };
    let mut interval = every(SLOW_INTERVAL);
    loop {
        interval.tick().await;
        metrics.run_upkeep();
    }
}

fn every(period: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}
