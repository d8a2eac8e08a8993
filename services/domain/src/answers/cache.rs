//! `GET /analytics/cache`: the caller's reads of derived views.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CacheStats {
    /// False while the cache service cannot be reached (reads are then computed directly).
    pub enabled: bool,
    /// `redis`, `memory`, or `unavailable` when the cache service does not answer.
    pub backend: String,
    /// Reads answered from a cache.
    pub hits: u64,
    /// Reads computed.
    pub misses: u64,
    /// Hits over reads, percent, one decimal; 0 before any read.
    pub hit_rate_percent: f64,
}
