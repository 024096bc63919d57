//! What every handler can reach: the use cases, the HTTP settings, the
//! hosted pages' templates and the metrics renderer.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use portcullis_core::Services;

use crate::pages::Pages;

/// Settings that only the HTTP layer knows about.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Browser origins allowed by CORS; none by default.
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed; none by default.
    pub trusted_proxies: Vec<IpAddr>,
    /// Longest a client may take to send a request's headers, from the
    /// connection's start or a later request's first byte; then the
    /// connection is closed.
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's body, from the end of
    /// its headers; then the answer is `408` and the connection is closed.
    pub body_timeout: Duration,
    /// Longest a connection may stay open with no request in progress.
    pub idle_timeout: Duration,
    /// Connections served at once; further clients wait in the listen
    /// backlog until one closes.
    pub max_connections: usize,
}

impl HttpSettings {
    /// The defaults of `portcullis serve`, for library use and tests.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// See [`Self::DEFAULT_HEADER_TIMEOUT`].
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    /// See [`Self::DEFAULT_HEADER_TIMEOUT`].
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// The most connections served at once whatever the descriptor limit.
    pub const MOST_CONNECTIONS: usize = 10_000;

    /// The default connection cap: what this process's limit on open file
    /// descriptors leaves after a reserve for everything else (the database
    /// pool, SQLite's files, the listener, logs), at most
    /// [`Self::MOST_CONNECTIONS`].
    ///
    /// The reserve is an eighth of the limit, at least 64: with the common
    /// soft limit of 1024 that serves 896 connections and keeps 128
    /// descriptors for the rest. Where the limit cannot be read (not Linux),
    /// [`Self::MOST_CONNECTIONS`].
    #[must_use]
    pub fn default_max_connections() -> usize {
        open_files_soft_limit().map_or(Self::MOST_CONNECTIONS, connections_within)
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::default_max_connections(),
        }
    }
}

/// Connections that a limit of `open_files` descriptors leaves room for.
fn connections_within(open_files: u64) -> usize {
    let reserve = (open_files / 8).max(64);
    let room = usize::try_from(open_files.saturating_sub(reserve)).unwrap_or(usize::MAX);
    room.clamp(1, HttpSettings::MOST_CONNECTIONS)
}

/// The soft `RLIMIT_NOFILE` of this process, from `/proc/self/limits`
/// (no `unsafe` call to `getrlimit`); `None` where it cannot be read or is
/// unlimited.
fn open_files_soft_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub http: Arc<HttpSettings>,
    /// The hosted pages' templates and branding.
    pub pages: Arc<Pages>,
    /// Renders `/metrics`; `None` serves an empty page (no recorder installed).
    pub metrics: Option<PrometheusHandle>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_descriptors_for_the_rest() {
        assert_eq!(connections_within(1024), 896);
        assert_eq!(connections_within(256), 192);
        assert_eq!(connections_within(65), 1);
        assert_eq!(connections_within(20_000), 10_000);
        assert_eq!(connections_within(1 << 20), 10_000);
        assert!(
            open_files_soft_limit().is_some(),
            "Linux has /proc/self/limits"
        );
        let cap = HttpSettings::default_max_connections();
        assert!((1..=10_000).contains(&cap), "{cap}");
    }
}
