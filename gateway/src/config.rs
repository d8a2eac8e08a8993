//! Gateway configuration, from the environment.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `GATEWAY_ADDR` | `127.0.0.1:8080` | HTTP listen address |
//! | `ANALYTICS_URL` | `127.0.0.1:50051` | analytics address(es), comma-separated, balanced |
//! | `CACHE_URL` | `127.0.0.1:50052` | cache service address(es) |
//! | `AGGREGATOR_URL` | `127.0.0.1:50053` | aggregator address(es) |
//! | `INTERNAL_TLS`, `TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_CA_FILE` | `on`, `/etc/wellbeing/tls/{tls.crt,tls.key,ca.crt}` | mutual TLS to the services, as `gateway`; each must show its role's certificate (see `wellbeing_common::internal_tls`) |
//! | `APP_ENV` | `development` | `production` makes `JWT_SECRET` mandatory |
//! | `JWT_SECRET` | random per start (warned) | HS256 signing key of access tokens, 32+ bytes |
//! | `ACCESS_TOKEN_TTL_SECS` | `900` | lifetime of an access token (60 to 86400) |
//! | `SESSION_POLL_MS` | `1000` | how often the sessions ended through other replicas (or by analytics) are asked for: the longest an ended session's access token may still work on this replica (100 to 60000) |
//! | `PERFORMANCE_THRESHOLD_MS` | `500` | requests slower than this are logged |
//! | `UPSTREAM_TIMEOUT_MS` | `5000` | deadline of each gRPC call |
//! | `REQUEST_TIMEOUT_MS` | `30000` | a request still running then answers 503 (100 to 600000) |
//! | `RATE_LIMIT_PER_MINUTE` | `1200` | API requests per minute per user (per client address without a valid token) |
//! | `RATE_LIMIT_BURST` | `RATE_LIMIT_PER_MINUTE` | requests that may come at once before the per-minute refill applies |
//! | `METRICS_ALLOWED_NETWORKS` | `127.0.0.0/8,::1/128` | clients (networks or addresses, comma-separated; the address as the limits see it) that may read `/metrics` on `GATEWAY_ADDR`; others get 403 |
//! | `METRICS_ADDR` | unset | a second address serving only `/metrics`, to anyone who reaches it (an admin port kept off the internet), e.g. `:9464` |
//! | `METRICS_REFRESH_MS` | `5000` | how often the upstreams' figures shown by `/metrics` are gathered (in the background, never per scrape; 100 to 600000) |
//! | `TRUSTED_PROXIES` | empty | networks or addresses of the proxies in front (comma-separated): from those peers only, the client address is read from `Forwarded` or `X-Forwarded-For` |
//! | `HEADER_READ_TIMEOUT_MS` | `10000` | time a connection has to send a request's headers, counted from when it is ready for its next request (also how long an idle keep-alive connection stays open; 100 to 600000) |
//! | `MAX_CONNECTIONS` | `10000` | client connections served at once; the next wait in the listen backlog (1 to 1000000) |
//! | `VIEW_CACHE` | `on` | `off`: every derived read asks analytics (no copy kept in the gateway) |
//! | `VIEW_CACHE_TTL_MS` | `10000` | bound on the age of a view kept in the gateway |
//! | `VIEW_CACHE_MAX_MB` | `16` | bound on the bytes of views kept in the gateway |
//! | `CORS_ALLOWED_ORIGINS` | empty | origins (`https://app.example.com`, comma-separated, exact) whose pages may call the API from a browser; empty: no CORS headers at all |
//!
//! `/health` is limited to 100 requests a minute per client address (the contract's figure).

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use rand::RngCore;

use crate::client_address::{Networks, TrustedProxies};

