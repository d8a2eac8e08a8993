//! Soak bench (not a test, not run in CI): the whole stack in this process (as the end-to-end tests
//! run it) under mixed traffic at about 70 % of the throughput it can sustain, for a bounded time,
//! printing every interval the requests, errors, latencies and this process's resident memory
//! (every service runs in it; so does the load generator, which keeps nothing per request).
//!
//! ```sh
//! cargo run --release -p wellbeing-tests --bin soak                 # 10 minutes
//! cargo run --release -p wellbeing-tests --bin soak -- --minutes 3
//! cargo run --release -p wellbeing-tests --bin soak -- --minutes 3 --rate 200   # skip calibration
//! ```
//!
//! It needs the PostgreSQL and Redis the tests use (see tests/src/lib.rs). First it measures the
//! maximum for 20 s (closed loop, 32 clients), then sends requests at 70 % of it on a fixed
//! schedule (open loop): 75 % reads of five views, 15 % single events, 3 % batches of 10, 7 %
//! goals and privacy reads, spread over 200 users (each write invalidates its user's cached
//! views, so a handful of users writing many times a second would defeat the cache, which real
//! phones, writing every few minutes, do not). Memory is "flat" when the resident size at the
//! end is within 10 % of the size after the first fifth of the run (the warm-up: pools, caches
//! and allocator arenas filling).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use tokio::sync::Mutex;
use wellbeing_tests::{Session, StackOptions, TestStack, daytime_zone};

struct Args {
    duration: Duration,
    rate: Option<f64>,
    users: usize,
    interval: Duration,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        duration: Duration::from_secs(600),
        rate: None,
        users: 200,
        interval: Duration::from_secs(15),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || {
            given
                .next()
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--minutes" => args.duration = Duration::from_secs_f64(value()?.parse::<f64>()? * 60.0),
            "--seconds" => args.duration = Duration::from_secs_f64(value()?.parse()?),
            "--rate" => args.rate = Some(value()?.parse()?),
            "--users" => args.users = value()?.parse()?,
            "--interval" => args.interval = Duration::from_secs_f64(value()?.parse()?),
            "-h" | "--help" => {
                println!(
                    "soak [--minutes 10 | --seconds N] [--rate REQ_PER_S] [--users 200] [--interval 15]"
                );
                std::process::exit(0);
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    anyhow::ensure!(
        args.duration <= Duration::from_secs(3600),
        "at most an hour"
    );
    Ok(args)
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

#[derive(Default)]
struct Window {
    latencies_us: Vec<u64>,
    errors: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
}

struct Shared {
    base: String,
    client: reqwest::Client,
    users: Vec<Session>,
    next: AtomicU64,
    window: Mutex<Window>,
    total: AtomicU64,
    total_errors: AtomicU64,
}

/// One request of the mix; records its status and latency.
async fn one(shared: Arc<Shared>) {
    let n = shared.next.fetch_add(1, Ordering::Relaxed);
    let user = &shared.users[(n as usize) % shared.users.len()];
    let pick = (n.wrapping_mul(2_654_435_761)) % 100;
    let token = &user.access_token;
    let request = match pick {
        0..=74 => {
            let path = [
                "/api/v1/analytics/summary/daily",
                "/api/v1/analytics/quick-stats",
                "/api/v1/analytics/dashboard",
                "/api/v1/analytics/summary/weekly",
                "/api/v1/analytics/apps/usage?days=7",
            ][(pick % 5) as usize];
            shared.client.get(format!("{}{path}", shared.base))
        }
        75..=89 => {
            let app = ["Reader", "Chat", "Maps", "Video", "Mail"][(n % 5) as usize];
            shared
                .client
                .post(format!(
                    "{}/api/v1/analytics/track/screen-time",
                    shared.base
                ))
                .json(&json!({
                    "event_id": uuid::Uuid::new_v4(),
                    "app_name": app,
                    "duration_minutes": 1 + n % 3,
                }))
        }
        90..=92 => {
            let events: Vec<_> = (0..10)
                .map(|i| {
                    if i % 2 == 0 {
                        json!({"type": "notification", "event_id": uuid::Uuid::new_v4(), "app_name": "Chat", "priority": 10})
                    } else {
                        json!({"type": "break", "event_id": uuid::Uuid::new_v4(), "duration_minutes": 2})
                    }
                })
                .collect();
            shared
                .client
                .post(format!("{}/api/v1/analytics/track/batch", shared.base))
                .json(&json!({"events": events}))
        }
        _ => {
            let path = if pick.is_multiple_of(2) {
                "/api/v1/analytics/goals"
            } else {
                "/api/v1/privacy/score"
            };
            shared.client.get(format!("{}{path}", shared.base))
        }
    };
    let started = Instant::now();
    let status = match request.bearer_auth(token).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            status
        }
        Err(_) => 0,
    };
    let latency = started.elapsed().as_micros() as u64;
    let error = !(200..300).contains(&status);
    shared.total.fetch_add(1, Ordering::Relaxed);
    if error {
        shared.total_errors.fetch_add(1, Ordering::Relaxed);
    }
    let mut window = shared.window.lock().await;
    window.latencies_us.push(latency);
    *window.statuses.entry(status).or_default() += 1;
    if error {
        window.errors += 1;
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

async fn take_window(shared: &Shared) -> Window {
    std::mem::take(&mut *shared.window.lock().await)
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LOG", "warn") };
    }
    let args = args()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![
            ("RATE_LIMIT_PER_MINUTE".into(), "1000000".into()),
            ("ACCESS_TOKEN_TTL_SECS".into(), "86400".into()),
        ],
        analytics_env: vec![
            ("DB_MIN_CONNECTIONS".into(), "4".into()),
            ("DB_MAX_CONNECTIONS".into(), "16".into()),
        ],
        aggregator_env: vec![("WORKER_WARM_CACHE".into(), "true".into())],
        ..Default::default()
    })
    .await?;
    let zone = daytime_zone();
    let mut registrations = tokio::task::JoinSet::new();
    let mut users = Vec::new();
    for _ in 0..args.users {
        if registrations.len() >= 8 {
            users.push(registrations.join_next().await.context("a task")???);
        }
        let (api, zone) = (stack.api.clone(), zone.clone());
        registrations.spawn(async move { api.register_and_login(&zone).await });
    }
    while let Some(user) = registrations.join_next().await {
        users.push(user??);
    }
    let shared = Arc::new(Shared {
        base: stack.api.url(""),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .timeout(Duration::from_secs(30))
            .build()?,
        users,
        next: AtomicU64::new(0),
        window: Mutex::new(Window::default()),
        total: AtomicU64::new(0),
        total_errors: AtomicU64::new(0),
    });

