//! The end-to-end harness: the whole stack (gateway, analytics, cache, aggregator) in one process,
//! every server on `127.0.0.1:0`, against the real PostgreSQL (a fresh database per test, dropped
//! afterwards) and the real Redis (a per-test key namespace).
//!
//! Set `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`) and `TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`; empty for the in-process store) to point elsewhere.

pub mod api;
pub mod database;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api::{Answer, Api, Session, daytime_zone};
pub use database::TestDatabase;

/// A running stack. Call [`TestStack::stop`] at the end of a test for a graceful stop; if a test
/// panics first, dropping the stack still drops its database.
pub struct TestStack {
    pub api: Api,
    pub gateway_addr: SocketAddr,
    pub analytics_addr: SocketAddr,
    pub cache_addr: SocketAddr,
    pub aggregator_addr: SocketAddr,
    pub cache_namespace: String,
    pub database: TestDatabase,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

/// What a test may change about the stack.
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// `Some("")` runs the cache service on its in-process store.
    pub redis_url: Option<String>,
}

async fn bind() -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

impl TestStack {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> anyhow::Result<Self> {
        wellbeing_common::telemetry::init("tests", wellbeing_common::telemetry::LogFormat::Human);
        let database = TestDatabase::create().await?;
        let redis_url = options.redis_url.unwrap_or_else(|| {
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
        });
        let cache_namespace = format!("wbtest-{}", uuid::Uuid::new_v4().simple());

        let (cache_listener, cache_addr) = bind().await?;
        let (analytics_listener, analytics_addr) = bind().await?;
        let (aggregator_listener, aggregator_addr) = bind().await?;
        let (gateway_listener, gateway_addr) = bind().await?;
        let cache_url = format!("http://{cache_addr}");
        let analytics_url = format!("http://{analytics_addr}");
        let aggregator_url = format!("http://{aggregator_addr}");

        let cache_config = wellbeing_cache::CacheConfig::from_source(
            &[
                ("REDIS_URL", redis_url.as_str()),
                ("CACHE_NAMESPACE", cache_namespace.as_str()),
            ][..],
        )?;
        let analytics_config = wellbeing_analytics::AnalyticsConfig::from_source(
            &[
                ("DATABASE_URL", database.url.as_str()),
                ("CACHE_URL", cache_url.as_str()),
                // Many tests run at once against one server: keep each pool small.
                ("DB_MIN_CONNECTIONS", "1"),
                ("DB_MAX_CONNECTIONS", "8"),
            ][..],
        )?;
        let aggregator_config = wellbeing_aggregator::AggregatorConfig::from_source(
            &[
                ("DATABASE_URL", database.url.as_str()),
                ("AGGREGATOR_DB_MAX_CONNECTIONS", "2"),
            ][..],
        )?;
        let gateway_config = wellbeing_gateway::GatewayConfig::from_source(
            &[
                ("ANALYTICS_URL", analytics_url.as_str()),
                ("CACHE_URL", cache_url.as_str()),
                ("AGGREGATOR_URL", aggregator_url.as_str()),
                ("JWT_SECRET", "test-secret-test-secret-test-secret-0123"),
            ][..],
        )?;

        let mut stack = Self {
            api: Api::new(format!("http://{gateway_addr}")),
            gateway_addr,
            analytics_addr,
            cache_addr,
            aggregator_addr,
            cache_namespace,
            database,
            stops: Vec::new(),
            tasks: Vec::new(),
        };
        let cache = wellbeing_cache::Application::build_with_listener(cache_config, cache_listener);
        stack.spawn(|stop| cache.run_until_stopped(stop));
        let analytics = wellbeing_analytics::Application::build_with_listener(
            analytics_config,
            analytics_listener,
        )?;
        stack.spawn(|stop| analytics.run_until_stopped(stop));
        let aggregator = wellbeing_aggregator::Application::build_with_listener(
            aggregator_config,
            aggregator_listener,
        );
        stack.spawn(|stop| aggregator.run_until_stopped(stop));
        let gateway =
            wellbeing_gateway::Application::build_with_listener(gateway_config, gateway_listener)?;
        stack.spawn(|stop| gateway.run_until_stopped(stop));

        stack.wait_until_healthy(Duration::from_secs(30)).await?;
        Ok(stack)
    }

    fn spawn<F, Fut>(&mut self, run: F)
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let stop: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let _ = stop_rx.await;
        });
        self.stops.push(stop_tx);
        self.tasks.push(tokio::spawn(run(stop)));
    }

    /// Polls `/health` until every service reports healthy.
    pub async fn wait_until_healthy(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Some(task) = self.tasks.iter().find(|task| task.is_finished()) {
                let _ = task;
                bail!("a service stopped while starting");
            }
            if let Ok(answer) = self.api.get("/health", None).await {
                if answer.json["status"] == "healthy" {
                    return Ok(());
                }
                last = answer.json.to_string();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("the stack did not become healthy in {limit:?}; last /health: {last}")
    }

    /// A gRPC client of the cache service, to look at its statistics.
    pub async fn cache_client(
        &self,
    ) -> anyhow::Result<
        wellbeing_proto::cache::v1::cache_client::CacheClient<tonic::transport::Channel>,
    > {
        wellbeing_proto::cache::v1::cache_client::CacheClient::connect(format!(
            "http://{}",
            self.cache_addr
        ))
        .await
        .context("failed to connect to the cache service")
    }

    /// Stops every service gracefully, then drops the database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .context("a service did not stop in time")?
                .context("a service task panicked")??;
        }
        Ok(())
    }
}
