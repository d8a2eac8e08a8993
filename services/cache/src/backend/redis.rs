//! Redis through fred. Commands fail fast (a short timeout, one attempt) so that a Redis outage
//! turns into cache misses, not slow requests; the client reconnects by itself.

use std::time::Duration;

use bytes::Bytes;
use fred::prelude::*;

use super::BackendError;

/// A command slower than this fails.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);

pub struct RedisBackend {
    client: Client,
}

impl From<fred::error::Error> for BackendError {
    fn from(error: fred::error::Error) -> Self {
        BackendError(error.to_string())
    }
}

impl RedisBackend {
    /// Creates the client and starts connecting in the background; it keeps reconnecting.
    pub fn connect(url: &str) -> Result<Self, BackendError> {
        let config = Config::from_url(url)?;
        let client = Builder::from_config(config)
            .with_connection_config(|connection| {
                connection.connection_timeout = Duration::from_secs(1);
                connection.internal_command_timeout = Duration::from_secs(1);
                connection.max_command_attempts = 1;
            })
            .with_performance_config(|performance| {
                performance.default_command_timeout = COMMAND_TIMEOUT;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2))
            .build()?;
        // The connection task runs until quit; errors are retried by the reconnect policy.
        let _connection_task = client.connect();
        Ok(Self { client })
    }

    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, BackendError> {
        Ok(self.client.get::<Option<Bytes>, _>(key).await?)
    }

    pub async fn set(&self, key: &str, value: Bytes, ttl_seconds: u32) -> Result<(), BackendError> {
        self.client
            .set::<(), _, _>(
                key,
                value,
                Some(Expiration::EX(i64::from(ttl_seconds))),
                None,
                false,
            )
            .await?;
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        Ok(self.client.del::<u64, _>(key).await? > 0)
    }

    pub async fn counter(&self, key: &str) -> Result<u64, BackendError> {
        Ok(self.client.get::<Option<u64>, _>(key).await?.unwrap_or(0))
    }

    /// Increments a counter and (re)sets its lifetime, in one round trip.
    pub async fn increment(&self, key: &str, ttl_seconds: u32) -> Result<u64, BackendError> {
        let pipeline = self.client.pipeline();
        pipeline.incr::<(), _>(key).await?;
        pipeline
            .expire::<(), _>(key, i64::from(ttl_seconds), None)
            .await?;
        let (value, _): (u64, bool) = pipeline.all().await?;
        Ok(value)
    }

    /// Deletes every key matching `pattern`. Scans, so only for rare operations (erasure).
    pub async fn delete_matching(&self, pattern: &str) -> Result<u64, BackendError> {
        use tokio_stream::StreamExt;
        let mut keys = self
            .client
            .scan_buffered(pattern.to_owned(), Some(500), None);
        let mut batch: Vec<Key> = Vec::new();
        let mut deleted = 0;
        while let Some(key) = keys.next().await {
            batch.push(key?);
            if batch.len() >= 500 {
                deleted += self
                    .client
                    .unlink::<u64, _>(std::mem::take(&mut batch))
                    .await?;
            }
        }
        if !batch.is_empty() {
            deleted += self.client.unlink::<u64, _>(batch).await?;
        }
        Ok(deleted)
    }

    pub async fn key_count(&self) -> Result<u64, BackendError> {
        Ok(self.client.dbsize::<u64>().await?)
    }

    pub async fn ping(&self) -> Result<(), BackendError> {
        self.client.ping::<String>(None).await?;
        Ok(())
    }

    pub async fn quit(&self) {
        let _ = self.client.quit().await;
    }
}
