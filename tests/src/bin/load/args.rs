//! Command-line options of the load tool.

use clap::Parser;

/// Seeds synthetic data through the batch API, then drives the REST API with concurrent
/// clients and prints p50/p90/p99 and req/s per scenario (also written as JSON).
///
/// Without `--url` it starts its own stack in this process (release build recommended): the
/// normal stack, plus a second analytics and gateway on the same database with the view cache
/// off (`VIEW_CACHE=off`) for the uncached scenarios.
#[derive(Debug, Clone, Parser)]
#[command(name = "load", version)]
pub struct Args {
    /// Gateway to drive (e.g. http://127.0.0.1:8080). Its rate limit must allow the load
    /// (RATE_LIMIT_PER_MINUTE=1000000) and its tokens should live long (ACCESS_TOKEN_TTL_SECS).
    #[arg(long)]
    pub url: Option<String>,

    /// A second gateway on the same database whose analytics runs with `VIEW_CACHE=off`, for
    /// the uncached scenarios (with `--url`; without it, those scenarios are skipped).
    #[arg(long)]
    pub uncached_url: Option<String>,

    /// Events seeded for the first data size.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,

    /// Total events stored for the second data size (0: skip the second size). The documented
    /// run uses 10000000 (several minutes of seeding).
    #[arg(long, default_value_t = 0)]
    pub large_events: u64,

    /// Local days of history per user of the first size (at most a year: the gateway refuses
    /// events older than 400 days).
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub days: u32,

    /// Local days of history per user added for the second size.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub large_days: u32,

    /// Measured seconds per scenario.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,

    /// Unmeasured seconds before each scenario (connections open, caches warm).
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,

    /// Connections of the read and mixed scenarios.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,

    /// Events per request of the batch-ingestion scenario (and of seeding), at most 1000.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,

    /// Concurrent batch requests while seeding and in the batch scenario.
    #[arg(long, default_value_t = 8)]
    pub batch_connections: usize,

    /// Users whose views are read (drawn from all seeded users).
    #[arg(long, default_value_t = 400)]
    pub read_users: usize,

    /// Users of the phone mixes, registered for that phase and seeded with `--days` days each;
    /// every request of a phone scenario takes one of them at random.
    #[arg(long, default_value_t = 400)]
    pub phone_users: usize,

    /// Only these scenarios (comma-separated name prefixes as printed; default all). `phone`
    /// runs the phone phase alone: its baselines, its seeding, reads only, the three mixes
    /// and the idle write, and the services' memory.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,

    /// Where the JSON report goes.
    #[arg(long, default_value = "load-report.json")]
    pub json: String,

    /// Random seed of the synthetic data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl Args {
    pub fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|name| scenario.starts_with(name.as_str()))
    }
}
