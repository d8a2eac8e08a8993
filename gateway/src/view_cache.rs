//! The gateway's view cache: the bytes of derived views the gateway has just served, kept in
//! process so that the next read of the same view answers without any hop (the phone reads the
//! same few views again and again).
//!
//! It keeps only what analytics says may be kept (`fresh_until_unix_ms`: the end of the user's
//! local day, 0 when analytics does not cache), and only as long as nothing changed:
//! - every invalidation made through any cache service replica arrives on the invalidation
//!   stream and bumps the user's generation, which is part of the key ([`Generations`]);
//! - a write through this gateway bumps the writer's generation before it is answered
//!   ([`bump_writers`]), so the writer's next read here is never older than the write;
//! - a view fetched while an invalidation came is not kept (its stamp changed meanwhile);
//! - while the stream is down nothing is kept, and entries live at most `VIEW_CACHE_TTL_MS`.
//!
//! Hits are added to the user's read statistics in the cache service, like analytics' own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use moka::future::Cache;
use tokio_stream::StreamExt;
use wellbeing_common::generations::{Generations, Stamp};
use wellbeing_proto::analytics::v1::ViewResponse;
use wellbeing_proto::cache::v1::{
    RecordUserStatsRequest, UserStatsDelta, WatchInvalidationsRequest,
};

use crate::auth::bearer_token;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::Upstreams;

/// The message on the invalidation stream that means "drop everything".
const FLUSH_ALL: &str = "*";
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

#[derive(Clone)]
struct Entry {
    json: Bytes,
    etag: String,
    expires: Instant,
}

pub struct ViewCache {
    enabled: bool,
    ttl: Duration,
    entries: Cache<String, Entry>,
    generations: Generations,
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

fn key(stamp: Stamp, user_id: &str, view: &str, params: &str) -> String {
    let (generation, flush) = stamp;
    format!("{flush}:{user_id}:{generation}:{view}:{params}")
}

impl ViewCache {
    pub fn new(settings: &ViewCacheSettings) -> Self {
        let ttl = settings.ttl.max(Duration::from_millis(1));
        Self {
            enabled: settings.enabled,
            ttl,
            entries: Cache::builder()
                .weigher(|key: &String, entry: &Entry| {
                    u32::try_from(key.len() + entry.json.len() + entry.etag.len() + 64)
                        .unwrap_or(u32::MAX)
                })
                .max_capacity(settings.max_bytes)
                .time_to_live(ttl)
                .build(),
            generations: Generations::new(ttl),
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
        if !self.enabled || !self.generations.is_coherent() {
            return fetch().await;
        }
        let stamp = self.generations.stamp(user_id);
        let key = key(stamp, user_id, view, params);
        if let Some(entry) = self.entries.get(&key).await
            && entry.expires > Instant::now()
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            *lock(&self.pending_hits)
                .entry(user_id.to_owned())
                .or_default() += 1;
            return Ok(ViewResponse {
                json: entry.json,
                cached: true,
                etag: entry.etag,
                fresh_until_unix_ms: 0,
            });
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let fetched = fetch().await?;
        if let Some(expires) = self.expiry(fetched.fresh_until_unix_ms)
            && self.generations.is_coherent()
            && self.generations.stamp(user_id) == stamp
        {
            let entry = Entry {
                json: fetched.json.clone(),
                etag: fetched.etag.clone(),
                expires,
            };
            self.entries.insert(key, entry).await;
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
        let left = Duration::from_millis(left_ms).min(self.ttl);
        (!left.is_zero()).then(|| Instant::now() + left)
    }

    /// The user's data changed (or may have): nothing kept for them is served again.
    pub fn invalidate_user(&self, user_id: &str) {
        self.generations.bump(user_id);
    }

    fn flush_all(&self) {
        self.generations.flush();
        self.entries.invalidate_all();
    }

    fn set_coherent(&self, coherent: bool) {
        if self.generations.set_coherent(coherent) {
            self.entries.invalidate_all();
        }
    }

    /// Follows the cache service's invalidation stream for as long as the gateway runs;
    /// reconnects after errors. Does nothing when the cache is off.
    pub async fn follow_invalidations(&self, upstreams: Upstreams) {
        if !self.enabled {
            return;
        }
        loop {
            match upstreams
                .cache()
                .watch_invalidations(WatchInvalidationsRequest {})
                .await
            {
                Ok(response) => {
                    self.set_coherent(true);
                    tracing::info!("view cache following cache invalidations");
                    let mut stream = response.into_inner();
                    while let Some(message) = stream.next().await {
                        match message {
                            Ok(invalidation) if invalidation.user_id == FLUSH_ALL => {
                                self.flush_all();
                            }
                            Ok(invalidation) => self.invalidate_user(&invalidation.user_id),
                            Err(_) => break,
                        }
                    }
                    self.set_coherent(false);
                    tracing::warn!("invalidation stream ended; view cache off until it is back");
                }
                Err(status) => {
                    self.set_coherent(false);
                    tracing::debug!(code = ?status.code(), "cannot follow invalidations yet");
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
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

    /// Periodic upkeep: forgets generations older than any entry.
    pub fn run_upkeep(&self) {
        self.generations.prune();
    }

    /// `(hits, misses, entries)` since start, for `/metrics`.
    pub fn figures(&self) -> (u64, u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.entries.entry_count(),
        )
    }
}

/// Middleware on the API routes: after any request that may change the caller's data (every
/// method but GET, HEAD and OPTIONS, whatever its answer: a failed call may still have
/// written), the caller's views kept here are dropped before the answer leaves. `POST /batch`
/// only reads (its GETs are checked), so it keeps them.
pub async fn bump_writers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let may_write = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && !is_read_batch(request.uri().path());
    let writer = may_write
        .then(|| bearer_token(request.headers()).and_then(|token| state.tokens.verify(token).ok()))
        .flatten();
    let response = next.run(request).await;
    if let Some(user_id) = writer {
        state.view_cache.invalidate_user(&user_id.to_string());
    }
    response
}

/// `POST /api/v1/batch` (seen as `/batch` inside the API router), not `/analytics/track/batch`.
fn is_read_batch(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "/batch" | "/api/v1/batch")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_read_batch_keeps_the_callers_views() {
        assert!(is_read_batch("/batch"));
        assert!(is_read_batch("/api/v1/batch/"));
        assert!(!is_read_batch("/analytics/track/batch"));
        assert!(!is_read_batch("/api/v1/analytics/track/batch"));
    }

    fn cache() -> ViewCache {
        let cache = ViewCache::new(&ViewCacheSettings {
            enabled: true,
            ttl: Duration::from_secs(10),
            max_bytes: 1 << 20,
        });
        cache.set_coherent(true);
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
        cache.invalidate_user("u1");
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
        cache.set_coherent(false);
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
                cache.invalidate_user("u1");
                Ok(answer("old", fresh))
            })
            .await
            .unwrap();
        assert_eq!(read(&cache, "new", fresh).await.json, "new");
    }
}
