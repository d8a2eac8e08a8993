//! The in-process store: bounded in bytes (entries beyond the bound are evicted, least used
//! first; each entry also counts a fixed overhead, so the bound caps their number too) with a
//! TTL per entry. Used when `REDIS_URL` is empty, and while a configured Redis does not answer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use moka::future::Cache;

#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Duration,
}

/// Each entry expires after its own TTL.
struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _now: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct MemoryBackend {
    entries: Cache<String, Entry>,
    /// Generations and read counters are tiny and must not be evicted (a lost generation would
    /// resurrect stale views).
    counters: Mutex<HashMap<String, u64>>,
}

/// What an entry costs besides its key and value (map node, expiry, `Bytes` header).
const ENTRY_OVERHEAD_BYTES: usize = 128;

impl MemoryBackend {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            entries: Cache::builder()
                .weigher(|key: &String, entry: &Entry| {
                    u32::try_from(key.len() + entry.value.len() + ENTRY_OVERHEAD_BYTES)
                        .unwrap_or(u32::MAX)
                })
                .max_capacity(max_bytes)
                .expire_after(PerEntryTtl)
                .build(),
            counters: Mutex::new(HashMap::new()),
        }
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        self.entries.get(key).await.map(|entry| entry.value)
    }

    pub async fn set(&self, key: &str, value: Bytes, ttl_seconds: u32) {
        let entry = Entry {
            value,
            ttl: Duration::from_secs(u64::from(ttl_seconds)),
        };
        self.entries.insert(key.to_owned(), entry).await;
    }

    pub async fn delete(&self, key: &str) -> bool {
        self.entries.remove(key).await.is_some()
    }

    pub fn counters(&self, keys: &[String]) -> Vec<u64> {
        let counters = self.lock_counters();
        keys.iter()
            .map(|key| counters.get(key).copied().unwrap_or(0))
            .collect()
    }

    pub fn increment(&self, increments: &[(String, u64)]) -> Vec<u64> {
        let mut counters = self.lock_counters();
        increments
            .iter()
            .map(|(key, by)| {
                let value = counters.entry(key.clone()).or_insert(0);
                *value = value.saturating_add(*by);
                *value
            })
            .collect()
    }

    /// Deletes every key starting with `prefix`.
    pub async fn delete_prefixed(&self, prefix: &str) -> u64 {
        let keys: Vec<String> = self
            .entries
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, _)| key.as_ref().clone())
            .collect();
        let mut deleted = 0;
        for key in keys {
            if self.entries.remove(&key).await.is_some() {
                deleted += 1;
            }
        }
        let mut counters = self.lock_counters();
        let before = counters.len();
        counters.retain(|key, _| !key.starts_with(prefix));
        deleted + (before - counters.len()) as u64
    }

    /// Forgets everything. The entries' memory is freed lazily, by later calls or [`Self::release`].
    pub fn clear(&self) {
        self.entries.invalidate_all();
        let mut counters = self.lock_counters();
        counters.clear();
        counters.shrink_to_fit();
    }

    /// Frees what cleared and expired entries still hold now (the store's housekeeping otherwise
    /// runs only as it is used, and nothing uses it while Redis serves).
    pub async fn release(&self) {
        self.entries.run_pending_tasks().await;
    }

    pub fn key_count(&self) -> u64 {
        self.entries.entry_count() + self.lock_counters().len() as u64
    }

    fn lock_counters(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        // A panic while holding this lock cannot leave a counter half-written.
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_round_trip_and_delete() {
        let memory = MemoryBackend::new(1 << 20);
        assert_eq!(memory.get("k").await, None);
        memory.set("k", Bytes::from_static(b"v"), 60).await;
        assert_eq!(memory.get("k").await, Some(Bytes::from_static(b"v")));
        assert!(memory.delete("k").await);
        assert!(!memory.delete("k").await);
    }

    #[tokio::test]
    async fn counters_start_at_zero_and_prefixes_delete() {
        let memory = MemoryBackend::new(1 << 20);
        assert_eq!(memory.counters(&["g".to_owned()]), vec![0]);
        assert_eq!(memory.increment(&[("g".to_owned(), 1)]), vec![1]);
        assert_eq!(memory.increment(&[("g".to_owned(), 2)]), vec![3]);
        memory.set("u1:view", Bytes::from_static(b"v"), 60).await;
        assert_eq!(memory.delete_prefixed("u1:").await, 1);
        assert_eq!(memory.delete_prefixed("g").await, 1);
        assert_eq!(memory.counters(&["g".to_owned()]), vec![0]);
    }

    #[tokio::test]
    async fn the_bound_is_in_bytes() {
        let memory = MemoryBackend::new(64 * 1024);
        for index in 0..64 {
            memory
                .set(&format!("view:{index}"), Bytes::from(vec![7u8; 4096]), 300)
                .await;
        }
        memory.release().await;
        let held: usize = (0..64)
            .filter(|index| memory.entries.contains_key(&format!("view:{index}")))
            .count();
        // 64 KiB hold at most 15 entries of 4 KiB and their overhead.
        assert!((1..=15).contains(&held), "{held}");
        assert!(memory.entries.weighted_size() <= 64 * 1024);
    }

    #[tokio::test]
    async fn a_released_clear_leaves_nothing_held() {
        let memory = MemoryBackend::new(1 << 20);
        for index in 0..50 {
            memory
                .set(&format!("view:{index}"), Bytes::from(vec![7u8; 4096]), 300)
                .await;
        }
        memory.increment(&[("generation".to_owned(), 1)]);
        memory.release().await;
        assert_eq!(memory.key_count(), 51);

        memory.clear();
        memory.release().await;
        assert_eq!(memory.key_count(), 0);
        assert_eq!(memory.get("view:0").await, None);
    }
}
