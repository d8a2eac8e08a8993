//! The per-interval rows, the per-service memory summary, the verdicts and the JSON document.

use serde_json::{Value, json};

use crate::cpu::Shares;
use crate::open_loop::{Tick, Window};
use crate::processes::SERVICES;
use wellbeing_tests::memory::Memory;

/// Achieved rate within this fraction of the target, in every interval after the warm-up.
pub const RATE_TOLERANCE: f64 = 0.05;
/// Memory is flat when the end is within this fraction of the value after the warm-up.
pub const FLAT_TOLERANCE: f64 = 0.10;

/// One interval.
pub struct Row {
    pub elapsed: f64,
    pub seconds: f64,
    pub target: f64,
    pub achieved: f64,
    pub scheduled: u64,
    pub ok: u64,
    pub errors: u64,
    pub shed: u64,
    pub p50: f64,
    pub p99: f64,
    pub statuses: Value,
    pub load1: f64,
    /// Per service: the mean of the interval's 1-s samples, and their maximum.
    pub memory: Vec<Memory>,
    pub memory_max: Vec<f64>,
    pub cpu: Shares,
    /// The aggregator's backlog: days queued, seconds the oldest waited.
    pub lag: Option<(u64, f64)>,
}

/// Per service, the mean and the maximum resident size of `samples` (one entry a second).
fn mean_and_max(samples: &[Vec<Memory>], now: Vec<Memory>) -> (Vec<Memory>, Vec<f64>) {
    if samples.is_empty() {
        let max = now.iter().map(|memory| memory.rss).collect();
        return (now, max);
    }
    let count = samples.len() as f64;
    (0..now.len())
        .map(|index| {
            let (mut rss, mut anon, mut max) = (0.0, 0.0, f64::MIN);
            for sample in samples {
                rss += sample[index].rss;
                anon += sample[index].anon;
                max = max.max(sample[index].rss);
            }
            (
                Memory {
                    rss: rss / count,
                    anon: anon / count,
                },
                max,
            )
        })
        .unzip()
}

impl Row {
    pub fn new(
        tick: &Tick<'_>,
        target: f64,
        samples: &[Vec<Memory>],
        now: Vec<Memory>,
        cpu: Shares,
    ) -> Self {
        let window = tick.window;
        let (memory, memory_max) = mean_and_max(samples, now);
        Self {
            elapsed: tick.elapsed.as_secs_f64(),
            seconds: tick.seconds,
            target,
            achieved: window.completed() as f64 / tick.seconds.max(1e-9),
            scheduled: window.scheduled,
            ok: window.ok,
            errors: window.errors,
            shed: window.shed,
            p50: window.ms(0.5),
            p99: window.ms(0.99),
            statuses: json!(
                window
                    .statuses
                    .iter()
                    .map(|(status, count)| (status.to_string(), json!(count)))
                    .collect::<serde_json::Map<_, _>>()
            ),
            load1: load_average()
                .split_whitespace()
                .next()
                .and_then(|value| value.parse().ok())
                .unwrap_or(f64::NAN),
            memory,
            memory_max,
            cpu,
            lag: None,
        }
    }

    pub fn json(&self) -> Value {
        let rss: serde_json::Map<String, Value> = SERVICES
            .iter()
            .zip(self.memory.iter().zip(&self.memory_max))
            .map(|(name, (memory, max))| {
                (
                    (*name).to_owned(),
                    json!({"rss_mean_mib": round1(memory.rss), "rss_max_mib": round1(*max),
                        "anon_mean_mib": round1(memory.anon)}),
                )
            })
            .collect();
        json!({
            "elapsed_s": round1(self.elapsed),
            "seconds": round1(self.seconds),
            "target_per_s": round1(self.target),
            "achieved_per_s": round1(self.achieved),
            "scheduled": self.scheduled,
            "ok": self.ok,
            "errors": self.errors,
            "shed": self.shed,
            "p50_ms": round1(self.p50),
            "p99_ms": round1(self.p99),
            "statuses": self.statuses,
            "load1": self.load1,
            "memory": rss,
            "cpu_percent_of_a_core": {
                "services": SERVICES.iter().zip(&self.cpu.services)
                    .map(|(name, share)| ((*name).to_owned(), json!(round1(*share))))
                    .collect::<serde_json::Map<_, _>>(),
                "postgres": round1(self.cpu.postgres),
                "generator": round1(self.cpu.generator),
                "others": round1(self.cpu.others),
            },
            "postgres_connections": self.cpu.backends,
            "aggregator_queue_depth": self.lag.map(|(depth, _)| depth),
            "aggregator_oldest_pending_s": self.lag.map(|(_, oldest)| oldest),
        })
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.trim().to_owned())
        .unwrap_or_default()
}

