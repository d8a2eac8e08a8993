//! The results: one row per scenario, printed as a Markdown table and written as JSON, and the
//! issue's targets checked against them.

use serde::Serialize;
use serde_json::{Value, json};

use crate::driver::Measured;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The data size the scenario ran at, e.g. `100k`.
    pub size: String,
    pub scenario: String,
    pub connections: usize,
    pub requests: u64,
    pub errors: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Throughput as a percentage of `GET /livez` (no upstream) measured in the same phase.
    pub percent_of_trivial: Option<f64>,
    /// Throughput as a percentage of `GET /readyz` (one gRPC call) in the same phase.
    pub percent_of_one_hop: Option<f64>,
    /// Events per second, for ingestion.
    pub events_per_second: Option<f64>,
    /// Cache hit rate during the scenario, in percent (mixed traffic).
    pub hit_rate_percent: Option<f64>,
    /// Median and p99 of the gateway's own `X-Response-Time` (phone scenarios).
    pub gateway_p50_ms: Option<f64>,
    pub gateway_p99_ms: Option<f64>,
    /// Microseconds of CPU per request by process, when the stack runs on this machine.
    pub cpu_micros_per_request: Option<crate::cpu_split::PerRequest>,
    pub first_error: Option<String>,
}

impl Row {
    pub fn new(size: &str, scenario: &str, connections: usize, measured: &Measured) -> Self {
        Self {
            size: size.to_owned(),
            scenario: scenario.to_owned(),
            connections,
            requests: measured.requests,
            errors: measured.errors,
            requests_per_second: measured.per_second(),
            p50_ms: measured.ms(0.50),
            p90_ms: measured.ms(0.90),
            p99_ms: measured.ms(0.99),
            max_ms: measured.histogram.max() as f64 / 1000.0,
            percent_of_trivial: None,
            percent_of_one_hop: None,
            events_per_second: None,
            hit_rate_percent: None,
            gateway_p50_ms: None,
            gateway_p99_ms: None,
            cpu_micros_per_request: measured.cpu_per_request(),
            first_error: measured.first_error.clone(),
        }
    }

    fn extra(&self) -> String {
        let mut parts = Vec::new();
        if let Some(events) = self.events_per_second {
            parts.push(format!("{events:.0} events/s"));
        }
        if let Some(rate) = self.hit_rate_percent {
            parts.push(format!("hit rate {rate:.1} %"));
        }
        if let Some(p50) = self.gateway_p50_ms {
            let p99 = self
                .gateway_p99_ms
                .map_or_else(String::new, |p99| format!(", p99 {p99:.2}"));
            parts.push(format!("gateway p50 {p50:.2}{p99} ms"));
        }
        parts.join(", ")
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "".to_owned(), |value| format!("{value:.0} %"))
}

pub fn header() -> String {
    "| size | scenario | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | of /livez | of /readyz | errors | notes |\n\
     | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        .to_owned()
}

pub fn line(row: &Row) -> String {
    format!(
        "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} |",
        row.size,
        row.scenario,
        row.connections,
        row.requests_per_second,
        row.p50_ms,
        row.p90_ms,
        row.p99_ms,
        row.max_ms,
        percent(row.percent_of_trivial),
        percent(row.percent_of_one_hop),
        row.errors,
        row.extra()
    )
}

/// One target of the issue and whether the run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

fn find<'a>(rows: &'a [Row], size: Option<&str>, scenario: &str) -> Option<&'a Row> {
    rows.iter()
        .rfind(|row| row.scenario == scenario && size.is_none_or(|size| row.size == size))
}

/// A target and what was measured for it (`None`: the scenario did not run).
fn checked(target: &str, measured: Option<(String, bool)>) -> Target {
    match measured {
        Some((measured, met)) => Target {
            target: target.to_owned(),
            measured,
            met: Some(met),
        },
        None => Target {
            target: target.to_owned(),
            measured: "not run".to_owned(),
            met: None,
        },
    }
}

