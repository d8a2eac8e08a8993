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
    // JSON text is UTF-8 (RFC 8259). Checked first: skipping a value (below) does not look
    // inside strings, so invalid bytes there would otherwise surface as a 422 of some field.
    if let Err(error) = std::str::from_utf8(body) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            format!(
                "the body is not valid JSON: it is not UTF-8 (invalid byte at offset {})",
                error.valid_up_to()
            ),
        ));
    }
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            format!("the body is not valid JSON: {error}"),
        ));
    }
    refuse_nul_characters(body)?;
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(misfit)
}

/// PostgreSQL text cannot hold U+0000, so a string carrying one is refused here, naming its
/// field, rather than failing in storage. JSON can only spell it as an escape, so bodies without
/// `\u0000` are not walked.
fn refuse_nul_characters(body: &[u8]) -> Result<(), ApiError> {
    if !body.windows(6).any(|window| window == br"\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        Some(field) => Err(ApiError::invalid(
            if field.is_empty() {
                "body".to_owned()
            } else {
                field
            },
            "text must not contain the NUL character (U+0000)",
        )),
        None => Ok(()),
    }
}

/// Where the first NUL character sits, as `events[2].app_name` (a key holding one counts too).
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) if text.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_path(item, format!("{path}[{index}]"))),
        Value::Object(fields) => fields.iter().find_map(|(name, item)| {
            let field = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            if name.contains('\0') {
                return Some(field);
            }
            nul_path(item, field)
        }),
        _ => None,
    }
}

/// Reads an already parsed JSON value (an item of a batch) into `T`, naming the field that
/// does not fit.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(misfit)
}

/// An integer field: JSON Schema counts `16.0` as the integer 16 (Python and JavaScript clients
/// may send it so), while `2.5` stays an error rather than a silent truncation.
pub fn integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Integer;

    impl serde::de::Visitor<'_> for Integer {
        type Value = i64;

        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("an integer")
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<i64, E> {
            Ok(value)
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<i64, E> {
            i64::try_from(value)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(value), &self))
        }

        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<i64, E> {
            // Every integral f64 within ±2^63 converts exactly.
            if value.fract() == 0.0 && value.abs() < 9.2e18 {
                Ok(value as i64)
            } else {
                Err(E::invalid_type(serde::de::Unexpected::Float(value), &self))
            }
        }
    }

    deserializer.deserialize_any(Integer)
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

    #[derive(Debug, Deserialize)]
    struct Count {
        #[serde(deserialize_with = "integer")]
        count: i64,
    }

    #[test]
    fn integral_floats_are_integers_and_fractions_are_not() {
        assert_eq!(parse::<Count>(br#"{"count": 16.0}"#).unwrap().count, 16);
        assert_eq!(parse::<Count>(br#"{"count": -3}"#).unwrap().count, -3);
        for bad in [
            r#"{"count": 2.5}"#,
            r#"{"count": "2"}"#,
            r#"{"count": 1e30}"#,
        ] {
            let error = parse::<Count>(bad.as_bytes()).unwrap_err().0;
            assert_eq!(error.field.as_deref(), Some("count"), "{bad}");
        }
    }

    #[test]
    fn nul_characters_are_refused_naming_the_field() {
        let error =
            parse::<serde_json::Value>(br#"{"events":[{"a":"x"},{"app_name":"x\u0000y"}]}"#)
                .unwrap_err()
                .0;
        assert_eq!(error.field.as_deref(), Some("events[1].app_name"));
        // An escaped backslash followed by `u0000` is plain text.
        assert!(parse::<serde_json::Value>(br#"{"a":"\\u0000"}"#).is_ok());
    }

    #[test]
    fn not_json_is_400() {
        assert_eq!(field_of("{nope").0, ErrorCode::InvalidJson);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_400_even_inside_a_string() {
        let error = parse::<Body>(b"{\"app_name\":\"\xff\xfe\",\"duration_minutes\":1}")
            .unwrap_err()
            .0;
        assert_eq!(error.code, ErrorCode::InvalidJson);
        assert!(error.detail.contains("offset 13"), "{}", error.detail);
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
