//! How analytics caches its views, in two levels: copies in this process ([`LocalViews`], no
//! hop on a hit) in front of the cache service (Redis, shared by every replica). Misses of one
//! view are computed once however many requests wait for it. A broken cache service slows
//! reads down but never fails them: calls have a short deadline and a circuit breaker skips
//! them while it is down. Per-user hit/miss counters are gathered here (local hits never reach
//! the cache service) and sent to the cache service every second.
//!
//! Users' timezones are kept here too, under the same rules as the copies: an entry remembers
//! the user's stamp when it was read and is used only while that stamp is current, so any
//! invalidation of the user (a profile change, an erasure, a write on another replica) makes the
//! next read ask PostgreSQL again; a write through this process keeps the zone its own
//! statement read. A write may assume any zone seen for the user (its statement checks it under
//! the user's row lock and only marks the days for recomputation if it was wrong), so writes
//! look the zone up only for a user not seen for a while. A cached read then needs no
//! database. So does each user's recent week, from
//! which the home-screen views are composed ([`ViewCache::recent_days`]), which a write through
//! this process brings up to date rather than drops ([`ViewCache::carry_recent_days`]). Keys
//! carry the user's stamp, so every write leaves the old ones unread: these caches evict the
//! least recently used entry.

pub mod breaker;
mod remote;
mod weight;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono_tz::Tz;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use wellbeing_common::ServiceError;
use wellbeing_common::grpc::TracedChannel;
use wellbeing_domain::answers::cache::CacheStats;
use wellbeing_local_views::{LocalView, LocalViews, Stamp};
use wellbeing_proto::cache::v1::ViewKey;
use wellbeing_store::aggregates::Period;

use crate::views::summaries::WeekData;

use remote::RemoteCache;

/// How often pending counters and failed invalidations are sent again.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Users whose timezone, or whose last write here, is kept at most (a few dozen bytes each).
const MAX_USERS_KEPT: u64 = 100_000;
/// The name of the recent days among a user's keys.
const RECENT_DAYS: &str = "recent-days";

#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// False (`VIEW_CACHE=off`): every read computes its view; invalidations are still sent.
    pub enabled: bool,
    pub ttl_seconds: u32,
    /// Bound on the bytes of view data kept in process (0: none kept, single-flight only):
    /// two thirds for the recent weeks, one third for copies of views.
    pub local_max_bytes: u64,
    /// Bound on the age of a view kept in process.
    pub local_ttl: Duration,
}

/// A view as served: bytes, their ETag, and whether they came from a cache.
#[derive(Debug, Clone)]
pub struct CachedView {
    pub json: Bytes,
    pub etag: String,
    /// False when this process computed the view.
    pub from_cache: bool,
}

#[derive(Clone)]
pub struct ViewCache {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    remote: RemoteCache,
    local: LocalViews,
    /// Per user: the stamp of the generation this process's last write of the user made.
    own_writes: Cache<String, Stamp>,
    /// Per user: the timezone, and the stamp under which it is known to be current (`None`:
    /// only a write's assumption, see [`ViewCache::zone_for_write`]).
    zones: Cache<String, (Tz, Option<Stamp>)>,
    /// Per user and stamp: the recent days every home-screen view is composed from, and when
    /// their read returned.
    recent: Cache<String, RecentDays>,
    /// Recent weeks read from PostgreSQL, and brought over a write of this process instead.
    recent_reads: AtomicU64,
    recent_carried: AtomicU64,
    /// Reads not yet added to the cache service's per-user counters: user -> (hits, misses).
    pending_stats: Mutex<HashMap<String, (u64, u64)>>,
    /// Users whose invalidation did not reach the cache service: their remote views may be
    /// stale, so they are neither read from nor written to it until the retry succeeds.
    unconfirmed_invalidations: Mutex<HashSet<String>>,
    /// Held by a flush and by an erasure: a flush that took a user's counters or retries
    /// before the erasure must not put them back or send them after it (that re-created keys
    /// of an erased user in Redis).
    flushing: tokio::sync::Mutex<()>,
}

/// What [`ViewCache::recent_days_figures`] reports.
pub struct RecentDaysFigures {
    /// Weeks read from PostgreSQL.
    pub read: u64,
    /// Weeks brought over a write of this process instead.
    pub carried: u64,
    /// Weeks kept now.
    pub kept: u64,
    /// Their weight, as the bound counts it: at the bound while few are carried means weeks
    /// are evicted before their users' next write (`VIEW_CACHE_MAX_MB` is too small).
    pub kept_bytes: u64,
    /// The bound.
    pub max_bytes: u64,
}

/// A user's recent days as kept: `read_at` tells which writes they may already hold (those sent
/// before it) and which they cannot (those sent after).
#[derive(Clone)]
struct RecentDays {
    kept: KeptWeek,
    read_at: Instant,
}

