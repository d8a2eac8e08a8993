//! Counters of what the cache did. Hits and misses count view reads only, so the hit rate is the
//! share of reads that were answered from the cache.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    sets: AtomicU64,
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
