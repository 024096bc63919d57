//! Background upkeep of a running server: picking up revocations and key
//! rotations made by other processes (the command line, other instances).
//!
//! Every half second it reads the sessions revoked since its last read (an
//! indexed query returning few rows) into the deny list, so a revocation made
//! anywhere takes effect here within a second; every 5 seconds it writes the
//! batched use times of personal access tokens and reloads the signing keys
//! (a few rows), so a rotation made anywhere is served here within seconds;
//! every minute it deletes, in bounded batches, sessions, keys and login
//! failures that can serve no request any more. Failures are logged and
//! retried on the next tick; they never stop the server.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::AuthService;
use tokio::task::JoinHandle;

const REVOCATION_INTERVAL: Duration = Duration::from_millis(500);
const TOKEN_USES_EVERY_TICKS: u32 = 10;
const KEY_RELOAD_EVERY_TICKS: u32 = 10;
const HOUSEKEEPING_EVERY_TICKS: u32 = 120;

/// Starts the upkeep loop; abort the handle to stop it.
pub fn spawn_maintenance(auth: Arc<AuthService>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(REVOCATION_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tick: u32 = 0;
        loop {
            interval.tick().await;
            tick = tick.wrapping_add(1);
            if let Err(error) = auth.refresh_revocations().await {
                tracing::warn!(%error, "could not read recent revocations");
            }
            if tick.is_multiple_of(TOKEN_USES_EVERY_TICKS)
                && let Err(error) = auth.flush_personal_token_uses().await
            {
                tracing::warn!(%error, "could not record personal access token uses");
            }
            if tick.is_multiple_of(KEY_RELOAD_EVERY_TICKS)
                && let Err(error) = auth.reload_keys().await
            {
                tracing::warn!(%error, "could not reload signing keys");
            }
            if tick.is_multiple_of(HOUSEKEEPING_EVERY_TICKS) {
                match auth.housekeeping().await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(
                        deleted,
                        "housekeeping deleted finished sessions, old keys and failures"
                    ),
                    Err(error) => tracing::warn!(%error, "housekeeping failed"),
                }
            }
        }
    })
}
