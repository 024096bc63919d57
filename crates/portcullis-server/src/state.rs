//! What every handler can reach: the use cases, the HTTP settings and the
//! metrics renderer.

use std::net::IpAddr;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use portcullis_core::Services;

/// Settings that only the HTTP layer knows about.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Browser origins allowed by CORS; none by default.
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed; none by default.
    pub trusted_proxies: Vec<IpAddr>,
}

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub http: Arc<HttpSettings>,
    /// Renders `/metrics`; `None` serves an empty page (no recorder installed).
    pub metrics: Option<PrometheusHandle>,
}
