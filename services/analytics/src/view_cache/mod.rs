//! How analytics caches its views, in two levels: a near-cache in this process (no hop on a
//! hit, see [`near`]) in front of the cache service (Redis). Misses of one view are computed
//! once however many requests wait for it. A broken cache service slows reads down but never
//! fails them: calls have a short deadline and a circuit breaker skips them while it is down.
//! Per-user hit/miss counters are gathered here (near hits never reach the cache service) and
//! sent to the cache service every second.

pub mod breaker;
pub mod near;
mod remote;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono_tz::Tz;
use wellbeing_common::ServiceError;
use wellbeing_common::grpc::TracedChannel;
use wellbeing_proto::cache::v1::ViewKey;

use near::{CachedView, NearCache};
use remote::RemoteCache;

/// How often pending counters and failed invalidations are sent again.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// False (`VIEW_CACHE=off`): every read computes its view; invalidations are still sent.
    pub enabled: bool,
    pub ttl_seconds: u32,
    pub near_max_entries: u64,
    pub near_ttl: Duration,
}

#[derive(Clone)]
pub struct ViewCache {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    remote: RemoteCache,
    near: NearCache,
    /// Reads not yet added to the cache service's per-user counters: user -> (hits, misses).
    pending_stats: Mutex<HashMap<String, (u64, u64)>>,
    /// Users whose invalidation did not reach the cache service: their remote views may be
    /// stale, so they are neither read from nor written to it until the retry succeeds.
    unconfirmed_invalidations: Mutex<HashSet<String>>,
}

