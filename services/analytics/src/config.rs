//! Analytics configuration, from the environment. Defaults let it run next to a local PostgreSQL.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `ANALYTICS_ADDR` | `:50051` | gRPC listen address |
//! | `METRICS_ADDR` | unset | Prometheus `/metrics` admin port, e.g. `:9464` (unset: none) |
//! | `PROBE_ADDR` | unset | the gRPC health service again, in plaintext, for Kubernetes probes, e.g. `:50061` (unset: none) |
//! | `INTERNAL_TLS`, `TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_CA_FILE` | `on`, `/etc/wellbeing/tls/{tls.crt,tls.key,ca.crt}` | mutual TLS: only the gateway may call; the cache service is called as `cache` (see `wellbeing_common::internal_tls`) |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/wellbeing` | PostgreSQL |
//! | `DATABASE_READ_URL` | unset | a PostgreSQL read replica for the views' aggregate, event and snapshot reads (unset: the primary) |
//! | `READ_REPLICA_GRACE_MS` | `5000` | a user who wrote less than this ago reads the primary (keep it above the replica's lag, at most `VIEW_CACHE_TTL_MS`) |
//! | `CACHE_URL` | `127.0.0.1:50052` | cache service address(es), comma-separated |
//! | `CACHE_TTL` | `300` | seconds a cached view lives |
//! | `VIEW_CACHE` | `on` | `off`: every read computes its view (no copies in process, no cache service reads or writes; writes still invalidate other replicas' views; timezones are still kept in process); for benchmarks and diagnosis |
//! | `VIEW_CACHE_MAX_MB` | `16` | bound on the bytes of views kept in process (0: none kept, single-flight only) |
//! | `VIEW_CACHE_TTL_MS` | `10000` | bound on the age of a view kept in process |
//! | `DB_MIN_CONNECTIONS` | `20` | connections kept open |
//! | `DB_MAX_CONNECTIONS` | `60` | connections under load |
//! | `DB_ACQUIRE_TIMEOUT_SECS` | `3` | wait for a free connection (or for PostgreSQL to answer), then 503; below the gateway's 5 s upstream deadline |
//! | `DB_MAX_LIFETIME_SECS` | `3600` | connections are recycled after this |
//! | `SLOW_QUERY_THRESHOLD_MS` | `100` | statements slower than this are logged |
//! | `DB_STATEMENT_TIMEOUT_MS` | `5000` | PostgreSQL cuts a statement running longer (its request answers 503), so nothing keeps working, or waiting on a lock, after the gateway's 5 s deadline has answered; 0: no bound. Migrations, erasures and exports are not bound |
//! | `MIGRATE_AT_START` | `on` | `off`: never change the schema; health stays NOT_SERVING until the migrations this build carries have been applied (by the migration Job, as the schema's owner), so `DATABASE_URL` may name a role without DDL rights |
//! | `DATABASE_RUNTIME_ROLE` | unset | read by `wellbeing-analytics migrate` only: after migrating, grant this existing role what the services do at run time (rows, sequences, functions) and no DDL |
//! | `REFRESH_TOKEN_TTL_DAYS` | `30` | lifetime of a refresh token: a session unused this long ends (1 to 365) |
//! | `SESSION_MAX_LIFETIME_DAYS` | `90` | absolute lifetime of a session, however often it is refreshed (1 to 3650, at least `REFRESH_TOKEN_TTL_DAYS`) |
//! | `REFRESH_REUSE_GRACE_SECS` | `10` | a rotated refresh token presented again this soon (the answer was lost) gets the same pair; later, it ends the session (0 to 60) |
//! | `RETENTION_DAYS` | `0` | events older than this many days are refused (the aggregator removes older data); 0 keeps everything |

use std::net::SocketAddr;
use std::time::Duration;

use wellbeing_common::config::{self, ConfigError, Source};
use wellbeing_common::internal_tls::Transport;
pub use wellbeing_store::PoolConfig;

use crate::sessions::SessionRules;

#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    pub listen_addr: SocketAddr,
    /// `METRICS_ADDR`: the Prometheus admin port (none when unset).
    pub metrics_addr: Option<SocketAddr>,
    pub probe_addr: Option<SocketAddr>,
    pub transport: Transport,
    /// `RETENTION_DAYS`: older events are refused (0: no limit).
    pub retention_days: u32,
    pub database_url: String,
    /// `DATABASE_READ_URL`: a read replica for views (None: the primary).
    pub database_read_url: Option<String>,
    pub read_replica_grace: Duration,
    pub cache_endpoints: Vec<String>,
    pub cache_ttl_seconds: u32,
    /// False with `VIEW_CACHE=off`: views are always computed.
    pub view_cache: bool,
    pub view_cache_max_bytes: u64,
    pub view_cache_ttl: Duration,
    pub pool: PoolConfig,
    /// Session lifetimes and the refresh grace window.
    pub sessions: SessionRules,
    /// `MIGRATE_AT_START`: apply pending migrations at start (else wait for them).
    pub migrate_at_start: bool,
    /// `DATABASE_RUNTIME_ROLE`: the role `migrate` grants the run-time rights to.
    pub runtime_role: Option<String>,
}

