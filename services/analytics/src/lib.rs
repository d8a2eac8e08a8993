//! The analytics service: owns the schema and every user's data, ingests events and serves the
//! derived views (through the cache service, cache-aside).
//!
//! - [`config`]: environment variables and their defaults.
//! - [`accounts`]: registration, sign-in, password changes.
//! - [`sessions`]: sessions (refresh-token families): rotation with a grace window, sign-out,
//!   the sessions list, and the ended sessions the gateways refuse access tokens of.
//! - [`events`]: the six event kinds between the wire, the tables and the domain.
//! - [`ingest`]: validated, idempotent event writes (and batches) that invalidate cached views.
//! - [`view_cache`]: the two cache levels (copies in this process, the cache service behind it).
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
pub mod sessions;

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

pub use config::{AnalyticsArgs, AnalyticsCommand, AnalyticsConfig};

use crate::accounts::Accounts;
use crate::goals::Goals;
use crate::ingest::Ingest;
use crate::privacy::Privacy;
use crate::privacy_rights::PrivacyRights;
use crate::server::AnalyticsService;
use crate::sessions::Sessions;
use crate::view_cache::{CacheSettings, ViewCache};
use crate::views::{ReadReplica, Views};
use wellbeing_common::config::bind_optional;
use wellbeing_common::internal_tls::Role;
use wellbeing_common::metrics::{self, GrpcMetrics, Metered, Series};

/// The gRPC service name, as health checks and clients know it.
pub const SERVICE_NAME: &str = "wellbeing.analytics.v1.Analytics";

/// Only the gateway calls analytics (the aggregator works on PostgreSQL alone).
const ALLOWED_CALLERS: &[Role] = &[Role::Gateway];

/// A built analytics server: listener bound, pool created, not yet serving.
pub struct Application {
    listener: TcpListener,
    config: AnalyticsConfig,
    pool: PgPool,
    metrics_listener: Option<std::net::TcpListener>,
    probe_listener: Option<std::net::TcpListener>,
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
        let metrics_listener = metrics::bind(config.metrics_addr)?;
        let probe_listener = bind_optional("PROBE_ADDR", config.probe_addr)?;
        Ok(Self {
            listener,
            config,
            pool,
            metrics_listener,
            probe_listener,
        })
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

    /// Where the plaintext health service for probes is served, when it is (`PROBE_ADDR`).
    pub fn probe_addr(&self) -> Option<SocketAddr> {
        self.probe_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
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
            metrics_listener,
            probe_listener,
        } = self;
        let channel = wellbeing_common::grpc::channel(
            &config.cache_endpoints,
            &config.transport,
            Role::Cache,
        )
        .context("failed to configure the cache service channel")?;
        let cache = ViewCache::new(
            channel,
            CacheSettings {
                ttl_seconds: config.cache_ttl_seconds,
                enabled: config.view_cache,
                local_max_bytes: config.view_cache_max_bytes,
                local_ttl: config.view_cache_ttl,
            },
        );
        let cache_tasks = cache.spawn_background();
        let replica = match &config.database_read_url {
            Some(url) => Some(ReadReplica {
                pool: store::connect(url, &config.pool)
                    .context("failed to configure the read replica pool")?,
                grace: config.read_replica_grace,
            }),
            None => None,
        };
        let views = Views::new(pool.clone(), replica, cache.clone());
        let sessions = Sessions::new(pool.clone(), config.sessions);
        let service = AnalyticsService {
            pool: pool.clone(),
            accounts: Accounts::new(pool.clone(), sessions.clone()),
            sessions,
            ingest: Ingest::new(pool.clone(), cache.clone(), config.retention_days),
            goals: Goals::new(views.clone(), cache.clone()),
            privacy: Privacy::new(pool.clone(), cache.clone()),
            rights: PrivacyRights::new(pool.clone(), cache.clone()),
            views,
        };
        let erasure_retries = tokio::spawn(service.rights.clone().retry_cache_erasures());

        let (reporter, health_service) =
            wellbeing_common::health::reporter_for(&["", SERVICE_NAME]).await;
        let migrated = Arc::new(AtomicBool::new(false));
        let monitor_pool = pool.clone();
        let migrate_at_start = config.migrate_at_start;
        let monitor =
            wellbeing_common::health::spawn_monitor(reporter, vec!["", SERVICE_NAME], move || {
                let pool = monitor_pool.clone();
                let migrated = migrated.clone();
                async move {
                    if !migrated.load(Ordering::Acquire) {
                        schema_ready(&pool, migrate_at_start).await?;
                        migrated.store(true, Ordering::Release);
                    }
                    store::ping(&pool).await.map_err(|error| error.to_string())
                }
            });

