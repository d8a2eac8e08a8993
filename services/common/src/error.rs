//! The one error vocabulary of the system. A [`ServiceError`] travels from a service to the
//! gateway inside a `tonic::Status` (its details carry the JSON of the error), and the gateway
//! turns it into the REST error body `{detail, code, field?}` with the status of [`ErrorCode`].

use serde::{Deserialize, Serialize};

/// What kind of failure, independent of transport. Each maps to one gRPC code and one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not JSON at all (HTTP 400).
    InvalidJson,
    /// The content breaks a rule: wrong type, out of range, unknown field (HTTP 422).
    ValidationFailed,
    /// Missing, bad or expired credentials (HTTP 401).
    Unauthenticated,
    /// Authenticated, but asking for someone else's data (HTTP 403).
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    /// The path exists, but not with this method (HTTP 405).
    MethodNotAllowed,
    /// A dependency cannot answer now; retrying later may work (HTTP 503).
    Unavailable,
    /// A fault of ours; the client gets a generic message (HTTP 500).
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::ValidationFailed => "validation_failed",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn grpc_code(self) -> tonic::Code {
        match self {
            Self::InvalidJson | Self::ValidationFailed => tonic::Code::InvalidArgument,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
            Self::Forbidden => tonic::Code::PermissionDenied,
            Self::NotFound => tonic::Code::NotFound,
            Self::Conflict => tonic::Code::AlreadyExists,
            Self::PayloadTooLarge => tonic::Code::OutOfRange,
            Self::RateLimited => tonic::Code::ResourceExhausted,
            Self::MethodNotAllowed => tonic::Code::Unimplemented,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::Internal => tonic::Code::Internal,
        }
    }

    pub fn http_status(self) -> http::StatusCode {
        match self {
            Self::InvalidJson => http::StatusCode::BAD_REQUEST,
            Self::ValidationFailed => http::StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated => http::StatusCode::UNAUTHORIZED,
            Self::Forbidden => http::StatusCode::FORBIDDEN,
            Self::NotFound => http::StatusCode::NOT_FOUND,
            Self::Conflict => http::StatusCode::CONFLICT,
            Self::PayloadTooLarge => http::StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => http::StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => http::StatusCode::METHOD_NOT_ALLOWED,
            Self::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code for a gRPC status that carries no [`ServiceError`] (transport failures,
    /// deadlines, or a peer that is not ours).
    pub fn from_grpc_code(code: tonic::Code) -> Self {
        match code {
            tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition => {
                Self::ValidationFailed
            }
            tonic::Code::Unauthenticated => Self::Unauthenticated,
            tonic::Code::PermissionDenied => Self::Forbidden,
            tonic::Code::NotFound => Self::NotFound,
            tonic::Code::AlreadyExists | tonic::Code::Aborted => Self::Conflict,
            tonic::Code::ResourceExhausted => Self::RateLimited,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                Self::Unavailable
            }
            _ => Self::Internal,
        }
    }
}

/// One problem of one item of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EventError))]
pub struct ItemError {
    /// Position of the item (an event of `events`), from 0.
    pub index: usize,
    pub field: String,
    pub detail: String,
}

/// An error a person can act on (or a generic one for internal faults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {detail}")]
pub struct ServiceError {
    pub code: ErrorCode,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ItemError>,
    /// For a refusal that ends at a known time (429, 503): the seconds to wait (`Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ServiceError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
            retry_after_secs: None,
        }
    }

    /// A 422 naming the field at fault.
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            ..Self::new(ErrorCode::ValidationFailed, detail)
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, detail)
    }

    /// An internal fault. The cause is logged here, once, and never reaches the client.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// Recovers the error from a gRPC status: ours carry it in their details, others are
    /// classified by their code.
    pub fn from_status(status: &tonic::Status) -> Self {
        if let Ok(error) = serde_json::from_slice::<ServiceError>(status.details()) {
            return error;
        }
        let code = ErrorCode::from_grpc_code(status.code());
        let detail = match code {
            ErrorCode::Unavailable => "a dependency is unavailable, try again shortly".to_owned(),
            ErrorCode::Internal => "internal error".to_owned(),
            _ => status.message().to_owned(),
        };
        Self::new(code, detail)
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> Self {
        let details = serde_json::to_vec(&error).unwrap_or_default();
        tonic::Status::with_details(error.code.grpc_code(), error.detail, details.into())
    }
}

/// Displays an error with its whole chain of causes, for one log line.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(formatter, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_error_survives_the_grpc_hop() {
        let error = ServiceError::invalid("duration_minutes", "must be greater than 0");
        let status = tonic::Status::from(error.clone());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(ServiceError::from_status(&status), error);
        assert_eq!(
            error.code.http_status(),
            http::StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn foreign_statuses_are_classified_by_code() {
        let status = tonic::Status::unavailable("tcp connect error");
        let error = ServiceError::from_status(&status);
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert_eq!(
            error.code.http_status(),
            http::StatusCode::SERVICE_UNAVAILABLE
        );
        let deadline = ServiceError::from_status(&tonic::Status::deadline_exceeded("slow"));
        assert_eq!(deadline.code, ErrorCode::Unavailable);
    }
}
