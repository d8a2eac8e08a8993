//! Cache service configuration: [`CacheArgs`] lists every setting, with its variable and
//! default (`wellbeing-cache --help` shows them; docs/OPERATIONS.md too).

use std::net::SocketAddr;

use clap::value_parser;
use wellbeing_common::config::{self, ConfigError};
use wellbeing_common::grpc::AdminPorts;
use wellbeing_common::internal_tls::{TlsArgs, Transport};
use wellbeing_common::telemetry::{RUST_LOG_HELP, TelemetryArgs};

/// The cache service: views shared by the analytics replicas, in Redis or in process. Every
/// setting is an environment variable (or the flag of the same name).
#[derive(clap::Parser, Clone)]
#[command(name = "wellbeing-cache", version, after_help = RUST_LOG_HELP)]
pub struct CacheArgs {
    /// gRPC listen address
    #[arg(long, env = "CACHE_ADDR", default_value = ":50052", value_parser = config::listen_addr)]
    pub cache_addr: SocketAddr,
    #[command(flatten)]
    pub admin: AdminPorts,
    /// Redis; empty runs on the in-process store. A password goes in it
    /// (`redis://:PASSWORD@host:6379`, or `USER:PASSWORD` for an ACL user) and is never shown
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true
    )]
    pub redis_url: String,
    /// With a `rediss://` URL (TLS): the authority (PEM) Redis's certificate must come from
    /// (unset: the system's roots)
    #[arg(long, env = "REDIS_TLS_CA_FILE")]
    pub redis_tls_ca_file: Option<String>,
    /// First segment of every key (`wb:v1:...`)
    #[arg(long, env = "CACHE_NAMESPACE", default_value = "wb")]
    pub cache_namespace: String,
    /// Seconds an entry lives when a caller gives none
    #[arg(long, env = "CACHE_TTL", default_value_t = 300, value_parser = value_parser!(u32).range(1..))]
    pub cache_ttl: u32,
    /// Bound of the in-process store, MiB of keys and values (and 128 bytes per entry)
    #[arg(long, env = "CACHE_MEMORY_MAX_MB", default_value_t = 64)]
    pub cache_memory_max_mb: u64,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// Variables whose empty value is not "unset": `REDIS_URL=` runs on the in-process store.
pub const EMPTY_IS_A_VALUE: &[&str] = &["REDIS_URL"];

/// A Redis URL as it may be shown: the user and password, if any, replaced by `***`.
pub fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl std::fmt::Debug for CacheConfig {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CacheConfig")
            .field("listen_addr", &self.listen_addr)
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(without_credentials),
            )
            .field("namespace", &self.namespace)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct CacheConfig {
    pub listen_addr: SocketAddr,
    /// `METRICS_ADDR`: the Prometheus admin port (none when unset).
    pub metrics_addr: Option<SocketAddr>,
    /// `PROBE_ADDR`: health in plaintext for Kubernetes probes (none when unset).
    pub probe_addr: Option<SocketAddr>,
    pub transport: Transport,
    /// `None` runs on the in-process store.
    pub redis_url: Option<String>,
    /// `REDIS_TLS_CA_FILE`'s certificates (PEM), for a `rediss://` URL.
    pub redis_tls_authority: Option<Vec<u8>>,
    pub namespace: String,
    pub default_ttl_seconds: u32,
    /// Bytes the in-process store may hold.
    pub memory_max_bytes: u64,
}

impl CacheConfig {
    /// Settings from `NAME=value` pairs alone (in-process stacks and tests).
    pub fn from_source(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::from_args(&config::from_pairs::<CacheArgs>(pairs, EMPTY_IS_A_VALUE)?)
    }

