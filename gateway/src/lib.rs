//! The gateway: the REST API the mobile app uses. It authenticates, parses, calls the gRPC
//! services over shared channels, and answers JSON with timing headers.
//!
//! - [`config`]: environment variables and their defaults.
//! - [`routes`]: handlers by concern (auth and account, track and batch, reads, goals, privacy, ops).
//! - [`middleware`]: timing headers and slow-request logs, rate limits, the request time bound.
//! - [`stats`]: request totals and Prometheus series of the gateway's own requests.
//! - [`auth`]: access tokens and the authenticated-user extractor; [`ended_sessions`]: the
//!   sessions whose access tokens are refused, learnt from analytics.
//! - [`upstream`]: one channel per upstream, deadlines, upstream time; [`failover`]: between
//!   the replicas of an upstream.
//! - [`view_cache`]: derived views just served, kept coherent by the invalidation stream, so
//!   a repeated read answers without a hop.
//! - [`json`], [`respond`], [`error`]: request parsing, the success envelope, error answers.
//! - [`openapi`]: the OpenAPI document served at `/openapi.json`.
//! - [`cors`]: CORS for the configured web origins (none by default).

pub mod auth;
pub mod client_address;
pub mod config;
pub mod cors;
pub mod ended_sessions;
pub mod error;
pub mod exports;
pub mod failover;
pub mod json;
pub mod middleware;
pub mod openapi;
pub mod respond;
pub mod routes;
pub mod serve;
pub mod state;
pub mod stats;
pub mod upstream;
pub mod upstream_figures;
pub mod view_cache;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use wellbeing_common::ErrorCode;

pub use config::{GatewayArgs, GatewayConfig};

use crate::auth::TokenKeys;
use crate::ended_sessions::EndedSessions;
use crate::error::ApiError;
use crate::middleware::rate_limit::RateLimits;
use crate::routes::metrics::MetricsAccess;
use crate::state::{AppState, Shared};
use crate::stats::GatewayStats;
use crate::upstream::Upstreams;
use crate::upstream_figures::LatestFigures;
use crate::view_cache::ViewCache;

/// Bodies larger than this answer 413.
pub const BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// The whole HTTP application, without a socket (tests drive it with `oneshot`). Layers, from
/// the outside in: CORS (only when origins are configured; outermost so that preflights are
/// answered at once and errors carry the headers a page needs to read them), compression (when
/// the client asks), the request's trace span (W3C `traceparent` in and out), timing and
/// statistics, the request time bound, the body limit; the rate limits sit on the routes they
/// limit.
pub fn router(state: AppState) -> Router {
    let cors = state.cors.clone();
    let router = Router::new()
        .nest(routes::API_PREFIX, state.api.clone())
        .merge(routes::operations(&state.limits))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.request_timeout,
            middleware::timeout::bound_request_time,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::timing::record_timing,
        ))
        .layer(axum::middleware::from_fn(middleware::trace::trace_request))
        .layer(CompressionLayer::new());
    cors.apply(router).with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

/// A known path with a method it does not serve (axum adds `Allow`).
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this path does not serve this method; see the Allow header",
    )
}

/// The state of a gateway built from its configuration.
pub fn state(config: &GatewayConfig) -> anyhow::Result<AppState> {
    let tokens = Arc::new(TokenKeys::new(&config.jwt_secret, config.access_token_ttl));
    let limits = RateLimits::new(config, tokens.clone());
    Ok(AppState::new(Shared {
        upstreams: Upstreams::connect(config).context("failed to configure upstream channels")?,
        upstream_figures: LatestFigures::default(),
        metrics_access: Arc::new(MetricsAccess {
            proxies: config.trusted_proxies.clone(),
            allowed: config.metrics_allowed.clone(),
        }),
        api: routes::api(&limits),
        ended_sessions: Arc::new(EndedSessions::new(config.access_token_ttl)),
        session_poll: config.session_poll,
        tokens,
        limits,
        cors: config.cors_origins.clone(),
        stats: Arc::new(GatewayStats::new()),
        view_cache: Arc::new(ViewCache::new(&config.view_cache)),
        exports: Arc::default(),
        slow_request_threshold: config.slow_request_threshold,
        request_timeout: config.request_timeout,
    }))
}

