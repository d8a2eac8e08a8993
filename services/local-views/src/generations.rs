//! Per-user generations for the in-process copies that the cache service's invalidation stream
//! keeps coherent ([`crate::LocalViews`]).
//!
//! An entry's key includes its user's generation and the flush epoch (a [`Stamp`]), so one
//! invalidation makes all of a user's entries unreachable at once, and a value fetched while an
//! invalidation came (its stamp changed meanwhile) is recognised and not kept. Entries may be
//! kept only while the stream is connected ([`Generations::is_coherent`]): an invalidation
//! missed while it is down could never be noticed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a user's generation and the flush epoch were at one moment.
pub type Stamp = (u64, u64);

pub struct Generations {
    /// Per user: generation and when it last changed.
    users: Mutex<HashMap<String, (u64, Instant)>>,
    /// Bumped to drop everything (stream reconnected, backend switched).
    flush_epoch: AtomicU64,
    coherent: AtomicBool,
    /// The longest an entry lives: a generation unchanged for longer can be forgotten.
    entry_ttl: Duration,
}

impl Generations {
    pub fn new(entry_ttl: Duration) -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            flush_epoch: AtomicU64::new(0),
            coherent: AtomicBool::new(false),
            entry_ttl,
        }
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Instant)>> {
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The user's generation and the flush epoch now.
    pub fn stamp(&self, user_id: &str) -> Stamp {
        let generation = self
            .users()
            .get(user_id)
            .map_or(0, |(generation, _)| *generation);
        (generation, self.flush_epoch.load(Ordering::Acquire))
    }

    /// Makes the user's entries unreachable.
    pub fn bump(&self, user_id: &str) {
        let mut users = self.users();
        let entry = users
            .entry(user_id.to_owned())
            .or_insert((0, Instant::now()));
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    /// Makes every entry unreachable.
    pub fn flush(&self) {
        self.flush_epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Records whether the stream is connected; true when that changed, and then everything
    /// is flushed (what is held may have missed invalidations).
    pub fn set_coherent(&self, coherent: bool) -> bool {
        let changed = self.coherent.swap(coherent, Ordering::AcqRel) != coherent;
        if changed {
            self.flush();
        }
        changed
    }

    pub fn is_coherent(&self) -> bool {
        self.coherent.load(Ordering::Acquire)
    }

    /// True when the user's generation changed less than `window` ago (`window` at most the
    /// entry TTL: older changes are forgotten).
    pub fn changed_within(&self, user_id: &str, window: Duration) -> bool {
        self.users()
            .get(user_id)
            .is_some_and(|(_, changed)| changed.elapsed() < window)
    }

    /// Forgets generations that changed longer ago than the entry TTL: every entry made under
    /// an older generation has expired by then, so starting that user at 0 again is safe.
    pub fn prune(&self) {
        let keep = self.entry_ttl + Duration::from_secs(1);
        self.users()
            .retain(|_, (_, changed)| changed.elapsed() <= keep);
    }

    /// Users with a remembered generation (a gauge).
    pub fn tracked_users(&self) -> usize {
        self.users().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_flushes_and_coherence_change_the_stamp() {
        let generations = Generations::new(Duration::from_secs(10));
        let first = generations.stamp("u1");
        assert_eq!(first, generations.stamp("u1"));
        generations.bump("u1");
        let second = generations.stamp("u1");
        assert_ne!(first, second);
        assert_eq!(generations.stamp("u2"), (0, 0), "other users untouched");
        generations.flush();
        assert_ne!(second, generations.stamp("u1"));
        let before = generations.stamp("u1");
        assert!(generations.set_coherent(true));
        assert!(!generations.set_coherent(true), "no change, no flush");
        assert_ne!(before, generations.stamp("u1"));
        assert!(generations.changed_within("u1", Duration::from_secs(5)));
        assert!(!generations.changed_within("u2", Duration::from_secs(5)));
    }

    #[test]
    fn pruning_keeps_generations_younger_than_the_ttl() {
        let generations = Generations::new(Duration::from_secs(10));
        generations.bump("u1");
        generations.prune();
        assert_eq!(generations.tracked_users(), 1);
        assert_eq!(generations.stamp("u1").0, 1);
    }
}
