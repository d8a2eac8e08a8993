//! Gateway configuration: [`GatewayArgs`] lists every setting, with its variable and default
//! (`wellbeing-gateway --help` shows them; docs/OPERATIONS.md too), and [`GatewayConfig`] is
//! what the gateway is built from once they are checked together.
//!
//! `/health` is limited to 100 requests a minute per client address (the contract's figure).

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use clap::value_parser;
use rand::RngCore;

use crate::client_address::{Networks, TrustedProxies};
use crate::cors::CorsOrigins;
use crate::serve::ConnectionLimits;
use crate::view_cache::ViewCacheSettings;
use wellbeing_common::config::{self, ConfigError, Endpoints};
use wellbeing_common::internal_tls::{TlsArgs, Transport};
use wellbeing_common::telemetry::{RUST_LOG_HELP, TelemetryArgs};

/// The REST API the mobile app uses. Every setting is an environment variable (or the flag of
/// the same name).
#[derive(clap::Parser, Clone)]
#[command(name = "wellbeing-gateway", version, after_help = RUST_LOG_HELP)]
pub struct GatewayArgs {
    /// HTTP listen address
    #[arg(long, env = "GATEWAY_ADDR", default_value = "127.0.0.1:8080", value_parser = config::listen_addr)]
    pub gateway_addr: SocketAddr,
    /// Analytics address(es), comma-separated, balanced
    #[arg(long, env = "ANALYTICS_URL", default_value = "127.0.0.1:50051", value_parser = config::endpoints)]
    pub analytics_url: Endpoints,
    /// Cache service address(es)
    #[arg(long, env = "CACHE_URL", default_value = "127.0.0.1:50052", value_parser = config::endpoints)]
    pub cache_url: Endpoints,
    /// Aggregator address(es)
    #[arg(long, env = "AGGREGATOR_URL", default_value = "127.0.0.1:50053", value_parser = config::endpoints)]
    pub aggregator_url: Endpoints,
    /// `production` makes `JWT_SECRET` mandatory
    #[arg(long, env = "APP_ENV", default_value = "development")]
    pub app_env: String,
    /// HS256 signing key of access tokens, 32+ bytes [default: random per start, with a warning]
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of an access token, seconds
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900, value_parser = value_parser!(u64).range(60..=86_400))]
    pub access_token_ttl_secs: u64,
    /// How often the sessions ended through other replicas (or by analytics) are asked for: the
    /// longest an ended session's access token may still work on this replica, milliseconds
    #[arg(long, env = "SESSION_POLL_MS", default_value_t = 1_000, value_parser = value_parser!(u64).range(100..=60_000))]
    pub session_poll_ms: u64,
    /// Requests slower than this are logged, milliseconds
    #[arg(long, env = "PERFORMANCE_THRESHOLD_MS", default_value_t = 500)]
    pub performance_threshold_ms: u64,
    /// Deadline of each gRPC call, milliseconds
    #[arg(long, env = "UPSTREAM_TIMEOUT_MS", default_value_t = 5_000)]
    pub upstream_timeout_ms: u64,
    /// A request still running then answers 503, milliseconds
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = value_parser!(u64).range(100..=600_000))]
    pub request_timeout_ms: u64,
    /// API requests per minute per user (per client address without a valid token)
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE", default_value_t = 1_200, value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_per_minute: u32,
    /// Requests that may come at once before the per-minute refill applies [default:
    /// RATE_LIMIT_PER_MINUTE]
    #[arg(long, env = "RATE_LIMIT_BURST", value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: Option<u32>,
    /// Clients (networks or addresses, comma-separated; the address as the limits see it) that
    /// may read `/metrics` on GATEWAY_ADDR; others get 403 (empty: none)
    #[arg(
        long,
        env = "METRICS_ALLOWED_NETWORKS",
        default_value = "127.0.0.0/8,::1/128"
    )]
    pub metrics_allowed_networks: Networks,
    /// A second address serving only `/metrics`, to anyone who reaches it (an admin port kept
    /// off the internet), e.g. `:9464` (unset: none)
    #[arg(long, env = "METRICS_ADDR", value_parser = config::listen_addr)]
    pub metrics_addr: Option<SocketAddr>,
    /// How often the upstreams' figures shown by `/metrics?format=json` are gathered (in the
    /// background, never per request), milliseconds
    #[arg(long, env = "METRICS_REFRESH_MS", default_value_t = 5_000, value_parser = value_parser!(u64).range(100..=600_000))]
    pub metrics_refresh_ms: u64,
    /// Networks or addresses of the proxies in front (comma-separated): from those peers only,
    /// the client address is read from `Forwarded` or `X-Forwarded-For` (unset: none)
    #[arg(long, env = "TRUSTED_PROXIES")]
    pub trusted_proxies: Option<TrustedProxies>,
    /// Time a connection has to send a request's headers, counted from when it is ready for
    /// its next request (also how long an idle keep-alive connection stays open), milliseconds
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = value_parser!(u64).range(100..=600_000))]
    pub header_read_timeout_ms: u64,
    /// Client connections served at once; the next wait in the listen backlog
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 10_000, value_parser = value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// `off`: every derived read asks analytics (no copy kept in the gateway)
    #[arg(long, env = "VIEW_CACHE", default_value = "on", value_parser = config::switch, action = clap::ArgAction::Set)]
    pub view_cache: bool,
    /// Bound on the age of a view kept in the gateway, milliseconds
    #[arg(long, env = "VIEW_CACHE_TTL_MS", default_value_t = 10_000, value_parser = value_parser!(u64).range(1..=3_600_000))]
    pub view_cache_ttl_ms: u64,
    /// Bound on the bytes of views kept in the gateway, MiB (12: the peak under the phone mixes
    /// is 62-66 MiB against 66-73 with 16, at the same throughput; docs/PERFORMANCE.md)
    #[arg(long, env = "VIEW_CACHE_MAX_MB", default_value_t = 12, value_parser = value_parser!(u64).range(1..=65_536))]
    pub view_cache_max_mb: u64,
    /// Origins (`https://app.example.com`, comma-separated, exact) whose pages may call the API
    /// from a browser (unset: no CORS headers at all)
    #[arg(long, env = "CORS_ALLOWED_ORIGINS")]
    pub cors_allowed_origins: Option<CorsOrigins>,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Variables whose empty value is not "unset": no client may read `/metrics`.
