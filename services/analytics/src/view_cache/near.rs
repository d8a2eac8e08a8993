//! The near-cache: a small bounded in-process cache of view bytes in front of the cache service,
//! so a hit costs no network hop. It is also where concurrent misses of one view meet, so the
//! view is computed once (single-flight).
//!
//! Coherence: every invalidation made through any cache replica reaches this process on the
//! invalidation stream and bumps the user's local generation, which is part of the near key, so
//! older entries become unreachable at once. While the stream is down, entries serve only the
//! requests that were waiting for them (single-flight) and are not kept. Entries also expire
//! after `NEAR_CACHE_TTL_MS`, which bounds staleness should an invalidation ever be missed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::future::Cache;

/// A view as served: bytes, their ETag, and whether they came from the cache.
#[derive(Debug, Clone)]
pub struct CachedView {
    pub json: Bytes,
    pub etag: String,
    /// False when this process computed the view.
    pub from_cache: bool,
}

pub struct NearCache {
    entries: Cache<String, CachedView>,
    /// Per user: local generation and when it last changed.
    generations: Mutex<HashMap<String, (u64, Instant)>>,
    /// Bumped to drop everything (stream reconnected, backend switched).
    flush_epoch: AtomicU64,
    /// True while the invalidation stream is connected: only then may entries be kept.
    coherent: AtomicBool,
    ttl: Duration,
}

impl NearCache {
    pub fn new(max_entries: u64, ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
            generations: Mutex::new(HashMap::new()),
            flush_epoch: AtomicU64::new(0),
            coherent: AtomicBool::new(false),
            ttl,
        }
    }

    fn generations(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Instant)>> {
        self.generations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key of a view now; changes when the user is invalidated or everything is flushed.
    pub fn key(&self, user_id: &str, view: &str, params: &str) -> String {
        let generation = self
            .generations()
            .get(user_id)
            .map_or(0, |(generation, _)| *generation);
        let flush = self.flush_epoch.load(Ordering::Acquire);
        format!("{flush}:{user_id}:{generation}:{view}:{params}")
    }

    pub fn entries(&self) -> &Cache<String, CachedView> {
        &self.entries
    }

    pub fn invalidate_user(&self, user_id: &str) {
        let mut generations = self.generations();
        let entry = generations
            .entry(user_id.to_owned())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    pub fn flush_all(&self) {
        self.flush_epoch.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    pub fn set_coherent(&self, coherent: bool) {
        if self.coherent.swap(coherent, Ordering::AcqRel) != coherent {
            // Either way, what is held may have missed invalidations.
            self.flush_all();
        }
    }

    pub fn is_coherent(&self) -> bool {
        self.coherent.load(Ordering::Acquire)
    }

    /// Forgets generations that changed longer ago than the entry TTL: every entry made under
    /// an older generation has expired by then, so starting that user at 0 again is safe.
    pub fn prune_generations(&self) {
        let ttl = self.ttl;
        self.generations()
            .retain(|_, (_, changed)| changed.elapsed() <= ttl + Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalidation_and_flush_change_the_key() {
        let near = NearCache::new(10, Duration::from_secs(10));
        let first = near.key("u1", "daily", "d");
        assert_eq!(first, near.key("u1", "daily", "d"));
        near.invalidate_user("u1");
        let second = near.key("u1", "daily", "d");
        assert_ne!(first, second);
        assert_eq!(near.key("u2", "daily", "d"), "0:u2:0:daily:d");
        near.flush_all();
        assert_ne!(second, near.key("u1", "daily", "d"));
    }
}
