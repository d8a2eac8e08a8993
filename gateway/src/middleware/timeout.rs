//! A bound on each request's time (`REQUEST_TIMEOUT_MS`): past it the request is dropped
//! (cancelling its upstream calls) and the client gets our 503 error body with `Retry-After`,
//! not an empty answer.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use wellbeing_common::ErrorCode;

use crate::error::ApiError;

pub async fn bound_request_time(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
            ApiError::new(
                ErrorCode::Unavailable,
                "the request took too long to answer; try again shortly",
            )
            .into_response()
        }
    }
}