pub const EMPTY_IS_A_VALUE: &[&str] = &["METRICS_ALLOWED_NETWORKS"];

#[derive(Clone)]
pub struct GatewayConfig {
    pub listen_addr: SocketAddr,
    pub analytics_endpoints: Vec<String>,
    pub cache_endpoints: Vec<String>,
    pub aggregator_endpoints: Vec<String>,
    /// Mutual TLS to the services (or plaintext, when told).
    pub transport: Transport,
    pub jwt_secret: Vec<u8>,
    pub access_token_ttl: Duration,
    /// `SESSION_POLL_MS`: how often the ended sessions are asked of analytics.
    pub session_poll: Duration,
    pub slow_request_threshold: Duration,
    pub upstream_timeout: Duration,
    pub request_timeout: Duration,
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// `TRUSTED_PROXIES`: the peers whose `Forwarded` / `X-Forwarded-For` name the client.
    pub trusted_proxies: TrustedProxies,
    /// `METRICS_ALLOWED_NETWORKS`: who may read `/metrics` on the API's address.
    pub metrics_allowed: Networks,
    /// `METRICS_ADDR`: an admin address serving `/metrics` alone.
    pub metrics_addr: Option<SocketAddr>,
    /// `METRICS_REFRESH_MS`: the interval of the upstreams' figures.
    pub metrics_refresh: Duration,
    /// `CORS_ALLOWED_ORIGINS`: the web origins allowed to call the API from a browser.
    pub cors_origins: CorsOrigins,
    pub view_cache: ViewCacheSettings,
    pub connection_limits: ConnectionLimits,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GatewayConfig")
            .field("listen_addr", &self.listen_addr)
            .field("analytics_endpoints", &self.analytics_endpoints)
            .field("jwt_secret", &"<hidden>")
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// Settings from `NAME=value` pairs alone (in-process stacks and tests).
    pub fn from_source(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_args(&config::from_pairs::<GatewayArgs>(pairs, EMPTY_IS_A_VALUE)?)
    }

