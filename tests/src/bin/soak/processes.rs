//! The stack as four child processes: the release binaries found next to this executable, each
//! on free loopback ports, a fresh PostgreSQL database (dropped at the end) and a private Redis
//! key namespace. Children are killed when this value is dropped (error, panic, Ctrl-C), and
//! stopped with SIGTERM at a normal end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};
use wellbeing_tests::memory::{Memory, memory_of};
use wellbeing_tests::{Api, TestDatabase};

/// The binaries, in start order.
pub const SERVICES: [&str; 4] = ["cache", "analytics", "aggregator", "gateway"];

/// What the soak needs to know to start the stack.
pub struct Options {
    pub postgres: String,
    pub redis_url: String,
    /// `service:VAR=value` overrides, e.g. `analytics:VIEW_CACHE_MAX_MB=4`.
    pub overrides: Vec<String>,
    pub log_dir: PathBuf,
}

/// One running service.
pub struct Service {
    pub name: &'static str,
    pub pid: u32,
    child: Child,
    log: PathBuf,
}

pub struct Stack {
    pub gateway: String,
    /// `/metrics` of each service, in [`SERVICES`] order.
    pub metrics_urls: Vec<String>,
    pub api: Api,
    pub database: TestDatabase,
    pub namespace: String,
    pub services: Vec<Service>,
    redis_url: String,
}

fn binary_path(dir: &Path, service: &str) -> PathBuf {
    dir.join(format!("wellbeing-{service}"))
}

/// The directory of the service binaries: this executable's own (`target/release`).
pub fn binaries() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this executable's path")?;
    let dir = exe.parent().context("this executable has no directory")?;
    let missing: Vec<_> = SERVICES
        .iter()
        .filter(|service| !binary_path(dir, service).is_file())
        .collect();
    if !missing.is_empty() {
        let packages: Vec<_> = missing
            .iter()
            .map(|service| format!("-p wellbeing-{service}"))
            .collect();
        bail!(
            "missing service binaries in {} ({}): build them with the same CARGO_TARGET_DIR and \
             profile as this soak, e.g. `cargo build --release {}`",
            dir.display(),
            missing
                .iter()
                .map(|service| format!("wellbeing-{service}"))
                .collect::<Vec<_>>()
                .join(", "),
            packages.join(" ")
        );
    }
    Ok(dir.to_owned())
}

/// `count` distinct free loopback ports (bound together, then released).
fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    listeners
        .iter()
        .map(|listener| Ok(listener.local_addr()?.port()))
        .collect()
}

fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Stack {
    pub async fn start(bin_dir: &Path, options: &Options) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&options.log_dir)
            .with_context(|| format!("cannot create {}", options.log_dir.display()))?;
        let database = TestDatabase::create_on(&options.postgres).await?;
        let namespace = format!(
            "wbsoak-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let ports = free_ports(7)?;
        let at = |port: u16| format!("127.0.0.1:{port}");
        let (cache, analytics, aggregator, gateway) =
            (at(ports[0]), at(ports[1]), at(ports[2]), at(ports[3]));
        let secret = random_secret();
        let log_level = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
        let environment = |service: &str| -> Vec<(String, String)> {
            let mut env: Vec<(&str, String)> = match service {
                "cache" => vec![
                    ("CACHE_ADDR", cache.clone()),
                    ("METRICS_ADDR", at(ports[4])),
                    ("REDIS_URL", options.redis_url.clone()),
                    ("CACHE_NAMESPACE", namespace.clone()),
                ],
                "analytics" => vec![
                    ("ANALYTICS_ADDR", analytics.clone()),
                    ("METRICS_ADDR", at(ports[5])),
                    ("DATABASE_URL", database.url.clone()),
                    ("CACHE_URL", cache.clone()),
                    // PostgreSQL on this machine is shared (100 connections): as the load tool.
                    ("DB_MIN_CONNECTIONS", "4".into()),
                    ("DB_MAX_CONNECTIONS", "16".into()),
                ],
                "aggregator" => vec![
                    ("AGGREGATOR_ADDR", aggregator.clone()),
                    ("METRICS_ADDR", at(ports[6])),
                    ("DATABASE_URL", database.url.clone()),
                ],
                _ => vec![
                    ("GATEWAY_ADDR", gateway.clone()),
                    ("ANALYTICS_URL", analytics.clone()),
                    ("CACHE_URL", cache.clone()),
                    ("AGGREGATOR_URL", aggregator.clone()),
                    ("JWT_SECRET", secret.clone()),
                    // One load client drives the gateway: lift the per-user limit (as the load
                    // tool does) and let tokens outlive the run.
                    ("RATE_LIMIT_PER_MINUTE", "1000000".into()),
                    ("RATE_LIMIT_BURST", "1000000".into()),
                    ("ACCESS_TOKEN_TTL_SECS", "86400".into()),
                ],
            };
            env.push(("RUST_LOG", log_level.clone()));
            // Plain logs in the files.
            env.push(("NO_COLOR", "1".into()));
            let mut env: Vec<(String, String)> = env
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect();
            for item in &options.overrides {
                if let Some((target, assignment)) = item.split_once(':')
                    && target == service
                    && let Some((name, value)) = assignment.split_once('=')
                {
                    env.retain(|(existing, _)| existing != name);
                    env.push((name.to_owned(), value.to_owned()));
                }
            }
            env
        };
        for item in &options.overrides {
            let valid = item
                .split_once(':')
                .is_some_and(|(target, rest)| SERVICES.contains(&target) && rest.contains('='));
            anyhow::ensure!(valid, "--set {item}: expected SERVICE:VAR=value");
        }

        let environments: Vec<Vec<(String, String)>> = SERVICES
            .iter()
            .map(|service| environment(service))
            .collect();

        // The schema first, as deploy/local/run.sh does.
        let migrate = Command::new(binary_path(bin_dir, "analytics"))
            .arg("migrate")
            .env_clear()
            .envs(environments[1].clone())
            .output()
            .await
            .context("cannot run wellbeing-analytics migrate")?;
        if !migrate.status.success() {
            bail!(
                "wellbeing-analytics migrate failed: {}{}",
                String::from_utf8_lossy(&migrate.stdout),
                String::from_utf8_lossy(&migrate.stderr)
            );
        }

        let mut stack = Self {
            api: Api::new(format!("http://{gateway}")),
            gateway: format!("http://{gateway}"),
            metrics_urls: vec![
                format!("http://{}/metrics", at(ports[4])),
                format!("http://{}/metrics", at(ports[5])),
                format!("http://{}/metrics", at(ports[6])),
                format!("http://{gateway}/metrics"),
            ],
            database,
            namespace,
            services: Vec::new(),
            redis_url: options.redis_url.clone(),
        };
        for (name, environment) in SERVICES.into_iter().zip(environments) {
            let log = options.log_dir.join(format!("{name}.log"));
            let out = std::fs::File::create(&log)
                .with_context(|| format!("cannot create {}", log.display()))?;
            let child = Command::new(binary_path(bin_dir, name))
                .env_clear()
                .envs(environment)
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start wellbeing-{name}"))?;
            let pid = child.id().context("a child without a pid")?;
            stack.services.push(Service {
                name,
                pid,
                child,
                log,
            });
        }
        stack.wait_ready().await?;
        Ok(stack)
    }

    /// Polls the gateway's `/readyz` (every 50 ms), then `/health` (every 700 ms: it allows 100
    /// requests a minute) until every dependency is healthy; fails at once if a child exits.
    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.check_alive()?;
            let last = match self.api.get("/readyz", None).await {
                Ok(answer) if answer.status == 200 => break,
                Ok(answer) => answer.json.to_string(),
                Err(error) => format!("{error:#}"),
            };
            anyhow::ensure!(Instant::now() < deadline, "the stack is not ready: {last}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        loop {
            self.check_alive()?;
            let health = self.api.get("/health", None).await?;
            if health.json["status"] == "healthy" {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the stack is not healthy: {}",
                health.json
            );
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }

    /// An error naming the service (with the end of its log) if one has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for service in &mut self.services {
            if let Some(status) = service.child.try_wait()? {
                let log = std::fs::read_to_string(&service.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                bail!(
                    "wellbeing-{} exited ({status}); end of {}:\n{}",
                    service.name,
                    service.log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
        Ok(())
    }

    /// Each service's memory now, in [`SERVICES`] order.
    pub fn memory(&self) -> Vec<Memory> {
        self.services
            .iter()
            .map(|service| memory_of(service.pid))
            .collect()
    }

    /// Events stored: rows of the six event tables.
    pub async fn stored_events(&self) -> anyhow::Result<i64> {
        let pool = sqlx::PgPool::connect(&self.database.url).await?;
        let mut total = 0i64;
        for table in [
            "screen_time",
            "sessions",
            "notifications",
            "focus_sessions",
            "breaks",
            "distractions",
        ] {
            let query = format!("SELECT count(*) FROM {table}");
            total += sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(query))
                .fetch_one(&pool)
                .await?;
        }
        pool.close().await;
        Ok(total)
    }

    /// One scrape of every service's `/metrics` (empty text when one does not answer).
    pub async fn scrape(&self) -> Vec<String> {
        let client = reqwest::Client::new();
        let mut texts = Vec::new();
        for url in &self.metrics_urls {
            let text = match client.get(url).send().await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            texts.push(text);
        }
        texts
    }

    /// The cache service's view reads so far: (hits, misses), from its `/metrics`.
    pub async fn cache_reads(&self) -> (f64, f64) {
        let text = match reqwest::get(&self.metrics_urls[0]).await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        (
            crate::probes::counter_sum(&text, "wellbeing_cache_hits_total"),
            crate::probes::counter_sum(&text, "wellbeing_cache_misses_total"),
        )
    }

    /// Tables with the most dead rows: name, live rows, dead rows, autovacuums, autoanalyzes.
    pub async fn table_health(&self) -> anyhow::Result<Vec<(String, i64, i64, i64, i64)>> {
        let pool = sqlx::PgPool::connect(&self.database.url).await?;
        let rows = sqlx::query_as::<_, (String, i64, i64, i64, i64)>(
            "SELECT relname::text, n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count \
             FROM pg_stat_user_tables ORDER BY n_dead_tup DESC LIMIT 6",
        )
        .fetch_all(&pool)
        .await?;
        pool.close().await;
        Ok(rows)
    }

    /// PostgreSQL's `autovacuum` setting (`on`/`off`; the soak's queue tables depend on it).
    pub async fn autovacuum(&self) -> anyhow::Result<String> {
        let pool = sqlx::PgPool::connect(&self.database.url).await?;
        let setting: String = sqlx::query_scalar("SHOW autovacuum")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        Ok(setting)
    }

    /// `VACUUM (ANALYZE)` of the run's database.
    pub async fn vacuum(&self) -> anyhow::Result<()> {
        let pool = sqlx::PgPool::connect(&self.database.url).await?;
        sqlx::raw_sql("VACUUM (ANALYZE)").execute(&pool).await?;
        pool.close().await;
        Ok(())
    }

    /// Waits until the aggregator's queue of dirty days is empty (`/health`), at most `limit`.
    pub async fn drain(&self, limit: Duration) -> anyhow::Result<f64> {
        let started = Instant::now();
        loop {
            let health = self.api.get("/health", None).await?;
            let depth = health.json["aggregator_lag"]["queue_depth"].as_u64();
            if depth.is_none_or(|depth| depth == 0) || started.elapsed() > limit {
                return Ok(started.elapsed().as_secs_f64());
            }
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
    }

    /// SIGTERM to each service (gateway first), a graceful stop of at most 15 s each; then (on
    /// drop) the run's cache keys are removed and the database dropped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for service in self.services.iter_mut().rev() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &service.pid.to_string()])
                .status();
            if tokio::time::timeout(Duration::from_secs(15), service.child.wait())
                .await
                .is_err()
            {
                eprintln!("wellbeing-{} did not stop in 15 s: killed", service.name);
                let _ = service.child.kill().await;
            }
        }
        Ok(())
    }

    /// Best effort: the run's keys would expire anyway (every key has a TTL).
    fn remove_cache_keys(&self) {
        if self.namespace.is_empty() {
            return;
        }
        let url = &self.redis_url;
        let pattern = format!("{}:*", self.namespace);
        let keys = std::process::Command::new("redis-cli")
            .args(["-u", url, "--scan", "--pattern", &pattern])
            .output();
        let Ok(keys) = keys else { return };
        let keys: Vec<String> = String::from_utf8_lossy(&keys.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        for chunk in keys.chunks(500) {
            let _ = std::process::Command::new("redis-cli")
                .args(["-u", url, "UNLINK"])
                .args(chunk)
                .stdout(Stdio::null())
                .status();
        }
    }
}

impl Drop for Stack {
    /// Also on an error, a panic or Ctrl-C: the children are killed (if still running), then the
    /// run's cache keys removed; the database is dropped with the `TestDatabase`.
    fn drop(&mut self) {
        for service in &mut self.services {
            let _ = service.child.start_kill();
        }
        self.remove_cache_keys();
    }
}
