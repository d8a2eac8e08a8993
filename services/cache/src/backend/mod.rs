//! Where cached bytes live. With Redis configured, Redis serves; when it stops answering, the
//! in-process store takes over at once (a read never fails because Redis is down), the service
//! reports itself degraded, and the health loop switches back when Redis answers again. Coming
//! back bumps the epoch in every key, because invalidations made during the outage only reached
//! the in-process store, and empties that store: what it held is of no use while Redis serves,
//! and an outage of a minute would otherwise keep its views in memory until the next one.
//! Without Redis configured, the in-process store is all there is.

pub mod memory;
pub mod redis;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use wellbeing_proto::cache::v1::invalidation::Scope;

use crate::keys::KeySpace;
use memory::MemoryBackend;
use redis::RedisBackend;

/// A backend operation that failed (Redis unreachable, timed out, or refused the command).
#[derive(Debug, thiserror::Error)]
#[error("cache backend error: {0}")]
pub struct BackendError(pub String);

pub struct Backend {
    redis: Option<RedisBackend>,
    memory: MemoryBackend,
    keys: KeySpace,
    /// Redis is configured but not answering: the in-process store serves.
    degraded: AtomicBool,
    /// An invalidation went to the in-process store during an outage: Redis may now hold views
    /// that should have been invalidated, so coming back needs a new epoch.
    invalidated_during_outage: AtomicBool,
    epoch: AtomicU64,
    /// Switches from Redis to the in-process store since start.
    failovers: AtomicU64,
    /// Told "everything" when the store switches, so in-process copies start over.
    on_switch: tokio::sync::broadcast::Sender<Scope>,
}

/// Which store serves right now.
enum Active<'a> {
    Redis(&'a RedisBackend),
    Memory,
}

impl Backend {
    pub fn new(
        redis: Option<RedisBackend>,
        memory: MemoryBackend,
        keys: KeySpace,
        on_switch: tokio::sync::broadcast::Sender<Scope>,
    ) -> Self {
        // Until the first successful check, a configured Redis is assumed down: the first check
        // (at start) reads the epoch and switches to Redis.
        let degraded = redis.is_some();
        Self {
            redis,
            memory,
            keys,
            degraded: AtomicBool::new(degraded),
            invalidated_during_outage: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            failovers: AtomicU64::new(0),
            on_switch,
        }
    }

