//! The open loop: requests are scheduled at a fixed rate whatever the answers do, queued to a
//! pool of keep-alive connections, and timed from their scheduled instant (so a slow stack shows
//! as latency, not as fewer requests). When the queue holds more than `backlog` seconds of
//! schedule, new requests are shed (counted, not sent).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::mpsc;

use crate::driver::{self, Call, Connection};
use crate::mix::Mix;

/// What happened in one stretch of time (an interval, or the whole run).
pub struct Window {
    pub latency_us: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    /// Answers by status (0: no answer: the connection failed).
    pub statuses: BTreeMap<u16, u64>,
    pub first_error: Option<String>,
    /// Requests scheduled, and of those shed because the queue was full.
    pub scheduled: u64,
    pub shed: u64,
    /// By request path: answered, errors, latency.
    pub by_path: BTreeMap<String, PathStats>,
}

pub struct PathStats {
    pub answered: u64,
    pub errors: u64,
    pub latency_us: Histogram<u64>,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            latency_us: driver::histogram(),
            ok: 0,
            errors: 0,
            statuses: BTreeMap::new(),
            first_error: None,
            scheduled: 0,
            shed: 0,
            by_path: BTreeMap::new(),
        }
    }
}

impl Window {
    pub fn completed(&self) -> u64 {
        self.ok + self.errors
    }

    pub fn ms(&self, quantile: f64) -> f64 {
        if self.latency_us.is_empty() {
            return 0.0;
        }
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn add(&mut self, other: &Window) {
        self.latency_us.add(&other.latency_us).expect("same bounds");
        self.ok += other.ok;
        self.errors += other.errors;
        for (status, count) in &other.statuses {
            *self.statuses.entry(*status).or_default() += count;
        }
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.scheduled += other.scheduled;
        self.shed += other.shed;
        for (path, stats) in &other.by_path {
            let mine = self.path(path);
            mine.answered += stats.answered;
            mine.errors += stats.errors;
            mine.latency_us.add(&stats.latency_us).expect("same bounds");
        }
    }

    fn path(&mut self, path: &str) -> &mut PathStats {
        self.by_path
            .entry(path.to_owned())
            .or_insert_with(|| PathStats {
                answered: 0,
                errors: 0,
                latency_us: driver::histogram(),
            })
    }
}

struct Job {
    scheduled: Instant,
    call: Call,
}

#[derive(Clone, Copy)]
pub struct Settings {
    pub rate: f64,
    pub duration: Duration,
    pub interval: Duration,
    pub connections: usize,
    /// Seconds of schedule the queue may hold before shedding.
    pub backlog: f64,
    pub seed: u64,
}

/// One interval's figures, given to the caller's reporter.
pub struct Tick<'a> {
    pub elapsed: Duration,
    pub seconds: f64,
    pub window: &'a Window,
}

/// Runs the open loop; `report` is called at every interval's end (and at the end of the run)
/// and may stop the run by returning an error. Returns the whole run's window.
pub async fn run(
    base: &str,
    mix: Arc<Mix>,
    settings: Settings,
    mut report: impl FnMut(Tick<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<Window> {
    let capacity = ((settings.rate * settings.backlog) as usize).max(64);
    let (sender, receiver) = mpsc::channel::<Job>(capacity);
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let current = Arc::new(Mutex::new(Window::default()));
    let mut workers = Vec::with_capacity(settings.connections);
    for _ in 0..settings.connections {
        let (receiver, current, base) = (receiver.clone(), current.clone(), base.to_owned());
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::open(&base).await?;
            loop {
                let next = receiver.lock().await.recv().await;
                let Some(job) = next else { break };
                let outcome = connection.send(&job.call).await;
                let latency = job.scheduled.elapsed().as_micros() as u64;
                {
                    let mut window = current.lock().expect("not poisoned");
                    window.latency_us.saturating_record(latency.max(1));
                    let failed = match &outcome {
                        Ok((status, body)) => {
                            *window.statuses.entry(*status).or_default() += 1;
                            (*status >= 400).then(|| {
                                format!(
                                    "{} {} -> {status}: {}",
                                    job.call.method,
                                    job.call.path,
                                    String::from_utf8_lossy(&body[..body.len().min(200)])
                                )
                            })
                        }
                        Err(error) => {
                            *window.statuses.entry(0).or_default() += 1;
                            Some(format!("{}: {error:#}", job.call.path))
                        }
                    };
                    let by_path = window.path(&job.call.path);
                    by_path.answered += 1;
                    by_path.errors += u64::from(failed.is_some());
                    by_path.latency_us.saturating_record(latency.max(1));
                    match failed {
                        None => window.ok += 1,
                        Some(error) => {
                            window.errors += 1;
                            window.first_error.get_or_insert(error);
                        }
                    }
                }
                if outcome.is_err() {
                    // The connection may be gone: open another (the reporter notices a dead
                    // stack and ends the run).
                    connection = loop {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        if let Ok(connection) = Connection::open(&base).await {
                            break connection;
                        }
                    };
                }
            }
            anyhow::Ok(())
        }));
    }

    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut total = Window::default();
    let started = Instant::now();
    let end = started + settings.duration;
    let mut next_report = started + settings.interval;
    let mut last_report = started;
    let mut scheduled = 0u64;
    let outcome = loop {
        let now = Instant::now();
        let until = now.min(end);
        let due = ((until - started).as_secs_f64() * settings.rate) as u64;
        let mut shed = 0;
        let newly = due - scheduled;
        while scheduled < due {
            let at = started + Duration::from_secs_f64(scheduled as f64 / settings.rate);
            let job = Job {
                scheduled: at,
                call: mix.call(&mut rng),
            };
            if sender.try_send(job).is_err() {
                shed += 1;
            }
            scheduled += 1;
        }
        {
            let mut window = current.lock().expect("not poisoned");
            window.scheduled += newly;
            window.shed += shed;
        }
        if now >= next_report || now >= end {
            let window = std::mem::take(&mut *current.lock().expect("not poisoned"));
            let seconds = (until - last_report).as_secs_f64();
            last_report = until;
            next_report += settings.interval;
            total.add(&window);
            let reported = report(Tick {
                elapsed: until - started,
                seconds,
                window: &window,
            });
            if reported.is_err() || now >= end {
                break reported;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    // Answers still in flight: counted in the total, in no interval.
    drop(sender);
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        for worker in workers {
            let _ = worker.await;
        }
    })
    .await;
    total.add(&current.lock().expect("not poisoned"));
    outcome.map(|()| total)
}
