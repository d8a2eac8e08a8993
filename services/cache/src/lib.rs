//! The cache service: the only component that talks to Redis. Callers name a user's view; this
//! service owns key layout, TTLs, per-user invalidation and the hit/miss statistics.
//!
//! - [`config`]: environment variables and their defaults.
//! - [`keys`]: namespaced, versioned keys with a per-user generation.
//! - [`backend`]: Redis (fred) or the in-process store, behind one type.
//! - [`stats`]: hit/miss/error counters.
//! - [`server`]: the tonic service.

pub mod backend;
pub mod config;
pub mod keys;
pub mod server;
pub mod stats;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use wellbeing_proto::cache::v1::cache_server::CacheServer;

pub use config::{CacheArgs, CacheConfig};

use crate::backend::Backend;
use crate::backend::memory::MemoryBackend;
use crate::backend::redis::RedisBackend;
use crate::keys::KeySpace;
use crate::server::CacheService;
use crate::stats::CacheStats;
use wellbeing_common::internal_tls::Role;
use wellbeing_common::metrics::{self, GrpcMetrics, Metered, Series};

/// The gRPC service name, as health checks and clients know it.
pub const SERVICE_NAME: &str = "wellbeing.cache.v1.Cache";

/// The gateway (its copies of views) and analytics (cache-aside) call the cache service.
const ALLOWED_CALLERS: &[Role] = &[Role::Gateway, Role::Analytics];

pub struct Application {
    listener: TcpListener,
    config: CacheConfig,
    metrics_listener: Option<std::net::TcpListener>,
}

impl Application {
    pub async fn build(config: CacheConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("failed to bind {}", config.listen_addr))?;
        let application = Self::build_with_listener(config, listener);
        // Bound now, so a port that is taken stops the service at start.
        Ok(match metrics::bind(application.config.metrics_addr)? {
            Some(metrics_listener) => application.with_metrics_listener(metrics_listener),
            None => application,
        })
    }

    pub fn build_with_listener(config: CacheConfig, listener: TcpListener) -> Self {
        Self {
            listener,
            config,
            metrics_listener: None,
        }
    }

    /// Serves the metrics on `listener` (bound by the caller, e.g. port 0 in tests) rather than
    /// on `METRICS_ADDR`; [`Self::metrics_addr`] tells where.
    pub fn with_metrics_listener(mut self, listener: std::net::TcpListener) -> Self {
        self.metrics_listener = Some(listener);
        self
    }

    /// Where the metrics are served, when they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves. With Redis, health is NOT_SERVING until Redis answers.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            config,
            metrics_listener,
        } = self;
        let keys = KeySpace::new(&config.namespace);
        let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = closing_tx.send(true);
        };
        let (invalidations, _) = tokio::sync::broadcast::channel(4096);
        let redis = match &config.redis_url {
            Some(url) => {
                let redis = RedisBackend::connect(url, config.redis_tls_authority.as_deref())
                    .context("failed to configure the redis client")?;
                redis.forward_channel(keys.invalidation_channel(), invalidations.clone());
                Some(redis)
            }
            None => {
                tracing::info!("REDIS_URL is empty: caching in process memory");
                None
            }
        };
        let backend = Arc::new(Backend::new(
            redis,
            MemoryBackend::new(config.memory_max_bytes),
            keys.clone(),
            invalidations.clone(),
        ));
        // Read the epoch (or learn that Redis is down) before the first request.
        backend.check().await;
        let stats = Arc::new(CacheStats::default());
        let service = Arc::new(CacheService {
            backend: backend.clone(),
            keys,
            stats: stats.clone(),
            default_ttl_seconds: config.default_ttl_seconds,
            invalidations,
            closing: closing_rx,
        });

        let (reporter, health_service) =
            wellbeing_common::health::reporter_for(&["", SERVICE_NAME]).await;
        // The service serves even while Redis is down (from memory, reported as degraded), so the
        // check never fails; it is what switches between Redis and memory.
        let monitored = backend.clone();
        let monitor =
            wellbeing_common::health::spawn_monitor(reporter, vec!["", SERVICE_NAME], move || {
                let backend = monitored.clone();
                async move {
                    backend.check().await;
                    Ok(())
                }
            });

        let grpc_metrics = GrpcMetrics::new();
        let metrics_server = match metrics_listener {
            Some(listener) => Some(listener),
            None => metrics::bind(config.metrics_addr)?,
        };
        let metrics_server = metrics::spawn(
            metrics_server,
            render_metrics(&grpc_metrics, &stats, &backend),
        )?;
        let probe_server = wellbeing_common::grpc::spawn_probes(
            wellbeing_common::config::bind_optional("PROBE_ADDR", config.probe_addr)?,
            health_service.clone(),
        )?;
        tracing::info!(addr = %listener.local_addr()?, backend = service.backend.name(), tls = config.transport.is_tls(), "cache listening");
        let router = wellbeing_common::grpc::server(&config.transport, ALLOWED_CALLERS)
            .context("failed to configure TLS")?
            .add_service(health_service)
            .add_service(Metered::new(
                CacheServer::from_arc(service.clone()),
                grpc_metrics,
            ));
        let served = wellbeing_common::grpc::serve(router, listener, shutdown).await;
        monitor.abort();
        for task in metrics_server.into_iter().chain(probe_server) {
            task.abort();
        }
        if let Some(redis) = backend.redis() {
            redis.quit().await;
        }
        served.context("cache server failed")
    }
}

/// A scrape: the gRPC series, reads answered and the backend in use.
fn render_metrics(
    grpc: &Arc<GrpcMetrics>,
    stats: &Arc<CacheStats>,
    backend: &Arc<Backend>,
) -> metrics::Render {
    let (grpc, stats, backend) = (Arc::clone(grpc), Arc::clone(stats), Arc::clone(backend));
    Arc::new(move || {
        let mut text = grpc.render();
        let counts = stats.snapshot();
        let mut series = Series(&mut text);
        series.counter("wellbeing_cache_hits_total", "Views found", counts.hits);
        series.counter(
            "wellbeing_cache_misses_total",
            "Views not found",
            counts.misses,
        );
        series.counter("wellbeing_cache_sets_total", "Views stored", counts.sets);
        series.counter(
            "wellbeing_cache_errors_total",
            "Backend operations that failed",
            counts.errors,
        );
        series.gauge(
            "wellbeing_cache_degraded",
            "1 while Redis is down and views are kept in process memory",
            u8::from(backend.is_degraded()),
        );
        series.counter(
            "wellbeing_cache_failovers_total",
            "Times Redis stopped answering and process memory took over",
            backend.failovers(),
        );
        series.gauge(
            "wellbeing_cache_memory_keys",
            "Keys held in process memory (0 while Redis serves)",
            backend.memory_keys(),
        );
        Box::pin(std::future::ready(text))
    })
}
