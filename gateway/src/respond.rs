//! Successful answers: the `{"status":"success","data":...}` envelope built around bytes that
//! arrive already serialised from upstream, and HTTP revalidation for derived reads.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};

const PREFIX: &[u8] = br#"{"status":"success","data":"#;
const SUFFIX: &[u8] = b"}";

/// Wraps already-serialised JSON in the success envelope without parsing it.
pub fn envelope(data: &[u8]) -> Bytes {
    let mut body = BytesMut::with_capacity(PREFIX.len() + data.len() + SUFFIX.len());
    body.put_slice(PREFIX);
    body.put_slice(data);
    body.put_slice(SUFFIX);
    body.freeze()
}

/// A JSON response from raw bytes.
pub fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(body),
    )
        .into_response()
}

/// A derived read: enveloped, with `ETag` and `Cache-Control: private, no-cache`; a matching
/// `If-None-Match` answers 304 without a body.
pub fn derived_view(request_headers: &HeaderMap, data: &[u8], etag: &str) -> Response {
    let etag_value = HeaderValue::from_str(etag).ok();
    let not_modified = etag_value.as_ref().is_some_and(|etag| {
        request_headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
    });
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        json_bytes(StatusCode::OK, envelope(data))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if let Some(etag) = etag_value {
        headers.insert(header::ETAG, etag);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_wraps_bytes_verbatim() {
        let body = envelope(br#"{"a":1}"#);
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"status": "success", "data": {"a": 1}})
        );
    }

    #[test]
    fn a_matching_if_none_match_gives_304() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", \"abc\""),
        );
        assert_eq!(
            derived_view(&headers, b"{}", "\"abc\"").status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            derived_view(&headers, b"{}", "\"def\"").status(),
            StatusCode::OK
        );
        let fresh = derived_view(&HeaderMap::new(), b"{}", "\"def\"");
        assert_eq!(fresh.headers()[header::CACHE_CONTROL], "private, no-cache");
        assert_eq!(fresh.headers()[header::ETAG], "\"def\"");
    }
}