impl AnalyticsConfig {
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
        let database_read_url = source
            .get("DATABASE_READ_URL")
            .map(|raw| raw.trim().to_owned())
            .filter(|raw| !raw.is_empty());
        if database_read_url.as_deref().is_some_and(|url| {
            !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        }) {
            return Err(ConfigError::new(
                "DATABASE_READ_URL",
                "<hidden>",
                "expected a postgres:// URL",
            ));
        }
        let min_connections = config::parsed(source, "DB_MIN_CONNECTIONS", 20u32)?;
        let max_connections = config::parsed(source, "DB_MAX_CONNECTIONS", 60u32)?;
        if max_connections == 0 || min_connections > max_connections {
            return Err(ConfigError::new(
                "DB_MAX_CONNECTIONS",
                &max_connections.to_string(),
                "must be at least 1 and at least DB_MIN_CONNECTIONS",
            ));
        }
        let refresh_days = config::parsed(source, "REFRESH_TOKEN_TTL_DAYS", 30i64)?;
        if !(1..=365).contains(&refresh_days) {
            return Err(ConfigError::new(
                "REFRESH_TOKEN_TTL_DAYS",
                &refresh_days.to_string(),
                "must be between 1 and 365",
            ));
        }
        let max_lifetime_days = config::parsed(source, "SESSION_MAX_LIFETIME_DAYS", 90i64)?;
        if !(refresh_days..=3650).contains(&max_lifetime_days) {
            return Err(ConfigError::new(
                "SESSION_MAX_LIFETIME_DAYS",
                &max_lifetime_days.to_string(),
                "must be between REFRESH_TOKEN_TTL_DAYS and 3650",
            ));
        }
        let grace_secs = config::parsed(source, "REFRESH_REUSE_GRACE_SECS", 10i64)?;
        if !(0..=60).contains(&grace_secs) {
            return Err(ConfigError::new(
                "REFRESH_REUSE_GRACE_SECS",
                &grace_secs.to_string(),
                "must be between 0 and 60",
            ));
        }
        let view_cache = config::switch(source, "VIEW_CACHE", true)?;
        let view_cache_mb = config::parsed(source, "VIEW_CACHE_MAX_MB", 16u64)?;
        if view_cache_mb > 65_536 {
            return Err(ConfigError::new(
                "VIEW_CACHE_MAX_MB",
                &view_cache_mb.to_string(),
                "must be between 0 and 65536",
            ));
        }
        let runtime_role = source
            .get("DATABASE_RUNTIME_ROLE")
            .map(|raw| raw.trim().to_owned())
            .filter(|raw| !raw.is_empty());
        if let Some(role) = &runtime_role
            && !wellbeing_store::runtime_role::is_plain_role_name(role)
        {
            return Err(ConfigError::new(
                "DATABASE_RUNTIME_ROLE",
                role,
                "must be lower-case letters, digits and _ (an existing role)",
            ));
        }
        Ok(Self {
            migrate_at_start: config::switch(source, "MIGRATE_AT_START", true)?,
            runtime_role,
            listen_addr: config::listen_addr(source, "ANALYTICS_ADDR", ":50051")?,
            metrics_addr: wellbeing_common::metrics::addr_from(source)?,
            probe_addr: wellbeing_common::grpc::probe_addr_from(source)?,
            transport: Transport::from_source(source)?,
            retention_days: config::parsed(source, "RETENTION_DAYS", 0u32)?,
            database_url,
            database_read_url,
            read_replica_grace: Duration::from_millis(config::parsed(
                source,
                "READ_REPLICA_GRACE_MS",
                5_000u64,
            )?),
            cache_endpoints: config::endpoints(source, "CACHE_URL", "127.0.0.1:50052")?,
            cache_ttl_seconds: config::parsed(source, "CACHE_TTL", 300u32)?,
            view_cache,
            view_cache_max_bytes: view_cache_mb << 20,
            view_cache_ttl: Duration::from_millis(config::parsed(
                source,
                "VIEW_CACHE_TTL_MS",
                10_000u64,
            )?),
            pool: PoolConfig {
                min_connections,
                max_connections,
                acquire_timeout: Duration::from_secs(config::parsed(
                    source,
                    "DB_ACQUIRE_TIMEOUT_SECS",
                    3u64,
                )?),
                max_lifetime: Duration::from_secs(config::parsed(
                    source,
                    "DB_MAX_LIFETIME_SECS",
                    3600u64,
                )?),
                slow_query_threshold_ms: config::parsed(source, "SLOW_QUERY_THRESHOLD_MS", 100u64)?,
                statement_timeout: match config::parsed(
                    source,
                    "DB_STATEMENT_TIMEOUT_MS",
                    5_000u64,
                )? {
                    0 => None,
                    millis => Some(Duration::from_millis(millis)),
                },
            },
            sessions: SessionRules {
                idle_ttl: chrono::Duration::days(refresh_days),
                max_lifetime: chrono::Duration::days(max_lifetime_days),
                grace: chrono::Duration::seconds(grace_secs),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_pool() {
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off")];
        let config = AnalyticsConfig::from_source(source).unwrap();
        assert_eq!(config.pool.min_connections, 20);
        assert_eq!(config.pool.max_connections, 60);
        assert_eq!(config.pool.acquire_timeout, Duration::from_secs(3));
        assert_eq!(config.pool.max_lifetime, Duration::from_secs(3600));
        assert_eq!(config.pool.slow_query_threshold_ms, 100);
        assert_eq!(config.pool.statement_timeout, Some(Duration::from_secs(5)));
        assert_eq!(config.listen_addr.port(), 50051);
        assert_eq!(config.cache_ttl_seconds, 300);
        assert!(config.view_cache);
        assert_eq!(config.sessions.idle_ttl, chrono::Duration::days(30));
        assert_eq!(config.sessions.max_lifetime, chrono::Duration::days(90));
        assert_eq!(config.sessions.grace, chrono::Duration::seconds(10));
    }

    #[test]
    fn the_view_cache_can_be_turned_off() {
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("VIEW_CACHE", "off")];
        assert!(!AnalyticsConfig::from_source(source).unwrap().view_cache);
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("VIEW_CACHE", "sometimes")];
        assert_eq!(
            AnalyticsConfig::from_source(source).unwrap_err().name,
            "VIEW_CACHE"
        );
    }

    #[test]
    fn the_copies_kept_in_process_are_bounded_in_megabytes() {
        let none: &[(&str, &str)] = &[("INTERNAL_TLS", "off")];
        assert_eq!(
            AnalyticsConfig::from_source(none)
                .unwrap()
                .view_cache_max_bytes,
            16 << 20
        );
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("VIEW_CACHE_MAX_MB", "0")];
        assert_eq!(
            AnalyticsConfig::from_source(source)
                .unwrap()
                .view_cache_max_bytes,
            0
        );
        for wrong in ["65537", "-1", "lots"] {
            let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("VIEW_CACHE_MAX_MB", wrong)];
            let error = AnalyticsConfig::from_source(source).unwrap_err();
            assert_eq!(error.name, "VIEW_CACHE_MAX_MB", "{wrong}");
        }
    }

    #[test]
    fn a_wrong_value_is_refused_with_its_name() {
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("DATABASE_URL", "mysql://x")];
        let error = AnalyticsConfig::from_source(source).unwrap_err();
        assert_eq!(error.name, "DATABASE_URL");
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("DB_MIN_CONNECTIONS", "70")];
        assert!(AnalyticsConfig::from_source(source).is_err());
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("DB_STATEMENT_TIMEOUT_MS", "5s")];
        let error = AnalyticsConfig::from_source(source).unwrap_err();
        assert_eq!(error.name, "DB_STATEMENT_TIMEOUT_MS");
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("DB_STATEMENT_TIMEOUT_MS", "0")];
        let config = AnalyticsConfig::from_source(source).expect("0 turns the bound off");
        assert_eq!(config.pool.statement_timeout, None);
        for (name, value) in [
            ("DATABASE_RUNTIME_ROLE", "app; DROP TABLE users"),
            ("MIGRATE_AT_START", "later"),
            ("PROBE_ADDR", "not an address"),
            ("INTERNAL_TLS", "maybe"),
            ("SESSION_MAX_LIFETIME_DAYS", "7"),
            ("REFRESH_REUSE_GRACE_SECS", "61"),
        ] {
            let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), (name, value)];
            let mut source = source.to_vec();
            source.retain(|(existing, _)| *existing != name);
            source.push((name, value));
            let error = AnalyticsConfig::from_source(&source[..]).unwrap_err();
            assert_eq!(error.name, name, "{value}");
        }
    }
}