    // The maximum: 32 clients as fast as answers come, 20 s.
    let rate = match args.rate {
        Some(rate) => rate,
        None => {
            let until = Instant::now() + Duration::from_secs(20);
            let mut clients = tokio::task::JoinSet::new();
            for _ in 0..32 {
                let shared = shared.clone();
                clients.spawn(async move {
                    while Instant::now() < until {
                        one(shared.clone()).await;
                    }
                });
            }
            while clients.join_next().await.is_some() {}
            let window = take_window(&shared).await;
            let maximum = window.latencies_us.len() as f64 / 20.0;
            println!(
                "calibration: {maximum:.0} req/s at most ({} errors); soaking at 70 %: {:.0} req/s",
                window.errors,
                maximum * 0.7
            );
            maximum * 0.7
        }
    };
    shared.total.store(0, Ordering::Relaxed);
    shared.total_errors.store(0, Ordering::Relaxed);

    println!(
        "soak: {:?} at {rate:.0} req/s; columns: elapsed_s requests errors req_per_s p50_ms p99_ms rss_mib",
        args.duration
    );
    let started = Instant::now();
    let mut samples: Vec<(f64, f64)> = vec![(0.0, rss_mib())];
    let period = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut next_report = started + args.interval;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(1024));
    let mut shed = 0u64;
    while started.elapsed() < args.duration {
        ticker.tick().await;
        match in_flight.clone().try_acquire_owned() {
            Ok(permit) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    one(shared).await;
                    drop(permit);
                });
            }
            Err(_) => shed += 1,
        }
        if Instant::now() >= next_report {
            next_report += args.interval;
            let mut window = take_window(&shared).await;
            window.latencies_us.sort_unstable();
            let elapsed = started.elapsed().as_secs_f64();
            let rss = rss_mib();
            samples.push((elapsed, rss));
            println!(
                "{elapsed:7.0} {:8} {:6} {:8.1} {:8.1} {:8.1} {rss:8.1} {:?}",
                window.latencies_us.len(),
                window.errors,
                window.latencies_us.len() as f64 / args.interval.as_secs_f64(),
                percentile(&window.latencies_us, 0.5),
                percentile(&window.latencies_us, 0.99),
                window.statuses
            );
        }
    }
    // Let the requests in flight finish.
    let _ = tokio::time::timeout(Duration::from_secs(30), in_flight.acquire_many(1024)).await;
    let total = shared.total.load(Ordering::Relaxed);
    let errors = shared.total_errors.load(Ordering::Relaxed);
    let warm = samples
        .iter()
        .find(|(at, _)| *at >= args.duration.as_secs_f64() / 5.0)
        .map(|(_, rss)| *rss)
        .unwrap_or(f64::NAN);
    let end = rss_mib();
    let peak = samples.iter().map(|(_, rss)| *rss).fold(end, f64::max);
    let growth = (end - warm) / warm * 100.0;
    println!(
        "SOAK duration_s={:.0} rate={rate:.0} requests={total} errors={errors} shed={shed} rss_start_mib={:.1} rss_after_warmup_mib={warm:.1} rss_end_mib={end:.1} rss_peak_mib={peak:.1} growth_after_warmup_pct={growth:.1} flat={}",
        started.elapsed().as_secs_f64(),
        samples[0].1,
        growth.abs() < 10.0
    );
    stack.stop().await
}
