//! Every error leaves the gateway as `{"detail", "code", "field"?}` with the status of its
//! [`ErrorCode`]; 503 and 429 add `Retry-After` (the error's own wait, else 1 s).

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use wellbeing_common::{ErrorCode, ServiceError};

use crate::openapi::schemas::ErrorBody;

/// An error answer of the REST API.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self(ServiceError::new(code, detail))
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self(ServiceError::invalid(field, detail))
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self(error)
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        let mut error = ServiceError::from_status(&status);
        // A status made on this side from a transport failure (it has a cause: the connection
        // was reset mid-call, an HTTP/2 error) is an upstream that did not answer, not a fault
        // of ours: 503, which the phone retries (a write with its `event_id` is stored once).
        if error.code == ErrorCode::Internal && std::error::Error::source(&status).is_some() {
            tracing::warn!(grpc_code = ?status.code(), message = status.message(), "upstream call cut off");
            error = ServiceError::unavailable("a dependency is unavailable, try again shortly");
        }
        if error.code == ErrorCode::Internal {
            tracing::error!(grpc_code = ?status.code(), "upstream failed");
        }
        Self(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ServiceError {
            code,
            detail,
            field,
            errors,
            retry_after_secs,
        } = self.0;
        let body = ErrorBody {
            detail,
            code,
            field,
            errors,
        };
        let mut response = (code.http_status(), Json(body)).into_response();
        if matches!(code, ErrorCode::Unavailable | ErrorCode::RateLimited) {
            let seconds = retry_after_secs.unwrap_or(1).max(1);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if code == ErrorCode::Unauthenticated {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_cut_off_in_transport_is_503_and_a_server_fault_500() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let cut = tonic::Status::from_error(Box::new(reset));
        let answer = ApiError::from(cut).into_response();
        assert_eq!(answer.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(answer.headers().contains_key(header::RETRY_AFTER));
        let fault = tonic::Status::internal("boom");
        assert_eq!(
            ApiError::from(fault).into_response().status(),
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
