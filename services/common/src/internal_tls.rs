//! Mutual TLS between the services. Each service presents the certificate of its role and
//! accepts a call only from a certificate issued by the same authority whose role may call it:
//! gateway -> analytics, cache, aggregator; analytics -> cache.
//!
//! A role is named by a DNS subject alternative name equal to it (`analytics`), which is both
//! what a client checks the server against (whatever address it dialled: balanced endpoints
//! are IP addresses) and what a server reads the caller's role from ([`crate::callers`]).
//!
//! Its settings are [`TlsArgs`] (`INTERNAL_TLS`, `TLS_CERT_FILE`, `TLS_KEY_FILE`, `TLS_CA_FILE`),
//! whose defaults are where a cert-manager Secret mounted at `/etc/wellbeing/tls` puts them.

use std::fmt;
use std::sync::Arc;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::{self, ConfigError};

/// Mutual TLS between the services: part of every service's settings.
#[derive(clap::Args, Debug, Clone)]
pub struct TlsArgs {
    /// `off` only for tests and benchmarks on one machine: plaintext, any caller
    #[arg(long, env = "INTERNAL_TLS", default_value = "on", value_parser = config::switch,
          action = clap::ArgAction::Set)]
    pub internal_tls: bool,
    /// This service's certificate (PEM)
    #[arg(
        long,
        env = "TLS_CERT_FILE",
        default_value = "/etc/wellbeing/tls/tls.crt"
    )]
    pub tls_cert_file: String,
    /// Its private key (PEM)
    #[arg(
        long,
        env = "TLS_KEY_FILE",
        default_value = "/etc/wellbeing/tls/tls.key"
    )]
    pub tls_key_file: String,
    /// The authority the peers' certificates must come from (PEM)
    #[arg(long, env = "TLS_CA_FILE", default_value = "/etc/wellbeing/tls/ca.crt")]
    pub tls_ca_file: String,
}

/// What a service is to the others: the name its certificate carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Gateway,
    Analytics,
    Cache,
    Aggregator,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Analytics => "analytics",
            Self::Cache => "cache",
            Self::Aggregator => "aggregator",
        }
    }
}

/// How a service talks with the others: mutual TLS, or plaintext when told so.
#[derive(Clone)]
pub enum Transport {
    Plaintext,
    MutualTls(Arc<Credentials>),
}

/// This service's certificate and key, and the authority its peers must be issued by.
pub struct Credentials {
    identity: Identity,
    authority: Certificate,
    cert_file: String,
}

impl Transport {
    /// Reads the three files unless `INTERNAL_TLS` is off; a missing or unusable file stops the
    /// service at start with the variable's name.
    pub fn from_args(args: &TlsArgs) -> Result<Self, ConfigError> {
        if !args.internal_tls {
            return Ok(Self::Plaintext);
        }
        let cert = read_pem(&args.tls_cert_file, "TLS_CERT_FILE", "CERTIFICATE-----")?;
        let key_file = &args.tls_key_file;
        let key = read_pem(key_file, "TLS_KEY_FILE", "PRIVATE KEY-----")?;
        let authority = read_pem(&args.tls_ca_file, "TLS_CA_FILE", "CERTIFICATE-----")?;
        let cert_file = args.tls_cert_file.clone();
        let credentials = Credentials {
            identity: Identity::from_pem(cert, key),
            authority: Certificate::from_pem(authority),
            cert_file,
        };
        // rustls parses the files here, so a key that does not match its certificate stops the
        // service now rather than at its first connection.
        tonic::transport::Server::builder()
            .tls_config(credentials.server_config())
            .map_err(|error| ConfigError::new("TLS_KEY_FILE", key_file, error))?;
        Ok(Self::MutualTls(Arc::new(credentials)))
    }

    /// The URI scheme of a peer's address: `https` selects tonic's TLS connector.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Plaintext => "http",
            Self::MutualTls(_) => "https",
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Self::MutualTls(_))
    }

    pub(crate) fn server_config(&self) -> Option<ServerTlsConfig> {
        match self {
            Self::Plaintext => None,
            Self::MutualTls(credentials) => Some(credentials.server_config()),
        }
    }

    /// How to reach `upstream`: its certificate must name that role, and this service shows its
    /// own.
    pub(crate) fn client_config(&self, upstream: Role) -> Option<ClientTlsConfig> {
        match self {
            Self::Plaintext => None,
            Self::MutualTls(credentials) => Some(
                ClientTlsConfig::new()
                    .ca_certificate(credentials.authority.clone())
                    .identity(credentials.identity.clone())
                    .domain_name(upstream.name()),
            ),
        }
    }
}

impl Credentials {
    fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.authority.clone())
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plaintext => f.write_str("Plaintext"),
            Self::MutualTls(credentials) => {
                write!(f, "MutualTls({})", credentials.cert_file)
            }
        }
    }
}

fn read_pem(path: &str, name: &str, marker: &str) -> Result<Vec<u8>, ConfigError> {
    let bytes = std::fs::read(path).map_err(|error| ConfigError::new(name, path, error))?;
    if !String::from_utf8_lossy(&bytes).contains(marker) {
        return Err(ConfigError::new(
            name,
            path,
            format!("the file holds no PEM block ending in {marker}"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`TlsArgs`] alone, as a binary would read them.
    #[derive(clap::Parser)]
    struct Settings {
        #[command(flatten)]
        tls: TlsArgs,
    }

    fn transport(pairs: &[(&str, &str)]) -> Result<Transport, ConfigError> {
        Transport::from_args(&config::from_pairs::<Settings>(pairs, &[])?.tls)
    }

    #[test]
    fn plaintext_only_when_told() {
        let plain = transport(&[("INTERNAL_TLS", "off")]).expect("valid");
        assert!(!plain.is_tls());
        let missing = transport(&[("TLS_CERT_FILE", "/nonexistent/tls.crt")])
            .expect_err("TLS is the default and the file is missing");
        assert_eq!(missing.name, "TLS_CERT_FILE");
        let wrong = transport(&[("INTERNAL_TLS", "maybe")]).expect_err("not a switch");
        assert_eq!(wrong.name, "INTERNAL_TLS");
    }

    #[test]
    fn a_file_that_is_not_pem_is_refused_with_its_name() {
        let path = std::env::temp_dir().join(format!("not-pem-{}", std::process::id()));
        std::fs::write(&path, "hello").expect("written");
        let path = path.to_string_lossy().into_owned();
        let error = transport(&[("TLS_CERT_FILE", path.as_str())]).expect_err("not a certificate");
        assert_eq!(error.name, "TLS_CERT_FILE");
        let _ = std::fs::remove_file(&path);
    }
}
