//! Analytics configuration: [`AnalyticsArgs`] lists every setting, with its variable and default
//! (`wellbeing-analytics --help` shows them; docs/OPERATIONS.md too). Defaults let it run next
//! to a local PostgreSQL.

use std::net::SocketAddr;
use std::time::Duration;

use clap::value_parser;
use wellbeing_common::config::{self, ConfigError, Endpoints};
use wellbeing_common::grpc::AdminPorts;
use wellbeing_common::internal_tls::{TlsArgs, Transport};
use wellbeing_common::telemetry::{RUST_LOG_HELP, TelemetryArgs};
pub use wellbeing_store::PoolConfig;

use crate::sessions::SessionRules;
/// The analytics service: ingestion, accounts and the derived views. Every setting is an
/// environment variable (or the flag of the same name).
#[derive(clap::Parser, Clone)]
#[command(name = "wellbeing-analytics", version, after_help = RUST_LOG_HELP)]
pub struct AnalyticsArgs {
    #[command(subcommand)]
    pub command: Option<AnalyticsCommand>,
    /// gRPC listen address
    #[arg(long, env = "ANALYTICS_ADDR", default_value = ":50051", value_parser = config::listen_addr)]
    pub analytics_addr: SocketAddr,
    #[command(flatten)]
    pub admin: AdminPorts,
    /// PostgreSQL
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/wellbeing",
        hide_env_values = true
    )]
    pub database_url: String,
    /// A PostgreSQL read replica for the views' aggregate, event and snapshot reads (unset: the
    /// primary)
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<String>,
    /// A user who wrote less than this ago reads the primary (keep it above the replica's lag,
    /// at most VIEW_CACHE_TTL_MS), milliseconds
    #[arg(long, env = "READ_REPLICA_GRACE_MS", default_value_t = 5_000)]
    pub read_replica_grace_ms: u64,
    /// Cache service address(es), comma-separated
    #[arg(long, env = "CACHE_URL", default_value = "127.0.0.1:50052", value_parser = config::endpoints)]
    pub cache_url: Endpoints,
    /// Seconds a cached view lives
    #[arg(long, env = "CACHE_TTL", default_value_t = 300)]
    pub cache_ttl: u32,
    /// `off`: every read computes its view (no copies in process, no cache service reads or
    /// writes; writes still invalidate other replicas' views); for benchmarks and diagnosis
    #[arg(long, env = "VIEW_CACHE", default_value = "on", value_parser = config::switch, action = clap::ArgAction::Set)]
    pub view_cache: bool,
    /// Bound on the bytes of view data kept in process, MiB: four fifths for the recent weeks
    /// views are composed from, one fifth for copies of views (0: none kept, single-flight only)
    #[arg(long, env = "VIEW_CACHE_MAX_MB", default_value_t = 20, value_parser = value_parser!(u64).range(0..=65_536))]
    pub view_cache_max_mb: u64,
    /// Bound on the age of a view kept in process, milliseconds
    #[arg(long, env = "VIEW_CACHE_TTL_MS", default_value_t = 10_000)]
    pub view_cache_ttl_ms: u64,
    /// Connections kept open
    #[arg(long, env = "DB_MIN_CONNECTIONS", default_value_t = 4)]
    pub db_min_connections: u32,
    /// Connections under load (at least 1 and at least DB_MIN_CONNECTIONS)
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// Wait for a free connection (or for PostgreSQL to answer), then 503; below the gateway's
    /// 5 s upstream deadline, seconds
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 3)]
    pub db_acquire_timeout_secs: u64,
    /// Connections are recycled after this, seconds
    #[arg(long, env = "DB_MAX_LIFETIME_SECS", default_value_t = 3_600)]
    pub db_max_lifetime_secs: u64,
    /// Statements slower than this are logged, milliseconds
    #[arg(long, env = "SLOW_QUERY_THRESHOLD_MS", default_value_t = 100)]
    pub slow_query_threshold_ms: u64,
    /// PostgreSQL cuts a statement running longer (its request answers 503), so nothing keeps
    /// working after the gateway's deadline has answered; 0: no bound. Migrations, erasures and
    /// exports are not bound. Milliseconds
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_statement_timeout_ms: u64,
    /// `off`: never change the schema; health stays NOT_SERVING until the migrations this build
    /// carries have been applied (by the migration Job), so DATABASE_URL may name a role
    /// without DDL rights
    #[arg(long, env = "MIGRATE_AT_START", default_value = "on", value_parser = config::switch, action = clap::ArgAction::Set)]
    pub migrate_at_start: bool,
    /// Read by `migrate` only: after migrating, grant this existing role what the services do
    /// at run time (rows, sequences, functions) and no DDL
    #[arg(long, env = "DATABASE_RUNTIME_ROLE", value_parser = runtime_role)]
    pub database_runtime_role: Option<String>,
    /// Lifetime of a refresh token: a session unused this long ends, days
    #[arg(long, env = "REFRESH_TOKEN_TTL_DAYS", default_value_t = 30, value_parser = value_parser!(i64).range(1..=365))]
    pub refresh_token_ttl_days: i64,
    /// Absolute lifetime of a session, however often it is refreshed (at least
    /// REFRESH_TOKEN_TTL_DAYS), days
    #[arg(long, env = "SESSION_MAX_LIFETIME_DAYS", default_value_t = 90, value_parser = value_parser!(i64).range(1..=3650))]
    pub session_max_lifetime_days: i64,
    /// A rotated refresh token presented again this soon (the answer was lost) gets the same
    /// pair; later, it ends the session (0: no grace), seconds
    #[arg(long, env = "REFRESH_REUSE_GRACE_SECS", default_value_t = 10, value_parser = value_parser!(i64).range(0..=60))]
    pub refresh_reuse_grace_secs: i64,
    /// Events older than this many days are refused (the aggregator removes older data); 0
    /// keeps everything, and refuses events older than 400 days
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 0)]
    pub retention_days: u32,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// What to do instead of serving.