/// The recent days of one generation of a user, and the week composed from them: composed once,
/// by the first view that needs it, and shared by the others (each view composing the week again
/// was about a fifth of analytics' time in the write-heavy mixes).
#[derive(Clone)]
pub struct KeptWeek {
    pub period: Arc<Period>,
    pub composed: Arc<tokio::sync::OnceCell<Arc<WeekData>>>,
}

impl KeptWeek {
    fn new(period: Period) -> Self {
        Self {
            period: Arc::new(period),
            composed: Arc::default(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ViewCache {
    pub fn new(channel: TracedChannel, settings: CacheSettings) -> Self {
        // The recent weeks save PostgreSQL a read after every write; the copies mostly repeat
        // what the gateways in front keep. Halving both doubled PostgreSQL's CPU per 90/10
        // request; a third for copies left it unchanged and analytics' peak 15 MiB lower; a
        // fifth, with the weeks weighed as they are, kept analytics under 64 MiB with as
        // many weeks as before (docs/PERFORMANCE.md).
        let copies_bytes = settings.local_max_bytes / 5;
        let local = LocalViews::new("analytics", copies_bytes, settings.local_ttl);
        Self {
            inner: Arc::new(Inner {
                enabled: settings.enabled,
                remote: RemoteCache::new(channel, settings.ttl_seconds),
                own_writes: Cache::builder()
                    .max_capacity(MAX_USERS_KEPT)
                    .time_to_live(local.ttl())
                    .build(),
                zones: Cache::builder()
                    .max_capacity(MAX_USERS_KEPT)
                    .time_to_live(local.ttl())
                    .build(),
                recent: Cache::builder()
                    .weigher(|key: &String, recent: &RecentDays| {
                        u32::try_from(key.len() + weight::kept_week_bytes(&recent.kept.period))
                            .unwrap_or(u32::MAX)
                    })
                    .max_capacity(settings.local_max_bytes - copies_bytes)
                    .time_to_live(local.ttl())
                    // As for the copies of views: keys are new after every write.
                    .eviction_policy(EvictionPolicy::lru())
                    .build(),
                recent_reads: AtomicU64::new(0),
                recent_carried: AtomicU64::new(0),
                local,
                pending_stats: Mutex::new(HashMap::new()),
                unconfirmed_invalidations: Mutex::new(HashSet::new()),
                flushing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Starts the background work: the invalidation stream and the periodic flush. The tasks
    /// run until the returned handles are aborted.
    pub fn spawn_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        let watcher = self.clone();
        let flusher = self.clone();
        vec![
            tokio::spawn(async move {
                let inner = &watcher.inner;
                inner
                    .local
                    .follow(|| inner.remote.watch_invalidations())
                    .await
            }),
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

    /// The view under `key`, from this process, the cache service, or `compute` (once for all
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
            self.count(key.user_id, false);
            return Ok(CachedView {
                etag: etag_of(&json),
                json,
                from_cache: false,
            });
        }
        let stamp = inner.local.stamp(&key.user_id);
        let local_key = LocalViews::key(stamp, &key.user_id, &key.view, &key.params);
        if let Some(copy) = inner.local.get(&local_key).await {
            // The common case, without the single-flight machinery.
            self.count(key.user_id, true);
            return Ok(CachedView {
                json: copy.json,
                etag: copy.etag,
                from_cache: true,
            });
        }
        let user_id = key.user_id.clone();
        // A generation this process made by its own write is served from here alone: no
        // other process can have stored a view of it yet (so a lookup is a sure miss), and a
        // lookup made before the cache service has counted the write would find the views
        // from before it.
        let own_generation = inner.own_writes.get(&user_id).await == Some(stamp);
        let trust_remote =
            !own_generation && !lock(&inner.unconfirmed_invalidations).contains(&user_id);
        let from_remote = AtomicBool::new(false);
        let entry = inner
            .local
            .entries()
            .entry(local_key.clone())
            .or_try_insert_with(async {
                let (remote, version) = if trust_remote {
                    inner.remote.get(&key).await
                } else {
                    (None, None)
                };
                let json = match remote {
                    Some(json) => {
                        from_remote.store(true, Ordering::Relaxed);
                        json
                    }
                    None => {
                        let json = compute().await?;
                        // Stored under the version the lookup saw, so a write of the user
                        // meanwhile (whose effect these bytes may lack) only makes it
                        // unreachable; and not at all if this process already knows of one.
                        if let Some(version) = version
                            && inner.local.stamp(&key.user_id) == stamp
                        {
                            inner.remote.set(key, json.clone(), version).await;
                        }
                        json
                    }
                };
                Ok::<_, ServiceError>(LocalView::owning(
                    &json,
                    etag_of(&json),
                    Instant::now() + inner.local.ttl(),
                ))
            })
            .await
            .map_err(|error: Arc<ServiceError>| (*error).clone())?;
        let computed_here = entry.is_fresh() && !from_remote.load(Ordering::Relaxed);
        if entry.is_fresh() && !inner.local.is_coherent() {
            // Without the invalidation stream, keep nothing: the entry only served its waiters.
            inner.local.entries().invalidate(&local_key).await;
        }
        let copy = entry.into_value();
        self.count(user_id, !computed_here);
        Ok(CachedView {
            json: copy.json,
            etag: copy.etag,
            from_cache: !computed_here,
        })
    }

    /// The user's recent days (`params` names the zone and the dates), read once per
    /// generation of the user and shared by every view composed from them: after a write, the
    /// dashboard, quick stats, daily and weekly views each miss, and each read the same rows
    /// from PostgreSQL. Kept under the same rules as the copies of views (the user's stamp in
    /// the key, only while the invalidation stream is followed, at most `VIEW_CACHE_TTL_MS`);
    /// concurrent loads of one key wait for one.
    pub async fn recent_days<F, Fut>(
        &self,
        user_id: &str,
        params: &str,
        load: F,
    ) -> Result<KeptWeek, ServiceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Period, ServiceError>>,
    {
        if !self.keeps_recent_days() {
            return load().await.map(KeptWeek::new);
        }
        let local = &self.inner.local;
        let key = LocalViews::key(local.stamp(user_id), user_id, RECENT_DAYS, params);
        let recent = self
            .inner
            .recent
            .try_get_with(key, async move {
                let period = load().await?;
                self.inner.recent_reads.fetch_add(1, Ordering::Relaxed);
                Ok(RecentDays {
                    kept: KeptWeek::new(period),
                    read_at: Instant::now(),
                })
            })
            .await
            .map_err(|error: Arc<ServiceError>| (*error).clone())?;
        Ok(recent.kept)
    }

    /// Whether [`ViewCache::recent_days`] keeps what it reads: not with `VIEW_CACHE=off`, nor
    /// while the invalidation stream is not followed (each call then reads the week again).
    pub fn keeps_recent_days(&self) -> bool {
        self.inner.enabled && self.inner.local.is_coherent()
    }

    /// Brings the user's recent days (`params` as [`ViewCache::recent_days`] takes them) over a
    /// write of this process, so that the views read after it are composed without reading the
    /// days again: `update` makes the days after the write from the days before it. Done only
    /// when it is exact: the stamp moved by the write's own invalidation alone since `before`
    /// (nothing else changed the user meanwhile), and the days kept under `before` were read
    /// before the write's statement was sent (`sent_at`), so they cannot already hold it.
    pub async fn carry_recent_days(
        &self,
        user_id: &str,
        params: &str,
        before: Stamp,
        sent_at: Instant,
        update: impl FnOnce(&Period) -> Option<Period>,
    ) {
        let inner = &self.inner;
        let now = inner.local.stamp(user_id);
        if !inner.enabled || !inner.local.is_coherent() || now != (before.0 + 1, before.1) {
            return;
        }
        let old_key = LocalViews::key(before, user_id, RECENT_DAYS, params);
        let Some(old) = inner.recent.get(&old_key).await else {
            return;
        };
        if old.read_at >= sent_at {
            return;
        }
        let Some(period) = update(&old.kept.period) else {
            return;
        };
        let key = LocalViews::key(now, user_id, RECENT_DAYS, params);
        let carried = RecentDays {
            kept: KeptWeek::new(period),
            read_at: old.read_at,
        };
        inner.recent.insert(key, carried).await;
        // Unreachable now that the stamp moved.
        inner.recent.invalidate(&old_key).await;
        inner.recent_carried.fetch_add(1, Ordering::Relaxed);
    }

    /// How the recent weeks were had and what is kept of them, for the metrics.
    pub fn recent_days_figures(&self) -> RecentDaysFigures {
        let inner = &self.inner;
        RecentDaysFigures {
            read: inner.recent_reads.load(Ordering::Relaxed),
            carried: inner.recent_carried.load(Ordering::Relaxed),
            kept: inner.recent.entry_count(),
            kept_bytes: inner.recent.weighted_size(),
            max_bytes: inner.recent.policy().max_capacity().unwrap_or(0),
        }
    }

    /// Adds one read to the user's pending statistics.
    fn count(&self, user_id: String, hit: bool) {
        let mut pending = lock(&self.inner.pending_stats);
        let counters = pending.entry(user_id).or_default();
        if hit {
            counters.0 += 1;
        } else {
            counters.1 += 1;
        }
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
        let local = &self.inner.local;
        if let Some((zone, Some(stamp))) = self.inner.zones.get(user_id).await
            && local.is_coherent()
            && stamp == local.stamp(user_id)
        {
            return Ok(zone);
        }
        self.load_zone(user_id, load).await
    }

    /// The zone a write of the user assumes: any zone seen for them, even under an older stamp
    /// (the ingestion statement compares it with the stored zone under the user's row lock; a
    /// wrong one only marks the days for recomputation, and the statement's answer corrects
    /// it), else `load`ed. Under constant writes the stamp moves between a write's start and
    /// end often enough that requiring it made most writes look the zone up again.
    pub async fn zone_for_write<F, Fut>(&self, user_id: &str, load: F) -> Result<Tz, ServiceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Tz, ServiceError>>,
    {
        if let Some((zone, _)) = self.inner.zones.get(user_id).await {
            return Ok(zone);
        }
        self.load_zone(user_id, load).await
    }

    /// Reads the zone and keeps it, as current if no invalidation came meanwhile.
    async fn load_zone<F, Fut>(&self, user_id: &str, load: F) -> Result<Tz, ServiceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Tz, ServiceError>>,
    {
        let local = &self.inner.local;
        let stamp = local.stamp(user_id);
        let zone = load().await?;
        // Current only while coherent: an invalidation missed meanwhile could not be noticed.
        let current = (local.is_coherent() && stamp == local.stamp(user_id)).then_some(stamp);
        self.inner
            .zones
            .insert(user_id.to_owned(), (zone, current))
            .await;
        Ok(zone)
    }

    /// The user's stamp now: taken before a write, for [`ViewCache::keep_zone_read_by_write`].
    pub fn stamp(&self, user_id: &str) -> Stamp {
        self.inner.local.stamp(user_id)
    }

    /// Keeps the zone a write's own statement read (under the user's row lock), so that the
    /// user's next write or read needs no lookup: without this, every write's invalidation
    /// made the next write and the next read ask PostgreSQL for the zone again. Kept as current
    /// (for reads) only if the stamp moved by exactly the write's own invalidation
    /// (`invalidated`) since `before`: any other invalidation meanwhile, a profile change among
    /// them, may mean the zone read is already old.
    pub async fn keep_zone_read_by_write(
        &self,
        user_id: &str,
        zone: Tz,
        before: Stamp,
        invalidated: bool,
    ) {
        let local = &self.inner.local;
        let expected = (before.0 + u64::from(invalidated), before.1);
        let now = local.stamp(user_id);
        // Otherwise kept as what the next write assumes.
        let current = (local.is_coherent() && now == expected).then_some(now);
        self.inner
            .zones
            .insert(user_id.to_owned(), (zone, current))
            .await;
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
            self.inner.local.invalidate_expecting_echo(user_id);
            let made = self.inner.local.stamp(user_id);
            self.inner.own_writes.insert(user_id.clone(), made).await;
        }
        if !self.inner.remote.invalidate_users(user_ids).await {
            let mut unconfirmed = lock(&self.inner.unconfirmed_invalidations);
            for user_id in user_ids {
                self.inner.local.echo_lost(user_id);
                unconfirmed.insert(user_id.clone());
            }
        }
    }

    /// True when the user may have written less than `window` ago (here or on another replica),
    /// or when that cannot be known (the invalidation stream is down): such a user's reads must
    /// see the primary database, not a replica that may lag.
    pub fn written_within(&self, user_id: &str, window: Duration) -> bool {
        !self.inner.local.is_coherent() || self.inner.local.changed_within(user_id, window)
    }

    /// Deletes every cached view and counter of an erased user; true once the cache service
    /// confirmed it (otherwise the caller retries: `store::cache_erasures`).
    pub async fn erase_user(&self, user_id: &str) -> bool {
        let _no_flush = self.inner.flushing.lock().await;
        self.inner.local.invalidate(user_id);
        lock(&self.inner.pending_stats).remove(user_id);
        // The erasure removes the generation too; an invalidation sent after it would make
        // a key of the erased user again. Nothing of the user is read any more.
        lock(&self.inner.unconfirmed_invalidations).remove(user_id);
        self.inner.remote.erase_user(user_id).await
    }

    /// The user's read counters, including the reads not yet sent.
    pub async fn user_stats(&self, user_id: &str) -> CacheStats {
        self.flush().await;
        let remote = self.inner.remote.user_stats(user_id).await;
        let (hits, misses, backend) = remote.unwrap_or_else(|| {
            let pending = lock(&self.inner.pending_stats);
            let (hits, misses) = pending.get(user_id).copied().unwrap_or_default();
            (hits, misses, "unavailable".to_owned())
        });
        let reads = hits + misses;
        CacheStats {
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
        let _no_erasure = inner.flushing.lock().await;
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
        inner.local.upkeep();
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
