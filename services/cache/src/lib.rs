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

pub use config::CacheConfig;

use crate::backend::Backend;
use crate::backend::memory::MemoryBackend;
use crate::backend::redis::RedisBackend;
use crate::keys::KeySpace;
use crate::server::CacheService;
use crate::stats::CacheStats;

/// The gRPC service name, as health checks and clients know it.
pub const SERVICE_NAME: &str = "wellbeing.cache.v1.Cache";

pub struct Application {
    listener: TcpListener,
    config: CacheConfig,
}

impl Application {
    pub async fn build(config: CacheConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("failed to bind {}", config.listen_addr))?;
        Ok(Self::build_with_listener(config, listener))
    }

    pub fn build_with_listener(config: CacheConfig, listener: TcpListener) -> Self {
        Self { listener, config }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves. With Redis, health is NOT_SERVING until Redis answers.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self { listener, config } = self;
        let keys = KeySpace::new(&config.namespace);
        let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            shutdown.await;
            let _ = closing_tx.send(true);
        };
        let (invalidations, _) = tokio::sync::broadcast::channel(4096);
        let redis = match &config.redis_url {
            Some(url) => {
                let redis =
                    RedisBackend::connect(url).context("failed to configure the redis client")?;
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
            MemoryBackend::new(config.memory_max_entries),
            keys.clone(),
            invalidations.clone(),
        ));
        // Read the epoch (or learn that Redis is down) before the first request.
        backend.check().await;
        let service = Arc::new(CacheService {
            backend: backend.clone(),
            keys,
            stats: Arc::new(CacheStats::default()),
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

        tracing::info!(addr = %listener.local_addr()?, backend = service.backend.name(), "cache listening");
        let router = wellbeing_common::grpc::server()
            .add_service(health_service)
            .add_service(CacheServer::from_arc(service.clone()));
        let served = wellbeing_common::grpc::serve(router, listener, shutdown).await;
        monitor.abort();
        if let Some(redis) = backend.redis() {
            redis.quit().await;
        }
        served.context("cache server failed")
    }
}
