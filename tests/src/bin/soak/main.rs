//! Soak bench of issue 10 (a bench, not a test, not run in CI): the four release binaries as
//! separate processes under mixed traffic at about 70 % of the throughput they sustain, for a
//! bounded time, printing every interval the achieved rate against the target, errors, latency
//! and each service's resident memory, then a per-service memory summary, the verdicts (rate
//! held? memory flat?) and a JSON report.
//!
//! ```sh
//! cargo build --release -p wellbeing-cache -p wellbeing-analytics -p wellbeing-aggregator \
//!     -p wellbeing-gateway -p wellbeing-tests --bin soak
//! flock /tmp/wellbeing-bench.lock $CARGO_TARGET_DIR/release/soak --minutes 10
//! $CARGO_TARGET_DIR/release/soak --minutes 2 --users 1000 --history-days 3   # a short try
//! ```
//!
//! The order: start cache, analytics (after `wellbeing-analytics migrate`), aggregator and gateway
//! from this executable's directory on free ports, with a fresh PostgreSQL database and a private
//! Redis key namespace; register `--users` users in 7 zones (argon2id, 4 at a time); seed each
//! with `--history-days` local days of realistic history ending now, through the batch API (its
//! deltas already in the day aggregates); wait for the aggregator's queue of marked days to be
//! empty and VACUUM; measure the maximum with a closed loop (64
//! connections, the soak's own mix, on that data: `--calibration-warmup` 60 s unmeasured, then
//! `--calibration-seconds` 30 s measured); then run the open loop at `--fraction` (0.7) of it.
//! See `mix.rs` for the traffic, `report.rs` for the verdicts, docs/RELIABILITY.md for figures.

mod calibrate;
mod cpu;
#[allow(dead_code)]
#[path = "../load/cpu_split.rs"]
mod cpu_split;
#[allow(dead_code)]
#[path = "../load/driver.rs"]
mod driver;
mod mix;
mod open_loop;
mod probes;
mod processes;
mod report;
#[allow(dead_code)]
#[path = "../load/seed.rs"]
mod seed;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::json;

