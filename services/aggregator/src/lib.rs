//! The aggregation worker: it drains the queue of dirty (user, local day) pairs that ingestion
//! marks, recomputes each day's rollup from raw events, and warms the users' most read views.
//! Several replicas share the queue (SKIP LOCKED claims with a lease).
//!
//! - [`config`]: environment variables and their defaults.
//! - [`rollup`]: recomputing one day with the domain functions.
//! - [`worker`]: the claim / compute / complete loop and its figures.
//! - [`sweep`]: warming the new day's views when local midnight passes.
//! - [`server`]: the tonic service (status, recomputation).

pub mod config;
pub mod rollup;
pub mod server;
pub mod sweep;
pub mod worker;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use tokio::net::TcpListener;
use wellbeing_proto::aggregator::v1::aggregator_server::AggregatorServer;

pub use config::AggregatorConfig;

use crate::server::AggregatorService;
use crate::worker::{Worker, WorkerState};

/// The gRPC service name, as health checks and clients know it.
pub const SERVICE_NAME: &str = "wellbeing.aggregator.v1.Aggregator";

pub struct Application {
    listener: TcpListener,
    config: AggregatorConfig,
}

impl Application {
    pub async fn build(config: AggregatorConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("failed to bind {}", config.listen_addr))?;
        Ok(Self::build_with_listener(config, listener))
    }

    pub fn build_with_listener(config: AggregatorConfig, listener: TcpListener) -> Self {
        Self { listener, config }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves; NOT_SERVING while PostgreSQL does not answer.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self { listener, config } = self;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(true)
            .connect_lazy(&config.database_url)
            .context("failed to configure the database pool")?;
        let state = Arc::new(WorkerState::default());
        let analytics = if config.warm_cache {
            let channel = wellbeing_common::grpc::channel(&config.analytics_endpoints)
                .context("failed to configure the analytics channel")?;
            Some(wellbeing_proto::analytics::v1::analytics_client::AnalyticsClient::new(channel))
        } else {
            None
        };
        let worker = Arc::new(Worker {
            pool: pool.clone(),
            state: state.clone(),
            analytics,
            batch_size: i64::from(config.batch_size),
            lease: config.lease,
            idle_poll: config.idle_poll,
        });
        let sweeper = tokio::spawn(sweep::run(worker.clone(), config.sweep_interval));
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

        tracing::info!(addr = %listener.local_addr()?, "aggregator listening");
        let router = wellbeing_common::grpc::server()
            .add_service(health_service)
            .add_service(AggregatorServer::new(AggregatorService {
                pool: pool.clone(),
                state,
            }));
        let served = wellbeing_common::grpc::serve(router, listener, shutdown).await;
        monitor.abort();
        // Claims in flight expire and are taken by another worker.
        worker.abort();
        sweeper.abort();
        pool.close().await;
        served.context("aggregator server failed")
    }
}
