//! Successful answers: the `{"status":"success","data":...}` envelope built around bytes that
//! arrive already serialised from upstream, and HTTP revalidation for derived reads.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt, stream};

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

/// The success envelope around a document that arrives in chunks, sent as they come (chunked
/// transfer): a document of any size passes through in bounded memory. A chunk that fails
/// cuts the answer off (no final chunk), so a client never takes a part for the whole.
pub fn json_stream<S, E>(chunks: S) -> Response
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<axum::BoxError> + 'static,
{
    let body = stream::once(async { Ok(Bytes::from_static(PREFIX)) })
        .chain(chunks)
        .chain(stream::once(async { Ok(Bytes::from_static(SUFFIX)) }));
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from_stream(body),
    )
        .into_response()
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

/// The envelope of the `*-optimized` reads, which also say whether the cache answered.
pub fn cached_envelope(data: &[u8], cached: bool) -> Bytes {
    let prefix: &[u8] = if cached {
        br#"{"status":"success","cached":true,"data":"#
    } else {
        br#"{"status":"success","cached":false,"data":"#
    };
    let mut body = BytesMut::with_capacity(prefix.len() + data.len() + SUFFIX.len());
    body.put_slice(prefix);
    body.put_slice(data);
    body.put_slice(SUFFIX);
    body.freeze()
}

/// A derived read: enveloped, with `ETag` and `Cache-Control: private, no-cache`; a matching
/// `If-None-Match` answers 304 without a body.
pub fn derived_view(request_headers: &HeaderMap, data: &[u8], etag: &str) -> Response {
    revalidated(request_headers, envelope(data), etag)
}

/// `body` with `ETag` and `Cache-Control: private, no-cache` (the app revalidates, so it never
/// shows stale totals after its own writes), or a bare 304 when `If-None-Match` matches.
pub fn revalidated(request_headers: &HeaderMap, body: Bytes, etag: &str) -> Response {
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
        json_bytes(StatusCode::OK, body)
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
    fn the_cached_envelope_says_where_the_answer_came_from() {
        let parsed: serde_json::Value =
            serde_json::from_slice(&cached_envelope(br#"[1]"#, true)).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"status": "success", "cached": true, "data": [1]})
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
