//! Copies of views kept inside a process, so that a hit costs no hop: the gateway's copies of
//! the answers it served, and analytics' copies in front of the cache service (Redis). One
//! implementation for both, kept coherent the same way:
//!
//! - every invalidation made through any cache service replica arrives on the invalidation
//!   stream ([`LocalViews::follow`], the one loop that reads it) and bumps the user's
//!   generation, which is part of every key ([`generations`]), so all of the user's copies
//!   become unreachable at once;
//! - a process that changes a user's data says so itself, in its write path, before it
//!   answers ([`LocalViews::invalidate`], [`LocalViews::invalidate_expecting_echo`]);
//! - a view fetched while an invalidation came is not kept (its stamp changed meanwhile);
//! - while the stream is down nothing is kept (an invalidation missed then could never be
//!   noticed), and a copy lives at most its TTL whatever happens.

pub mod generations;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use tokio_stream::StreamExt;
use wellbeing_proto::cache::v1::Invalidation;
use wellbeing_proto::cache::v1::invalidation::Scope;

pub use generations::{Generations, Stamp};

/// How long an own invalidation waits for its echo on the stream before it is forgotten.
const ECHO_WAIT: Duration = Duration::from_secs(5);
/// Pause before following the stream again after it ended or could not be opened.
const RECONNECT_EVERY: Duration = Duration::from_millis(250);

/// A kept copy: the bytes, their ETag, and until when it may be served.
#[derive(Debug, Clone)]
pub struct LocalView {
    pub json: Bytes,
    pub etag: String,
    pub expires: Instant,
}

impl LocalView {
    /// A copy that owns exactly its bytes. Bytes decoded from a gRPC answer are a slice of the
    /// whole receive buffer, and a serialized view has its vector's spare capacity: kept as
    /// they are, each copy pinned several times its size (the gateway grew to 100 MiB with a
    /// 16 MiB bound; docs/PERFORMANCE.md). One copy of a few KiB per miss costs little.
    pub fn owning(json: &[u8], etag: String, expires: Instant) -> Self {
        Self {
            json: Bytes::copy_from_slice(json),
            etag,
            expires,
        }
    }
}