    /// Checks the settings together and reads what they point to.
    pub fn from_args(args: &GatewayArgs) -> Result<Self, ConfigError> {
        let jwt_secret = match args
            .jwt_secret
            .as_deref()
            .filter(|secret| !secret.is_empty())
        {
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "<hidden>",
                    "must be at least 32 bytes",
                ));
            }
            Some(secret) => secret.as_bytes().to_vec(),
            None if args.app_env == "production" => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "",
                    "is required when APP_ENV=production",
                ));
            }
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: using a random key; tokens will not survive a restart \
                     and other gateway replicas will refuse them"
                );
                let mut key = [0u8; 48];
                rand::rng().fill_bytes(&mut key);
                base64::engine::general_purpose::STANDARD
                    .encode(key)
                    .into_bytes()
            }
        };
        Ok(Self {
            listen_addr: args.gateway_addr,
            analytics_endpoints: args.analytics_url.0.clone(),
            transport: Transport::from_args(&args.tls)?,
            cache_endpoints: args.cache_url.0.clone(),
            aggregator_endpoints: args.aggregator_url.0.clone(),
            jwt_secret,
            access_token_ttl: Duration::from_secs(args.access_token_ttl_secs),
            session_poll: Duration::from_millis(args.session_poll_ms),
            slow_request_threshold: Duration::from_millis(args.performance_threshold_ms),
            upstream_timeout: Duration::from_millis(args.upstream_timeout_ms),
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            rate_limit_per_minute: args.rate_limit_per_minute,
            rate_limit_burst: args.rate_limit_burst.unwrap_or(args.rate_limit_per_minute),
            trusted_proxies: args.trusted_proxies.clone().unwrap_or_default(),
            metrics_allowed: args.metrics_allowed_networks.clone(),
            metrics_addr: args.metrics_addr,
            metrics_refresh: Duration::from_millis(args.metrics_refresh_ms),
            cors_origins: args.cors_allowed_origins.clone().unwrap_or_default(),
            connection_limits: ConnectionLimits {
                header_read_timeout: Duration::from_millis(args.header_read_timeout_ms),
                max_connections: args.max_connections as usize,
            },
            view_cache: ViewCacheSettings {
                enabled: args.view_cache,
                ttl: Duration::from_millis(args.view_cache_ttl_ms),
                max_bytes: args.view_cache_max_mb * 1024 * 1024,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_timeouts_are_validated() {
        for (name, value) in [
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("RATE_LIMIT_PER_MINUTE", "many"),
            ("RATE_LIMIT_BURST", "0"),
            ("REQUEST_TIMEOUT_MS", "5"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
            ("HEADER_READ_TIMEOUT_MS", "0"),
            ("HEADER_READ_TIMEOUT_MS", "10s"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS", "-1"),
            ("CORS_ALLOWED_ORIGINS", "*"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com/"),
            ("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8, monitoring"),
            ("METRICS_REFRESH_MS", "0"),
            ("METRICS_ADDR", "metrics:9464"),
            ("SESSION_POLL_MS", "10"),
        ] {
            let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), (name, value)];
            assert_eq!(GatewayConfig::from_source(source).unwrap_err().name, name);
        }
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("RATE_LIMIT_PER_MINUTE", "60")];
        assert_eq!(
            GatewayConfig::from_source(source).unwrap().rate_limit_burst,
            60
        );
    }

    #[test]
    fn production_requires_a_jwt_secret() {
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("APP_ENV", "production")];
        assert_eq!(
            GatewayConfig::from_source(source).unwrap_err().name,
            "JWT_SECRET"
        );
        let short: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("JWT_SECRET", "short")];
        assert!(GatewayConfig::from_source(short).is_err());
    }

    #[test]
    fn development_generates_a_key_and_uses_documented_defaults() {
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off")];
        let config = GatewayConfig::from_source(source).unwrap();
        assert!(config.jwt_secret.len() >= 32);
        assert_eq!(config.listen_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            config.analytics_endpoints,
            vec!["http://127.0.0.1:50051".to_owned()]
        );
        assert_eq!(config.rate_limit_per_minute, 1_200);
        assert_eq!(config.rate_limit_burst, 1_200);
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(
            config.connection_limits.header_read_timeout,
            Duration::from_secs(10)
        );
        assert_eq!(config.connection_limits.max_connections, 10_000);
        assert!(config.cors_origins.is_empty());
        assert!(
            !format!("{config:?}")
                .contains(&String::from_utf8_lossy(&config.jwt_secret).to_string())
        );
    }
}
