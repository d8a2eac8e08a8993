//! `X-Response-Time` (gateway wall time, `12.34ms`) and `X-Process-Time` (milliseconds spent in
//! upstream calls, `12.34`) on every response, a log line for slow requests with method, route,
//! status and duration as fields, and the request counted in [`crate::stats`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

tokio::task_local! {
    /// Microseconds spent in upstream calls by the current request.
    static UPSTREAM_MICROS: Arc<AtomicU64>;
}

/// Adds to the current request's upstream time (no-op outside a request).
pub fn add_upstream_time(elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let _ = UPSTREAM_MICROS.try_with(|total| total.fetch_add(micros, Ordering::Relaxed));
}

pub async fn record_timing(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The route template, never the raw path (ids would make one series per user).
    let route = request.extensions().get::<MatchedPath>().cloned();
    let upstream = Arc::new(AtomicU64::new(0));
    let mut response = UPSTREAM_MICROS
        .scope(upstream.clone(), next.run(request))
        .await;

    let elapsed = started.elapsed();
    let upstream_ms = upstream.load(Ordering::Relaxed) as f64 / 1000.0;
    let wall_ms = elapsed.as_secs_f64() * 1000.0;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("{wall_ms:.2}ms")) {
        headers.insert("x-response-time", value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{upstream_ms:.2}")) {
        headers.insert("x-process-time", value);
    }
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let slow = elapsed > state.slow_request_threshold;
    state
        .stats
        .record(&method, route, response.status(), elapsed, slow);
    if slow {
        tracing::warn!(
            http.method = %method,
            http.route = %route,
            http.status = response.status().as_u16(),
            duration_ms = wall_ms,
            upstream_ms,
            "slow request"
        );
    }
    response
}
