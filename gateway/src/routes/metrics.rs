//! `GET /metrics` (no token): the gateway's own series (requests by route template and status,
//! latency histograms) in the Prometheus text format, followed by figures asked of the upstreams
//! at scrape time: the cache service's hits and misses, the analytics database pool, the
//! aggregator's lag. Each upstream gets a short deadline; one that does not answer reports
//! `*_up 0` and no figures, and never fails the scrape. `?format=json` gives a summary.

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wellbeing_proto::aggregator::v1::{StatusRequest, StatusResponse};
use wellbeing_proto::analytics::v1::{PoolStatsRequest, PoolStatsResponse};
use wellbeing_proto::cache::v1::{StatsRequest, StatsResponse};

use wellbeing_common::metrics::Series;

use crate::error::ApiError;
use crate::openapi::MetricsFormatParam;
use crate::openapi::operations::MetricsSummary;
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::{Upstreams, timed};

/// How long a scrape waits for each upstream.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(500);

/// The media type of the Prometheus text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Metrics: Prometheus text, or a JSON summary with `format=json`",
    description = "Requests by route template and status (`http_requests_total`, \
        `http_request_duration_seconds`), cache hits and misses, database pool and aggregator \
        lag. Upstream figures are asked for at each scrape; an upstream that does not answer \
        reports `up` 0 (JSON: `up: false` and nulls).",
    security(),
    params(MetricsFormatParam),
    responses(
        (status = 200, description = "The metrics", content(
            (String = "text/plain"),
            (MetricsSummary = "application/json"),
        )),
    ),
)]
pub async fn metrics(State(state): State<AppState>, query: ApiQuery) -> Result<Response, ApiError> {
    let format = query.one_of("format", &["prometheus", "json"])?;
    let upstream = UpstreamFigures::scrape(&state.upstreams).await;
    if format.as_deref() == Some("json") {
        let requests = state.stats.totals();
        let mut summary = upstream.json();
        summary["requests"] = json!(requests);
        return Ok(Json(summary).into_response());
    }
    let mut text = state.stats.render();
    write_view_cache(&state, &mut text);
    upstream.write_prometheus(&mut text);
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

/// What the upstreams said at this scrape (`None`: no answer in time).
pub struct UpstreamFigures {
    pub cache: Option<StatsResponse>,
    pub pool: Option<PoolStatsResponse>,
    pub aggregator: Option<StatusResponse>,
}

impl UpstreamFigures {
    pub async fn scrape(upstreams: &Upstreams) -> Self {
        let (mut cache, mut analytics, mut aggregator) = (
            upstreams.cache(),
            upstreams.analytics(),
            upstreams.aggregator(),
        );
        let (cache, pool, aggregator) = tokio::join!(
            ask(cache.stats(scrape_request(StatsRequest {}))),
            ask(analytics.pool_stats(scrape_request(PoolStatsRequest {}))),
            ask(aggregator.status(scrape_request(StatusRequest {}))),
        );
        Self {
            cache,
            pool,
            aggregator,
        }
    }

    /// The JSON summary, every key present (null when its upstream did not answer).
    pub fn json(&self) -> Value {
        let cache = self.cache.as_ref();
        let pool = self.pool.as_ref();
        let aggregator = self.aggregator.as_ref();
        json!({
            "cache": {
                "up": cache.is_some(),
                "hits": cache.map(|c| c.hits),
                "misses": cache.map(|c| c.misses),
                "hit_rate_percent": cache.map(|c| c.hit_rate_percent),
                "backend": cache.map(|c| backend_name(&c.backend)),
                "keys": cache.map(|c| c.keys),
                "errors": cache.map(|c| c.errors),
                "degraded": cache.map(|c| c.degraded),
                "failovers": cache.map(|c| c.failovers),
            },
            "database_pool": {
                "up": pool.is_some(),
                "size": pool.map(|p| p.size),
                "idle": pool.map(|p| p.idle),
                "in_use": pool.map(|p| p.in_use),
                "max": pool.map(|p| p.max),
            },
            "aggregator": {
                "up": aggregator.is_some(),
                "queue_depth": aggregator.map(|a| a.queue_depth),
                "oldest_pending_seconds": aggregator.map(|a| a.oldest_pending_seconds),
                "items_per_second": aggregator.map(|a| a.items_per_second),
                "events_per_second": aggregator.map(|a| a.events_per_second),
            },
        })
    }

    /// Appends the upstream series to the gateway's own.
    pub fn write_prometheus(&self, out: &mut String) {
        let mut series = Series(out);
        series.gauge(
            "wellbeing_cache_up",
            "Whether the cache service answered this scrape",
            self.cache.is_some() as u8,
        );
        if let Some(cache) = &self.cache {
            series.counter(
                "wellbeing_cache_hits_total",
                "Cache reads that found a value",
                cache.hits,
            );
            series.counter(
                "wellbeing_cache_misses_total",
                "Cache reads that found nothing",
                cache.misses,
            );
            series.counter(
                "wellbeing_cache_errors_total",
                "Cache backend errors",
                cache.errors,
            );
            series.gauge(
                "wellbeing_cache_keys",
                "Keys in the cache backend",
                cache.keys,
            );
            series.gauge(
                "wellbeing_cache_degraded",
                "1 while a configured Redis does not answer and memory serves",
                cache.degraded as u8,
            );
            series.counter(
                "wellbeing_cache_failovers_total",
                "Times Redis stopped answering and the cache service's memory took over",
                cache.failovers,
            );
            series.info(
                "wellbeing_cache_backend_info",
                "The backend serving the cache",
                "backend",
                backend_name(&cache.backend),
            );
        }
        series.gauge(
            "wellbeing_db_pool_up",
            "Whether analytics reported its database pool at this scrape",
            self.pool.is_some() as u8,
        );
        if let Some(pool) = &self.pool {
            series.gauge(
                "wellbeing_db_pool_size",
                "Open database connections",
                pool.size,
            );
            series.gauge(
                "wellbeing_db_pool_idle",
                "Idle database connections",
                pool.idle,
            );
            series.gauge(
                "wellbeing_db_pool_in_use",
                "Database connections in use",
                pool.in_use,
            );
            series.gauge(
                "wellbeing_db_pool_max",
                "Most database connections allowed",
                pool.max,
            );
        }
        series.gauge(
            "wellbeing_aggregator_up",
            "Whether the aggregator answered this scrape",
            self.aggregator.is_some() as u8,
        );
        if let Some(aggregator) = &self.aggregator {
            series.gauge(
                "wellbeing_aggregator_queue_depth",
                "Work items waiting",
                aggregator.queue_depth,
            );
            series.gauge(
                "wellbeing_aggregator_oldest_pending_seconds",
                "Age of the oldest waiting work item",
                aggregator.oldest_pending_seconds,
            );
            series.gauge(
                "wellbeing_aggregator_items_per_second",
                "Work items processed per second, recently",
                aggregator.items_per_second,
            );
            series.gauge(
                "wellbeing_aggregator_events_per_second",
                "Raw events read by the aggregator's recomputations per second, recently",
                aggregator.events_per_second,
            );
        }
    }
}

fn scrape_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(SCRAPE_TIMEOUT);
    request
}

