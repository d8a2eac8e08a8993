//! The aggregation worker: what the deltas of ingestion cannot do. It recomputes from raw records
//! the days a write could not update by a delta (the `dirty_days` queue), rebuilds a user's day
//! aggregates after a timezone change, and checks sampled days against raw records. Several
//! replicas share the queues (SKIP LOCKED claims with a lease).
//!
//! - [`config`]: environment variables and their defaults.
//! - [`recompute`]: days recomputed, rebuilt or checked from raw records with the domain functions.
//! - [`worker`]: the claim / recompute loop and its figures.
//! - [`sweep`]: the periodic check of sampled day aggregates against raw records.
//! - [`partitions`]: month partitions of the event tables created ahead, and retention.
//! - [`sessions`]: dead sessions removed with their refresh-token families.
//! - [`server`]: the tonic service (status, recomputation).

pub mod config;
pub mod partitions;
pub mod recompute;
pub mod server;
pub mod sessions;
pub mod sweep;
pub mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use wellbeing_common::internal_tls::Role;
use wellbeing_common::metrics::{self, GrpcMetrics, Metered, Series};
use wellbeing_proto::aggregator::v1::aggregator_server::AggregatorServer;

pub use config::{AggregatorArgs, AggregatorConfig};

use crate::server::AggregatorService;
use crate::worker::{Worker, WorkerState};

/// The gRPC service name, as health checks and clients know it.
pub const SERVICE_NAME: &str = "wellbeing.aggregator.v1.Aggregator";

/// Only the gateway calls the aggregator (its status, for `/metrics`).
const ALLOWED_CALLERS: &[Role] = &[Role::Gateway];

pub struct Application {
    listener: TcpListener,
    config: AggregatorConfig,
    metrics_listener: Option<std::net::TcpListener>,
}

impl Application {
    pub async fn build(config: AggregatorConfig) -> anyhow::Result<Self> {
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

    pub fn build_with_listener(config: AggregatorConfig, listener: TcpListener) -> Self {
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

    /// Serves until `shutdown` resolves; NOT_SERVING while PostgreSQL does not answer.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            config,
            metrics_listener,
        } = self;
        // The store's pool: the same settings (TLS choice, slow-statement log) as analytics.
        let pool = wellbeing_store::connect(
            &config.database_url,
            &wellbeing_store::PoolConfig {
                min_connections: 0,
                max_connections: config.max_connections,
                acquire_timeout: Duration::from_secs(5),
                max_lifetime: Duration::from_secs(30 * 60),
                slow_query_threshold_ms: 1000,
                // A rebuild or sweep of a heavy user is long by nature; it is the worker's own
                // time, not a caller's.
                statement_timeout: None,
            },
        )
        .context("failed to configure the database pool")?;
        let state = Arc::new(WorkerState::default());
        let worker = Arc::new(Worker {
            pool: pool.clone(),
            state: state.clone(),
            batch_size: i64::from(config.batch_size),
            lease: config.lease,
            rebuild_lease: config.rebuild_lease,
            idle_poll: config.idle_poll,
        });
        let sweeper = tokio::spawn(sweep::run(
            worker.clone(),
            config.sweep_interval,
            config.sweep_sample,
        ));
        let upkeep = tokio::spawn(partitions::run(
            pool.clone(),
            partitions::Upkeep {
                ahead_months: config.partitions_ahead_months,
                retention_days: config.retention_days,
                interval: config.partition_maintenance,
            },
        ));
        let worker = tokio::spawn(async move { worker.run().await });

        let (reporter, health_service) =
            wellbeing_common::health::reporter_for(&["", SERVICE_NAME]).await;
        let monitor_pool = pool.clone();
        let monitor =
            wellbeing_common::health::spawn_monitor(reporter, vec!["", SERVICE_NAME], move || {
                let pool = monitor_pool.clone();
                async move {
                    sqlx::query("SELECT 1")
                        .execute(&pool)
                        .await
                        .map(|_| ())
                        .map_err(|error| error.to_string())
                }
            });

        let grpc_metrics = GrpcMetrics::new();
        let metrics_server = match metrics_listener {
            Some(listener) => Some(listener),
            None => metrics::bind(config.metrics_addr)?,
        };
        let metrics_server =
            metrics::spawn(metrics_server, render_metrics(&grpc_metrics, &state, &pool))?;
        let probe_server = wellbeing_common::grpc::spawn_probes(
            wellbeing_common::config::bind_optional("PROBE_ADDR", config.probe_addr)?,
            health_service.clone(),
        )?;
        tracing::info!(addr = %listener.local_addr()?, tls = config.transport.is_tls(), "aggregator listening");
        let router = wellbeing_common::grpc::server(&config.transport, ALLOWED_CALLERS)
            .context("failed to configure TLS")?
            .add_service(health_service)
            .add_service(Metered::new(
                AggregatorServer::new(AggregatorService {
                    pool: pool.clone(),
                    state,
                }),
                grpc_metrics,
            ));
        let served = wellbeing_common::grpc::serve(router, listener, shutdown).await;
        monitor.abort();
        for task in metrics_server.into_iter().chain(probe_server) {
            task.abort();
        }
        // Claims in flight expire and are taken by another worker.
        worker.abort();
        sweeper.abort();
        upkeep.abort();
        wellbeing_store::close(&pool).await;
        served.context("aggregator server failed")
    }
}