pub fn header() -> String {
    format!(
        "{:>7} {:>8} {:>8} {:>6} {:>6} {:>6} {:>8} {:>8} | RSS MiB: {:>5} {:>9} {:>10} {:>7} | CPU % of a core: {:>5} {:>5} {:>5} {:>5} | {:>8} {:>6}",
        "elapsed",
        "target/s",
        "done/s",
        "done%",
        "errors",
        "shed",
        "p50 ms",
        "p99 ms",
        SERVICES[0],
        SERVICES[1],
        SERVICES[2],
        SERVICES[3],
        "stack",
        "pg",
        "soak",
        "other",
        "pg conns",
        "queue",
    )
}

pub fn line(row: &Row) -> String {
    format!(
        "{:>7.0} {:>8.0} {:>8.0} {:>6.1} {:>6} {:>6} {:>8.1} {:>8.1} |          {:>5.1} {:>9.1} {:>10.1} {:>7.1} |                  {:>5.0} {:>5.0} {:>5.0} {:>5.0} | {:>8} {:>6}",
        row.elapsed,
        row.target,
        row.achieved,
        row.achieved * 100.0 / row.target,
        row.errors,
        row.shed,
        row.p50,
        row.p99,
        row.memory[0].rss,
        row.memory[1].rss,
        row.memory[2].rss,
        row.memory[3].rss,
        row.cpu.services.iter().sum::<f64>(),
        row.cpu.postgres,
        row.cpu.generator,
        row.cpu.others,
        row.cpu.backends,
        row.lag
            .map_or_else(|| "-".to_owned(), |(depth, _)| depth.to_string()),
    )
}

/// One service's memory over the run.
pub struct MemorySummary {
    pub service: &'static str,
    pub start: f64,
    pub after_warmup: f64,
    pub end: f64,
    pub max: f64,
    pub growth_percent: f64,
    pub flat: bool,
    /// More than the tolerance above the post-warm-up value (a drop is not flat, but no leak).
    pub grew: bool,
    /// The same figures for `RssAnon` (heap): start, after warm-up, end.
    pub anon: (f64, f64, f64),
}

/// The first row at or after the warm-up (the first fifth of the run).
fn warm_index(rows: &[Row], warmup: f64) -> usize {
    rows.iter()
        .position(|row| row.elapsed >= warmup - 0.5)
        .unwrap_or(rows.len().saturating_sub(1))
}

/// Mean CPU shares over the rows (percent of one core).
pub fn cpu_summary(rows: &[Row]) -> Shares {
    let count = rows.len().max(1) as f64;
    let mut total = Shares {
        services: vec![0.0; SERVICES.len()],
        ..Shares::default()
    };
    for row in rows {
        for (sum, share) in total.services.iter_mut().zip(&row.cpu.services) {
            *sum += share / count;
        }
        total.postgres += row.cpu.postgres / count;
        total.generator += row.cpu.generator / count;
        total.others += row.cpu.others / count;
    }
    total
}

pub fn memory_summary(start: &[Memory], rows: &[Row], warmup: f64) -> Vec<MemorySummary> {
    let warm = warm_index(rows, warmup);
    SERVICES
        .iter()
        .enumerate()
        .map(|(index, service)| {
            let at = |row: &Row| row.memory[index];
            let after_warmup = rows.get(warm).map_or(f64::NAN, |row| at(row).rss);
            let end = rows.last().map_or(f64::NAN, |row| at(row).rss);
            let max = rows
                .iter()
                .map(|row| row.memory_max[index])
                .fold(start[index].rss, f64::max);
            let growth_percent = (end - after_warmup) * 100.0 / after_warmup;
            MemorySummary {
                service,
                start: start[index].rss,
                after_warmup,
                end,
                max,
                growth_percent,
                flat: growth_percent.abs() <= FLAT_TOLERANCE * 100.0,
                grew: growth_percent > FLAT_TOLERANCE * 100.0,
                anon: (
                    start[index].anon,
                    rows.get(warm).map_or(f64::NAN, |row| at(row).anon),
                    rows.last().map_or(f64::NAN, |row| at(row).anon),
                ),
            }
        })
        .collect()
}

