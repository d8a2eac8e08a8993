//! Shapes of the operations answers (`routes::ops`, `routes::metrics`), which the gateway
//! assembles itself, for the document only.
#![allow(dead_code)]

use utoipa::ToSchema;

/// How a dependency answered its health check.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ServiceHealth {
    Healthy,
    Unhealthy,
    Unreachable,
}

/// The cache service's health: `degraded` while it serves from memory because Redis is down.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum CacheHealth {
    Healthy,
    Degraded,
    Unhealthy,
    Unreachable,
}

/// The database's health as analytics reports it (`unknown` when analytics is unreachable).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DatabaseHealth {
    Healthy,
    Unhealthy,
    Unknown,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum OverallHealth {
    Healthy,
    Degraded,
}

#[derive(ToSchema)]
pub struct HealthServices {
    database: DatabaseHealth,
    cache: CacheHealth,
    analytics: ServiceHealth,
    aggregator: ServiceHealth,
}

/// The aggregator's work queue, as its status RPC reports it.
#[derive(ToSchema)]
pub struct AggregatorLag {
    /// Dirty (user, day) items waiting.
    queue_depth: u64,
    /// Age of the oldest waiting item, seconds (0 when none).
    oldest_pending_seconds: f64,
}

/// `GET /health`: always 200; `degraded` when any dependency is not serving.
#[derive(ToSchema)]
pub struct Health {
    status: OverallHealth,
    services: HealthServices,
    /// Null when the aggregator does not answer.
    #[schema(required = true)]
    aggregator_lag: Option<AggregatorLag>,
}

/// A probe's answer: `alive` (`/livez`) or `ready` (`/readyz`).
#[derive(ToSchema)]
pub struct Probe {
    #[schema(example = "ready")]
    status: String,
}

/// `/readyz` when analytics (and so the database) cannot serve.
#[derive(ToSchema)]
pub struct NotReady {
    /// Always `not_ready`.
    #[schema(example = "not_ready")]
    status: String,
    analytics: ServiceHealth,
}

// --- metrics (`routes::metrics`, `stats`) ---

/// `GET /metrics?format=json`. Each upstream section says whether it answered this scrape
/// (`up`); its figures are null when it did not.
#[derive(ToSchema)]
pub struct MetricsSummary {
    requests: RequestTotalsView,
    /// Seconds since the upstreams' figures were gathered (in the background, every
    /// `METRICS_REFRESH_MS`).
    upstream_figures_age_seconds: f64,
    cache: CacheFigures,
    database_pool: PoolFigures,
    aggregator: AggregatorFigures,
}

/// The gateway's requests since it started.
#[derive(ToSchema)]
pub struct RequestTotalsView {
    total_requests: u64,
    total_time_ms: f64,
    average_time_ms: f64,
    /// Requests slower than `PERFORMANCE_THRESHOLD_MS`.
    slow_requests: u64,
}

/// The cache service's counters (all users).
#[derive(ToSchema)]
pub struct CacheFigures {
    up: bool,
    #[schema(required = true)]
    hits: Option<u64>,
    #[schema(required = true)]
    misses: Option<u64>,
    #[schema(required = true)]
    hit_rate_percent: Option<f64>,
    /// `redis` or `memory`.
    #[schema(required = true)]
    backend: Option<String>,
    #[schema(required = true)]
    keys: Option<u64>,
    #[schema(required = true)]
    errors: Option<u64>,
    /// True while a configured Redis does not answer and memory serves.
    #[schema(required = true)]
    degraded: Option<bool>,
    /// Times Redis stopped answering and memory took over, since the cache service started.
    #[schema(required = true)]
    failovers: Option<u64>,
}

/// The analytics database pool.
#[derive(ToSchema)]
pub struct PoolFigures {
    up: bool,
    #[schema(required = true)]
    size: Option<u32>,
    #[schema(required = true)]
    idle: Option<u32>,
    #[schema(required = true)]
    in_use: Option<u32>,
    #[schema(required = true)]
    max: Option<u32>,
}

/// The aggregator's lag and throughput.
#[derive(ToSchema)]
pub struct AggregatorFigures {
    up: bool,
    #[schema(required = true)]
    queue_depth: Option<u64>,
    #[schema(required = true)]
    oldest_pending_seconds: Option<f64>,
    #[schema(required = true)]
    items_per_second: Option<f64>,
    #[schema(required = true)]
    events_per_second: Option<f64>,
}
