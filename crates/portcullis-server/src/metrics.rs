//! Prometheus metrics: request counts and latencies per route and status,
//! open connections and connections closed by a timeout (recorded by
//! `crate::connections`), and, at each scrape, the database pool and the
//! entries of each structure the process keeps in memory. The
//! domain's own measurements (logins by outcome, throttled attempts, refresh
//! reuse, the hashing queue) are recorded in `portcullis_core::telemetry`
//! and exported here too.
//!
//! Every label takes one of a fixed set of values, so no client can make
//! the page (and the process's memory) grow by sending requests: routes are
//! labelled by their pattern (`/users/{id}`), never by the raw path, and a
//! path no route matches is `unmatched`; methods are the seven the API knows
//! or `other`; statuses are the three digits sent. So ids, tokens and
//! made-up methods never become label values.
//!
//! The exporter keeps each latency recorded (16 bytes a request) until it
//! is folded into its histogram, which a scrape does, and so does the
//! server's upkeep (`crate::maintenance`) every 5 seconds: a server nobody
//! scrapes must not keep a sample of every request it ever answered.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Latency buckets, in seconds: fine below 10 ms, where token checks live.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder and returns the handle that renders it.
///
/// # Errors
/// When a recorder is already installed in this process.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

/// The label of a path that no route matches.
const UNMATCHED_ROUTE: &str = "unmatched";

/// Counts and times every request, by method, route pattern and status.
pub(crate) async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || UNMATCHED_ROUTE.to_owned(),
        |path| path.as_str().to_owned(),
    );
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!("portcullis_http_requests_total", &labels).increment(1);
    metrics::histogram!("portcullis_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label: one of those the API knows, else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Metrics
///
/// Prometheus text format: requests and latencies per route and status,
/// logins by outcome, throttled attempts, refresh-token reuse, the
/// password-hashing queue, the database pool and the entries of each
/// structure kept in memory.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4.", content_type = "text/plain", body = String),
    )
)]
pub(crate) async fn serve_metrics(State(state): State<AppState>) -> Response {
    let pool = state.services.pool_status();
    metrics::gauge!("portcullis_db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("portcullis_db_pool_connections", "state" => "in_use")
        .set(f64::from(pool.open.saturating_sub(pool.idle)));
    for (structure, entries) in state.services.in_memory_entries().named() {
        #[allow(clippy::cast_precision_loss, reason = "a count fits a gauge")]
        metrics::gauge!("portcullis_in_memory_entries", "structure" => structure)
            .set(entries as f64);
    }
    let body = state
        .metrics
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_api_share_one_label() {
        for known in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert_eq!(
                method_label(&Method::from_bytes(known.as_bytes()).unwrap()),
                known
            );
        }
        for other in ["TRACE", "CONNECT", "get", "FOO", "PROPFIND"] {
            assert_eq!(
                method_label(&Method::from_bytes(other.as_bytes()).unwrap()),
                "other"
            );
        }
    }
}