    /// The store serving now: `redis` or `memory`.
    pub fn name(&self) -> &'static str {
        match self.active() {
            Active::Redis(_) => "redis",
            Active::Memory => "memory",
        }
    }

    /// True while a configured Redis is not answering.
    pub fn is_degraded(&self) -> bool {
        self.redis.is_some() && self.degraded.load(Ordering::Acquire)
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// How many times Redis stopped answering and the in-process store took over.
    pub fn failovers(&self) -> u64 {
        self.failovers.load(Ordering::Relaxed)
    }

    /// Entries and counters held in process memory (0 while Redis serves, after the switch back).
    pub fn memory_keys(&self) -> u64 {
        self.memory.key_count()
    }

    pub fn redis(&self) -> Option<&RedisBackend> {
        self.redis.as_ref()
    }

    fn active(&self) -> Active<'_> {
        match &self.redis {
            Some(redis) if !self.degraded.load(Ordering::Acquire) => Active::Redis(redis),
            _ => Active::Memory,
        }
    }

    /// Redis failed a command: serve from memory until the health loop sees it answer again.
    fn fail_over(&self, error: &BackendError) {
        if !self.degraded.swap(true, Ordering::AcqRel) {
            self.failovers.fetch_add(1, Ordering::Relaxed);
            // Whatever memory held from an earlier outage may be stale by now (it is emptied on the
            // switch back, but a write in flight then can still land in it).
            self.memory.clear();
            let _ = self.on_switch.send(Scope::Everything(true));
            tracing::warn!(%error, "redis failed; serving from the in-process store");
        }
    }

    /// Checks Redis: switches to it when it answers (with a new epoch if invalidations went to
    /// memory meanwhile), and adopts a newer epoch set by another replica. Without Redis there is
    /// nothing to check.
    pub async fn check(&self) {
        let Some(redis) = &self.redis else { return };
        let epoch_key = self.keys.epoch();
        let result = async {
            redis.ping().await?;
            if self.invalidated_during_outage.load(Ordering::Acquire) {
                let epoch = redis.increment(&[(epoch_key.clone(), 1)], u32::MAX).await?;
                Ok::<_, BackendError>((epoch.first().copied().unwrap_or(0), true))
            } else {
                let epoch = redis.counters(std::slice::from_ref(&epoch_key)).await?;
                Ok((epoch.first().copied().unwrap_or(0), false))
            }
        }
        .await;
        match result {
            Ok((epoch, recovered)) => {
                let previous = self.epoch.swap(epoch, Ordering::AcqRel);
                let was_degraded = self.degraded.swap(false, Ordering::AcqRel);
                if recovered {
                    self.invalidated_during_outage
                        .store(false, Ordering::Release);
                }
                if was_degraded {
                    // Nothing reads the in-process store while Redis serves: give its memory back.
                    self.memory.clear();
                    self.memory.release().await;
                    tracing::info!(epoch, "redis answers; serving from redis");
                }
                if was_degraded || previous != epoch {
                    let _ = self.on_switch.send(Scope::Everything(true));
                }
            }
            Err(error) => self.fail_over(&error),
        }
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        if let Active::Redis(redis) = self.active() {
            match redis.get(key).await {
                Ok(value) => return value,
                Err(error) => self.fail_over(&error),
            }
        }
        self.memory.get(key).await
    }

    pub async fn set(&self, key: &str, value: Bytes, ttl_seconds: u32) {
        if let Active::Redis(redis) = self.active() {
            match redis.set(key, value.clone(), ttl_seconds).await {
                Ok(()) => return,
                Err(error) => self.fail_over(&error),
            }
        }
        self.memory.set(key, value, ttl_seconds).await;
    }

    pub async fn delete(&self, key: &str) -> bool {
        if let Active::Redis(redis) = self.active() {
            match redis.delete(key).await {
                Ok(deleted) => return deleted,
                Err(error) => self.fail_over(&error),
            }
        }
        self.memory.delete(key).await
    }

    /// Reads counters (0 when absent).
    pub async fn counters(&self, keys: &[String]) -> Vec<u64> {
        if let Active::Redis(redis) = self.active() {
            match redis.counters(keys).await {
                Ok(values) => return values,
                Err(error) => self.fail_over(&error),
            }
        }
        self.memory.counters(keys)
    }

    /// Adds to counters, keeps them `ttl_seconds` more, and returns their new values.
    pub async fn increment(&self, increments: &[(String, u64)], ttl_seconds: u32) -> Vec<u64> {
        if let Active::Redis(redis) = self.active() {
            match redis.increment(increments, ttl_seconds).await {
                Ok(values) => return values,
                Err(error) => self.fail_over(&error),
            }
        }
        self.memory.increment(increments)
    }

    /// Bumps generations (`increments`, kept `ttl_seconds` more) and tells every replica's
    /// subscribers with `users` (an encoded [`Users`](wellbeing_proto::cache::v1::Users)), in
    /// one Redis round trip. Returns the new generations and whether this replica's own
    /// subscriber will hear the message; when it will not (memory serves, not subscribed yet),
    /// the caller tells its watchers itself. Generations bumped in memory while Redis is
    /// configured make the switch back take a new epoch.
    pub async fn invalidate(
        &self,
        increments: &[(String, u64)],
        ttl_seconds: u32,
        channel: &str,
        users: &[u8],
    ) -> (Vec<u64>, bool) {
        if let Active::Redis(redis) = self.active() {
            match redis
                .increment_and_publish(increments, ttl_seconds, channel, users)
                .await
            {
                Ok(done) => return done,
                Err(error) => self.fail_over(&error),
            }
        }
        if self.redis.is_some() {
            self.invalidated_during_outage
                .store(true, Ordering::Release);
        }
        (self.memory.increment(increments), false)
    }

    /// Deletes every key matching a `*`-terminated pattern, in Redis and in memory. Scans: rare
    /// operations only (erasure, admin clearing).
    pub async fn delete_matching(&self, pattern: &str) -> Result<u64, BackendError> {
        let mut deleted = self.memory.delete_prefixed(&literal_prefix(pattern)).await;
        if let Some(redis) = &self.redis {
            deleted += redis.delete_matching(pattern).await?;
        }
        Ok(deleted)
    }

    /// Keys held by the store serving now.
    pub async fn key_count(&self) -> u64 {
        if let Active::Redis(redis) = self.active() {
            match redis.key_count().await {
                Ok(count) => return count,
                Err(error) => self.fail_over(&error),
            }
        }
        self.memory.key_count()
    }
}

/// The part of a glob pattern before its first wildcard, unescaped.
fn literal_prefix(pattern: &str) -> String {
    let mut prefix = String::new();
    let mut characters = pattern.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => prefix.extend(characters.next()),
            '*' | '?' | '[' => break,
            other => prefix.push(other),
        }
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefix_stops_at_the_first_wildcard() {
        assert_eq!(literal_prefix("wb:v1:{u:1}:*"), "wb:v1:{u:1}:");
        assert_eq!(literal_prefix("wb:v1:a\\*b*"), "wb:v1:a*b");
    }
}
