//! The gateway's copies of the views it has just served ([`LocalViews`]), so that the next read
//! of the same view answers without any hop (the phone reads the same few views again and
//! again).
//!
//! It keeps only what analytics says may be kept (`fresh_until_unix_ms`: the end of the user's
//! local day, 0 when analytics does not cache), and only as long as nothing changed: the
//! invalidation stream keeps the copies coherent, and a write through this gateway drops the
//! writer's copies before it is answered ([`ViewCache::after_write`], called by each write
//! route), so the writer's next read here is never older than the write.
//!
//! Hits are added to the user's read statistics in the cache service, like analytics' own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wellbeing_local_views::{LocalView, LocalViews};
use wellbeing_proto::analytics::v1::ViewResponse;
use wellbeing_proto::cache::v1::{
    RecordUserStatsRequest, UserStatsDelta, WatchInvalidationsRequest,
};

use crate::error::ApiError;
use crate::upstream::Upstreams;

/// How often hits are sent to the cache service's per-user statistics.
pub const STATS_FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct ViewCacheSettings {
    /// False (`VIEW_CACHE=off`): every read asks analytics.
    pub enabled: bool,
    /// Bound on an entry's age (`VIEW_CACHE_TTL_MS`).
    pub ttl: Duration,
    /// Bound on the bytes kept (`VIEW_CACHE_MAX_MB`).
    pub max_bytes: u64,
}

