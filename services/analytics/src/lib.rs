//! The analytics service: owns the schema and every user's data, ingests events and serves the
//! derived views (through the cache service, cache-aside).
//!
//! - [`config`]: environment variables and their defaults.
//! - [`accounts`]: registration, login, refresh-token rotation.
//! - [`events`]: the six event kinds between the wire, the tables and the domain.
//! - [`ingest`]: validated, idempotent event writes (and batches) that invalidate cached views.
//! - [`view_cache`]: the two cache levels (near-cache here, the cache service behind it).
//! - [`views`]: cache-aside derived reads computed with the domain crate.
//! - [`goals`]: goals and their progress measured from tracked data.
//! - [`privacy`]: privacy-state reports and their scores.
//! - [`privacy_rights`]: export of everything held about a user, and erasure.
//! - [`server`]: the tonic service that maps protobuf to those modules.

pub mod accounts;

pub mod config;
pub mod events;
pub mod goals;
pub mod ingest;
pub mod privacy;
pub mod privacy_rights;
pub mod server;

pub mod view_cache;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use wellbeing_proto::analytics::v1::analytics_server::AnalyticsServer;
use wellbeing_store as store;

pub use config::AnalyticsConfig;

use crate::accounts::Accounts;
use crate::goals::Goals;
use crate::ingest::Ingest;
use crate::privacy::Privacy;
use crate::privacy_rights::PrivacyRights;
use crate::server::AnalyticsService;
use crate::view_cache::{CacheSettings, ViewCache};
use crate::views::Views;

/// The gRPC service name, as health checks and clients know it.
pub const SERVICE_NAME: &str = "wellbeing.analytics.v1.Analytics";

/// A built analytics server: listener bound, pool created, not yet serving.
pub struct Application {
    listener: TcpListener,
    config: AnalyticsConfig,
    pool: PgPool,
}

impl Application {
    /// Binds the configured address.
    pub async fn build(config: AnalyticsConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("failed to bind {}", config.listen_addr))?;
        Self::build_with_listener(config, listener)
    }

    /// Uses a listener bound by the caller (tests bind port 0).
    pub fn build_with_listener(
        config: AnalyticsConfig,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let pool = store::connect(&config.database_url, &config.pool)
            .context("failed to configure the database pool")?;
        Ok(Self {
            listener,
            config,
            pool,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves until `shutdown` resolves. Migrations run as soon as the database answers; health
    /// stays NOT_SERVING until they have run and the database takes queries.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            config,
            pool,
        } = self;
        let channel = wellbeing_common::grpc::channel(&config.cache_endpoints)
            .context("failed to configure the cache service channel")?;
        let cache = ViewCache::new(
            channel,
            CacheSettings {
                ttl_seconds: config.cache_ttl_seconds,
                near_max_entries: config.near_cache_max_entries,
                near_ttl: config.near_cache_ttl,
            },
        );
        let cache_tasks = cache.spawn_background();
        let views = Views::new(pool.clone(), cache.clone());
        let service = AnalyticsService {
            pool: pool.clone(),
            accounts: Accounts::new(pool.clone(), config.refresh_token_ttl),
            ingest: Ingest::new(pool.clone(), cache.clone()),
            goals: Goals::new(views.clone(), cache.clone()),
            privacy: Privacy::new(pool.clone(), cache.clone()),
            rights: PrivacyRights::new(pool.clone(), cache),
            views,
        };

        let (reporter, health_service) =
            wellbeing_common::health::reporter_for(&["", SERVICE_NAME]).await;
        let migrated = Arc::new(AtomicBool::new(false));
        let monitor_pool = pool.clone();
        let monitor =
            wellbeing_common::health::spawn_monitor(reporter, vec!["", SERVICE_NAME], move || {
                let pool = monitor_pool.clone();
                let migrated = migrated.clone();
                async move {
                    if !migrated.load(Ordering::Acquire) {
                        store::MIGRATOR
                            .run(&pool)
                            .await
                            .map_err(|error| format!("migrations not applied: {error}"))?;
                        migrated.store(true, Ordering::Release);
                        tracing::info!("database migrations applied");
                    }
                    store::ping(&pool).await.map_err(|error| error.to_string())
                }
            });

        tracing::info!(addr = %listener.local_addr()?, "analytics listening");
        let router = wellbeing_common::grpc::server()
            .add_service(health_service)
            .add_service(AnalyticsServer::new(service));
        let served = wellbeing_common::grpc::serve(router, listener, shutdown).await;
        monitor.abort();
        for task in cache_tasks {
            task.abort();
        }
        pool.close().await;
        served.context("analytics server failed")
    }
}
