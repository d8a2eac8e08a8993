//! Aggregator configuration, from the environment.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `AGGREGATOR_ADDR` | `:50053` | gRPC listen address |
//! | `METRICS_ADDR` | unset | Prometheus `/metrics` admin port, e.g. `:9464` (unset: none) |
//! | `PROBE_ADDR` | unset | the gRPC health service again, in plaintext, for Kubernetes probes, e.g. `:50063` (unset: none) |
//! | `INTERNAL_TLS`, `TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_CA_FILE` | `on`, `/etc/wellbeing/tls/{tls.crt,tls.key,ca.crt}` | mutual TLS: only the gateway may call (see `wellbeing_common::internal_tls`) |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/wellbeing` | PostgreSQL (schema owned by analytics) |
//! | `AGGREGATOR_DB_MAX_CONNECTIONS` | `5` | pool size of one worker |
//! | `WORKER_BATCH_SIZE` | `100` | marked days claimed at once |
//! | `WORKER_LEASE_MS` | `30000` | a claim not completed by then is retried by another worker |
//! | `WORKER_IDLE_POLL_MS` | `200` | wait between polls of an empty queue |
//! | `WORKER_REBUILD_LEASE_SECS` | `600` | a rebuild of a user's aggregates not finished by then is retried by another worker |
//! | `SWEEP_INTERVAL_SECS` | `60` | how often the sweep checks sampled day aggregates against raw records |
//! | `SWEEP_SAMPLE` | `20` | day aggregates the sweep checks each time (0: none) |
//! | `RETENTION_DAYS` | `0` | events older than this many days are removed (whole month partitions are dropped); 0 keeps everything |
//! | `PARTITIONS_AHEAD_MONTHS` | `2` | month partitions of the event tables created ahead of the current one |
//! | `PARTITION_MAINTENANCE_SECS` | `3600` | how often partitions are created ahead and retention applied |

use std::net::SocketAddr;
use std::time::Duration;

use wellbeing_common::config::{self, ConfigError, Source};
use wellbeing_common::internal_tls::Transport;

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
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&config::Env)
    }

    pub fn from_source(source: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        let database_url = config::string(
            source,
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/wellbeing",
        );
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "<hidden>",
                "expected a postgres:// URL",
            ));
        }
        let max_connections = config::parsed(source, "AGGREGATOR_DB_MAX_CONNECTIONS", 5u32)?;
        if max_connections == 0 {
            return Err(ConfigError::new(
                "AGGREGATOR_DB_MAX_CONNECTIONS",
                "0",
                "must be at least 1",
            ));
        }
        let batch_size = config::parsed(source, "WORKER_BATCH_SIZE", 100u32)?;
        if !(1..=10_000).contains(&batch_size) {
            return Err(ConfigError::new(
                "WORKER_BATCH_SIZE",
                &batch_size.to_string(),
                "must be between 1 and 10000",
            ));
        }
        let lease_ms = config::parsed(source, "WORKER_LEASE_MS", 30_000u64)?;
        if lease_ms < 100 {
            return Err(ConfigError::new(
                "WORKER_LEASE_MS",
                &lease_ms.to_string(),
                "must be at least 100",
            ));
        }
        Ok(Self {
            listen_addr: config::listen_addr(source, "AGGREGATOR_ADDR", ":50053")?,
            metrics_addr: wellbeing_common::metrics::addr_from(source)?,
            probe_addr: wellbeing_common::grpc::probe_addr_from(source)?,
            transport: Transport::from_source(source)?,
            database_url,
            max_connections,
            batch_size,
            lease: Duration::from_millis(lease_ms),
            idle_poll: Duration::from_millis(config::parsed(
                source,
                "WORKER_IDLE_POLL_MS",
                200u64,
            )?),
            rebuild_lease: Duration::from_secs(
                config::parsed(source, "WORKER_REBUILD_LEASE_SECS", 600u64)?.max(1),
            ),
            sweep_interval: Duration::from_secs(
                config::parsed(source, "SWEEP_INTERVAL_SECS", 60u64)?.max(1),
            ),
            sweep_sample: i64::from(config::parsed(source, "SWEEP_SAMPLE", 20u32)?),
            retention_days: config::parsed(source, "RETENTION_DAYS", 0u32)?,
            partitions_ahead_months: partitions_ahead_months(source)?,
            partition_maintenance: Duration::from_secs(
                config::parsed(source, "PARTITION_MAINTENANCE_SECS", 3600u64)?.max(1),
            ),
        })
    }
}

fn partitions_ahead_months(source: &(impl Source + ?Sized)) -> Result<u32, ConfigError> {
    let months = config::parsed(source, "PARTITIONS_AHEAD_MONTHS", 2u32)?;
    if !(1..=24).contains(&months) {
        return Err(ConfigError::new(
            "PARTITIONS_AHEAD_MONTHS",
            &months.to_string(),
            "must be between 1 and 24",
        ));
    }
    Ok(months)
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
