//! The end-to-end harness: the whole stack (gateway, analytics, cache, aggregator) in one process,
//! every server on `127.0.0.1:0`, against the real PostgreSQL (a fresh database per test, dropped
//! afterwards) and the real Redis (a per-test key namespace).
//!
//! Set `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`) and `TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`; empty for the in-process store) to point elsewhere.

pub mod api;
pub mod database;
pub mod exact;
pub mod fixtures;
pub mod memory;
pub mod postgres;
pub mod probe;
pub mod proxy;
pub mod redis;
pub mod traffic;

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
    /// The first analytics replica.
    pub analytics_addr: SocketAddr,
    pub analytics_addrs: Vec<SocketAddr>,
    pub cache_addr: SocketAddr,
    pub aggregator_addr: SocketAddr,
    pub cache_namespace: String,
    /// Where each gRPC service serves its Prometheus metrics: (`cache` / `analytics-0` /
    /// `aggregator`, address), each on its own port 0.
    pub metrics_addrs: Vec<(String, SocketAddr)>,
    /// Where an analytics replica serves its plaintext health for probes, when `PROBE_ADDR` is
    /// set in `StackOptions::analytics_env` (`analytics-0`, address).
    pub probe_addrs: Vec<(String, SocketAddr)>,
    /// The gateway's admin address for `/metrics`, when `METRICS_ADDR` is in its settings.
    pub gateway_metrics_addr: Option<SocketAddr>,
    pub database: TestDatabase,
    /// With `StackOptions::analytics_proxies`: the gateway's way to each analytics replica.
    pub analytics_proxies: Vec<proxy::TcpProxy>,
    cache_config: wellbeing_cache::CacheConfig,
    aggregator_config: wellbeing_aggregator::AggregatorConfig,
    gateway_config: wellbeing_gateway::GatewayConfig,
    services: Vec<RunningService>,
}

/// One server of the stack, by name (`cache`, `analytics-0`, `aggregator`, `gateway`).
struct RunningService {
    name: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// What a test may change about the stack.
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// `Some("")` runs the cache service on its in-process store.
    pub redis_url: Option<String>,
    /// Analytics replicas behind the gateway (default 1).
    pub analytics_replicas: usize,
    /// Extra analytics settings, e.g. `("VIEW_CACHE_MAX_MB", "0")`.
    pub analytics_env: Vec<(String, String)>,
    /// Extra cache service settings, e.g. `("REDIS_TLS_CA_FILE", path)`.
    pub cache_env: Vec<(String, String)>,
    /// Extra aggregator settings, e.g. `("WORKER_LEASE_MS", "500")`.
    pub aggregator_env: Vec<(String, String)>,
    /// Extra gateway settings, e.g. `("PERFORMANCE_THRESHOLD_MS", "1")`.
    pub gateway_env: Vec<(String, String)>,
    /// Another PostgreSQL server for the test database (e.g. a `postgres::PrivatePostgres`).
    pub database_server: Option<String>,
    /// The gateway reaches each analytics replica through a `proxy::TcpProxy`
    /// (`TestStack::analytics_proxies`), so a test can cut one off as a crash would.
    pub analytics_proxies: bool,
    /// Mutual TLS between the services, with the certificates under this directory (as
    /// `wellbeing_dev_certs::issue` lays them out); plaintext when `None`.
    pub internal_tls: Option<std::path::PathBuf>,
    /// Analytics and the aggregator connect as this existing role, which the migration (run
    /// first, as the database's owner) grants the run-time rights only; analytics then does
    /// not migrate (`MIGRATE_AT_START=off`).
    pub database_role: Option<String>,
}

/// `url` with its user (and password) replaced by `role`.
fn as_role(url: &str, role: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{role}@{host}")
        }
        None => url.to_owned(),
    }
}