pub struct ViewCache {
    enabled: bool,
    local: LocalViews,
    /// Hits not yet added to the cache service's per-user counters.
    pending_hits: Mutex<HashMap<String, u64>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ViewCache {
    pub fn new(settings: &ViewCacheSettings) -> Self {
        Self {
            enabled: settings.enabled,
            local: LocalViews::new("gateway", settings.max_bytes, settings.ttl),
            pending_hits: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The view `view` (with `params`, already checked) of the user: the copy kept here, or
    /// what `fetch` gets from analytics (kept when it may be).
    pub async fn get_or_fetch<F, Fut>(
        &self,
        user_id: &str,
        view: &str,
        params: &str,
        fetch: F,
    ) -> Result<ViewResponse, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<ViewResponse, ApiError>>,
    {
        if !self.enabled || !self.local.is_coherent() {
            return fetch().await;
        }
        let stamp = self.local.stamp(user_id);
        let key = LocalViews::key(stamp, user_id, view, params);
        if let Some(copy) = self.local.get(&key).await {
            self.hits.fetch_add(1, Ordering::Relaxed);
            *lock(&self.pending_hits)
                .entry(user_id.to_owned())
                .or_default() += 1;
            return Ok(ViewResponse {
                json: copy.json,
                cached: true,
                etag: copy.etag,
                fresh_until_unix_ms: 0,
            });
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let fetched = fetch().await?;
        if let Some(expires) = self.expiry(fetched.fresh_until_unix_ms) {
            let copy = LocalView::owning(&fetched.json, fetched.etag.clone(), expires);
            self.local.keep(key, user_id, stamp, copy).await;
        }
        Ok(fetched)
    }

    /// When a copy fresh until `fresh_until_unix_ms` stops being served here, if it may be
    /// kept at all.
    fn expiry(&self, fresh_until_unix_ms: i64) -> Option<Instant> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let left_ms = u64::try_from(i128::from(fresh_until_unix_ms) - now_ms as i128).ok()?;
        let left = Duration::from_millis(left_ms).min(self.local.ttl());
        (!left.is_zero()).then(|| Instant::now() + left)
    }

    /// Awaits `call`, which may change the user's data, then drops the user's copies here
    /// whatever its outcome (a failed call may still have written), before the answer leaves.
    /// Analytics' invalidation also reaches this gateway on the stream, but possibly after the
    /// answer: this is what makes the writer's next read here see the write.
    pub async fn after_write<T>(&self, user_id: &str, call: impl Future<Output = T>) -> T {
        let outcome = call.await;
        self.local.invalidate(user_id);
        outcome
    }

    /// Follows the cache service's invalidation stream for as long as the gateway runs. Does
    /// nothing when the cache is off.
    pub async fn follow_invalidations(&self, upstreams: Upstreams) {
        if !self.enabled {
            return;
        }
        self.local
            .follow(|| {
                let mut cache = upstreams.cache();
                async move {
                    cache
                        .watch_invalidations(WatchInvalidationsRequest {})
                        .await
                }
            })
            .await;
    }

    /// Sends the hits counted here to the cache service (all users, or one: before their
    /// statistics are read, so they include every read answered so far). Hits that cannot be
    /// sent are kept for the next try.
    pub async fn flush_hits(&self, upstreams: &Upstreams, only: Option<&str>) {
        let pending: HashMap<String, u64> = {
            let mut pending = lock(&self.pending_hits);
            match only {
                None => std::mem::take(&mut *pending),
                Some(user_id) => pending
                    .remove_entry(user_id)
                    .into_iter()
                    .collect::<HashMap<_, _>>(),
            }
        };
        if pending.is_empty() {
            return;
        }
        let deltas = pending
            .iter()
            .map(|(user_id, hits)| UserStatsDelta {
                user_id: user_id.clone(),
                hits: *hits,
                misses: 0,
            })
            .collect();
        let request = upstreams.request(RecordUserStatsRequest { deltas });
        if upstreams.cache().record_user_stats(request).await.is_err() {
            let mut kept = lock(&self.pending_hits);
            for (user_id, hits) in pending {
                *kept.entry(user_id).or_default() += hits;
            }
        }
    }

    /// Periodic upkeep: forgets generations older than any copy.
    pub fn run_upkeep(&self) {
        self.local.upkeep();
    }

    /// `(hits, misses, entries)` since start, for `/metrics`.
    pub fn figures(&self) -> (u64, u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.local.entry_count(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn cache() -> ViewCache {
        let cache = ViewCache::new(&ViewCacheSettings {
            enabled: true,
            ttl: Duration::from_secs(10),
            max_bytes: 1 << 20,
        });
        cache.local.set_coherent(true);
        cache
    }

    fn fresh_until(from_now: Duration) -> i64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        i64::try_from((now + from_now).as_millis()).unwrap()
    }

    fn answer(body: &str, fresh_until_unix_ms: i64) -> ViewResponse {
        ViewResponse {
            json: Bytes::from(body.to_owned()),
            cached: false,
            etag: format!("\"{body}\""),
            fresh_until_unix_ms,
        }
    }

    async fn read(cache: &ViewCache, body: &str, fresh: i64) -> ViewResponse {
        cache
            .get_or_fetch("u1", "daily", "", || async { Ok(answer(body, fresh)) })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_kept_view_answers_until_the_user_is_invalidated() {
        let cache = cache();
        let fresh = fresh_until(Duration::from_secs(60));
        assert!(!read(&cache, "a", fresh).await.cached);
        let hit = read(&cache, "b", fresh).await;
        assert!(hit.cached);
        assert_eq!(hit.json, "a");
        assert_eq!(hit.etag, "\"a\"");
        cache.after_write("u1", async {}).await;
        assert_eq!(read(&cache, "c", fresh).await.json, "c");
        assert_eq!(cache.figures().0, 1);
    }

    #[tokio::test]
    async fn nothing_is_kept_when_analytics_says_not_to_or_the_stream_is_down() {
        let cache = cache();
        read(&cache, "a", 0).await;
        assert!(!read(&cache, "b", 0).await.cached, "fresh_until 0");
        let past = fresh_until(Duration::ZERO) - 1000;
        read(&cache, "a", past).await;
        assert!(!read(&cache, "b", past).await.cached, "already stale");
        cache.local.set_coherent(false);
        let fresh = fresh_until(Duration::from_secs(60));
        read(&cache, "a", fresh).await;
        assert!(!read(&cache, "b", fresh).await.cached, "incoherent");
    }

    #[tokio::test]
    async fn a_view_fetched_across_an_invalidation_is_not_kept() {
        let cache = cache();
        let fresh = fresh_until(Duration::from_secs(60));
        cache
            .get_or_fetch("u1", "daily", "", || async {
                cache.after_write("u1", async {}).await;
                Ok(answer("old", fresh))
            })
            .await
            .unwrap();
        assert_eq!(read(&cache, "new", fresh).await.json, "new");
    }
}
