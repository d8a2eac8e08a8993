//! The aggregator's gRPC face: status of the work it does.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};
use wellbeing_proto::Timestamp;
use wellbeing_proto::aggregator::v1::aggregator_server::Aggregator;
use wellbeing_proto::aggregator::v1::{StatusRequest, StatusResponse};

/// What the worker has done since it started.
pub struct WorkerState {
    pub started_at: DateTime<Utc>,
}

pub struct AggregatorService {
    pub state: Arc<WorkerState>,
}

#[tonic::async_trait]
impl Aggregator for AggregatorService {
    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        // The work queue arrives with the rollups; until then there is nothing pending.
        Ok(Response::new(StatusResponse {
            queue_depth: 0,
            oldest_pending_seconds: 0.0,
            items_processed: 0,
            items_per_second: 0.0,
            events_per_second: 0.0,
            last_error: String::new(),
            started_at: Some(Timestamp {
                seconds: self.state.started_at.timestamp(),
                nanos: 0,
            }),
        }))
    }
}
