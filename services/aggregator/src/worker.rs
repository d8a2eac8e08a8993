//! The worker loop: claim marked days (SKIP LOCKED, with a lease) and recompute them from raw
//! records, then claim a pending rebuild (after a timezone change) and do it. A worker that dies
//! mid-batch leaves its claims to expire and be taken by another; recomputation replaces what it
//! computes, so nothing is counted twice.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::PgPool;
use tracing::Instrument as _;
use uuid::Uuid;
use wellbeing_store::dirty_days::{self, Claim};
use wellbeing_store::{StoreError, aggregates};

use crate::recompute::{self, Outcome};

/// Throughput is reported over this window.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// What the worker has done, for the status RPC.
pub struct WorkerState {
    pub started_at: chrono::DateTime<Utc>,
    pub items_processed: AtomicU64,
    pub events_processed: AtomicU64,
    /// Days the sweep compared with their raw records, and those it found different.
    pub days_checked: AtomicU64,
    pub aggregate_repairs: AtomicU64,
    pub rebuilds_done: AtomicU64,
    pub last_error: Mutex<String>,
    /// (when, items, events) of recent batches.
    recent: Mutex<VecDeque<(Instant, u64, u64)>>,
}

impl Default for WorkerState {
    fn default() -> Self {
        Self {
            started_at: Utc::now(),
            items_processed: AtomicU64::new(0),
            events_processed: AtomicU64::new(0),
            days_checked: AtomicU64::new(0),
            aggregate_repairs: AtomicU64::new(0),
            rebuilds_done: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
            recent: Mutex::new(VecDeque::new()),
        }
    }
}

impl WorkerState {
    pub fn record_batch(&self, items: u64, events: u64) {
        self.items_processed.fetch_add(items, Ordering::Relaxed);
        self.events_processed.fetch_add(events, Ordering::Relaxed);
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent.push_back((Instant::now(), items, events));
        while recent
            .front()
            .is_some_and(|(at, _, _)| at.elapsed() > RATE_WINDOW)
        {
            recent.pop_front();
        }
    }

    /// Items and events per second over the last minute (or since start, if shorter).
    pub fn rates(&self) -> (f64, f64) {
        let recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let window = (Utc::now() - self.started_at)
            .to_std()
            .unwrap_or_default()
            .clamp(Duration::from_secs(1), RATE_WINDOW)
            .as_secs_f64();
        let (items, events) = recent
            .iter()
            .filter(|(at, _, _)| at.elapsed() <= RATE_WINDOW)
            .fold((0, 0), |(items, events), (_, batch_items, batch_events)| {
                (items + batch_items, events + batch_events)
            });
        (items as f64 / window, events as f64 / window)
    }

    pub fn failed(&self, error: impl std::fmt::Display) {
        tracing::warn!(%error, "aggregation failed");
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = error.to_string();
    }
}

pub struct Worker {
    pub pool: PgPool,
    pub state: std::sync::Arc<WorkerState>,
    pub batch_size: i64,
    pub lease: Duration,
    /// A rebuild may take long for a heavy user; its claim lasts this long.
    pub rebuild_lease: Duration,
    pub idle_poll: Duration,
}

impl Worker {
    /// Works until the task is dropped (aborted on shutdown; claims then expire).
    pub async fn run(&self) {
        loop {
            let done = match self.run_batch().await {
                Ok(marked) => self.run_rebuild().await.map(|rebuilt| marked + rebuilt),
                Err(error) => Err(error),
            };
            match done {
                Ok(0) => tokio::time::sleep(self.idle_poll).await,
                Ok(_) => {}
                Err(error) => {
                    self.state.failed(&error);
                    // Most often the schema is not there yet (analytics applies it) or the
                    // database is down: back off rather than spin.
                    tokio::time::sleep(self.idle_poll.max(Duration::from_secs(1))).await;
                }
            }
        }
    }

    /// Claims and recomputes one batch of marked days; returns how many it claimed.
    pub async fn run_batch(&self) -> Result<usize, StoreError> {
        let claims = dirty_days::claim(&self.pool, self.batch_size, self.lease).await?;
        if claims.is_empty() {
            return Ok(0);
        }
        // One trace per batch, one span per user recomputed (its SQL statements under it).
        let batch = tracing::info_span!(
            "batch",
            otel.name = "aggregator.batch",
            items = claims.len()
        );
        let mut by_user: BTreeMap<Uuid, Vec<&Claim>> = BTreeMap::new();
        for claim in &claims {
            by_user.entry(claim.user_id).or_default().push(claim);
        }
        let (mut days, mut events) = (0u64, 0u64);
        for (user_id, claims) in by_user {
            let marked: Vec<_> = claims.iter().map(|claim| claim.day).collect();
            let span = tracing::info_span!(parent: &batch, "item", otel.name = "aggregator.recompute_days", days = marked.len());
            match recompute::days(&self.pool, user_id, &marked)
                .instrument(span)
                .await
            {
                Ok(Outcome::Done(recomputed)) => {
                    days += recomputed.days;
                    events += recomputed.events;
                }
                Ok(Outcome::Gone) => {
                    for claim in claims {
                        dirty_days::forget(&self.pool, claim).await?;
                    }
                }
                // The rebuild clears these marks; the claims expire meanwhile (no busy loop).
                Ok(Outcome::AwaitingRebuild) => {}
                Err(error) => {
                    self.state.failed(&error);
                    for claim in claims {
                        let _ = dirty_days::release(&self.pool, claim).await;
                    }
                }
            }
        }
        self.state.record_batch(days, events);
        Ok(claims.len())
    }

    /// Claims one pending rebuild and does it; returns how many it claimed (0 or 1).
    pub async fn run_rebuild(&self) -> Result<usize, StoreError> {
        let claimed = aggregates::claim_rebuilds(&self.pool, 1, self.rebuild_lease).await?;
        for (user_id, requested_at) in &claimed {
            let span = tracing::info_span!("rebuild", otel.name = "aggregator.rebuild");
            if recompute::rebuild(&self.pool, *user_id, *requested_at)
                .instrument(span)
                .await?
            {
                self.state.rebuilds_done.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(claimed.len())
    }
}