/// One upstream's answer, or `None` when it fails or is late.
async fn ask<T>(
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Option<T> {
    match tokio::time::timeout(SCRAPE_TIMEOUT, timed(call)).await {
        Ok(Ok(response)) => Some(response.into_inner()),
        Ok(Err(status)) => {
            tracing::debug!(grpc_code = ?status.code(), "upstream figures unavailable");
            None
        }
        Err(_) => None,
    }
}

/// The backend as a label value: only the names we know, so nothing odd reaches the text.
fn backend_name(backend: &str) -> &'static str {
    match backend {
        "redis" => "redis",
        "memory" => "memory",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_upstreams_report_down_with_every_key() {
        let figures = UpstreamFigures {
            cache: None,
            pool: Some(PoolStatsResponse {
                size: 4,
                idle: 3,
                in_use: 1,
                max: 8,
            }),
            aggregator: None,
        };
        let summary = figures.json();
        assert_eq!(summary["cache"]["up"], false);
        assert!(summary["cache"]["hits"].is_null());
        assert_eq!(summary["database_pool"]["in_use"], 1);
        let mut text = String::new();
        figures.write_prometheus(&mut text);
        assert!(text.contains("wellbeing_cache_up 0\n"));
        assert!(text.contains("wellbeing_db_pool_max 8\n"));
        assert!(!text.contains("wellbeing_cache_hits_total"));
    }
}
