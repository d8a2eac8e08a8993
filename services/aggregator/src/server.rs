//! The aggregator's gRPC face: the state of the work queue, and manual recomputation.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{NaiveDate, Utc};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_proto::Timestamp;
use wellbeing_proto::aggregator::v1::aggregator_server::Aggregator;
use wellbeing_proto::aggregator::v1::{
    RecomputeRequest, RecomputeResponse, StatusRequest, StatusResponse,
};
use wellbeing_store::{aggregates, dirty_days};

use crate::worker::WorkerState;

/// The longest range one recomputation request may mark.
const MAX_RECOMPUTE_DAYS: i64 = 366;

pub struct AggregatorService {
    pub pool: PgPool,
    pub state: Arc<WorkerState>,
}

#[tonic::async_trait]
impl Aggregator for AggregatorService {
    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let (depth, oldest) = dirty_days::queue_depth(&self.pool)
            .await
            .map_err(ServiceError::from)?;
        let rebuilds_waiting = aggregates::rebuilds_waiting(&self.pool)
            .await
            .map_err(ServiceError::from)?;
        let (items_per_second, events_per_second) = self.state.rates();
        let oldest_pending_seconds = oldest
            .map(|marked| (Utc::now() - marked).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        Ok(Response::new(StatusResponse {
            queue_depth: u64::try_from(depth).unwrap_or(0),
            oldest_pending_seconds,
            items_processed: self.state.items_processed.load(Ordering::Relaxed),
            items_per_second,
            events_per_second,
            last_error: self
                .state
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            started_at: Some(Timestamp {
                seconds: self.state.started_at.timestamp(),
                nanos: 0,
            }),
            events_processed: self.state.events_processed.load(Ordering::Relaxed),
            aggregate_repairs: self.state.aggregate_repairs.load(Ordering::Relaxed),
            rebuilds_waiting: u64::try_from(rebuilds_waiting).unwrap_or(0),
        }))
    }

    async fn recompute(
        &self,
        request: Request<RecomputeRequest>,
    ) -> Result<Response<RecomputeResponse>, Status> {
        let request = request.into_inner();
        let user_id = Uuid::parse_str(&request.user_id)
            .map_err(|_| ServiceError::invalid("user_id", "user_id must be a UUID"))?;
        let from = parse_date("from_date", &request.from_date)?;
        let to = parse_date("to_date", &request.to_date)?;
        if to < from || (to - from).num_days() >= MAX_RECOMPUTE_DAYS {
            return Err(ServiceError::invalid(
                "to_date",
                "to_date must be on or after from_date, at most 366 days later",
            )
            .into());
        }
        let marked = dirty_days::mark_range(&self.pool, user_id, from, to)
            .await
            .map_err(|error| match error {
                // The user does not exist (foreign key): nothing to recompute.
                wellbeing_store::StoreError::Other(sqlx::Error::Database(db))
                    if db.code().as_deref() == Some("23503") =>
                {
                    ServiceError::not_found("no such user")
                }
                other => other.into(),
            })?;
        Ok(Response::new(RecomputeResponse { marked }))
    }
}

fn parse_date(field: &str, text: &str) -> Result<NaiveDate, ServiceError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| ServiceError::invalid(field, format!("{field} must be a date YYYY-MM-DD")))
}
