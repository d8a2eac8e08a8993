//! The near-cache: a small bounded in-process cache of view bytes in front of the cache service,
//! so a hit costs no network hop. It is also where concurrent misses of one view meet, so the
//! view is computed once (single-flight).
//!
//! Coherence: every invalidation made through any cache replica reaches this process on the
//! invalidation stream and bumps the user's local generation, which is part of the near key, so
//! older entries become unreachable at once. While the stream is down, entries serve only the
//! requests that were waiting for them (single-flight) and are not kept. Entries also expire
//! after `NEAR_CACHE_TTL_MS`, which bounds staleness should an invalidation ever be missed.
//!
//! Users' timezones are kept here too, under the same rules: an entry remembers the user's
//! generation when it was read from PostgreSQL and is used only while that generation is
//! current, so any invalidation of the user (a write, a profile change, an erasure, on any
//! replica) makes the next read ask PostgreSQL again. A cached read then needs no database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono_tz::Tz;
use moka::future::Cache;
use wellbeing_common::generations::Generations;
pub use wellbeing_common::generations::Stamp;

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
    /// Per user: the timezone, and the stamp under which it was read.
    zones: Cache<String, (Tz, Stamp)>,
    /// Per user: local generation; the flush epoch; whether the stream is connected (only
    /// then may entries be kept).
    generations: Generations,
    /// Per user: invalidations made by this process that have not come back on the stream yet
    /// (and since when). Their echo does not bump the generation again, so views computed
    /// after the write stay reachable.
    own_pending: Mutex<HashMap<String, (u32, Instant)>>,
}

impl NearCache {
    pub fn new(max_entries: u64, ttl: Duration) -> Self {
        Self {
            entries: Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
            // The same TTL as views: generations are forgotten only after it (see
            // `prune_generations`), so no entry can outlive the generation it was read under.
            zones: Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
            generations: Generations::new(ttl),
            own_pending: Mutex::new(HashMap::new()),
        }
    }

    /// The user's generation and the flush epoch now.
    pub fn stamp(&self, user_id: &str) -> Stamp {
        self.generations.stamp(user_id)
    }

    /// The key of a view now; changes when the user is invalidated or everything is flushed.
    pub fn key(&self, user_id: &str, view: &str, params: &str) -> String {
        let (generation, flush) = self.stamp(user_id);
        format!("{flush}:{user_id}:{generation}:{view}:{params}")
    }

    /// The user's timezone, if read since the user's last invalidation.
    pub async fn zone(&self, user_id: &str) -> Option<Tz> {
        let (zone, stamp) = self.zones.get(user_id).await?;
        (self.is_coherent() && stamp == self.stamp(user_id)).then_some(zone)
    }

    /// Keeps a timezone read from PostgreSQL after `stamp` was taken (only while coherent: an
    /// invalidation missed meanwhile could not be noticed).
    pub async fn keep_zone(&self, user_id: &str, zone: Tz, stamp: Stamp) {
        if self.is_coherent() && stamp == self.stamp(user_id) {
            self.zones.insert(user_id.to_owned(), (zone, stamp)).await;
        }
    }

    /// True when the user's generation changed (a write, here or on another replica) less
    /// than `window` ago. Generations are pruned after the entry TTL, so `window` should not
    /// exceed it.
    pub fn changed_within(&self, user_id: &str, window: Duration) -> bool {
        self.generations.changed_within(user_id, window)
    }

    pub fn entries(&self) -> &Cache<String, CachedView> {
        &self.entries
    }

    fn own_pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.own_pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes the user's views unreachable here (no echo expected).
    pub fn bump(&self, user_id: &str) {
        self.generations.bump(user_id);
    }

    /// An invalidation from the stream: bumps the user's generation, unless it is the echo of
    /// one this process made (and already applied).
    pub fn invalidate_user(&self, user_id: &str) {
        {
            let mut pending = self.own_pending();
            if let Some((count, _)) = pending.get_mut(user_id) {
                *count -= 1;
                if *count == 0 {
                    pending.remove(user_id);
                }
                return;
            }
        }
        self.bump(user_id);
    }

    /// An invalidation made by this process (after a write): applied now; its echo on the
    /// stream is expected (see [`NearCache::echo_lost`] when it cannot come).
    pub fn invalidate_user_here(&self, user_id: &str) {
        self.bump(user_id);
        if self.is_coherent() {
            let mut pending = self.own_pending();
            let entry = pending
                .entry(user_id.to_owned())
                .or_insert((0, Instant::now()));
            entry.0 += 1;
            entry.1 = Instant::now();
        }
    }

    /// The invalidation did not reach the cache service: no echo will come.
    pub fn echo_lost(&self, user_id: &str) {
        let mut pending = self.own_pending();
        if let Some((count, _)) = pending.get_mut(user_id) {
            *count -= 1;
            if *count == 0 {
                pending.remove(user_id);
            }
        }
    }

    pub fn flush_all(&self) {
        self.generations.flush();
        self.entries.invalidate_all();
        self.zones.invalidate_all();
    }

    pub fn set_coherent(&self, coherent: bool) {
        if self.generations.set_coherent(coherent) {
            // Either way, what is held may have missed invalidations.
            self.own_pending().clear();
            self.entries.invalidate_all();
            self.zones.invalidate_all();
        }
    }

    pub fn is_coherent(&self) -> bool {
        self.generations.is_coherent()
    }

    /// Forgets generations that changed longer ago than the entry TTL: every entry made under
    /// an older generation has expired by then, so starting that user at 0 again is safe.
    pub fn prune_generations(&self) {
        self.generations.prune();
        // An echo that never came (the stream was down meanwhile, which also flushed all).
        self.own_pending()
            .retain(|_, (_, since)| since.elapsed() <= Duration::from_secs(5));
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
        // This process's own invalidation applies at once; its echo does not apply twice, an
        // invalidation from elsewhere does.
        near.set_coherent(true);
        let before = near.key("u1", "daily", "d");
        near.invalidate_user_here("u1");
        let after = near.key("u1", "daily", "d");
        assert_ne!(before, after);
        near.invalidate_user("u1");
        assert_eq!(after, near.key("u1", "daily", "d"));
        near.invalidate_user("u1");
        assert_ne!(after, near.key("u1", "daily", "d"));
        let second = near.key("u1", "daily", "d");
        near.flush_all();
        assert_ne!(second, near.key("u1", "daily", "d"));
    }

    #[tokio::test]
    async fn a_zone_is_kept_until_the_user_is_invalidated() {
        let near = NearCache::new(10, Duration::from_secs(10));
        let stamp = near.stamp("u1");
        near.keep_zone("u1", Tz::Asia__Tokyo, stamp).await;
        assert_eq!(near.zone("u1").await, None, "not kept while incoherent");
        near.set_coherent(true);
        let stamp = near.stamp("u1");
        near.keep_zone("u1", Tz::Asia__Tokyo, stamp).await;
        assert_eq!(near.zone("u1").await, Some(Tz::Asia__Tokyo));
        near.invalidate_user("u1");
        assert_eq!(near.zone("u1").await, None);
        // Read before an invalidation, kept after it: refused.
        near.keep_zone("u1", Tz::Asia__Tokyo, stamp).await;
        assert_eq!(near.zone("u1").await, None);
    }
}