#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum AnalyticsCommand {
    /// Apply the schema migrations (and DATABASE_RUNTIME_ROLE's grants), then exit: the
    /// Kubernetes migration Job runs it
    Migrate,
}

fn runtime_role(raw: &str) -> Result<String, String> {
    let role = raw.trim();
    if wellbeing_store::runtime_role::is_plain_role_name(role) {
        Ok(role.to_owned())
    } else {
        Err("must be lower-case letters, digits and _ (an existing role)".to_owned())
    }
}

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
    /// Settings from `NAME=value` pairs alone (in-process stacks and tests).
    pub fn from_source(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_args(&config::from_pairs::<AnalyticsArgs>(pairs, &[])?)
    }

    /// Checks the settings together and reads what they point to.
    pub fn from_args(args: &AnalyticsArgs) -> Result<Self, ConfigError> {
        let database_url = config::postgres_url("DATABASE_URL", &args.database_url)?;
        let database_read_url = match &args.database_read_url {
            Some(url) => Some(config::postgres_url("DATABASE_READ_URL", url)?),
            None => None,
        };
        let (min_connections, max_connections) = (args.db_min_connections, args.db_max_connections);
        if max_connections == 0 || min_connections > max_connections {
            return Err(ConfigError::new(
                "DB_MAX_CONNECTIONS",
                &max_connections.to_string(),
                "must be at least 1 and at least DB_MIN_CONNECTIONS",
            ));
        }
        if args.session_max_lifetime_days < args.refresh_token_ttl_days {
            return Err(ConfigError::new(
                "SESSION_MAX_LIFETIME_DAYS",
                &args.session_max_lifetime_days.to_string(),
                "must be between REFRESH_TOKEN_TTL_DAYS and 3650",
            ));
        }
        Ok(Self {
            migrate_at_start: args.migrate_at_start,
            runtime_role: args.database_runtime_role.clone(),
            listen_addr: args.analytics_addr,
            metrics_addr: args.admin.metrics_addr,
            probe_addr: args.admin.probe_addr,
            transport: Transport::from_args(&args.tls)?,
            retention_days: args.retention_days,
            database_url,
            database_read_url,
            read_replica_grace: Duration::from_millis(args.read_replica_grace_ms),
            cache_endpoints: args.cache_url.0.clone(),
            cache_ttl_seconds: args.cache_ttl,
            view_cache: args.view_cache,
            view_cache_max_bytes: args.view_cache_max_mb << 20,
            view_cache_ttl: Duration::from_millis(args.view_cache_ttl_ms),
            pool: PoolConfig {
                min_connections,
                max_connections,
                acquire_timeout: Duration::from_secs(args.db_acquire_timeout_secs),
                max_lifetime: Duration::from_secs(args.db_max_lifetime_secs),
                slow_query_threshold_ms: args.slow_query_threshold_ms,
                statement_timeout: match args.db_statement_timeout_ms {
                    0 => None,
                    millis => Some(Duration::from_millis(millis)),
                },
            },
            sessions: SessionRules {
                idle_ttl: chrono::Duration::days(args.refresh_token_ttl_days),
                max_lifetime: chrono::Duration::days(args.session_max_lifetime_days),
                grace: chrono::Duration::seconds(args.refresh_reuse_grace_secs),
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
        assert_eq!(config.pool.min_connections, 4);
        assert_eq!(config.pool.max_connections, 16);
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
            20 << 20
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