        let grpc_metrics = GrpcMetrics::new();
        let metrics_server = metrics::spawn(
            metrics_listener,
            render_metrics(&grpc_metrics, &pool, &cache),
        )?;
        let probe_server =
            wellbeing_common::grpc::spawn_probes(probe_listener, health_service.clone())?;
        tracing::info!(addr = %listener.local_addr()?, tls = config.transport.is_tls(), "analytics listening");
        let router = wellbeing_common::grpc::server(&config.transport, ALLOWED_CALLERS)
            .context("failed to configure TLS")?
            .add_service(health_service)
            .add_service(Metered::new(AnalyticsServer::new(service), grpc_metrics));
        let served = wellbeing_common::grpc::serve(router, listener, shutdown).await;
        monitor.abort();
        for task in metrics_server.into_iter().chain(probe_server) {
            task.abort();
        }
        for task in cache_tasks {
            task.abort();
        }
        erasure_retries.abort();
        store::close(&pool).await;
        served.context("analytics server failed")
    }
}

/// Makes sure the schema is the one this build expects: applies pending migrations, or (when
/// analytics must not change the schema) checks that the migration Job has applied them.
async fn schema_ready(pool: &sqlx::PgPool, migrate_at_start: bool) -> Result<(), String> {
    if migrate_at_start {
        store::migrate(pool)
            .await
            .map_err(|error| format!("migrations not applied: {error}"))?;
        tracing::info!("database migrations applied");
        return Ok(());
    }
    match store::migrations_applied(pool).await {
        Ok(true) => {
            tracing::info!("database migrations found applied");
            Ok(())
        }
        Ok(false) => Err("waiting for the migrations to be applied (MIGRATE_AT_START=off)".into()),
        Err(error) => Err(format!("cannot read the applied migrations: {error}")),
    }
}

/// Applies every schema migration not applied yet, then returns. Safe to run while replicas
/// serve and from several places at once: sqlx holds an advisory lock while it migrates.
pub async fn migrate(config: &AnalyticsConfig) -> anyhow::Result<()> {
    let pool = store::connect(&config.database_url, &config.pool)
        .context("failed to configure the database pool")?;
    let done = async {
        store::migrate(&pool)
            .await
            .context("failed to apply the database migrations")?;
        if let Some(role) = &config.runtime_role {
            store::runtime_role::grant(&pool, role)
                .await
                .with_context(|| format!("failed to grant the run-time rights to {role}"))?;
            tracing::info!(role = %role, "run-time rights granted");
        }
        anyhow::Ok(())
    }
    .await;
    pool.close().await;
    done?;
    tracing::info!(
        migrations = store::MIGRATOR.iter().count(),
        "database schema up to date"
    );
    Ok(())
}

/// A scrape: the gRPC series, the database pool and how the recent weeks were had.
fn render_metrics(grpc: &Arc<GrpcMetrics>, pool: &PgPool, cache: &ViewCache) -> metrics::Render {
    let grpc = Arc::clone(grpc);
    let pool = pool.clone();
    let cache = cache.clone();
    Arc::new(move || {
        let mut text = grpc.render();
        let mut series = Series(&mut text);
        store::write_pool_metrics(&mut series, &pool);
        let recent = cache.recent_days_figures();
        series.counter(
            "wellbeing_analytics_recent_days_read_total",
            "Users' recent weeks read from PostgreSQL for the home-screen views",
            recent.read,
        );
        series.counter(
            "wellbeing_analytics_recent_days_carried_total",
            "Users' recent weeks brought over a write of this process instead of read again",
            recent.carried,
        );
        series.gauge(
            "wellbeing_analytics_recent_days_kept",
            "Users' recent weeks kept in this process",
            recent.kept,
        );
        series.gauge(
            "wellbeing_analytics_recent_days_kept_bytes",
            "Heap the kept recent weeks take, as weighed against their bound",
            recent.kept_bytes,
        );
        series.gauge(
            "wellbeing_analytics_recent_days_max_bytes",
            "The bound on the kept recent weeks (four fifths of VIEW_CACHE_MAX_MB)",
            recent.max_bytes,
        );
        Box::pin(std::future::ready(text))
    })
}
