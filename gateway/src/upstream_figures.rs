//! The upstreams' figures `/metrics?format=json` summarises (the cache service's hits and
//! misses, analytics' database pool, the aggregator's lag), gathered in the background: at most
//! once per `METRICS_REFRESH_MS` (sooner, backing off, until every upstream has answered once),
//! never because a request came, so no request can make an upstream, or PostgreSQL behind the
//! aggregator, do work. They stay out of the Prometheus text: each service serves its own on its
//! `METRICS_ADDR`, where every replica of it is scraped once, while every gateway replica
//! re-exporting them would give Prometheus the same figure once per gateway.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use wellbeing_proto::aggregator::v1::{StatusRequest, StatusResponse};
use wellbeing_proto::analytics::v1::{PoolStatsRequest, PoolStatsResponse};
use wellbeing_proto::cache::v1::{StatsRequest, StatsResponse};

use crate::openapi::operations::{AggregatorFigures, CacheFigures, MetricsSummary, PoolFigures};
use crate::stats::RequestTotals;
use crate::upstream::{Upstreams, timed};

/// How long a gathering waits for each upstream.
const GATHER_TIMEOUT: Duration = Duration::from_millis(500);

/// The first retry after an incomplete gathering; it doubles up to the refresh interval.
const FIRST_RETRY: Duration = Duration::from_millis(250);

/// The last gathering, shared by every request.
#[derive(Clone)]
pub struct LatestFigures {
    latest: Arc<RwLock<Gathered>>,
}

/// One gathering and when it was made.
#[derive(Clone)]
pub struct Gathered {
    pub figures: Arc<UpstreamFigures>,
    pub at: Instant,
}

impl Default for LatestFigures {
    fn default() -> Self {
        Self {
            latest: Arc::new(RwLock::new(Gathered {
                figures: Arc::default(),
                at: Instant::now(),
            })),
        }
    }
}

impl LatestFigures {
    pub fn get(&self) -> Gathered {
        self.latest
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, figures: UpstreamFigures) {
        *self
            .latest
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Gathered {
            figures: Arc::new(figures),
            at: Instant::now(),
        };
    }

    /// Gathers every `every` for as long as the gateway runs (its task is aborted at stop).
    pub async fn keep_gathering(self, upstreams: Upstreams, every: Duration) {
        let mut retry = FIRST_RETRY.min(every);
        loop {
            let figures = UpstreamFigures::gather(&upstreams).await;
            let complete = figures.is_complete();
            self.set(figures);
            let pause = if complete {
                retry = FIRST_RETRY.min(every);
                every
            } else {
                let pause = retry;
                retry = (retry * 2).min(every);
                pause
            };
            tokio::time::sleep(pause).await;
        }
    }
}

/// What the upstreams said at one gathering (`None`: no answer in time).
#[derive(Default)]
pub struct UpstreamFigures {
    pub cache: Option<StatsResponse>,
    pub pool: Option<PoolStatsResponse>,
    pub aggregator: Option<StatusResponse>,
}

impl UpstreamFigures {
    fn is_complete(&self) -> bool {
        self.cache.is_some() && self.pool.is_some() && self.aggregator.is_some()
    }

    pub async fn gather(upstreams: &Upstreams) -> Self {
        let (mut cache, mut analytics, mut aggregator) = (
            upstreams.cache(),
            upstreams.analytics(),
            upstreams.aggregator(),
        );
        let (cache, pool, aggregator) = tokio::join!(
            ask(cache.stats(gather_request(StatsRequest {}))),
            ask(analytics.pool_stats(gather_request(PoolStatsRequest {}))),
            ask(aggregator.status(gather_request(StatusRequest {}))),
        );
        Self {
            cache,
            pool,
            aggregator,
        }
    }

    /// The JSON summary, every key present (null when its upstream did not answer).
    pub fn summary(&self, requests: RequestTotals, age_seconds: f64) -> MetricsSummary {
        let cache = self.cache.as_ref();
        let pool = self.pool.as_ref();
        let aggregator = self.aggregator.as_ref();
        MetricsSummary {
            requests,
            upstream_figures_age_seconds: age_seconds,
            cache: CacheFigures {
                up: cache.is_some(),
                hits: cache.map(|c| c.hits),
                misses: cache.map(|c| c.misses),
                hit_rate_percent: cache.map(|c| c.hit_rate_percent),
                backend: cache.map(|c| backend_name(&c.backend)),
                keys: cache.map(|c| c.keys),
                errors: cache.map(|c| c.errors),
                degraded: cache.map(|c| c.degraded),
                failovers: cache.map(|c| c.failovers),
            },
            database_pool: PoolFigures {
                up: pool.is_some(),
                size: pool.map(|p| p.size),
                idle: pool.map(|p| p.idle),
                in_use: pool.map(|p| p.in_use),
                max: pool.map(|p| p.max),
            },
            aggregator: AggregatorFigures {
                up: aggregator.is_some(),
                queue_depth: aggregator.map(|a| a.queue_depth),
                oldest_pending_seconds: aggregator.map(|a| a.oldest_pending_seconds),
                items_per_second: aggregator.map(|a| a.items_per_second),
                events_per_second: aggregator.map(|a| a.events_per_second),
            },
        }
    }
}

fn gather_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(GATHER_TIMEOUT);
    request
}

/// One upstream's answer, or `None` when it fails or is late.
async fn ask<T>(
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Option<T> {
    match tokio::time::timeout(GATHER_TIMEOUT, timed(call)).await {
        Ok(Ok(response)) => Some(response.into_inner()),
        Ok(Err(status)) => {
            tracing::debug!(grpc_code = ?status.code(), "upstream figures unavailable");
            None
        }
        Err(_) => None,
    }
}

/// The backend by name: only the names we know, so nothing odd reaches the summary.
fn backend_name(backend: &str) -> &'static str {
    match backend {
        "redis" => "redis",
        "memory" => "memory",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_upstreams_report_down_with_every_key() {
        let figures = UpstreamFigures {
            cache: None,
            pool: Some(PoolStatsResponse {
                size: 4,
                idle: 3,
                in_use: 1,
                max: 8,
            }),
            aggregator: None,
        };
        let totals = RequestTotals {
            total_requests: 0,
            total_time_ms: 0.0,
            average_time_ms: 0.0,
            slow_requests: 0,
        };
        let summary = serde_json::to_value(figures.summary(totals, 1.5)).expect("JSON");
        assert_eq!(summary["cache"]["up"], false);
        assert_eq!(summary["upstream_figures_age_seconds"], 1.5);
        assert!(summary["cache"]["hits"].is_null());
        assert_eq!(summary["database_pool"]["in_use"], 1);
    }
}
