//! The JSON body extractor of the API: 400 when the body is not JSON, 422 naming the field when
//! it is JSON that does not fit (wrong type, unknown or missing field), 415 never (a missing
//! content type is accepted: phones are not always careful).

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use wellbeing_common::ErrorCode;

/// A parsed JSON body.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large")
                } else {
                    ApiError::new(ErrorCode::InvalidJson, "the request body could not be read")
                }
            })?;
        parse(&body).map(ApiJson)
    }
}

/// Parses JSON, classifying failures as the contract says.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            format!("the body is not valid JSON: {error}"),
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(misfit)
}

/// Reads an already parsed JSON value (an item of a batch) into `T`, naming the field that
/// does not fit.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(misfit)
}

/// A 422 naming the field at fault, from serde's wording.
fn misfit(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    let message = inner.to_string();
    let field = quoted_name(&message, "unknown field `")
        .or_else(|| quoted_name(&message, "missing field `"))
        .map(|name| {
            if path == "." {
                name
            } else if path == name || path.ends_with(&format!(".{name}")) {
                path.clone()
            } else {
                format!("{path}.{name}")
            }
        })
        // A body that is not an object at all has no field to name.
        .unwrap_or_else(|| if path == "." { "body".to_owned() } else { path });
    let detail = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    ApiError::invalid(field, detail)
}

/// The name between backquotes after `prefix`, as serde words unknown and missing fields.
fn quoted_name(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    Some(rest.split('`').next()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        app_name: String,
        duration_minutes: f64,
    }

    fn field_of(body: &str) -> (ErrorCode, Option<String>) {
        let error = parse::<Body>(body.as_bytes()).unwrap_err().0;
        (error.code, error.field)
    }

    #[test]
    fn not_json_is_400() {
        assert_eq!(field_of("{nope").0, ErrorCode::InvalidJson);
    }

    #[test]
    fn wrong_type_names_the_field() {
        assert_eq!(
            field_of(r#"{"app_name":"x","duration_minutes":"ten"}"#),
            (
                ErrorCode::ValidationFailed,
                Some("duration_minutes".to_owned())
            )
        );
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        assert_eq!(
            field_of(r#"{"app_name":"x","duration_minutes":1,"extra":1}"#)
                .1
                .as_deref(),
            Some("extra")
        );
        assert_eq!(
            field_of(r#"{"app_name":"x"}"#).1.as_deref(),
            Some("duration_minutes")
        );
    }
}
