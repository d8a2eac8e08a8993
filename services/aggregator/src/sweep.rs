//! The sweep: every interval, a sample of recent day aggregates is compared with what their raw
//! records say, under the user's lock. A difference would be a bug in the delta path; it is
//! repaired and counted (`wellbeing_aggregator_aggregate_repairs_total`, which should stay 0).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use wellbeing_store::{StoreError, aggregates};

use crate::recompute;
use crate::worker::Worker;

/// Days of this age or younger are sampled (older ones rarely change).
const RECENT_DAYS: i64 = 7;

/// Runs forever: every `interval`, checks `sample` days.
pub async fn run(worker: Arc<Worker>, interval: Duration, sample: i64) {
    loop {
        tokio::time::sleep(interval).await;
        if let Err(error) = sweep_once(&worker, sample).await {
            tracing::warn!(%error, "sweep failed");
        }
    }
}

/// Checks `sample` randomly chosen recent days; returns how many differed.
pub async fn sweep_once(worker: &Worker, sample: i64) -> Result<u64, StoreError> {
    let since = Utc::now().date_naive() - chrono::Duration::days(RECENT_DAYS);
    let mut repaired = 0;
    for (user_id, day) in aggregates::sample(&worker.pool, since, sample).await? {
        let Some(differed) = recompute::check(&worker.pool, user_id, day).await? else {
            continue; // gone, being rebuilt or already marked: nothing to check
        };
        worker.state.days_checked.fetch_add(1, Ordering::Relaxed);
        if differed {
            repaired += 1;
            worker
                .state
                .aggregate_repairs
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(repaired)
}
