//! Counters of what the cache did. Hits and misses count view reads only, so the hit rate is the
//! share of reads that were answered from the cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The operations whose latency is tracked.
pub const OPERATIONS: [&str; 5] = ["get", "set", "delete", "invalidate_users", "erase_user"];

/// Count, total and maximum duration of one operation, in microseconds.
#[derive(Default)]
pub struct Latency {
    count: AtomicU64,
    total_micros: AtomicU64,
    max_micros: AtomicU64,
}

impl Latency {
    fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.total_micros.fetch_add(micros, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    /// `(count, average ms, max ms)`.
    pub fn read(&self) -> (u64, f64, f64) {
        let count = self.count.load(Ordering::Relaxed);
        let total = self.total_micros.load(Ordering::Relaxed) as f64 / 1000.0;
        let average = if count == 0 {
            0.0
        } else {
            total / count as f64
        };
        (
            count,
            average,
            self.max_micros.load(Ordering::Relaxed) as f64 / 1000.0,
        )
    }
}

#[derive(Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    sets: AtomicU64,
    latency: [Latency; OPERATIONS.len()],
}

/// A consistent-enough copy of the counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsSnapshot {
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub sets: u64,
}

/// Hits as a percentage of reads, one decimal; 0 before any read.
pub fn hit_rate_percent(hits: u64, misses: u64) -> f64 {
    let reads = hits + misses;
    if reads == 0 {
        return 0.0;
    }
    (hits as f64 * 1000.0 / reads as f64).round() / 10.0
}

impl CacheStats {
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set(&self) {
        self.sets.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how long one operation (a name of [`OPERATIONS`]) took.
    pub fn timed(&self, operation: &str, elapsed: Duration) {
        if let Some(index) = OPERATIONS.iter().position(|name| *name == operation) {
            self.latency[index].record(elapsed);
        }
    }

    /// `(operation, count, average ms, max ms)` of every tracked operation.
    pub fn latencies(&self) -> Vec<(&'static str, u64, f64, f64)> {
        OPERATIONS
            .iter()
            .zip(&self.latency)
            .map(|(name, latency)| {
                let (count, average, max) = latency.read();
                (*name, count, average, max)
            })
            .collect()
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            sets: self.sets.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_rate_is_hits_over_reads() {
        let stats = CacheStats::default();
        let rate = |snapshot: StatsSnapshot| hit_rate_percent(snapshot.hits, snapshot.misses);
        assert_eq!(rate(stats.snapshot()), 0.0);
        stats.hit();
        stats.hit();
        stats.miss();
        // 2 hits of 3 reads = 66.666...% -> 66.7
        assert_eq!(rate(stats.snapshot()), 66.7);
    }
}