pub fn print_memory(summaries: &[MemorySummary]) {
    println!(
        "\nMemory (VmRSS MiB, means of 1-s samples over an interval; flat = the last interval within {:.0} % of the one ending the warm-up, the first fifth; max of every sample):",
        FLAT_TOLERANCE * 100.0
    );
    println!(
        "{:>10} {:>8} {:>13} {:>8} {:>8} {:>9} {:>5}   heap (RssAnon) start/warm/end",
        "service", "start", "after warm-up", "end", "max", "growth %", "flat"
    );
    for summary in summaries {
        println!(
            "{:>10} {:>8.1} {:>13.1} {:>8.1} {:>8.1} {:>+9.1} {:>5}   {:.1} / {:.1} / {:.1}",
            summary.service,
            summary.start,
            summary.after_warmup,
            summary.end,
            summary.max,
            summary.growth_percent,
            match (summary.flat, summary.grew) {
                (true, _) => "yes",
                (false, true) => "GREW",
                (false, false) => "shrank",
            },
            summary.anon.0,
            summary.anon.1,
            summary.anon.2,
        );
    }
}

pub fn memory_json(summaries: &[MemorySummary]) -> Value {
    summaries
        .iter()
        .map(|summary| {
            json!({
                "service": summary.service,
                "rss_start_mib": round1(summary.start),
                "rss_after_warmup_mib": round1(summary.after_warmup),
                "rss_end_mib": round1(summary.end),
                "rss_max_mib": round1(summary.max),
                "growth_after_warmup_percent": round1(summary.growth_percent),
                "flat": summary.flat,
                "grew": summary.grew,
                "anon_start_mib": round1(summary.anon.0),
                "anon_after_warmup_mib": round1(summary.anon.1),
                "anon_end_mib": round1(summary.anon.2),
            })
        })
        .collect()
}

/// Whether the rate held: every interval after the warm-up within [`RATE_TOLERANCE`] of the
/// target. Returns the verdict and the worst ratio seen after the warm-up.
pub fn rate_held(rows: &[Row], warmup: f64) -> (bool, f64, f64) {
    let after: Vec<f64> = rows
        .iter()
        .filter(|row| row.elapsed - row.seconds >= warmup - 0.5 && row.seconds >= 1.0)
        .map(|row| row.achieved / row.target)
        .collect();
    let lowest = after.iter().copied().fold(f64::INFINITY, f64::min);
    let highest = after.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let held = !after.is_empty()
        && after
            .iter()
            .all(|ratio| (ratio - 1.0).abs() <= RATE_TOLERANCE);
    (held, lowest, highest)
}

/// Latency by request path over the whole run.
pub fn paths(total: &Window) -> String {
    let mut text = format!(
        "{:>44} {:>8} {:>6} {:>8} {:>8} {:>8}",
        "path", "answered", "errors", "p50 ms", "p99 ms", "mean ms"
    );
    for (path, stats) in &total.by_path {
        text.push_str(&format!(
            "\n{path:>44} {:>8} {:>6} {:>8.1} {:>8.1} {:>8.1}",
            stats.answered,
            stats.errors,
            stats.latency_us.value_at_quantile(0.5) as f64 / 1000.0,
            stats.latency_us.value_at_quantile(0.99) as f64 / 1000.0,
            stats.latency_us.mean() / 1000.0,
        ));
    }
    text
}

pub fn paths_json(total: &Window) -> Value {
    total
        .by_path
        .iter()
        .map(|(path, stats)| {
            json!({
                "path": path,
                "answered": stats.answered,
                "errors": stats.errors,
                "p50_ms": stats.latency_us.value_at_quantile(0.5) as f64 / 1000.0,
                "p99_ms": stats.latency_us.value_at_quantile(0.99) as f64 / 1000.0,
                "mean_ms": round1(stats.latency_us.mean() / 1000.0),
            })
        })
        .collect()
}
