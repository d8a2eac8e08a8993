//! Shapes of the operations answers. `routes::ops` builds its answers from these very types;
//! the metrics summary (`routes::metrics`, `upstream_figures`) is still assembled with `json!`
//! and only described here.

use serde::Serialize;
use utoipa::ToSchema;

use crate::stats::RequestTotals;

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

/// `/readyz` when analytics (and so the database) cannot serve, or before the gateway has
/// learnt which sessions ended recently (it would accept their access tokens).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotReady {
    /// Always `not_ready`.
    #[schema(example = "not_ready")]
    pub status: &'static str,
    pub analytics: ServiceHealth,
    /// False until analytics has told this gateway which sessions ended recently.
    pub ended_sessions_known: bool,
}

// --- metrics (`routes::metrics`, `upstream_figures`): built from these ---

/// `GET /metrics?format=json`. Each upstream section says whether it answered the last
/// gathering (`up`); its figures are null when it did not.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsSummary {
    pub requests: RequestTotals,
    /// Seconds since the upstreams' figures were gathered (in the background, every
    /// `METRICS_REFRESH_MS`).
    pub upstream_figures_age_seconds: f64,
    pub cache: CacheFigures,
    pub database_pool: PoolFigures,
    pub aggregator: AggregatorFigures,
}

/// The cache service's counters (all users).
#[derive(Debug, Serialize, ToSchema)]
pub struct CacheFigures {
    pub up: bool,
    #[schema(required = true)]
    pub hits: Option<u64>,
    #[schema(required = true)]
    pub misses: Option<u64>,
    #[schema(required = true)]
    pub hit_rate_percent: Option<f64>,
    /// `redis` or `memory`.
    #[schema(required = true)]
    pub backend: Option<&'static str>,
    #[schema(required = true)]
    pub keys: Option<u64>,
    #[schema(required = true)]
    pub errors: Option<u64>,
    /// True while a configured Redis does not answer and memory serves.
    #[schema(required = true)]
    pub degraded: Option<bool>,
    /// Times Redis stopped answering and memory took over, since the cache service started.
    #[schema(required = true)]
    pub failovers: Option<u64>,
}

/// The analytics database pool.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoolFigures {
    pub up: bool,
    #[schema(required = true)]
    pub size: Option<u32>,
    #[schema(required = true)]
    pub idle: Option<u32>,
    #[schema(required = true)]
    pub in_use: Option<u32>,
    #[schema(required = true)]
    pub max: Option<u32>,
}

/// The aggregator's lag and throughput.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggregatorFigures {
    pub up: bool,
    #[schema(required = true)]
    pub queue_depth: Option<u64>,
    #[schema(required = true)]
    pub oldest_pending_seconds: Option<f64>,
    #[schema(required = true)]
    pub items_per_second: Option<f64>,
    #[schema(required = true)]
    pub events_per_second: Option<f64>,
}
