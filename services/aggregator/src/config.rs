//! Aggregator configuration: [`AggregatorArgs`] lists every setting, with its variable and
//! default (`wellbeing-aggregator --help` shows them; docs/OPERATIONS.md too).

use std::net::SocketAddr;
use std::time::Duration;

use clap::value_parser;
use wellbeing_common::config::{self, ConfigError};
use wellbeing_common::grpc::AdminPorts;
use wellbeing_common::internal_tls::{TlsArgs, Transport};
use wellbeing_common::telemetry::{RUST_LOG_HELP, TelemetryArgs};

/// The aggregation worker: recomputes marked days, checks samples, keeps the partitions. Every
/// setting is an environment variable (or the flag of the same name).
#[derive(clap::Parser, Clone)]
#[command(name = "wellbeing-aggregator", version, after_help = RUST_LOG_HELP)]
pub struct AggregatorArgs {
    /// gRPC listen address
    #[arg(long, env = "AGGREGATOR_ADDR", default_value = ":50053", value_parser = config::listen_addr)]
    pub aggregator_addr: SocketAddr,
    #[command(flatten)]
    pub admin: AdminPorts,
    /// PostgreSQL (schema owned by analytics)
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/wellbeing",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Pool size of one worker
    #[arg(long, env = "AGGREGATOR_DB_MAX_CONNECTIONS", default_value_t = 5, value_parser = value_parser!(u32).range(1..))]
    pub aggregator_db_max_connections: u32,
    /// Marked days claimed at once
    #[arg(long, env = "WORKER_BATCH_SIZE", default_value_t = 100, value_parser = value_parser!(u32).range(1..=10_000))]
    pub worker_batch_size: u32,
    /// A claim not completed by then is retried by another worker, milliseconds
    #[arg(long, env = "WORKER_LEASE_MS", default_value_t = 30_000, value_parser = value_parser!(u64).range(100..))]
    pub worker_lease_ms: u64,
    /// Wait between polls of an empty queue, milliseconds
    #[arg(long, env = "WORKER_IDLE_POLL_MS", default_value_t = 200)]
    pub worker_idle_poll_ms: u64,
    /// A rebuild of a user's aggregates not finished by then is retried by another worker,
    /// seconds
    #[arg(long, env = "WORKER_REBUILD_LEASE_SECS", default_value_t = 600)]
    pub worker_rebuild_lease_secs: u64,
    /// How often the sweep checks sampled day aggregates against raw records, seconds
    #[arg(long, env = "SWEEP_INTERVAL_SECS", default_value_t = 60)]
    pub sweep_interval_secs: u64,
    /// Day aggregates the sweep checks each time (0: none)
    #[arg(long, env = "SWEEP_SAMPLE", default_value_t = 20)]
    pub sweep_sample: u32,
    /// Events older than this many days are removed (whole month partitions are dropped); 0
    /// keeps everything
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 0)]
    pub retention_days: u32,
    /// Month partitions of the event tables created ahead of the current one
    #[arg(long, env = "PARTITIONS_AHEAD_MONTHS", default_value_t = 2, value_parser = value_parser!(u32).range(1..=24))]
    pub partitions_ahead_months: u32,
    /// How often partitions are created ahead and retention applied, seconds (0 counts as 1, as
    /// for the other periods)
    #[arg(long, env = "PARTITION_MAINTENANCE_SECS", default_value_t = 3_600)]
    pub partition_maintenance_secs: u64,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    pub listen_addr: SocketAddr,
    /// `METRICS_ADDR`: the Prometheus admin port (none when unset).
    pub metrics_addr: Option<SocketAddr>,
    /// `PROBE_ADDR`: health in plaintext for Kubernetes probes (none when unset).
    pub probe_addr: Option<SocketAddr>,
    pub transport: Transport,
    pub database_url: String,
    pub max_connections: u32,
    pub batch_size: u32,
    pub lease: Duration,
    pub idle_poll: Duration,
    pub rebuild_lease: Duration,
    pub sweep_interval: Duration,
    pub sweep_sample: i64,
    pub retention_days: u32,
    pub partitions_ahead_months: u32,
    pub partition_maintenance: Duration,
}

impl AggregatorConfig {
    /// Settings from `NAME=value` pairs alone (in-process stacks and tests).
    pub fn from_source(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_args(&config::from_pairs::<AggregatorArgs>(pairs, &[])?)
    }

    /// Checks the settings together and reads what they point to.
    pub fn from_args(args: &AggregatorArgs) -> Result<Self, ConfigError> {
        let database_url = config::postgres_url("DATABASE_URL", &args.database_url)?;
        Ok(Self {
            listen_addr: args.aggregator_addr,
            metrics_addr: args.admin.metrics_addr,
            probe_addr: args.admin.probe_addr,
            transport: Transport::from_args(&args.tls)?,
            database_url,
            max_connections: args.aggregator_db_max_connections,
            batch_size: args.worker_batch_size,
            lease: Duration::from_millis(args.worker_lease_ms),
            idle_poll: Duration::from_millis(args.worker_idle_poll_ms),
            rebuild_lease: Duration::from_secs(args.worker_rebuild_lease_secs.max(1)),
            sweep_interval: Duration::from_secs(args.sweep_interval_secs.max(1)),
            sweep_sample: i64::from(args.sweep_sample),
            retention_days: args.retention_days,
            partitions_ahead_months: args.partitions_ahead_months,
            partition_maintenance: Duration::from_secs(args.partition_maintenance_secs.max(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let none: &[(&str, &str)] = &[("INTERNAL_TLS", "off")];
        let config = AggregatorConfig::from_source(none).unwrap();
        assert_eq!(config.listen_addr.port(), 50053);
        assert_eq!(config.batch_size, 100);
        assert_eq!(config.lease, Duration::from_secs(30));
        let bad: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("WORKER_LEASE_MS", "5")];
        assert_eq!(
            AggregatorConfig::from_source(bad).unwrap_err().name,
            "WORKER_LEASE_MS"
        );
        let bad: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("SWEEP_SAMPLE", "some")];
        assert!(AggregatorConfig::from_source(bad).is_err());
        assert_eq!(config.retention_days, 0);
        assert_eq!(config.partitions_ahead_months, 2);
        let bad: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("RETENTION_DAYS", "-1")];
        assert_eq!(
            AggregatorConfig::from_source(bad).unwrap_err().name,
            "RETENTION_DAYS"
        );
    }
}
