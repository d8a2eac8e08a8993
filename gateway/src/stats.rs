//! What the gateway measures about its own requests: running totals (for
//! `/metrics?format=json`) and Prometheus series by route template and status.
//!
//! The series go to a Prometheus recorder this gateway owns, not to the process-wide one:
//! tests start several gateways in one process, and each must count only its own requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use metrics::{Counter, Histogram, Unit, counter, describe_counter, describe_histogram, histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use serde::Serialize;
use wellbeing_common::series::SeriesMemo;

pub const REQUESTS_TOTAL: &str = "http_requests_total";
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";
pub const SLOW_REQUESTS_TOTAL: &str = "http_slow_requests_total";

/// Bucket bounds in seconds: a read served from a cache takes about a millisecond here, a cold
/// weekly view tens of milliseconds, anything past a second is trouble.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

pub struct GatewayStats {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    total_requests: AtomicU64,
    total_micros: AtomicU64,
    slow_requests: AtomicU64,
    /// Each method's and status's series, by route template.
    series: SeriesMemo<(&'static str, u16), (Counter, Histogram)>,
}

/// The running totals since the gateway started (the `requests` of `/metrics?format=json`).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct RequestTotals {
    pub total_requests: u64,
    pub total_time_ms: f64,
    pub average_time_ms: f64,
    /// Requests slower than `PERFORMANCE_THRESHOLD_MS`.
    pub slow_requests: u64,
}

impl Default for GatewayStats {
    fn default() -> Self {
        Self::new()
    }
}

impl GatewayStats {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(REQUEST_DURATION.to_owned()),
                &DURATION_BUCKETS,
            )
            .expect("bucket bounds are not empty")
            .build_recorder();
        metrics::with_local_recorder(&recorder, || {
            describe_counter!(
                REQUESTS_TOTAL,
                "HTTP requests answered, by route template and status"
            );
            describe_histogram!(
                REQUEST_DURATION,
                Unit::Seconds,
                "Gateway wall time of HTTP requests, by route template and status"
            );
            describe_counter!(
                SLOW_REQUESTS_TOTAL,
                "HTTP requests slower than PERFORMANCE_THRESHOLD_MS"
            );
        });
        Self {
            handle: recorder.handle(),
            recorder,
            total_requests: AtomicU64::new(0),
            total_micros: AtomicU64::new(0),
            slow_requests: AtomicU64::new(0),
            series: SeriesMemo::default(),
        }
    }

    /// Counts one answered request. `route` is a route template (never a raw path, whose ids
    /// would make one series per user).
    pub fn record(
        &self,
        method: &Method,
        route: &str,
        status: StatusCode,
        elapsed: Duration,
        slow: bool,
    ) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.total_requests.fetch_add(1, Ordering::Relaxed);
        self.total_micros.fetch_add(micros, Ordering::Relaxed);
        if slow {
            self.slow_requests.fetch_add(1, Ordering::Relaxed);
        }
        let method = method_label(method);
        let labels = || {
            [
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.as_u16().to_string()),
            ]
        };
        let register = || {
            let labels = labels();
            metrics::with_local_recorder(&self.recorder, || {
                (
                    counter!(REQUESTS_TOTAL, &labels),
                    histogram!(REQUEST_DURATION, &labels),
                )
            })
        };
        let key = (method, status.as_u16());
        self.series
            .with(route, key, register, |(requests, duration)| {
                requests.increment(1);
                duration.record(elapsed.as_secs_f64());
            });
        if slow {
            metrics::with_local_recorder(&self.recorder, || {
                counter!(SLOW_REQUESTS_TOTAL, &labels()[..2]).increment(1);
            });
        }
    }

    pub fn totals(&self) -> RequestTotals {
        let total_requests = self.total_requests.load(Ordering::Relaxed);
        let total_time_ms = self.total_micros.load(Ordering::Relaxed) as f64 / 1000.0;
        let average_time_ms = if total_requests == 0 {
            0.0
        } else {
            total_time_ms / total_requests as f64
        };
        RequestTotals {
            total_requests,
            total_time_ms: round2(total_time_ms),
            average_time_ms: round2(average_time_ms),
            slow_requests: self.slow_requests.load(Ordering::Relaxed),
        }
    }

    /// The gateway's own series in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recorded latencies into their histograms; without it they pile up between scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// The method as a label: unknown methods share one value, so a client cannot mint series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_series_count_each_request() {
        let stats = GatewayStats::new();
        let route = "/api/v1/analytics/goals/{id}";
        stats.record(
            &Method::GET,
            route,
            StatusCode::OK,
            Duration::from_millis(4),
            false,
        );
        stats.record(
            &Method::GET,
            route,
            StatusCode::OK,
            Duration::from_millis(600),
            true,
        );
        let totals = stats.totals();
        assert_eq!(totals.total_requests, 2);
        assert_eq!(totals.slow_requests, 1);
        assert_eq!(totals.average_time_ms, 302.0);
        let text = stats.render();
        assert!(text.contains(
            r#"http_requests_total{method="GET",route="/api/v1/analytics/goals/{id}",status="200"} 2"#
        ));
        assert!(text.contains("http_request_duration_seconds_bucket{"));
        // Another gateway in the same process counts nothing of this one's.
        assert!(!GatewayStats::new().render().contains(REQUESTS_TOTAL));
    }
}