/// The targets, checked against the rows (`small` and `large` name the two sizes),
/// the phone mixes' included.
pub fn targets(rows: &[Row], small: &str, large: Option<&str>) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut check = |target: &str, measured: Option<(String, bool)>| {
        targets.push(checked(target, measured));
    };
    let dashboard = find(rows, Some(small), "cached dashboard");
    check(
        "cached dashboard >= 20k req/s",
        dashboard.map(|r| {
            (
                format!("{:.0} req/s", r.requests_per_second),
                r.requests_per_second >= 20_000.0,
            )
        }),
    );
    check(
        "cached dashboard >= 75 % of the one-hop baseline",
        dashboard.and_then(|r| {
            r.percent_of_one_hop
                .map(|p| (format!("{p:.0} %"), p >= 75.0))
        }),
    );
    check(
        "cached dashboard p99 <= 5 ms at 64 connections",
        dashboard.map(|r| (format!("{:.2} ms", r.p99_ms), r.p99_ms <= 5.0)),
    );
    let daily_small = find(rows, Some(small), "uncached daily");
    let daily_large = large.and_then(|large| find(rows, Some(large), "uncached daily"));
    check(
        "uncached daily p99 <= 15 ms with the large data set",
        daily_large.map(|r| (format!("{:.2} ms", r.p99_ms), r.p99_ms <= 15.0)),
    );
    check(
        "uncached daily p99 (large) within 1.5x of the small figure",
        daily_small.zip(daily_large).map(|(small, large)| {
            let ratio = large.p99_ms / small.p99_ms.max(0.001);
            (format!("{ratio:.2}x"), ratio <= 1.5)
        }),
    );
    check(
        "batch ingestion >= 50k events/s",
        find(rows, None, "ingest batch").and_then(|r| {
            r.events_per_second
                .map(|e| (format!("{e:.0} events/s"), e >= 50_000.0))
        }),
    );
    check(
        "single-event POST >= 5k req/s",
        find(rows, None, "ingest single").map(|r| {
            (
                format!("{:.0} req/s", r.requests_per_second),
                r.requests_per_second >= 5_000.0,
            )
        }),
    );
    check(
        "hit rate >= 95 % in mixed traffic",
        find(rows, None, "mixed 90/10")
            .and_then(|r| r.hit_rate_percent.map(|h| (format!("{h:.1} %"), h >= 95.0))),
    );
    check(
        "freshness p99 <= 1 s",
        find(rows, None, "freshness").map(|r| (format!("{:.1} ms", r.p99_ms), r.p99_ms <= 1000.0)),
    );
    targets.extend(phone_targets(rows));
    targets
}

/// What a phone row measured for a target, with its errors (a row with errors misses it).
fn phone_check(row: &Row, measured: String, met: bool) -> (String, bool) {
    if row.errors == 0 {
        (measured, met)
    } else {
        (format!("{measured} ({} errors)", row.errors), false)
    }
}

/// The targets of the phone mixes (the last run of each row).
pub fn phone_targets(rows: &[Row]) -> Vec<Target> {
    let mut targets = Vec::new();
    targets.push(checked(
        "phone reads >= 45 % of /livez",
        find(rows, None, "phone reads").and_then(|r| {
            r.percent_of_trivial.map(|p| {
                let measured = format!("{p:.1} % ({:.0} req/s)", r.requests_per_second);
                phone_check(r, measured, p >= 45.0)
            })
        }),
    ));
    for (scenario, percent) in [("phone 90/10", 20.0), ("phone 60/40", 8.0)] {
        let row = find(rows, None, scenario);
        targets.push(checked(
            &format!("{scenario} >= {percent:.0} % of /livez"),
            row.and_then(|r| {
                r.percent_of_trivial.map(|p| {
                    let measured = format!("{p:.1} % ({:.0} req/s)", r.requests_per_second);
                    phone_check(r, measured, p >= percent)
                })
            }),
        ));
        targets.push(checked(
            &format!("{scenario} p99 <= 50 ms"),
            row.map(|r| phone_check(r, format!("{:.2} ms", r.p99_ms), r.p99_ms <= 50.0)),
        ));
    }
    targets.push(checked(
        "phone writes >= 5000 req/s",
        find(rows, None, "phone writes").map(|r| {
            let measured = format!("{:.0} req/s", r.requests_per_second);
            phone_check(r, measured, r.requests_per_second >= 5_000.0)
        }),
    ));
    targets.push(checked(
        "phone write idle p50 <= 1.5 ms at the gateway (X-Response-Time)",
        find(rows, None, "phone write idle").map(|r| match r.gateway_p50_ms {
            Some(p50) => {
                let measured = format!(
                    "{p50:.2} ms (client p50 {:.2} ms, p99 {:.2} ms)",
                    r.p50_ms, r.p99_ms
                );
                phone_check(r, measured, p50 <= 1.5)
            }
            None => ("no X-Response-Time in the answers".to_owned(), false),
        }),
    ));
    targets
}

pub fn print_targets(targets: &[Target]) {
    println!("| target | measured | met |");
    println!("| --- | --- | --- |");
    for target in targets {
        let met = match target.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!("| {} | {} | {met} |", target.target, target.measured);
    }
}

/// The machine, as the report records it.
pub fn machine() -> Value {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_owned())
        })
        .unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "model": model,
        "load_average": load_average(),
    })
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}
