//! What every handler shares: the upstream clients, the token keys, the limiters, the request
//! statistics, the view cache, and the API router itself (for `POST /api/v1/batch`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::auth::TokenKeys;
use crate::cors::CorsOrigins;
use crate::ended_sessions::EndedSessions;
use crate::exports::RunningExports;
use crate::middleware::rate_limit::RateLimits;
use crate::routes::metrics::MetricsAccess;
use crate::stats::GatewayStats;
use crate::upstream::Upstreams;
use crate::upstream_figures::LatestFigures;
use crate::view_cache::ViewCache;

/// Cloned for every request (each extractor and middleware with state takes its own copy), so
/// it is one reference count: moving, cloning and dropping the fields one by one (three
/// upstream channels, the limiters, a dozen `Arc`s) was about a sixth of the gateway's CPU
/// during the writes mix (docs/PERFORMANCE.md).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub upstreams: Upstreams,
    /// The upstreams' figures for `/metrics`, as last gathered in the background.
    pub upstream_figures: LatestFigures,
    /// Who may read `/metrics` on the API's address.
    pub metrics_access: Arc<MetricsAccess>,
    pub tokens: Arc<TokenKeys>,
    /// Sessions ended recently: their access tokens are refused.
    pub ended_sessions: Arc<EndedSessions>,
    /// How often the ended sessions are asked of analytics (`SESSION_POLL_MS`).
    pub session_poll: Duration,
    pub slow_request_threshold: Duration,
    pub request_timeout: Duration,
    pub limits: RateLimits,
    /// The web origins allowed to call from a browser (`CORS_ALLOWED_ORIGINS`).
    pub cors: CorsOrigins,
    pub stats: Arc<GatewayStats>,
    /// Derived views just served, kept to answer the next read without a hop.
    pub view_cache: Arc<ViewCache>,
    /// Exports being sent (one per user at a time).
    pub exports: Arc<RunningExports>,
    /// The routes under `/api/v1`, limited, without state: a batch runs its requests through
    /// them. (Holding the router with its state here would make a reference cycle.)
    pub api: Router<AppState>,
}