/// A scrape: the gRPC series, this worker's pool and progress, and the shared queue (the same
/// figure from every worker: dashboards and alerts take its `max`).
fn render_metrics(
    grpc: &Arc<GrpcMetrics>,
    state: &Arc<WorkerState>,
    pool: &sqlx::PgPool,
) -> metrics::Render {
    let (grpc, state, pool) = (Arc::clone(grpc), Arc::clone(state), pool.clone());
    Arc::new(move || {
        let (grpc, state, pool) = (Arc::clone(&grpc), Arc::clone(&state), pool.clone());
        Box::pin(async move {
            let mut text = grpc.render();
            let mut series = Series(&mut text);
            let load = |counter: &std::sync::atomic::AtomicU64| {
                counter.load(std::sync::atomic::Ordering::Relaxed)
            };
            wellbeing_store::write_pool_metrics(&mut series, &pool);
            series.counter(
                "wellbeing_aggregator_items_processed_total",
                "Days recomputed by this worker",
                load(&state.items_processed),
            );
            series.counter(
                "wellbeing_aggregator_events_processed_total",
                "Events read by this worker's recomputations",
                load(&state.events_processed),
            );
            series.counter(
                "wellbeing_aggregator_days_checked_total",
                "Day aggregates the sweep compared with their raw records",
                load(&state.days_checked),
            );
            series.counter(
                "wellbeing_aggregator_aggregate_repairs_total",
                "Day aggregates the sweep found different from their raw records (should stay 0)",
                load(&state.aggregate_repairs),
            );
            series.counter(
                "wellbeing_aggregator_rebuilds_total",
                "Users whose day aggregates this worker rebuilt",
                load(&state.rebuilds_done),
            );
            // The queue is shared by every worker; a scrape that cannot read it leaves it out.
            if let Ok((depth, oldest)) = wellbeing_store::dirty_days::queue_depth(&pool).await {
                series.gauge(
                    "wellbeing_aggregator_queue_depth",
                    "Marked days waiting to be recomputed",
                    depth,
                );
                let age = oldest.map_or(0.0, |oldest| {
                    (chrono::Utc::now() - oldest).num_milliseconds().max(0) as f64 / 1000.0
                });
                series.gauge(
                    "wellbeing_aggregator_oldest_pending_seconds",
                    "Age of the oldest day waiting",
                    age,
                );
            }
            if let Ok(waiting) = wellbeing_store::aggregates::rebuilds_waiting(&pool).await {
                series.gauge(
                    "wellbeing_aggregator_rebuilds_waiting",
                    "Users whose day aggregates wait to be rebuilt (after a timezone change)",
                    waiting,
                );
            }
            text
        })
    })
}
