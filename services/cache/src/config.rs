//! Cache service configuration, from the environment.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `CACHE_ADDR` | `:50052` | gRPC listen address |
//! | `METRICS_ADDR` | unset | Prometheus `/metrics` admin port, e.g. `:9464` (unset: none) |
//! | `PROBE_ADDR` | unset | the gRPC health service again, in plaintext, for Kubernetes probes, e.g. `:50062` (unset: none) |
//! | `INTERNAL_TLS`, `TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_CA_FILE` | `on`, `/etc/wellbeing/tls/{tls.crt,tls.key,ca.crt}` | mutual TLS: only the gateway and analytics may call (see `wellbeing_common::internal_tls`) |
//! | `REDIS_URL` | `redis://127.0.0.1:6379` | Redis; empty runs on the in-process store. A password goes in it (`redis://:PASSWORD@host:6379`, or `USER:PASSWORD` for an ACL user) and is never echoed |
//! | `REDIS_TLS_CA_FILE` | unset | with a `rediss://` URL (TLS): the authority (PEM) Redis's certificate must come from; unset: the system's roots |
//! | `CACHE_NAMESPACE` | `wb` | first segment of every key (`wb:v1:...`) |
//! | `CACHE_TTL` | `300` | seconds, when a caller gives none |
//! | `CACHE_MEMORY_MAX_MB` | `64` | bound of the in-process store, in bytes of keys and values (and 128 bytes per entry) |

use std::net::SocketAddr;

use wellbeing_common::config::{self, ConfigError, Source};
use wellbeing_common::internal_tls::Transport;

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
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&config::Env)
    }

    pub fn from_source(source: &(impl Source + ?Sized)) -> Result<Self, ConfigError> {
        let redis_url = config::string(source, "REDIS_URL", "redis://127.0.0.1:6379");
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
        let redis_tls_authority = match source.get("REDIS_TLS_CA_FILE") {
            Some(path) if !path.trim().is_empty() => {
                if !redis_url
                    .as_deref()
                    .is_some_and(|url| url.starts_with("rediss"))
                {
                    return Err(ConfigError::new(
                        "REDIS_TLS_CA_FILE",
                        &path,
                        "an authority for TLS, but REDIS_URL is not rediss:// (TLS)",
                    ));
                }
                let pem = std::fs::read(path.trim())
                    .map_err(|error| ConfigError::new("REDIS_TLS_CA_FILE", &path, error))?;
                if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(ConfigError::new(
                        "REDIS_TLS_CA_FILE",
                        &path,
                        "the file holds no PEM certificate",
                    ));
                }
                Some(pem)
            }
            _ => None,
        };
        let namespace = config::string(source, "CACHE_NAMESPACE", "wb");
        if namespace.is_empty() || namespace.contains(['{', '}', ' ']) {
            return Err(ConfigError::new(
                "CACHE_NAMESPACE",
                &namespace,
                "must be non-empty, without braces or spaces",
            ));
        }
        let default_ttl_seconds = config::parsed(source, "CACHE_TTL", 300u32)?;
        if default_ttl_seconds == 0 {
            return Err(ConfigError::new(
                "CACHE_TTL",
                "0",
                "must be at least 1 second",
            ));
        }
        Ok(Self {
            listen_addr: config::listen_addr(source, "CACHE_ADDR", ":50052")?,
            metrics_addr: wellbeing_common::metrics::addr_from(source)?,
            probe_addr: wellbeing_common::grpc::probe_addr_from(source)?,
            transport: Transport::from_source(source)?,
            redis_url,
            redis_tls_authority,
            namespace,
            default_ttl_seconds,
            memory_max_bytes: config::parsed(source, "CACHE_MEMORY_MAX_MB", 64u64)?
                .saturating_mul(1024 * 1024),
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