/// Who may read `/metrics` on the API's address unless `METRICS_ALLOWED_NETWORKS` says.
const LOOPBACK: &str = "127.0.0.0/8,::1/128";
use crate::cors::CorsOrigins;
use crate::serve::ConnectionLimits;
use crate::view_cache::ViewCacheSettings;
use wellbeing_common::config::{self, ConfigError, Source};
use wellbeing_common::internal_tls::Transport;

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
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&config::Env)
    }

    pub fn from_source(source: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        let app_env = config::string(source, "APP_ENV", "development");
        let jwt_secret = match source.get("JWT_SECRET").filter(|secret| !secret.is_empty()) {
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "<hidden>",
                    "must be at least 32 bytes",
                ));
            }
            Some(secret) => secret.into_bytes(),
            None if app_env == "production" => {
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
        let access_ttl_secs = config::parsed(source, "ACCESS_TOKEN_TTL_SECS", 900u64)?;
        if !(60..=86_400).contains(&access_ttl_secs) {
            return Err(ConfigError::new(
                "ACCESS_TOKEN_TTL_SECS",
                &access_ttl_secs.to_string(),
                "must be between 60 and 86400",
            ));
        }
        let request_timeout_ms = bounded(source, "REQUEST_TIMEOUT_MS", 30_000, 100..=600_000)?;
        let rate_limit_per_minute = bounded(source, "RATE_LIMIT_PER_MINUTE", 1_200, 1..=1_000_000)?;
        let rate_limit_burst = bounded(
            source,
            "RATE_LIMIT_BURST",
            rate_limit_per_minute,
            1..=1_000_000,
        )?;
        Ok(Self {
            listen_addr: config::listen_addr(source, "GATEWAY_ADDR", "127.0.0.1:8080")?,
            analytics_endpoints: config::endpoints(source, "ANALYTICS_URL", "127.0.0.1:50051")?,
            transport: Transport::from_source(source)?,
            cache_endpoints: config::endpoints(source, "CACHE_URL", "127.0.0.1:50052")?,
            aggregator_endpoints: config::endpoints(source, "AGGREGATOR_URL", "127.0.0.1:50053")?,
            jwt_secret,
            access_token_ttl: Duration::from_secs(access_ttl_secs),
            session_poll: Duration::from_millis(u64::from(bounded(
                source,
                "SESSION_POLL_MS",
                1_000,
                100..=60_000,
            )?)),
            slow_request_threshold: Duration::from_millis(config::parsed(
                source,
                "PERFORMANCE_THRESHOLD_MS",
                500u64,
            )?),
            upstream_timeout: Duration::from_millis(config::parsed(
                source,
                "UPSTREAM_TIMEOUT_MS",
                5_000u64,
            )?),
            request_timeout: Duration::from_millis(u64::from(request_timeout_ms)),
            rate_limit_per_minute,
            rate_limit_burst,
            trusted_proxies: config::parsed(source, "TRUSTED_PROXIES", TrustedProxies::default())?,
            metrics_allowed: match source.get("METRICS_ALLOWED_NETWORKS") {
                Some(raw) => raw
                    .parse()
                    .map_err(|error| ConfigError::new("METRICS_ALLOWED_NETWORKS", &raw, error))?,
                None => LOOPBACK.parse().expect("loopback networks"),
            },
            metrics_addr: config::optional_listen_addr(source, "METRICS_ADDR")?,
            metrics_refresh: Duration::from_millis(u64::from(bounded(
                source,
                "METRICS_REFRESH_MS",
                5_000,
                100..=600_000,
            )?)),
            cors_origins: config::parsed(source, "CORS_ALLOWED_ORIGINS", CorsOrigins::default())?,
            connection_limits: ConnectionLimits {
                header_read_timeout: Duration::from_millis(u64::from(bounded(
                    source,
                    "HEADER_READ_TIMEOUT_MS",
                    10_000,
                    100..=600_000,
                )?)),
                max_connections: bounded(source, "MAX_CONNECTIONS", 10_000, 1..=1_000_000)?
                    as usize,
            },
            view_cache: ViewCacheSettings {
                enabled: config::switch(source, "VIEW_CACHE", true)?,
                ttl: Duration::from_millis(u64::from(bounded(
                    source,
                    "VIEW_CACHE_TTL_MS",
                    10_000,
                    1..=3_600_000,
                )?)),
                max_bytes: u64::from(bounded(source, "VIEW_CACHE_MAX_MB", 16, 1..=65_536)?)
                    * 1024
                    * 1024,
            },
        })
    }
}

/// An integer variable that must lie within `range`.
fn bounded(
    source: &(impl Source + ?Sized),
    name: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let value = config::parsed(source, name, default)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            name,
            &value.to_string(),
            format!("must be between {} and {}", range.start(), range.end()),
        ))
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
