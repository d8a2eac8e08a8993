//! Aggregator configuration, from the environment.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `AGGREGATOR_ADDR` | `:50053` | gRPC listen address |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/wellbeing` | PostgreSQL (schema owned by analytics) |
//! | `AGGREGATOR_DB_MAX_CONNECTIONS` | `5` | pool size of one worker |

use std::net::SocketAddr;

use wellbeing_common::config::{self, ConfigError, Source};

#[derive(Debug, Clone)]
pub struct AggregatorConfig {
    pub listen_addr: SocketAddr,
    pub database_url: String,
    pub max_connections: u32,
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
        Ok(Self {
            listen_addr: config::listen_addr(source, "AGGREGATOR_ADDR", ":50053")?,
            database_url,
            max_connections,
        })
    }
}
