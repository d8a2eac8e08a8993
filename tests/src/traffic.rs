//! Steady traffic for fault tests: writers sending screen time (alone or in batches of five, each
//! event with its own `event_id`) and readers reading today's summary, every answer recorded
//! with its time, status, latency and the events it acknowledged. A test breaks something while
//! it runs, stops it, then checks the record against the database.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::{Api, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    Batch,
}

/// One event a writer sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub event_id: String,
    pub minutes: f64,
}

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: Kind,
    /// When it was sent, from the start of the traffic.
    pub sent_at: Duration,
    pub latency: Duration,
    /// 0: no HTTP answer at all (connection refused or reset).
    pub status: u16,
    pub retry_after: bool,
    /// The events of a write (empty for reads).
    pub events: Vec<Sent>,
}

impl Outcome {
    /// A write the server acknowledged (stored now, or stored before under the same ids).
    pub fn acknowledged(&self) -> bool {
        self.kind != Kind::Read && (self.status == 200 || self.status == 201)
    }
}

pub struct TrafficOptions {
    pub writers: usize,
    pub readers: usize,
    /// Pause of each client between two requests.
    pub pause: Duration,
    /// Writers send one batch of five in this many requests (0: never).
    pub batch_every: u64,
}

impl Default for TrafficOptions {
    fn default() -> Self {
        Self {
            writers: 3,
            readers: 2,
            pause: Duration::from_millis(5),
            batch_every: 4,
        }
    }
}

/// Gateway settings that lift the per-user rate limit for a stack under [`Traffic`]: one user's
/// five clients outrun 1,200 requests a minute on a fast machine, or at once while refusals come
/// back fast, and a fault test is about its fault, not the limiter (the security suite tests it).
pub fn unlimited_rate() -> Vec<(String, String)> {
    vec![
        ("RATE_LIMIT_PER_MINUTE".into(), "1000000".into()),
        ("RATE_LIMIT_BURST".into(), "1000000".into()),
    ]
}

pub struct Traffic {
    stop: Arc<AtomicBool>,
    started: Instant,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A request still unanswered after this counts as failed (status 0): nothing may hang.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(15);

/// Event durations cycle through 1, 2 and 3 minutes so sums are exact in floating point.
static NEXT_MINUTES: AtomicU64 = AtomicU64::new(0);

fn next_minutes() -> f64 {
    (NEXT_MINUTES.fetch_add(1, Ordering::Relaxed) % 3 + 1) as f64
}

impl Traffic {
    /// Starts the clients for `user` (whose zone must keep the last hours inside local today).
    pub fn start(api: &Api, user: &Session, options: TrafficOptions) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Each client gets its own connection pool, as separate phones would.
        for writer in 0..options.writers {
            let (stop, outcomes, user) = (stop.clone(), outcomes.clone(), user.clone());
            let api = Api::new(api.url(""));
            let (pause, batch_every) = (options.pause, options.batch_every);
            tasks.push(tokio::spawn(async move {
                let mut sequence = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    sequence += 1;
                    let batch =
                        batch_every > 0 && sequence % batch_every == (writer as u64) % batch_every;
                    let outcome = write(&api, &user, batch, started).await;
                    outcomes.lock().expect("not poisoned").push(outcome);
                    tokio::time::sleep(pause).await;
                }
            }));
        }
        for _ in 0..options.readers {
            let (stop, outcomes, user) = (stop.clone(), outcomes.clone(), user.clone());
            let api = Api::new(api.url(""));
            let pause = options.pause;
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let outcome = read(&api, &user, started).await;
                    outcomes.lock().expect("not poisoned").push(outcome);
                    tokio::time::sleep(pause).await;
                }
            }));
        }
        Self {
            stop,
            started,
            outcomes,
            tasks,
        }
    }

    /// Time since the traffic started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The outcomes so far.
    pub fn snapshot(&self) -> Vec<Outcome> {
        self.outcomes.lock().expect("not poisoned").clone()
    }

    /// Waits (at most 20 s) until a write sent after the first second is acknowledged: the
    /// traffic runs in steady state and a fault test may break something.
    pub async fn steady(&self) -> bool {
        self.wait_for(
            Duration::from_secs(1),
            Duration::from_secs(20),
            Outcome::acknowledged,
        )
        .await
    }

    /// Waits until `predicate` holds for an outcome sent after `after`, or `limit` passes.
    pub async fn wait_for(
        &self,
        after: Duration,
        limit: Duration,
        predicate: impl Fn(&Outcome) -> bool,
    ) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self
                .outcomes
                .lock()
                .expect("not poisoned")
                .iter()
                .any(|outcome| outcome.sent_at >= after && predicate(outcome))
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Stops every client (each finishes its request in flight) and returns every outcome.
    pub async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
        self.outcomes.lock().expect("not poisoned").clone()
    }
}

async fn write(api: &Api, user: &Session, batch: bool, started: Instant) -> Outcome {
    let count = if batch { 5 } else { 1 };
    let events: Vec<Sent> = (0..count)
        .map(|_| Sent {
            event_id: uuid::Uuid::new_v4().to_string(),
            minutes: next_minutes(),
        })
        .collect();
    let sent_at = started.elapsed();
    let clock = Instant::now();
    let answer = tokio::time::timeout(REQUEST_LIMIT, async {
    if batch {
        let body: Vec<_> = events
            .iter()
            .map(|event| json!({"type": "screen-time", "event_id": event.event_id, "app_name": "Traffic", "duration_minutes": event.minutes}))
            .collect();
        api.post(
            "/api/v1/analytics/track/batch",
            &json!({"events": body}),
            Some(&user.access_token),
        )
        .await
    } else {
        api.post(
            "/api/v1/analytics/track/screen-time",
            &json!({"event_id": events[0].event_id, "app_name": "Traffic", "duration_minutes": events[0].minutes}),
            Some(&user.access_token),
        )
        .await
    }
    })
    .await
    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer in {REQUEST_LIMIT:?}")));
    Outcome {
        kind: if batch { Kind::Batch } else { Kind::Write },
        sent_at,
        latency: clock.elapsed(),
        status: answer.as_ref().map(|a| a.status).unwrap_or(0),
        retry_after: answer
            .as_ref()
            .is_ok_and(|a| a.header("retry-after").is_some()),
        events,
    }
}

async fn read(api: &Api, user: &Session, started: Instant) -> Outcome {
    let sent_at = started.elapsed();
    let clock = Instant::now();
    let answer = tokio::time::timeout(
        REQUEST_LIMIT,
        api.get("/api/v1/analytics/summary/daily", Some(&user.access_token)),
    )
    .await
    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer in {REQUEST_LIMIT:?}")));
    Outcome {
        kind: Kind::Read,
        sent_at,
        latency: clock.elapsed(),
        status: answer.as_ref().map(|a| a.status).unwrap_or(0),
        retry_after: answer
            .as_ref()
            .is_ok_and(|a| a.header("retry-after").is_some()),
        events: Vec::new(),
    }
}

/// Counts by kind and status, and the slowest answer.
pub fn summary(outcomes: &[Outcome]) -> String {
    let mut counts = std::collections::BTreeMap::<(String, u16), u64>::new();
    for outcome in outcomes {
        *counts
            .entry((format!("{:?}", outcome.kind), outcome.status))
            .or_default() += 1;
    }
    let slowest = outcomes
        .iter()
        .map(|outcome| outcome.latency)
        .max()
        .unwrap_or_default();
    format!("{counts:?} slowest={slowest:?}")
}
