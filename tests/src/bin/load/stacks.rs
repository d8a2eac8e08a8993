//! What the load goes to: gateways given by URL, or stacks started in this process.
//!
//! In process: a [`TestStack`] (cache on, the aggregator running as in production, the
//! API rate limit lifted so one client machine can load it) plus, on the same database and
//! cache service, a second analytics with `VIEW_CACHE=off` behind a second gateway: the
//! uncached figures read the very same data.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use wellbeing_tests::{Api, StackOptions, TestStack};

/// The JWT secret of the harness, shared by the second gateway so tokens work on both.
const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Settings that let one load client drive a gateway.
const GATEWAY_ENV: [(&str, &str); 3] = [
    ("RATE_LIMIT_PER_MINUTE", "1000000"),
    ("RATE_LIMIT_BURST", "1000000"),
    ("ACCESS_TOKEN_TTL_SECS", "86400"),
];

const ANALYTICS_ENV: [(&str, &str); 2] =
    [("DB_MIN_CONNECTIONS", "4"), ("DB_MAX_CONNECTIONS", "16")];

pub struct Targets {
    /// Base URL of the normal gateway.
    pub cached: String,
    /// Base URL of a gateway whose analytics does not cache views.
    pub uncached: Option<String>,
    pub api: Api,
    stack: Option<TestStack>,
    extra: Vec<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
    extra_workers: usize,
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

impl Targets {
    pub fn remote(url: String, uncached: Option<String>) -> Self {
        let cached = url.trim_end_matches('/').to_owned();
        Self {
            api: Api::new(cached.clone()),
            cached,
            uncached: uncached.map(|url| url.trim_end_matches('/').to_owned()),
            stack: None,
            extra: Vec::new(),
            extra_workers: 0,
        }
    }

    pub async fn in_process() -> anyhow::Result<Self> {
        let stack = TestStack::start_with(StackOptions {
            analytics_env: pairs(&ANALYTICS_ENV),
            aggregator_env: pairs(&[("WORKER_IDLE_POLL_MS", "50")]),
            gateway_env: pairs(&GATEWAY_ENV),
            ..Default::default()
        })
        .await?;
        let cached = format!("http://{}", stack.gateway_addr);
        let mut targets = Self {
            api: Api::new(cached.clone()),
            cached,
            uncached: None,
            stack: None,
            extra: Vec::new(),
            extra_workers: 0,
        };
        let uncached = targets.start_uncached(&stack).await?;
        targets.stack = Some(stack);
        wait_ready(&uncached).await?;
        targets.uncached = Some(uncached);
        Ok(targets)
    }

    /// A second analytics (`VIEW_CACHE=off`) and gateway on the stack's database.
    async fn start_uncached(&mut self, stack: &TestStack) -> anyhow::Result<String> {
        let analytics_listener = TcpListener::bind("127.0.0.1:0").await?;
        let analytics_url = format!("http://{}", analytics_listener.local_addr()?);
        let cache_url = format!("http://{}", stack.cache_addr);
        let mut analytics_env = vec![
            ("DATABASE_URL", stack.database.url.as_str()),
            ("CACHE_URL", cache_url.as_str()),
            ("VIEW_CACHE", "off"),
            ("INTERNAL_TLS", "off"),
        ];
        analytics_env.extend(ANALYTICS_ENV);
        let config = wellbeing_analytics::AnalyticsConfig::from_source(&analytics_env[..])?;
        let analytics =
            wellbeing_analytics::Application::build_with_listener(config, analytics_listener)?;
        self.spawn(|stop| analytics.run_until_stopped(stop));

        let gateway_listener = TcpListener::bind("127.0.0.1:0").await?;
        let gateway_url = format!("http://{}", gateway_listener.local_addr()?);
        let aggregator_url = format!("http://{}", stack.aggregator_addr);
        let mut gateway_env = vec![
            ("ANALYTICS_URL", analytics_url.as_str()),
            ("CACHE_URL", cache_url.as_str()),
            ("AGGREGATOR_URL", aggregator_url.as_str()),
            ("JWT_SECRET", TEST_JWT_SECRET),
            ("INTERNAL_TLS", "off"),
        ];
        gateway_env.extend(GATEWAY_ENV);
        let config = wellbeing_gateway::GatewayConfig::from_source(&gateway_env[..])?;
        let gateway =
            wellbeing_gateway::Application::build_with_listener(config, gateway_listener)?;
        self.spawn(|stop| gateway.run_until_stopped(stop));
        Ok(gateway_url)
    }

    fn spawn<F, Fut>(&mut self, run: F)
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let signal: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let _ = stopped.await;
        });
        self.extra.push((stop, tokio::spawn(run(signal))));
    }

    /// More aggregator workers (in process only), to drain a large backlog sooner.
    pub async fn add_workers(&mut self, total: usize) -> anyhow::Result<()> {
        if let Some(stack) = self.stack.as_mut() {
            while self.extra_workers + 1 < total {
                stack.start_aggregator().await?;
                self.extra_workers += 1;
            }
        }
        Ok(())
    }

    /// Waits until the aggregator's queue of dirty days is empty (`/health`), at most `limit`.
    pub async fn drain(&self, limit: Duration) -> anyhow::Result<f64> {
        let started = Instant::now();
        let bar = crate::seed::bar(0, "days queued");
        let mut initial = None;
        loop {
            let health = self.api.get("/health", None).await?;
            let depth = health.json["aggregator_lag"]["queue_depth"].as_u64();
            let Some(depth) = depth else {
                bar.finish_and_clear();
                eprintln!("no aggregator lag in /health; not waiting for the rollups");
                return Ok(0.0);
            };
            let first = *initial.get_or_insert(depth);
            bar.set_length(first);
            bar.set_position(first.saturating_sub(depth));
            if depth == 0 || started.elapsed() > limit {
                bar.finish_and_clear();
                return Ok(started.elapsed().as_secs_f64());
            }
            // /health allows 100 requests a minute per address.
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
    }

    /// Events stored, when the database is ours to count (in process).
    pub async fn stored_events(&self) -> anyhow::Result<Option<i64>> {
        let Some(stack) = &self.stack else {
            return Ok(None);
        };
        let pool = sqlx::PgPool::connect(&stack.database.url).await?;
        let mut total = 0i64;
        for query in [
            "SELECT count(*) FROM screen_time",
            "SELECT count(*) FROM sessions",
            "SELECT count(*) FROM notifications",
            "SELECT count(*) FROM focus_sessions",
            "SELECT count(*) FROM breaks",
            "SELECT count(*) FROM distractions",
        ] {
            match sqlx::query_scalar::<_, i64>(query).fetch_one(&pool).await {
                Ok(count) => total += count,
                Err(_) => return Ok(None),
            }
        }
        pool.close().await;
        Ok(Some(total))
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        for (stop, task) in self.extra {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        if let Some(stack) = self.stack {
            stack.stop().await?;
        }
        Ok(())
    }
}

/// Polls `/readyz` of `base` until it answers 200.
async fn wait_ready(base: &str) -> anyhow::Result<()> {
    let api = Api::new(base.to_owned());
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(answer) = api.get("/readyz", None).await
            && answer.status == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last: Value = api.get("/readyz", None).await.map(|a| a.json)?;
    Err(anyhow::anyhow!("{base} not ready: {last}")).context("the uncached gateway")
}