use crate::processes::{Options, SERVICES, Stack};
use crate::report::Row;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the stack as four processes under mixed traffic at a fraction of its maximum and reports
/// the rate held and each service's memory over time.
#[derive(Debug, Parser)]
#[command(name = "soak", version)]
struct Args {
    /// Length of the soak (the open loop), in minutes.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Seconds between two printed rows.
    #[arg(long, default_value_t = 30.0)]
    interval: f64,
    /// Users (registered at start, in 7 zones).
    #[arg(long, default_value_t = 3000)]
    users: usize,
    /// Local days of history seeded per user before calibrating (about 150 events a day; at most
    /// a year: the gateway refuses events older than 400 days).
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    history_days: u32,
    /// The soak's rate as a fraction of the calibrated maximum.
    #[arg(long, default_value_t = 0.7)]
    fraction: f64,
    /// A fixed rate (requests/s) instead of calibrating.
    #[arg(long)]
    rate: Option<f64>,
    /// Unmeasured seconds of the calibration, to bring caches to their steady state.
    #[arg(long, default_value_t = 60)]
    calibration_warmup: u64,
    /// Measured seconds of the calibration.
    #[arg(long, default_value_t = 30)]
    calibration_seconds: u64,
    /// Connections of the calibration's closed loop.
    #[arg(long, default_value_t = 64)]
    calibration_connections: usize,
    /// Connections of the open loop.
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// PostgreSQL server (a fresh database is created on it and dropped at the end).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres: String,
    /// Redis of the cache service (the run's keys live under a private namespace).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// A service setting, e.g. `analytics:VIEW_CACHE_MAX_MB=4` (repeatable).
    #[arg(long = "set", value_name = "SERVICE:VAR=VALUE")]
    overrides: Vec<String>,
    /// Read every service's /metrics every this many seconds during the soak, as Prometheus
    /// would (0: never, as a deployment nobody scrapes).
    #[arg(long, default_value_t = 0.0)]
    scrape_every: f64,
    /// Where the server runs with autovacuum off: vacuum the queue and day aggregate tables every
    /// this many seconds during the soak, as autovacuum would (0: never).
    #[arg(long, default_value_t = 60.0)]
    vacuum_every: f64,
    /// Where the JSON report goes (default: soak-report.json next to this executable).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Random seed of the data and the traffic.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LOG", "warn") };
    }
    let args = Args::parse();
    anyhow::ensure!(
        args.minutes > 0.0 && args.minutes <= 120.0,
        "--minutes: more than 0, at most 120"
    );
    anyhow::ensure!(args.interval >= 1.0, "--interval: at least 1 second");
    anyhow::ensure!(args.users > 0, "--users: at least 1");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            // On Ctrl-C or SIGTERM the run is dropped: every child is killed (kill_on_drop) and
            // the database dropped.
            tokio::select! {
                outcome = run(args) => outcome,
                _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted: the stack was killed"),
                _ = terminate.recv() => anyhow::bail!("terminated: the stack was killed"),
            }
        })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let bin_dir = processes::binaries()?;
    let load_at_start = report::load_average();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    eprintln!("machine: {cores} cores, load average {load_at_start}");
    eprintln!("binaries: {}", bin_dir.display());
    let log_dir = bin_dir.join("soak-logs");
    let mut stack = Stack::start(
        &bin_dir,
        &Options {
            postgres: args.postgres.clone(),
            redis_url: args.redis_url.clone(),
            overrides: args.overrides.clone(),
            log_dir: log_dir.clone(),
        },
    )
    .await?;
    let autovacuum = stack.autovacuum().await?;
    if autovacuum != "on" {
        eprintln!(
            "note: this PostgreSQL runs with autovacuum {autovacuum}: the aggregator's queue \
             table (dirty_days) and the day aggregates every write updates accumulate dead rows \
             during the soak{}",
            if args.vacuum_every > 0.0 {
                format!(
                    "; the soak vacuums them every {} s instead",
                    args.vacuum_every
                )
            } else {
                String::new()
            }
        );
    }
    let pids: Vec<String> = stack
        .services
        .iter()
        .map(|service| format!("{} {}", service.name, service.pid))
        .collect();
    eprintln!(
        "stack ready at {} (pids: {}; database {}, Redis namespace {}, logs {})",
        stack.gateway,
        pids.join(", "),
        stack.database.name,
        stack.namespace,
        log_dir.display()
    );
    let memory_at_ready = stack.memory();

    let started = Instant::now();
    let users = seed::register(&stack.api, args.users, 0).await?;
    let registration_s = started.elapsed().as_secs_f64();
    eprintln!("registered {} users in {registration_s:.1} s", users.len());
    let seeded = seed::seed(
        &stack.gateway,
        &users,
        args.history_days,
        1000,
        8,
        args.seed,
    )
    .await?;
    eprintln!("seeded {}", seeded.describe());
    let drained_s = stack.drain(Duration::from_secs(900)).await?;
    eprintln!("the aggregator's queue of marked days was empty after {drained_s:.1} s");
    // A database in its steady state: freshly filled partitions have no statistics nor
    // visibility map until vacuumed (by autovacuum during the soak, or never where it is off).
    let vacuumed = Instant::now();
    stack.vacuum().await?;
    let vacuum_s = vacuumed.elapsed().as_secs_f64();
    eprintln!("VACUUM (ANALYZE) took {vacuum_s:.1} s");
    stack.check_alive()?;
    let events_after_seeding = stack.stored_events().await?;
    let memory_after_seeding = stack.memory();
    let mix = mix::Mix::new(users);

    let (maximum, calibration) = match args.rate {
        Some(rate) => (None, json!({"skipped": true, "rate": rate})),
        None => {
            let settings = calibrate::Settings {
                connections: args.calibration_connections,
                warmup: Duration::from_secs(args.calibration_warmup),
                seconds: Duration::from_secs(args.calibration_seconds),
                seed: args.seed,
            };
            let (maximum, figures) = calibrate::run(&stack, &mix, &settings).await?;
            (Some(maximum), figures)
        }
    };
    let rate = args.rate.unwrap_or(maximum.unwrap_or(0.0) * args.fraction);
    anyhow::ensure!(rate >= 1.0, "a rate of {rate:.1} req/s is too low to soak");
    stack.check_alive()?;
    let events_at_start = stack.stored_events().await?;
    let memory_at_start = stack.memory();
    let reads_at_start = stack.cache_reads().await;

    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let warmup = duration.as_secs_f64() / 5.0;
    println!(
        "soak: {:.1} min at {rate:.0} req/s ({}), {} users, {events_at_start} events stored",
        args.minutes,
        match maximum {
            Some(maximum) => format!("{:.0} % of {maximum:.0}", args.fraction * 100.0),
            None => "fixed".to_owned(),
        },
        args.users,
    );
    println!("{}", report::header());
    let mut rows: Vec<Row> = Vec::new();
    let pids: Vec<u32> = stack.services.iter().map(|service| service.pid).collect();
    let mut cpu = cpu::Meter::new(&pids, &stack.database.name);
    let sampler = probes::Sampler::start(pids.clone());
    let scraper = (args.scrape_every > 0.0).then(|| {
        probes::Scraper::start(
            stack.metrics_urls.clone(),
            Duration::from_secs_f64(args.scrape_every),
        )
    });
    let vacuum = (autovacuum != "on" && args.vacuum_every > 0.0).then(|| {
        probes::VacuumStandIn::start(
            stack.database.url.clone(),
            Duration::from_secs_f64(args.vacuum_every),
        )
    });
    let lag = probes::LagProbe::start(
        stack.api.clone(),
        Duration::from_secs_f64(args.interval.max(2.0) / 2.0),
    );
    let gateway = stack.gateway.clone();
    let total = open_loop::run(
        &gateway,
        mix,
        open_loop::Settings {
            rate,
            duration,
            interval: Duration::from_secs_f64(args.interval),
            connections: args.connections,
            backlog: 5.0,
            seed: args.seed + 1,
        },
        |tick| {
            stack.check_alive()?;
            let samples = sampler.take();
            let mut row = Row::new(&tick, rate, &samples, stack.memory(), cpu.sample());
            row.lag = lag.latest();
            println!("{}", report::line(&row));
            rows.push(row);
            Ok(())
        },
    )
    .await?;
    drop(sampler);
    drop(scraper);
    drop(vacuum);
    drop(lag);
    let reads_at_end = stack.cache_reads().await;
    let soak_hits = calibrate::hit_percent(reads_at_start, reads_at_end);
    let tables = stack.table_health().await.unwrap_or_default();
    let load_at_end = report::load_average();
    // After the last memory sample: a scrape folds the latencies recorded since the previous
    // one into their histograms; what that frees shows how much they held.
    let before_scrape = stack.memory();
    let scraped = stack.scrape().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after_scrape = stack.memory();
    let handled: Vec<f64> = scraped
        .iter()
        .map(|text| {
            probes::counter_sum(text, "grpc_server_handled_total")
                + probes::counter_sum(text, "http_requests_total")
        })
        .collect();
    let events_at_end = stack.stored_events().await?;

    let summaries = report::memory_summary(&memory_at_start, &rows, warmup);
    let (held, lowest, highest) = report::rate_held(&rows, warmup);
    let error_percent = total.errors as f64 * 100.0 / total.completed().max(1) as f64;
    println!(
        "\nrequests: {} answered ({} errors, {error_percent:.3} %), {} shed; statuses {:?}; \
         p50 {:.1} ms, p99 {:.1} ms, max {:.0} ms",
        total.completed(),
        total.errors,
        total.shed,
        total.statuses,
        total.ms(0.5),
        total.ms(0.99),
        total.latency_us.max() as f64 / 1000.0
    );
    if let Some(error) = &total.first_error {
        println!("first error: {error}");
    }
    println!("{}", report::paths(&total));
    println!(
        "rate: target {rate:.0} req/s; after the warm-up ({warmup:.0} s) each interval achieved \
         {:.1} % to {:.1} % of it: {}",
        lowest * 100.0,
        highest * 100.0,
        if held {
            format!(
                "HELD (within {:.0} % in every interval)",
                report::RATE_TOLERANCE * 100.0
            )
        } else {
            format!(
                "NOT HELD (outside {:.0} % in some interval)",
                report::RATE_TOLERANCE * 100.0
            )
        }
    );
    println!(
        "data: {events_after_seeding} events after seeding, {events_at_start} at the soak's \
         start, {events_at_end} at its end (+{})",
        events_at_end - events_at_start
    );
    println!(
        "cache service hit ratio during the soak: {soak_hits:.0} % (reads that missed analytics' \
         own copies)"
    );
    // A switch to memory drops every copy kept in process and, with invalidations during it, every view
    // in Redis; the store it filled is emptied on the way back.
    println!(
        "cache service: {:.0} switches from Redis to process memory since it started (Redis \
         commands slower than 250 ms), {:.0} keys held in process memory at the end",
        probes::counter_sum(&scraped[0], "wellbeing_cache_failovers_total"),
        probes::counter_sum(&scraped[0], "wellbeing_cache_memory_keys"),
    );
    println!(
        "tables with the most dead rows at the end (live, dead, autovacuums, autoanalyzes): {}",
        tables
            .iter()
            .map(|(name, live, dead, vacuums, analyzes)| {
                format!("{name} {live}/{dead}/{vacuums}/{analyzes}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    report::print_memory(&summaries);
    let all_flat = summaries.iter().all(|summary| summary.flat);
    let grown: Vec<&str> = summaries
        .iter()
        .filter(|summary| summary.grew)
        .map(|summary| summary.service)
        .collect();
    let shrank: Vec<&str> = summaries
        .iter()
        .filter(|summary| !summary.flat && !summary.grew)
        .map(|summary| summary.service)
        .collect();
    println!(
        "memory: {}{}",
        if grown.is_empty() {
            "no service grew more than 10 % after the warm-up".to_owned()
        } else {
            format!(
                "GREW more than 10 % after the warm-up in {}",
                grown.join(", ")
            )
        },
        if shrank.is_empty() {
            String::new()
        } else {
            format!("; shrank more than 10 %: {}", shrank.join(", "))
        }
    );
    let cpu_mean = report::cpu_summary(&rows);
    println!(
        "CPU (mean % of one core over the soak; the machine has {}): {}, postgres {:.0}, \
         this generator {:.0}, everything else {:.0}",
        cores * 100,
        SERVICES
            .iter()
            .zip(&cpu_mean.services)
            .map(|(name, share)| format!("{name} {share:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        cpu_mean.postgres,
        cpu_mean.generator,
        cpu_mean.others
    );
    println!(
        "calls each service answered since it started (its /metrics): {}",
        SERVICES
            .iter()
            .zip(&handled)
            .map(|(name, calls)| format!("{name} {calls:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "RSS MiB before and 3 s after one read of each /metrics: {}",
        SERVICES
            .iter()
            .zip(before_scrape.iter().zip(&after_scrape))
            .map(|(name, (before, after))| format!("{name} {:.1} -> {:.1}", before.rss, after.rss))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("load average: {load_at_start} at start, {load_at_end} at the end");

    let memory_points = |memory: &[wellbeing_tests::memory::Memory]| -> serde_json::Value {
        SERVICES
            .iter()
            .zip(memory)
            .map(|(name, memory)| ((*name).to_owned(), json!(memory.rss)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let document = json!({
        "command": std::env::args().collect::<Vec<_>>(),
        "machine": {"cores": cores, "load_average_at_start": load_at_start,
            "load_average_at_end": load_at_end, "postgres_autovacuum": autovacuum, "vacuum_stand_in_every_s": (autovacuum != "on" && args.vacuum_every > 0.0).then_some(args.vacuum_every)},
        "settings": {"minutes": args.minutes, "interval_s": args.interval, "users": args.users,
            "history_days": args.history_days, "fraction": args.fraction,
            "connections": args.connections, "overrides": args.overrides,
            "scrape_every_s": args.scrape_every},
        "mix": mix::describe(),
        "setup": {"registration_s": registration_s, "seeded_events": seeded.events,
            "seeding_s": seeded.seconds, "queue_drain_s": drained_s, "vacuum_s": vacuum_s},
        "calibration": calibration,
        "target_per_s": rate,
        "soak_cache_hit_percent": soak_hits,
        "tables_end": tables.iter().map(|(name, live, dead, vacuums, analyzes)| json!({
            "table": name, "live_rows": live, "dead_rows": dead, "autovacuums": vacuums,
            "autoanalyzes": analyzes})).collect::<Vec<_>>(),
        "events_stored": {"after_seeding": events_after_seeding, "soak_start": events_at_start,
            "soak_end": events_at_end},
        "rss_mib_at": {"ready": memory_points(&memory_at_ready),
            "end_before_metrics_read": memory_points(&before_scrape),
            "end_after_metrics_read": memory_points(&after_scrape),
            "after_seeding": memory_points(&memory_after_seeding),
            "soak_start": memory_points(&memory_at_start)},
        "intervals": rows.iter().map(Row::json).collect::<Vec<_>>(),
        "totals": {"answered": total.completed(), "errors": total.errors, "shed": total.shed,
            "p50_ms": total.ms(0.5), "p99_ms": total.ms(0.99),
            "statuses": total.statuses.iter().map(|(status, count)| (status.to_string(), json!(count))).collect::<serde_json::Map<_, _>>(),
            "first_error": total.first_error, "by_path": report::paths_json(&total)},
        "rate": {"held": held, "tolerance": report::RATE_TOLERANCE,
            "lowest_ratio_after_warmup": lowest, "highest_ratio_after_warmup": highest},
        "memory": report::memory_json(&summaries),
        "memory_flat": all_flat,
        "calls_answered_since_start": SERVICES.iter().zip(&handled)
            .map(|(name, calls)| ((*name).to_owned(), json!(calls)))
            .collect::<serde_json::Map<_, _>>(),
        "memory_grew": grown,
        "cpu_mean_percent_of_a_core": {
            "services": SERVICES.iter().zip(&cpu_mean.services)
                .map(|(name, share)| ((*name).to_owned(), json!(share)))
                .collect::<serde_json::Map<_, _>>(),
            "postgres": cpu_mean.postgres, "generator": cpu_mean.generator,
            "others": cpu_mean.others},
        "flat_definition": "mean VmRSS of the last interval within 10 % of the mean VmRSS of the interval ending the first fifth of the soak (1-s samples)",
    });
    let path = args
        .json
        .clone()
        .unwrap_or_else(|| bin_dir.join("soak-report.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&document)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    stack.stop().await
}
