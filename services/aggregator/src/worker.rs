//! The worker loop: claim dirty days (SKIP LOCKED, with a lease), recompute each from raw
//! events, store the rollup and clear the mark unless a newer event re-marked the day, then
//! warm the users' most read views. A worker that dies mid-batch leaves its claims to expire and
//! be taken by another; recomputation is idempotent, so nothing is counted twice.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::PgPool;
use tracing::Instrument as _;
use uuid::Uuid;
use wellbeing_common::grpc::TracedChannel;
use wellbeing_proto::analytics::v1::analytics_client::AnalyticsClient;
use wellbeing_proto::analytics::v1::{
    DashboardRequest, InsightsRequest, QuickStatsRequest, WellbeingScoreRequest,
};
use wellbeing_store::rollups::{self, Claim, Rollup};

use crate::rollup::compute_day;

/// Throughput is reported over this window.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// What the worker has done, for the status RPC.
pub struct WorkerState {
    pub started_at: chrono::DateTime<Utc>,
    pub items_processed: AtomicU64,
    pub events_processed: AtomicU64,
    pub items_requeued: AtomicU64,
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
            items_requeued: AtomicU64::new(0),
            last_error: Mutex::new(String::new()),
            recent: Mutex::new(VecDeque::new()),
        }
    }
}

impl WorkerState {
    fn record_batch(&self, items: u64, events: u64) {
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

    fn failed(&self, error: impl std::fmt::Display) {
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
    pub analytics: Option<AnalyticsClient<TracedChannel>>,
    pub batch_size: i64,
    pub lease: Duration,
    pub idle_poll: Duration,
}

impl Worker {
    /// Works until the task is dropped (aborted on shutdown; claims then expire).
    pub async fn run(&self) {
        loop {
            match self.run_batch().await {
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

    /// Claims and processes one batch; returns how many items it claimed.
    pub async fn run_batch(&self) -> Result<usize, wellbeing_store::StoreError> {
        let claims = rollups::claim(&self.pool, self.batch_size, self.lease).await?;
        if claims.is_empty() {
            return Ok(0);
        }
        // One trace per batch, one span per day recomputed (its SQL statements under it).
        let batch = tracing::info_span!(
            "batch",
            otel.name = "aggregator.batch",
            items = claims.len()
        );
        let mut events = 0u64;
        let mut done = 0u64;
        let mut warm_users = BTreeSet::new();
        for claim in &claims {
            let item = tracing::info_span!(parent: &batch, "item", otel.name = "aggregator.rollup_day", day = %claim.day);
            match self.process(claim).instrument(item).await {
                Ok(Some(item_events)) => {
                    events += item_events;
                    done += 1;
                    warm_users.insert(claim.user_id);
                }
                Ok(None) => {}
                Err(error) => {
                    self.state.failed(&error);
                    // Leave it for another try (the lease would expire anyway).
                    let _ = rollups::release(&self.pool, claim).await;
                }
            }
        }
        self.state.record_batch(done, events);
        self.warm(warm_users).instrument(batch).await;
        Ok(claims.len())
    }

    /// Recomputes one day; `Some(events read)` when its rollup was stored.
    async fn process(&self, claim: &Claim) -> Result<Option<u64>, wellbeing_store::StoreError> {
        let Some(day) = compute_day(&self.pool, claim.user_id, claim.day).await? else {
            rollups::forget(&self.pool, claim).await?;
            return Ok(None);
        };
        let rollup = Rollup {
            timezone: day.timezone.name(),
            summary: day.summary,
            apps: day.apps,
            events: i32::try_from(day.events).unwrap_or(i32::MAX),
        };
        if !rollups::complete(&self.pool, claim, &rollup).await? {
            self.state.items_requeued.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Some(day.events as u64))
    }

    /// Asks analytics to compute and cache the users' dashboard and quick stats, so their next
    /// read is a hit. Best effort: a failure only costs that read a computation.
    pub async fn warm(&self, users: BTreeSet<Uuid>) {
        let Some(analytics) = &self.analytics else {
            return;
        };
        let span = tracing::info_span!("warm", otel.name = "aggregator.warm", users = users.len());
        Self::warm_users(analytics, users).instrument(span).await;
    }

    /// The dashboard (with insights and scores), quick stats, insights and today's wellbeing score:
    /// what the app reads most, computed here so that the user's next reads are hits.
    async fn warm_users(analytics: &AnalyticsClient<TracedChannel>, users: BTreeSet<Uuid>) {
        for user_id in users {
            let dashboard = timed(tonic::Request::new(DashboardRequest {
                user_id: user_id.to_string(),
                warm: true,
            }));
            let quick = timed(tonic::Request::new(QuickStatsRequest {
                user_id: user_id.to_string(),
                warm: true,
            }));
            let insights = timed(tonic::Request::new(InsightsRequest {
                user_id: user_id.to_string(),
                warm: true,
            }));
            let wellbeing = timed(tonic::Request::new(WellbeingScoreRequest {
                user_id: user_id.to_string(),
                date: None,
                warm: true,
            }));
            let mut clients = [
                analytics.clone(),
                analytics.clone(),
                analytics.clone(),
                analytics.clone(),
            ];
            let [first, second, third, fourth] = &mut clients;
            let (dashboard, quick, insights, wellbeing) = tokio::join!(
                first.dashboard(dashboard),
                second.quick_stats(quick),
                third.insights(insights),
                fourth.wellbeing_score(wellbeing),
            );
            let failed = [
                dashboard.err(),
                quick.err(),
                insights.err(),
                wellbeing.err(),
            ];
            if let Some(status) = failed.into_iter().flatten().next() {
                tracing::debug!(code = ?status.code(), "cache warming skipped");
            }
        }
    }
}

/// A request with the warming deadline.
fn timed<T>(mut request: tonic::Request<T>) -> tonic::Request<T> {
    request.set_timeout(Duration::from_secs(2));
    request
}
