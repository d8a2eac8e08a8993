//! `GET /metrics` (no token): the gateway's own series in the Prometheus text format (requests
//! by route template and status, latency histograms, its view cache). The services' figures are
//! not repeated here: each service serves its own on its `METRICS_ADDR`, so Prometheus sees
//! each figure once however many gateways run. `?format=json` gives a summary that does include
//! the upstreams' figures, as last gathered in the background (see
//! [`crate::upstream_figures`]).
//!
//! Who may read it: on the API's address, only clients in `METRICS_ALLOWED_NETWORKS` (loopback
//! by default; the client address as the rate limits see it, through trusted proxies), others
//! get 403; on `METRICS_ADDR`, when set, anyone who can reach that address (an admin port kept
//! off the internet).

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use wellbeing_common::ErrorCode;
use wellbeing_common::metrics::Series;

use crate::client_address::{Networks, TrustedProxies};
use crate::error::ApiError;
use crate::openapi::MetricsFormatParam;
use crate::openapi::operations::MetricsSummary;
use crate::routes::query::ApiQuery;
use crate::state::AppState;

/// Who may read `/metrics` on the API's address: clients in `allowed`, the client found as
/// the rate limits find it (through `proxies`).
pub struct MetricsAccess {
    pub proxies: TrustedProxies,
    pub allowed: Networks,
}

/// The media type of the Prometheus text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Metrics: Prometheus text, or a JSON summary with `format=json`",
    description = "The gateway's own series: requests by route template and status \
        (`http_requests_total`, `http_request_duration_seconds`) and its view cache; each \
        service serves its own figures on its metrics port. The JSON summary adds the cache \
        hits and misses, database pool and aggregator lag, gathered in the background (every \
        `METRICS_REFRESH_MS`), never at a request; an upstream that did not answer has \
        `up: false` and nulls. Answered only to clients in the operator's \
        `METRICS_ALLOWED_NETWORKS` (loopback by default), 403 to others.",
    security(),
    params(MetricsFormatParam),
    responses(
        (status = 200, description = "The metrics", content(
            (String = "text/plain"),
            (MetricsSummary = "application/json"),
        )),
        (status = 403, description = "The client is not in `METRICS_ALLOWED_NETWORKS`", body = crate::openapi::schemas::ErrorBody),
    ),
)]
pub async fn metrics(
    State(state): State<AppState>,
    query: ApiQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let client = state.metrics_access.proxies.client_of(&request);
    if !state.metrics_access.allowed.contains(client) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the metrics are served to the operator's networks only",
        ));
    }
    render(&state, &query)
}

/// `GET /metrics` on the admin address (`METRICS_ADDR`): whoever reaches it may read.
pub async fn admin_metrics(
    State(state): State<AppState>,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    render(&state, &query)
}

fn render(state: &AppState, query: &ApiQuery) -> Result<Response, ApiError> {
    let format = query.one_of("format", &["prometheus", "json"])?;
    if format.as_deref() == Some("json") {
        let gathered = state.upstream_figures.get();
        let age = gathered.at.elapsed().as_secs_f64();
        let summary = gathered.figures.summary(state.stats.totals(), age);
        return Ok(Json(summary).into_response());
    }
    let mut text = state.stats.render();
    write_view_cache(state, &mut text);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROMETHEUS_TEXT),
        )],
        text,
    )
        .into_response())
}

/// The gateway's own view cache: reads it answered without a hop, and what it holds.
fn write_view_cache(state: &AppState, out: &mut String) {
    let (hits, misses, entries) = state.view_cache.figures();
    let mut series = Series(out);
    series.counter(
        "wellbeing_gateway_view_cache_hits_total",
        "Derived reads the gateway answered from its own view cache",
        hits,
    );
    series.counter(
        "wellbeing_gateway_view_cache_misses_total",
        "Derived reads the gateway's view cache sent on to analytics",
        misses,
    );
    series.gauge(
        "wellbeing_gateway_view_cache_entries",
        "Views the gateway keeps",
        entries,
    );
}
