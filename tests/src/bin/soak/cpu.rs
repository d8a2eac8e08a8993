//! Who used the CPU in an interval, from /proc: each service, PostgreSQL's backends of the run's
//! database, this load generator, and everything else on the machine (other users' builds and
//! benchmarks), each in percent of one core (the machine's total is 100 x cores).

use std::time::Instant;

/// Clock ticks per second of /proc's CPU times (100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system ticks of a process (0 when it is gone).
fn process_ticks(pid: &str) -> u64 {
    crate::cpu_split::process_stat(pid).map_or(0, |(_, ticks)| ticks)
}

/// Ticks and number of the PostgreSQL backends serving `database` (their command line names
/// it).
fn postgres_backends(database: &str) -> (u64, usize) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (0, 0);
    };
    let backends: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|byte| byte.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| String::from_utf8_lossy(&line).contains(database))
        })
        .collect();
    (
        backends.iter().map(|pid| process_ticks(pid)).sum(),
        backends.len(),
    )
}

/// Busy ticks of the whole machine (every core).
fn machine_ticks() -> u64 {
    crate::cpu_split::machine_ticks().map_or(0, |(busy, _)| busy)
}

#[derive(Clone, Debug, Default)]
pub struct Shares {
    /// Per service, in the order given.
    pub services: Vec<f64>,
    pub postgres: f64,
    pub generator: f64,
    /// Everything else on the machine.
    pub others: f64,
    /// PostgreSQL backends (connections) of the run's database at the end of the interval.
    pub backends: usize,
}

struct Reading {
    at: Instant,
    services: Vec<u64>,
    postgres: u64,
    backends: usize,
    generator: u64,
    machine: u64,
}

pub struct Meter {
    pids: Vec<String>,
    database: String,
    last: Reading,
}

impl Meter {
    pub fn new(pids: &[u32], database: &str) -> Self {
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        let last = read(&pids, database);
        Self {
            pids,
            database: database.to_owned(),
            last,
        }
    }

    /// The shares since the previous call.
    pub fn sample(&mut self) -> Shares {
        let now = read(&self.pids, &self.database);
        let seconds = (now.at - self.last.at).as_secs_f64().max(1e-3);
        let percent = |after: u64, before: u64| {
            after.saturating_sub(before) as f64 / TICKS_PER_SECOND / seconds * 100.0
        };
        let services: Vec<f64> = now
            .services
            .iter()
            .zip(&self.last.services)
            .map(|(after, before)| percent(*after, *before))
            .collect();
        let postgres = percent(now.postgres, self.last.postgres);
        let generator = percent(now.generator, self.last.generator);
        let machine = percent(now.machine, self.last.machine);
        let ours = services.iter().sum::<f64>() + postgres + generator;
        let backends = now.backends;
        self.last = now;
        Shares {
            services,
            postgres,
            generator,
            others: (machine - ours).max(0.0),
            backends,
        }
    }
}

fn read(pids: &[String], database: &str) -> Reading {
    let (postgres, backends) = postgres_backends(database);
    Reading {
        at: Instant::now(),
        services: pids.iter().map(|pid| process_ticks(pid)).collect(),
        postgres,
        backends,
        generator: process_ticks("self"),
        machine: machine_ticks(),
    }
}
