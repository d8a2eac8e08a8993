//! Background readers during the soak: each service's memory every second, the services'
//! `/metrics` as Prometheus would read them (optional), and the aggregator's backlog.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wellbeing_tests::Api;

use wellbeing_tests::memory::{Memory, memory_of};

/// Samples every service's memory once a second in the background.
pub struct Sampler {
    samples: Arc<Mutex<Vec<Vec<Memory>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(pids: Vec<u32>) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sink = samples.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticker.tick().await;
                let memory: Vec<Memory> = pids.iter().map(|pid| memory_of(*pid)).collect();
                sink.lock().expect("not poisoned").push(memory);
            }
        });
        Self { samples, task }
    }

    /// The samples taken since the previous call.
    pub fn take(&self) -> Vec<Vec<Memory>> {
        std::mem::take(&mut *self.samples.lock().expect("not poisoned"))
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads every service's `/metrics` every `every`, as a Prometheus server would (reading folds
/// the recorded latencies into their histograms).
pub struct Scraper {
    task: tokio::task::JoinHandle<()>,
}

impl Scraper {
    pub fn start(urls: Vec<String>, every: Duration) -> Self {
        let task = tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                for url in &urls {
                    if let Ok(response) = client.get(url).send().await {
                        let _ = response.bytes().await;
                    }
                }
            }
        });
        Self { task }
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Stands in for autovacuum where the server runs without it (this project's CI machine): every
/// write updates its days' rows of the day aggregates (`day_aggregates`, `day_app_aggregates`),
/// and the aggregator's queue (`dirty_days`) is rewritten whenever a day is marked; unvacuumed,
/// their dead rows make every write's upsert and every view's read of the aggregates slower, so
/// the load the soak holds would drift from what it calibrated. Vacuums those tables every
/// `every`, as autovacuum would on a default server.
pub struct VacuumStandIn {
    task: tokio::task::JoinHandle<()>,
}

impl VacuumStandIn {
    pub fn start(database_url: String, every: Duration) -> Self {
        let task = tokio::spawn(async move {
            let Ok(pool) = sqlx::PgPool::connect(&database_url).await else {
                return;
            };
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(error) =
                    sqlx::raw_sql("VACUUM (ANALYZE) dirty_days, day_aggregates, day_app_aggregates")
                        .execute(&pool)
                        .await
                {
                    eprintln!("vacuum stand-in failed: {error}");
                }
            }
        });
        Self { task }
    }
}

impl Drop for VacuumStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the aggregator's backlog from the gateway's `/health` every `every` (it allows 100
/// requests a minute per address): (days queued, seconds the oldest has waited).
pub struct LagProbe {
    latest: Arc<Mutex<Option<(u64, f64)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl LagProbe {
    pub fn start(api: Api, every: Duration) -> Self {
        let latest = Arc::new(Mutex::new(None));
        let sink = latest.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every.max(Duration::from_secs(1)));
            loop {
                ticker.tick().await;
                if let Ok(health) = api.get("/health", None).await {
                    let lag = &health.json["aggregator_lag"];
                    let reading = lag["queue_depth"].as_u64().map(|depth| {
                        (depth, lag["oldest_pending_seconds"].as_f64().unwrap_or(0.0))
                    });
                    *sink.lock().expect("not poisoned") = reading;
                }
            }
        });
        Self { latest, task }
    }

    pub fn latest(&self) -> Option<(u64, f64)> {
        *self.latest.lock().expect("not poisoned")
    }
}

impl Drop for LagProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The sum of a counter's series in a Prometheus text scrape.
pub fn counter_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
