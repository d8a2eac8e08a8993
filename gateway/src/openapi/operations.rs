//! Shapes of the operations answers. `routes::ops` builds its answers from these very types;
//! the metrics summary (`routes::metrics`, `upstream_figures`) is still assembled with `json!`
//! and only described here.

use serde::Serialize;
use utoipa::ToSchema;

use crate::upstream::UpstreamHealth;

/// How a dependency answered its health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceHealth {
    Healthy,
    Unhealthy,
    Unreachable,
}

impl From<UpstreamHealth> for ServiceHealth {
    fn from(health: UpstreamHealth) -> Self {
        match health {
            UpstreamHealth::Serving => Self::Healthy,
            UpstreamHealth::NotServing => Self::Unhealthy,
            UpstreamHealth::Unreachable => Self::Unreachable,
        }
    }
}

/// The cache service's health: `degraded` while it serves from memory because Redis is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CacheHealth {
    Healthy,
    Degraded,
    Unhealthy,
    Unreachable,
}

/// The database's health as analytics reports it (`unknown` when analytics is unreachable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseHealth {
    Healthy,
    Unhealthy,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverallHealth {
    Healthy,
    Degraded,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthServices {
    pub database: DatabaseHealth,
    pub cache: CacheHealth,
    pub analytics: ServiceHealth,
    pub aggregator: ServiceHealth,
}

/// The aggregator's work queue, as its status RPC reports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggregatorLag {
    /// Dirty (user, day) items waiting.
    pub queue_depth: u64,
    /// Age of the oldest waiting item, seconds (0 when none).
    pub oldest_pending_seconds: f64,
}

/// `GET /health`: always 200; `degraded` when any dependency is not serving.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: OverallHealth,
    pub services: HealthServices,
    /// Null when the aggregator does not answer.
    #[schema(required = true)]
    pub aggregator_lag: Option<AggregatorLag>,
}

/// A probe's answer: `alive` (`/livez`) or `ready` (`/readyz`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Probe {
    #[schema(example = "ready")]
    pub status: &'static str,
}

/// `/readyz` when analytics (and so the database) cannot serve.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotReady {
    /// Always `not_ready`.
    #[schema(example = "not_ready")]
    pub status: &'static str,
    pub analytics: ServiceHealth,
}

// --- metrics (`routes::metrics`, `stats`): described only ---

/// `GET /metrics?format=json`. Each upstream section says whether it answered this scrape
/// (`up`); its figures are null when it did not.
#[allow(dead_code)]
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
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct RequestTotalsView {
    total_requests: u64,
    total_time_ms: f64,
    average_time_ms: f64,
    /// Requests slower than `PERFORMANCE_THRESHOLD_MS`.
    slow_requests: u64,
}

/// The cache service's counters (all users).
#[allow(dead_code)]
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
#[allow(dead_code)]
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
#[allow(dead_code)]
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