    /// Checks the settings together and reads what they point to.
    pub fn from_args(args: &CacheArgs) -> Result<Self, ConfigError> {
        let redis_url = &args.redis_url;
        let redis_url = match redis_url.trim() {
            "" => None,
            url => {
                if ![
                    "redis://",
                    "rediss://",
                    "redis-cluster://",
                    "rediss-cluster://",
                ]
                .iter()
                .any(|scheme| url.starts_with(scheme))
                {
                    return Err(ConfigError::new(
                        "REDIS_URL",
                        &without_credentials(url),
                        "expected redis://, rediss://, redis-cluster:// or rediss-cluster://",
                    ));
                }
                fred::types::config::Config::from_url(url).map_err(|error| {
                    ConfigError::new("REDIS_URL", &without_credentials(url), error)
                })?;
                Some(url.to_owned())
            }
        };
        let redis_tls_authority = match &args.redis_tls_ca_file {
            Some(path) => {
                if !redis_url
                    .as_deref()
                    .is_some_and(|url| url.starts_with("rediss"))
                {
                    return Err(ConfigError::new(
                        "REDIS_TLS_CA_FILE",
                        path,
                        "an authority for TLS, but REDIS_URL is not rediss:// (TLS)",
                    ));
                }
                let pem = std::fs::read(path.trim())
                    .map_err(|error| ConfigError::new("REDIS_TLS_CA_FILE", path, error))?;
                if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(ConfigError::new(
                        "REDIS_TLS_CA_FILE",
                        path,
                        "the file holds no PEM certificate",
                    ));
                }
                Some(pem)
            }
            _ => None,
        };
        let namespace = args.cache_namespace.clone();
        if namespace.is_empty() || namespace.contains(['{', '}', ' ']) {
            return Err(ConfigError::new(
                "CACHE_NAMESPACE",
                &namespace,
                "must be non-empty, without braces or spaces",
            ));
        }
        Ok(Self {
            listen_addr: args.cache_addr,
            metrics_addr: args.admin.metrics_addr,
            probe_addr: args.admin.probe_addr,
            transport: Transport::from_args(&args.tls)?,
            redis_url,
            redis_tls_authority,
            namespace,
            default_ttl_seconds: args.cache_ttl,
            memory_max_bytes: args.cache_memory_max_mb.saturating_mul(1024 * 1024),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_redis_url_means_in_process_store() {
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("REDIS_URL", "")];
        assert!(
            CacheConfig::from_source(source)
                .unwrap()
                .redis_url
                .is_none()
        );
        let default: &[(&str, &str)] = &[("INTERNAL_TLS", "off")];
        assert_eq!(
            CacheConfig::from_source(default)
                .unwrap()
                .redis_url
                .as_deref(),
            Some("redis://127.0.0.1:6379")
        );
    }

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let url = "redis://:s3cret-pass@redis:6379";
        assert_eq!(without_credentials(url), "redis://***@redis:6379");
        let config = CacheConfig::from_source(&[("INTERNAL_TLS", "off"), ("REDIS_URL", url)][..])
            .expect("a valid URL");
        assert!(!format!("{config:?}").contains("s3cret"));
        let bad = CacheConfig::from_source(
            &[
                ("INTERNAL_TLS", "off"),
                ("REDIS_URL", "http://:s3cret@redis"),
            ][..],
        );
        let error = bad.expect_err("not a Redis URL");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn a_bad_redis_url_is_refused() {
        let source: &[(&str, &str)] = &[("INTERNAL_TLS", "off"), ("REDIS_URL", "http://nope")];
        assert_eq!(
            CacheConfig::from_source(source).unwrap_err().name,
            "REDIS_URL"
        );
    }

    #[test]
    fn an_authority_for_tls_needs_a_tls_url_and_a_certificate() {
        let source: &[(&str, &str)] = &[
            ("INTERNAL_TLS", "off"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("REDIS_TLS_CA_FILE", "/etc/hostname"),
        ];
        assert_eq!(
            CacheConfig::from_source(source).unwrap_err().name,
            "REDIS_TLS_CA_FILE"
        );
        let source: &[(&str, &str)] = &[
            ("INTERNAL_TLS", "off"),
            ("REDIS_URL", "rediss://127.0.0.1:6379"),
            ("REDIS_TLS_CA_FILE", "/etc/hostname"),
        ];
        let error = CacheConfig::from_source(source).unwrap_err();
        assert_eq!(error.name, "REDIS_TLS_CA_FILE");
        assert!(error.reason.contains("no PEM certificate"), "{error}");
    }
}