/// The caller's cache statistics (`GET /analytics/cache`).
#[derive(Debug, serde::Serialize)]
pub struct UserCacheStats {
    pub enabled: bool,
    pub backend: String,
    pub hits: u64,
    pub misses: u64,
    pub hit_rate_percent: f64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ViewCache {
    pub fn new(channel: TracedChannel, settings: CacheSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                enabled: settings.enabled,
                remote: RemoteCache::new(channel, settings.ttl_seconds),
                near: NearCache::new(settings.near_max_entries, settings.near_ttl),
                pending_stats: Mutex::new(HashMap::new()),
                unconfirmed_invalidations: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Starts the background work: the invalidation stream and the periodic flush. The tasks
    /// run until the returned handles are aborted.
    pub fn spawn_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let watcher = self.clone();
        let flusher = self.clone();
        vec![
            tokio::spawn(async move { watcher.inner.remote.watch(&watcher.inner.near).await }),
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(FLUSH_EVERY).await;
                    flusher.flush().await;
                }
            }),
        ]
    }

    /// False when `VIEW_CACHE=off`: nothing computed may be kept, here or downstream.
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled
    }

    /// The view under `key`, from the near-cache, the cache service, or `compute` (once for all
    /// concurrent callers). Each read adds to the user's hit/miss statistics.
    pub async fn get_or_compute<F, Fut>(
        &self,
        key: ViewKey,
        compute: F,
    ) -> Result<CachedView, ServiceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ServiceError>>,
    {
        let inner = &self.inner;
        if !inner.enabled {
            let json = compute().await?;
            lock(&inner.pending_stats).entry(key.user_id).or_default().1 += 1;
            return Ok(CachedView {
                etag: etag_of(&json),
                json,
                from_cache: false,
            });
        }
        let stamp = inner.near.stamp(&key.user_id);
        let near_key = inner.near.key(&key.user_id, &key.view, &key.params);
        if let Some(view) = inner.near.entries().get(&near_key).await {
            // The common case, without the single-flight machinery.
            let view = CachedView {
                from_cache: true,
                ..view
            };
            lock(&inner.pending_stats).entry(key.user_id).or_default().0 += 1;
            return Ok(view);
        }
        let user_id = key.user_id.clone();
        let trust_remote = !lock(&inner.unconfirmed_invalidations).contains(&user_id);
        let entry = inner
            .near
            .entries()
            .entry(near_key.clone())
            .or_try_insert_with(async {
                if trust_remote && let Some(json) = inner.remote.get(&key).await {
                    return Ok(CachedView {
                        etag: etag_of(&json),
                        json,
                        from_cache: true,
                    });
                }
                let json = compute().await?;
                // A write of the user while computing may or may not be in these bytes: they
                // must not be stored under the generation that write made.
                if trust_remote && inner.near.stamp(&key.user_id) == stamp {
                    inner.remote.set(key, json.clone()).await;
                }
                Ok::<_, ServiceError>(CachedView {
                    etag: etag_of(&json),
                    json,
                    from_cache: false,
                })
            })
            .await
            .map_err(|error: Arc<ServiceError>| (*error).clone())?;
        let computed_here = entry.is_fresh();
        let mut view = entry.into_value();
        if computed_here && !inner.near.is_coherent() {
            // Without the invalidation stream, keep nothing: the entry only served its waiters.
            inner.near.entries().invalidate(&near_key).await;
        }
        if !computed_here {
            // Served from what this process already had (or another request just made).
            view.from_cache = true;
        }
        let mut pending = lock(&inner.pending_stats);
        let counters = pending.entry(user_id).or_default();
        if view.from_cache {
            counters.0 += 1;
        } else {
            counters.1 += 1;
        }
        Ok(view)
    }

    /// The user's timezone: kept in process while no invalidation of the user has come since it
    /// was read (a profile change invalidates), else `load`ed (from PostgreSQL).
    pub async fn timezone<F, Fut>(&self, user_id: &str, load: F) -> Result<Tz, ServiceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Tz, ServiceError>>,
    {
        // Kept even with `VIEW_CACHE=off`: a timezone is not a view, and the uncached figures
        // should measure computing views, not this lookup.
        let near = &self.inner.near;
        if let Some(zone) = near.zone(user_id).await {
            return Ok(zone);
        }
        let stamp = near.stamp(user_id);
        let zone = load().await?;
        near.keep_zone(user_id, zone, stamp).await;
        Ok(zone)
    }

    /// Makes every cached view of the user unreachable, here at once and everywhere through the
    /// cache service. If the cache service cannot be told, the user's remote views are bypassed
    /// until a retry succeeds.
    pub async fn invalidate_user(&self, user_id: &str) {
        self.invalidate_users(&[user_id.to_owned()]).await;
    }

    /// [`ViewCache::invalidate_user`] for several users, in one call to the cache service.
    pub async fn invalidate_users(&self, user_ids: &[String]) {
        if user_ids.is_empty() {
            return;
        }
        for user_id in user_ids {
            self.inner.near.invalidate_user_here(user_id);
        }
        if !self.inner.remote.invalidate_users(user_ids).await {
            let mut unconfirmed = lock(&self.inner.unconfirmed_invalidations);
            for user_id in user_ids {
                self.inner.near.echo_lost(user_id);
                unconfirmed.insert(user_id.clone());
            }
        }
    }

    /// True when the user may have written less than `window` ago (here or on another replica),
    /// or when that cannot be known (the invalidation stream is down): such a user's reads must
    /// see the primary database, not a replica that may lag.
    pub fn written_within(&self, user_id: &str, window: Duration) -> bool {
        !self.inner.near.is_coherent() || self.inner.near.changed_within(user_id, window)
    }

    /// Deletes every cached view of an erased user.
    pub async fn erase_user(&self, user_id: &str) {
        self.inner.near.bump(user_id);
        lock(&self.inner.pending_stats).remove(user_id);
        if !self.inner.remote.erase_user(user_id).await {
            lock(&self.inner.unconfirmed_invalidations).insert(user_id.to_owned());
        }
    }

    /// The user's read counters, including the reads not yet sent.
    pub async fn user_stats(&self, user_id: &str) -> UserCacheStats {
        self.flush().await;
        let remote = self.inner.remote.user_stats(user_id).await;
        let (hits, misses, backend) = remote.unwrap_or_else(|| {
            let pending = lock(&self.inner.pending_stats);
            let (hits, misses) = pending.get(user_id).copied().unwrap_or_default();
            (hits, misses, "unavailable".to_owned())
        });
        let reads = hits + misses;
        UserCacheStats {
            enabled: self.inner.remote.is_available(),
            backend,
            hits,
            misses,
            hit_rate_percent: if reads == 0 {
                0.0
            } else {
                (hits as f64 * 1000.0 / reads as f64).round() / 10.0
            },
        }
    }

    /// Sends pending counters and retries failed invalidations.
    async fn flush(&self) {
        let inner = &self.inner;
        let pending = std::mem::take(&mut *lock(&inner.pending_stats));
        if !pending.is_empty() && !inner.remote.record_stats(&pending).await {
            // Put them back for the next try.
            let mut current = lock(&inner.pending_stats);
            for (user, (hits, misses)) in pending {
                let counters = current.entry(user).or_default();
                counters.0 += hits;
                counters.1 += misses;
            }
        }
        let unconfirmed: Vec<String> = lock(&inner.unconfirmed_invalidations)
            .iter()
            .cloned()
            .collect();
        // In calls of a size the cache service takes (after an outage, many may be waiting).
        for chunk in unconfirmed.chunks(512) {
            if inner.remote.invalidate_users(chunk).await {
                let mut still = lock(&inner.unconfirmed_invalidations);
                for user_id in chunk {
                    still.remove(user_id);
                }
            }
        }
        inner.near.prune_generations();
    }
}

/// A strong ETag: the first 128 bits of the SHA-256 of the bytes.
pub fn etag_of(json: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(json);
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}
