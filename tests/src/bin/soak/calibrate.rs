//! The maximum: a closed loop (each connection sends its next request of the soak's mix as soon
//! as the previous answer arrived) on the seeded data. A first unmeasured stretch brings the
//! caches to their steady state: after seeding they hold nothing of the users' views (nothing
//! warms them), and a calibration from cold caches would misstate what the stack sustains once
//! the reads fill them and the users' writes keep invalidating them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::driver;
use crate::mix::Mix;
use crate::processes::Stack;

pub struct Settings {
    pub connections: usize,
    pub warmup: Duration,
    pub seconds: Duration,
    pub seed: u64,
}

/// The cache service's hit ratio between two readings of its counters, in percent.
pub fn hit_percent(before: (f64, f64), after: (f64, f64)) -> f64 {
    let hits = after.0 - before.0;
    let misses = after.1 - before.1;
    hits * 100.0 / (hits + misses).max(1.0)
}

/// Returns the maximum (answered requests per second) and the figures for the report.
pub async fn run(
    stack: &Stack,
    mix: &Arc<Mix>,
    settings: &Settings,
) -> anyhow::Result<(f64, Value)> {
    let next_mix = mix.clone();
    let next: driver::NextCall = Arc::new(move |rng| next_mix.call(rng));
    let warm_reads = stack.cache_reads().await;
    let warm = driver::run(
        &stack.gateway,
        settings.connections,
        Duration::ZERO,
        settings.warmup,
        settings.seed,
        next.clone(),
    )
    .await?;
    let before = stack.cache_reads().await;
    let measured = driver::run(
        &stack.gateway,
        settings.connections,
        Duration::from_secs(1),
        settings.seconds,
        settings.seed + 7,
        next,
    )
    .await?;
    let after = stack.cache_reads().await;
    let maximum = measured.per_second();
    let (warm_hits, hits) = (hit_percent(warm_reads, before), hit_percent(before, after));
    eprintln!(
        "calibration: {:.0} req/s in the first {:.0} s (unmeasured; cache service hit ratio \
         {warm_hits:.0} %), then {maximum:.0} req/s at most over {:.0} s ({} connections, closed \
         loop; {} errors; p50 {:.1} ms, p99 {:.1} ms; hit ratio {hits:.0} %)",
        warm.per_second(),
        settings.warmup.as_secs_f64(),
        settings.seconds.as_secs_f64(),
        settings.connections,
        measured.errors,
        measured.ms(0.5),
        measured.ms(0.99)
    );
    if let Some(error) = &measured.first_error {
        eprintln!("  first error: {error}");
    }
    Ok((
        maximum,
        json!({
            "connections": settings.connections,
            "warmup_s": settings.warmup.as_secs_f64(),
            "warmup_per_s": warm.per_second(),
            "warmup_cache_hit_percent": warm_hits,
            "seconds": settings.seconds.as_secs_f64(),
            "maximum_per_s": maximum,
            "errors": measured.errors,
            "p50_ms": measured.ms(0.5),
            "p99_ms": measured.ms(0.99),
            "cache_hit_percent": hits,
        }),
    ))
}