/// The transport settings of `role`: its certificate files under `dir`, or plaintext.
fn transport_env(dir: Option<&std::path::Path>, role: &str) -> Vec<(&'static str, String)> {
    let Some(dir) = dir else {
        return vec![("INTERNAL_TLS", "off".to_owned())];
    };
    let file = |name: &str| dir.join(role).join(name).to_string_lossy().into_owned();
    vec![
        ("INTERNAL_TLS", "on".to_owned()),
        ("TLS_CERT_FILE", file("tls.crt")),
        ("TLS_KEY_FILE", file("tls.key")),
        ("TLS_CA_FILE", file("ca.crt")),
    ]
}

/// `pairs` with `extra` added, each of `extra` replacing a setting of the same name.
fn with_settings<'a>(
    mut pairs: Vec<(&'a str, &'a str)>,
    extra: &'a [(&'static str, String)],
) -> Vec<(&'a str, &'a str)> {
    for (name, value) in extra {
        pairs.retain(|(existing, _)| existing != name);
        pairs.push((name, value.as_str()));
    }
    pairs
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
        let database = match &options.database_server {
            Some(server) => TestDatabase::create_on(server).await?,
            None => TestDatabase::create().await?,
        };
        let redis_url = options.redis_url.unwrap_or_else(|| {
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
        });
        let cache_namespace = format!("wbtest-{}", uuid::Uuid::new_v4().simple());

        let (cache_listener, cache_addr) = bind().await?;
        let mut analytics_listeners = Vec::new();
        for _ in 0..options.analytics_replicas.max(1) {
            analytics_listeners.push(bind().await?);
        }
        let analytics_addrs: Vec<SocketAddr> =
            analytics_listeners.iter().map(|(_, addr)| *addr).collect();
        let (aggregator_listener, aggregator_addr) = bind().await?;
        let (gateway_listener, gateway_addr) = bind().await?;
        let cache_url = format!("http://{cache_addr}");
        let analytics_url = analytics_addrs
            .iter()
            .map(|addr| format!("http://{addr}"))
            .collect::<Vec<_>>()
            .join(",");
        let aggregator_url = format!("http://{aggregator_addr}");
        let mut analytics_proxies = Vec::new();
        if options.analytics_proxies {
            for addr in &analytics_addrs {
                analytics_proxies.push(proxy::TcpProxy::start(*addr).await?);
            }
        }
        let gateway_analytics_url = if analytics_proxies.is_empty() {
            analytics_url.clone()
        } else {
            analytics_proxies
                .iter()
                .map(|proxy| format!("http://{}", proxy.addr))
                .collect::<Vec<_>>()
                .join(",")
        };

        let tls_dir = options.internal_tls.as_deref();
        let cache_transport = transport_env(tls_dir, "cache");
        let mut cache_env = with_settings(
            vec![
                ("REDIS_URL", redis_url.as_str()),
                ("CACHE_NAMESPACE", cache_namespace.as_str()),
            ],
            &cache_transport,
        );
        for (name, value) in &options.cache_env {
            cache_env.retain(|(existing, _)| existing != name);
            cache_env.push((name.as_str(), value.as_str()));
        }
        let cache_config = wellbeing_cache::CacheConfig::from_source(&cache_env[..])?;
        let services_database_url = match &options.database_role {
            Some(role) => {
                let owner = wellbeing_analytics::AnalyticsConfig::from_source(
                    &[
                        ("DATABASE_URL", database.url.as_str()),
                        ("DATABASE_RUNTIME_ROLE", role.as_str()),
                        ("INTERNAL_TLS", "off"),
                    ][..],
                )?;
                wellbeing_analytics::migrate(&owner).await?;
                as_role(&database.url, role)
            }
            None => database.url.clone(),
        };
        let migrate_at_start = if options.database_role.is_some() {
            "off"
        } else {
            "on"
        };
        let mut analytics_env: Vec<(&str, &str)> = vec![
            ("MIGRATE_AT_START", migrate_at_start),
            ("DATABASE_URL", services_database_url.as_str()),
            ("CACHE_URL", cache_url.as_str()),
            // Many tests run at once against one server: keep each pool small.
            ("DB_MIN_CONNECTIONS", "1"),
            ("DB_MAX_CONNECTIONS", "8"),
        ];
        for (name, value) in &options.analytics_env {
            analytics_env.retain(|(existing, _)| existing != name);
            analytics_env.push((name.as_str(), value.as_str()));
        }
        let analytics_transport = transport_env(tls_dir, "analytics");
        let analytics_env = with_settings(analytics_env, &analytics_transport);
        let analytics_config =
            wellbeing_analytics::AnalyticsConfig::from_source(&analytics_env[..])?;
        let mut aggregator_env: Vec<(&str, &str)> = vec![
            ("DATABASE_URL", services_database_url.as_str()),
            ("AGGREGATOR_DB_MAX_CONNECTIONS", "3"),
            ("WORKER_IDLE_POLL_MS", "50"),
        ];
        for (name, value) in &options.aggregator_env {
            aggregator_env.retain(|(existing, _)| existing != name);
            aggregator_env.push((name.as_str(), value.as_str()));
        }
        let aggregator_transport = transport_env(tls_dir, "aggregator");
        let aggregator_env = with_settings(aggregator_env, &aggregator_transport);
        let aggregator_config =
            wellbeing_aggregator::AggregatorConfig::from_source(&aggregator_env[..])?;
        let mut gateway_env: Vec<(&str, &str)> = vec![
            ("ANALYTICS_URL", gateway_analytics_url.as_str()),
            ("CACHE_URL", cache_url.as_str()),
            ("AGGREGATOR_URL", aggregator_url.as_str()),
            ("JWT_SECRET", "test-secret-test-secret-test-secret-0123"),
        ];
        for (name, value) in &options.gateway_env {
            gateway_env.retain(|(existing, _)| existing != name);
            gateway_env.push((name.as_str(), value.as_str()));
        }
        let gateway_transport = transport_env(tls_dir, "gateway");
        let gateway_env = with_settings(gateway_env, &gateway_transport);
        let gateway_config = wellbeing_gateway::GatewayConfig::from_source(&gateway_env[..])?;

        let mut stack = Self {
            api: Api::new(format!("http://{gateway_addr}")),
            gateway_addr,
            analytics_addr: analytics_addrs[0],
            analytics_addrs,
            cache_addr,
            aggregator_addr,
            cache_namespace,
            metrics_addrs: Vec::new(),
            probe_addrs: Vec::new(),
            gateway_metrics_addr: None,
            database,
            analytics_proxies,
            cache_config: cache_config.clone(),
            aggregator_config: aggregator_config.clone(),
            gateway_config: gateway_config.clone(),
            services: Vec::new(),
        };
        let cache = wellbeing_cache::Application::build_with_listener(cache_config, cache_listener)
            .with_metrics_listener(stack.metrics_listener("cache")?);
        stack.spawn("cache", |stop| cache.run_until_stopped(stop));
        for (index, (listener, _)) in analytics_listeners.into_iter().enumerate() {
            let analytics = wellbeing_analytics::Application::build_with_listener(
                analytics_config.clone(),
                listener,
            )?
            .with_metrics_listener(stack.metrics_listener(&format!("analytics-{index}"))?);
            if let Some(addr) = analytics.probe_addr() {
                stack.probe_addrs.push((format!("analytics-{index}"), addr));
            }
            stack.spawn(&format!("analytics-{index}"), |stop| {
                analytics.run_until_stopped(stop)
            });
        }
        let aggregator = wellbeing_aggregator::Application::build_with_listener(
            aggregator_config,
            aggregator_listener,
        )
        .with_metrics_listener(stack.metrics_listener("aggregator")?);
        stack.spawn("aggregator", |stop| aggregator.run_until_stopped(stop));
        let gateway =
            wellbeing_gateway::Application::build_with_listener(gateway_config, gateway_listener)?;
        stack.gateway_metrics_addr = gateway.metrics_addr();
        stack.spawn("gateway", |stop| gateway.run_until_stopped(stop));

        stack.wait_until_healthy(Duration::from_secs(30)).await?;
        Ok(stack)
    }

    fn spawn<F, Fut>(&mut self, name: &str, run: F)
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let stop: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let _ = stop_rx.await;
        });
        self.services.push(RunningService {
            name: name.to_owned(),
            stop: Some(stop_tx),
            task: Some(tokio::spawn(run(stop))),
        });
    }

    /// Stops one service gracefully (`cache`, `analytics-0`, `aggregator`, `gateway`).
    pub async fn stop_service(&mut self, name: &str) -> anyhow::Result<()> {
        let service = self
            .services
            .iter_mut()
            .find(|service| service.name == name && service.task.is_some())
            .with_context(|| format!("no running service {name}"))?;
        if let Some(stop) = service.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = service.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .context("the service did not stop in time")???;
        }
        Ok(())
    }

    /// Starts one more aggregator worker on the same database; returns its name and address.
    pub async fn start_aggregator(&mut self) -> anyhow::Result<(String, SocketAddr)> {
        let (listener, addr) = bind().await?;
        let name = format!("aggregator-{}", self.services.len());
        let aggregator = wellbeing_aggregator::Application::build_with_listener(
            self.aggregator_config.clone(),
            listener,
        );
        self.spawn(&name, |stop| aggregator.run_until_stopped(stop));
        Ok((name, addr))
    }

    /// Starts one more gateway in front of the same services (as a second pod would be);
    /// returns a client of it once it answers.
    pub async fn start_gateway(&mut self) -> anyhow::Result<Api> {
        let (listener, addr) = bind().await?;
        let name = format!("gateway-{}", self.services.len());
        let gateway = wellbeing_gateway::Application::build_with_listener(
            self.gateway_config.clone(),
            listener,
        )?;
        self.spawn(&name, |stop| gateway.run_until_stopped(stop));
        let api = Api::new(format!("http://{addr}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !api
            .get("/livez", None)
            .await
            .is_ok_and(|answer| answer.status == 200)
        {
            if Instant::now() > deadline {
                bail!("{name} did not answer /livez in 10 s");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(api)
    }

    /// The Redis the cache service uses (`None`: its in-process store).
    pub fn redis_url(&self) -> Option<&str> {
        self.cache_config.redis_url.as_deref()
    }

    /// Starts the cache service again on its old address (after [`TestStack::stop_service`]).
    pub async fn restart_cache(&mut self) -> anyhow::Result<()> {
        let listener = TcpListener::bind(self.cache_addr)
            .await
            .context("the cache address is still taken")?;
        let cache =
            wellbeing_cache::Application::build_with_listener(self.cache_config.clone(), listener);
        self.services.retain(|service| service.name != "cache");
        self.spawn("cache", |stop| cache.run_until_stopped(stop));
        Ok(())
    }

    /// Polls `/health` until every service reports healthy.
    pub async fn wait_until_healthy(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Some(service) = self
                .services
                .iter()
                .find(|service| service.task.as_ref().is_some_and(JoinHandle::is_finished))
            {
                bail!("{} stopped while starting", service.name);
            }
            if let Ok(answer) = self.api.get("/health", None).await {
                // Ready too: the gateway knows which sessions ended (it refuses their tokens).
                if answer.json["status"] == "healthy"
                    && self
                        .api
                        .get("/readyz", None)
                        .await
                        .is_ok_and(|ready| ready.status == 200)
                {
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

    /// A loopback listener on port 0 for `service`'s metrics, remembered in `metrics_addrs`.
    fn metrics_listener(&mut self, service: &str) -> anyhow::Result<std::net::TcpListener> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        self.metrics_addrs
            .push((service.to_owned(), listener.local_addr()?));
        Ok(listener)
    }

    /// Stops every service gracefully, then drops the database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for service in &mut self.services {
            if let Some(stop) = service.stop.take() {
                let _ = stop.send(());
            }
        }
        for service in &mut self.services {
            if let Some(task) = service.task.take() {
                // A graceful stop drains for up to 20 s (DRAIN_TIMEOUT) and then closes the
                // database pool; on a CI machine loaded by other builds that took over 30 s.
                tokio::time::timeout(Duration::from_secs(60), task)
                    .await
                    .with_context(|| format!("{} did not stop in time", service.name))?
                    .with_context(|| format!("{} panicked", service.name))??;
            }
        }
        Ok(())
    }
}
