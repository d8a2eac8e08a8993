//! Where cached bytes live: Redis, or an in-process store when no Redis is configured. Both
//! offer the same few operations, so the service above does not care which one runs.

pub mod memory;
pub mod redis;

use bytes::Bytes;

/// A backend operation that failed (Redis unreachable, timed out, or refused the command).
#[derive(Debug, thiserror::Error)]
#[error("cache backend error: {0}")]
pub struct BackendError(pub String);

pub enum Backend {
    Redis(redis::RedisBackend),
    Memory(memory::MemoryBackend),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Redis(_) => "redis",
            Self::Memory(_) => "memory",
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, BackendError> {
        match self {
            Self::Redis(redis) => redis.get(key).await,
            Self::Memory(memory) => Ok(memory.get(key).await),
        }
    }

    pub async fn set(&self, key: &str, value: Bytes, ttl_seconds: u32) -> Result<(), BackendError> {
        match self {
            Self::Redis(redis) => redis.set(key, value, ttl_seconds).await,
            Self::Memory(memory) => {
                memory.set(key, value, ttl_seconds).await;
                Ok(())
            }
        }
    }

    pub async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        match self {
            Self::Redis(redis) => redis.delete(key).await,
            Self::Memory(memory) => Ok(memory.delete(key).await),
        }
    }

    /// Reads a counter (0 when absent).
    pub async fn counter(&self, key: &str) -> Result<u64, BackendError> {
        match self {
            Self::Redis(redis) => redis.counter(key).await,
            Self::Memory(memory) => Ok(memory.counter(key)),
        }
    }

    /// Increments a counter, keeps it for `ttl_seconds` more, and returns its new value.
    pub async fn increment(&self, key: &str, ttl_seconds: u32) -> Result<u64, BackendError> {
        match self {
            Self::Redis(redis) => redis.increment(key, ttl_seconds).await,
            Self::Memory(memory) => Ok(memory.increment(key)),
        }
    }

    /// Deletes every key matching a `*`-terminated pattern (a prefix). Rare operations only.
    pub async fn delete_matching(&self, pattern: &str) -> Result<u64, BackendError> {
        match self {
            Self::Redis(redis) => redis.delete_matching(pattern).await,
            Self::Memory(memory) => Ok(memory.delete_prefixed(pattern.trim_end_matches('*')).await),
        }
    }

    /// Number of keys held.
    pub async fn key_count(&self) -> Result<u64, BackendError> {
        match self {
            Self::Redis(redis) => redis.key_count().await,
            Self::Memory(memory) => Ok(memory.key_count()),
        }
    }

    /// Answers whether the backend takes commands.
    pub async fn ping(&self) -> Result<(), BackendError> {
        match self {
            Self::Redis(redis) => redis.ping().await,
            Self::Memory(_) => Ok(()),
        }
    }
}