/// How often limiter tables are pruned and latencies folded into histograms.
const HOUSEKEEPING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

async fn housekeeping(state: AppState) {
    let mut interval = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    loop {
        interval.tick().await;
        state.limits.forget_idle_callers();
        state.stats.run_upkeep();
        state.view_cache.run_upkeep();
        state.ended_sessions.prune();
    }
}

/// Sends the view cache's hits to the per-user statistics every second.
async fn flush_view_cache_hits(state: AppState) {
    let mut interval = tokio::time::interval(view_cache::STATS_FLUSH_EVERY);
    loop {
        interval.tick().await;
        state.view_cache.flush_hits(&state.upstreams, None).await;
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    limits: serve::ConnectionLimits,
    /// `METRICS_ADDR`, bound at build.
    metrics_listener: Option<std::net::TcpListener>,
    metrics_refresh: std::time::Duration,
}

impl Application {
    pub async fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("failed to bind {}", config.listen_addr))?;
        Self::build_with_listener(config, listener)
    }

    pub fn build_with_listener(
        config: GatewayConfig,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            listener,
            state: state(&config)?,
            limits: config.connection_limits,
            metrics_listener: wellbeing_common::config::bind_optional(
                "METRICS_ADDR",
                config.metrics_addr,
            )?,
            metrics_refresh: config.metrics_refresh,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The admin address serving `/metrics` alone, when `METRICS_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests for a bounded time.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let _stop_housekeeping = AbortOnDrop(housekeeping);
        let (cache, upstreams) = (self.state.view_cache.clone(), self.state.upstreams.clone());
        let invalidations =
            tokio::spawn(async move { cache.follow_invalidations(upstreams).await });
        let _stop_invalidations = AbortOnDrop(invalidations);
        let _stop_hit_flush = AbortOnDrop(tokio::spawn(flush_view_cache_hits(self.state.clone())));
        let (ended, upstreams) = (
            self.state.ended_sessions.clone(),
            self.state.upstreams.clone(),
        );
        let every = self.state.session_poll;
        let _stop_session_poll = AbortOnDrop(tokio::spawn(async move {
            ended.keep_polling(upstreams, every).await;
        }));
        let gathering = self
            .state
            .upstream_figures
            .clone()
            .keep_gathering(self.state.upstreams.clone(), self.metrics_refresh);
        let _stop_gathering = AbortOnDrop(tokio::spawn(gathering));
        let _stop_admin = match self.metrics_listener {
            Some(listener) => Some(AbortOnDrop(serve_admin(listener, self.state.clone())?)),
            None => None,
        };
        tracing::info!(addr = %self.listener.local_addr()?, "gateway listening");
        let (draining_tx, draining_rx) = tokio::sync::oneshot::channel::<()>();
        let server = serve::serve(self.listener, router(self.state), self.limits, async move {
            shutdown.await;
            let _ = draining_tx.send(());
        });
        let drain_deadline = async move {
            if draining_rx.await.is_ok() {
                tokio::time::sleep(wellbeing_common::shutdown::DRAIN_TIMEOUT).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = server => Ok(()),
            () = drain_deadline => {
                tracing::warn!("drain timed out, closing remaining connections");
                Ok(())
            }
        }
    }
}

/// Serves `/metrics` alone on the admin address until the task is aborted.
fn serve_admin(
    listener: std::net::TcpListener,
    state: AppState,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let admin = Router::new()
        .route(
            "/metrics",
            axum::routing::get(routes::metrics::admin_metrics),
        )
        .with_state(state);
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, admin).await {
            tracing::warn!(%error, "metrics server failed");
        }
    }))
}

/// Aborts a background task when the server it serves stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