pub struct LocalViews {
    /// Where this level sits, for logs ("gateway", "analytics").
    level: &'static str,
    ttl: Duration,
    entries: Cache<String, LocalView>,
    generations: Generations,
    /// Per user: invalidations this process made through the cache service whose echo has not
    /// come back on the stream yet (and since when). The echo does not bump the generation
    /// again, so views computed after the write stay reachable.
    awaiting_echo: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LocalViews {
    /// At most `max_bytes` of views (keys and ETags included), each for at most `ttl`.
    pub fn new(level: &'static str, max_bytes: u64, ttl: Duration) -> Self {
        let ttl = ttl.max(Duration::from_millis(1));
        Self {
            level,
            ttl,
            entries: Cache::builder()
                .weigher(|key: &String, view: &LocalView| {
                    u32::try_from(key.len() + view.json.len() + view.etag.len() + 64)
                        .unwrap_or(u32::MAX)
                })
                .max_capacity(max_bytes)
                .time_to_live(ttl)
                // Every write makes its user's next keys new (the generation is in them) and
                // leaves the old ones unread: least recently used goes first, and a new key is
                // always admitted (TinyLFU refused most of them under constant writes).
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            generations: Generations::new(ttl),
            awaiting_echo: Mutex::new(HashMap::new()),
        }
    }

    /// The bound on a copy's age.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The user's generation and the flush epoch now.
    pub fn stamp(&self, user_id: &str) -> Stamp {
        self.generations.stamp(user_id)
    }

    /// The key of a view under `stamp`.
    pub fn key(stamp: Stamp, user_id: &str, view: &str, params: &str) -> String {
        let (generation, flush) = stamp;
        format!("{flush}:{user_id}:{generation}:{view}:{params}")
    }

    /// The copy under `key`, unless it has expired.
    pub async fn get(&self, key: &str) -> Option<LocalView> {
        self.entries
            .get(key)
            .await
            .filter(|view| view.expires > Instant::now())
    }

    /// Keeps a view fetched under `stamp`, if nothing changed since and the stream is followed.
    pub async fn keep(&self, key: String, user_id: &str, stamp: Stamp, view: LocalView) {
        if self.is_coherent() && self.stamp(user_id) == stamp {
            self.entries.insert(key, view).await;
        }
    }

    /// The entries themselves, for a caller that computes a missing view once for all its
    /// concurrent readers (moka's entry API) and checks [`LocalViews::is_coherent`] itself.
    pub fn entries(&self) -> &Cache<String, LocalView> {
        &self.entries
    }

    /// True while the invalidation stream is followed: only then may copies be kept.
    pub fn is_coherent(&self) -> bool {
        self.generations.is_coherent()
    }

    /// True when the user's generation changed less than `window` ago (at most the TTL).
    pub fn changed_within(&self, user_id: &str, window: Duration) -> bool {
        self.generations.changed_within(user_id, window)
    }

    /// This process changed (or may have changed) the user's data: none of their copies is
    /// served again here. For a change whose invalidation reaches the stream by another path
    /// (the gateway after a write through analytics), or none.
    pub fn invalidate(&self, user_id: &str) {
        self.generations.bump(user_id);
    }

    /// This process changed the user's data and is about to invalidate them through the cache
    /// service: applied now; the echo that comes back on the stream is not applied twice (see
    /// [`LocalViews::echo_lost`] when it cannot come). Only for a process whose own call
    /// produces the echo, so that the echo cannot arrive before this.
    pub fn invalidate_expecting_echo(&self, user_id: &str) {
        self.generations.bump(user_id);
        if self.is_coherent() {
            let mut awaiting = self.awaiting_echo();
            let entry = awaiting
                .entry(user_id.to_owned())
                .or_insert((0, Instant::now()));
            entry.0 += 1;
            entry.1 = Instant::now();
        }
    }

    /// The invalidation did not reach the cache service: no echo will come.
    pub fn echo_lost(&self, user_id: &str) {
        self.take_echo(user_id);
    }

    /// Follows the invalidation stream for as long as the process runs, reopening it with
    /// `watch` whenever it ends or cannot be opened.
    pub async fn follow<F, Fut>(&self, mut watch: F)
    where
        F: FnMut() -> Fut,
        Fut:
            Future<Output = Result<tonic::Response<tonic::Streaming<Invalidation>>, tonic::Status>>,
    {
        loop {
            match watch().await {
                Ok(response) => {
                    self.set_coherent(true);
                    tracing::info!(level = self.level, "view copies follow cache invalidations");
                    let mut stream = response.into_inner();
                    while let Some(Ok(invalidation)) = stream.next().await {
                        self.apply(invalidation.scope);
                    }
                    self.set_coherent(false);
                    tracing::warn!(
                        level = self.level,
                        "invalidation stream ended; no view copies kept until it is back"
                    );
                }
                Err(status) => {
                    self.set_coherent(false);
                    tracing::debug!(level = self.level, code = ?status.code(), "cannot follow invalidations yet");
                }
            }
            tokio::time::sleep(RECONNECT_EVERY).await;
        }
    }

    /// One message of the stream.
    fn apply(&self, scope: Option<Scope>) {
        match scope {
            Some(Scope::Users(users)) => {
                for user_id in &users.user_ids {
                    if !self.take_echo(user_id) {
                        self.generations.bump(user_id);
                    }
                }
            }
            // "Everything", or a message this version does not know: drop everything.
            Some(Scope::Everything(_)) | None => {
                self.generations.flush();
                self.entries.invalidate_all();
            }
        }
    }

    /// Consumes one awaited echo of the user; false when none was awaited.
    fn take_echo(&self, user_id: &str) -> bool {
        let mut awaiting = self.awaiting_echo();
        let Some((count, _)) = awaiting.get_mut(user_id) else {
            return false;
        };
        *count -= 1;
        if *count == 0 {
            awaiting.remove(user_id);
        }
        true
    }

    /// Whether the stream is followed: [`LocalViews::follow`] says so as it connects and
    /// loses it (public for tests that drive a cache without a stream).
    pub fn set_coherent(&self, coherent: bool) {
        if self.generations.set_coherent(coherent) {
            // Either way, what is held may have missed invalidations.
            self.awaiting_echo().clear();
            self.entries.invalidate_all();
        }
    }

    /// Periodic upkeep: forgets generations older than any copy, and echoes that never came.
    pub fn upkeep(&self) {
        self.generations.prune();
        self.awaiting_echo()
            .retain(|_, (_, since)| since.elapsed() <= ECHO_WAIT);
    }

    /// Copies held now (a gauge).
    pub fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }

    fn awaiting_echo(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.awaiting_echo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wellbeing_proto::cache::v1::Users;

    fn user(id: &str) -> Option<Scope> {
        Some(Scope::Users(Users {
            user_ids: vec![id.to_owned()],
        }))
    }

    #[test]
    fn invalidations_flushes_and_echoes_change_the_stamp_as_they_should() {
        let local = LocalViews::new("test", 1 << 20, Duration::from_secs(10));
        let first = local.stamp("u1");
        local.apply(user("u1"));
        let second = local.stamp("u1");
        assert_ne!(first, second, "an invalidation from elsewhere applies");
        assert_eq!(local.stamp("u2"), (0, 0), "other users untouched");
        // An own invalidation applies at once; its echo does not apply twice, the next
        // invalidation from elsewhere does.
        local.set_coherent(true);
        let before = local.stamp("u1");
        local.invalidate_expecting_echo("u1");
        let after = local.stamp("u1");
        assert_ne!(before, after);
        local.apply(user("u1"));
        assert_eq!(after, local.stamp("u1"));
        local.apply(user("u1"));
        assert_ne!(after, local.stamp("u1"));
        // A plain invalidation expects no echo.
        let before = local.stamp("u1");
        local.invalidate("u1");
        local.apply(user("u1"));
        assert_eq!(local.stamp("u1").0, before.0 + 2);
        let before = local.stamp("u3");
        local.apply(Some(Scope::Everything(true)));
        assert_ne!(before, local.stamp("u3"), "everything drops every user");
    }

    #[test]
    fn one_message_names_several_users_each_with_its_own_echo() {
        let local = LocalViews::new("test", 1 << 20, Duration::from_secs(10));
        local.set_coherent(true);
        local.invalidate_expecting_echo("mine");
        let (mine, other, untouched) =
            (local.stamp("mine"), local.stamp("other"), local.stamp("x"));
        local.apply(Some(Scope::Users(Users {
            user_ids: vec!["mine".to_owned(), "other".to_owned()],
        })));
        assert_eq!(
            local.stamp("mine"),
            mine,
            "the echo of an own write applies once"
        );
        assert_ne!(local.stamp("other"), other, "the other user's views drop");
        assert_eq!(local.stamp("x"), untouched);
    }

    #[tokio::test]
    async fn a_view_is_kept_only_while_coherent_and_under_its_stamp() {
        let local = LocalViews::new("test", 1 << 20, Duration::from_secs(10));
        let view = |json: &'static [u8]| LocalView {
            json: Bytes::from_static(json),
            etag: "\"e\"".to_owned(),
            expires: Instant::now() + Duration::from_secs(5),
        };
        let stamp = local.stamp("u1");
        let key = LocalViews::key(stamp, "u1", "daily", "d");
        local.keep(key.clone(), "u1", stamp, view(b"1")).await;
        assert!(local.get(&key).await.is_none(), "not kept while incoherent");
        local.set_coherent(true);
        let stamp = local.stamp("u1");
        let key = LocalViews::key(stamp, "u1", "daily", "d");
        local.keep(key.clone(), "u1", stamp, view(b"2")).await;
        assert_eq!(
            local.get(&key).await.map(|view| view.json),
            Some(Bytes::from_static(b"2"))
        );
        // Fetched before an invalidation, kept after it: refused.
        let stale = local.stamp("u1");
        local.invalidate("u1");
        let stale_key = LocalViews::key(stale, "u1", "weekly", "");
        local.keep(stale_key.clone(), "u1", stale, view(b"3")).await;
        assert!(local.get(&stale_key).await.is_none());
        // Expired copies are not served.
        let stamp = local.stamp("u1");
        let key = LocalViews::key(stamp, "u1", "apps", "");
        let expired = LocalView {
            expires: Instant::now(),
            ..view(b"4")
        };
        local.keep(key.clone(), "u1", stamp, expired).await;
        assert!(local.get(&key).await.is_none());
    }
}
