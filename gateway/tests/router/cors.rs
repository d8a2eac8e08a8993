//! CORS (`CORS_ALLOWED_ORIGINS`): a configured origin's preflight is answered with what the SDK
//! needs, its answers (errors too) expose the headers the SDK reads; any other origin, and every
//! origin by default, gets no CORS header at all.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};

use crate::harness::{Harness, harness, harness_with};

const ALLOWED: &str = "http://127.0.0.1:8081";

fn web_harness() -> Harness {
    harness_with(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://app.example.com,http://127.0.0.1:8081",
    )])
}

async fn preflight(harness: &Harness, origin: &str) -> (StatusCode, HeaderMap) {
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/analytics/summary/daily")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,if-none-match",
        )
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = harness.raw_bytes(request).await;
    (status, headers)
}

/// A GET without a token (a 401: errors must be readable by the page too).
async fn get_from(harness: &Harness, origin: &str) -> HeaderMap {
    let request = Request::builder()
        .uri("/api/v1/analytics/dashboard")
        .header(header::ORIGIN, origin)
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = harness.raw_bytes(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    headers
}

fn listed(headers: &HeaderMap, name: header::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|value| value.to_str().expect("ascii").split(','))
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

fn has_no_cors_header(headers: &HeaderMap) -> bool {
    headers
        .keys()
        .all(|name| !name.as_str().starts_with("access-control-"))
}

#[tokio::test]
async fn an_allowed_origins_preflight_is_answered_with_what_the_sdk_sends() {
    let harness = web_harness();
    let (status, headers) = preflight(&harness, ALLOWED).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], ALLOWED);
    let allowed_headers = listed(&headers, header::ACCESS_CONTROL_ALLOW_HEADERS);
    for needed in ["authorization", "content-type", "if-none-match"] {
        assert!(
            allowed_headers.iter().any(|item| item == needed),
            "{needed}"
        );
    }
    let methods = listed(&headers, header::ACCESS_CONTROL_ALLOW_METHODS);
    for needed in ["get", "post", "put", "patch", "delete"] {
        assert!(methods.iter().any(|item| item == needed), "{needed}");
    }
    assert!(
        headers
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none()
    );
    assert!(
        listed(&headers, header::VARY)
            .iter()
            .any(|item| item == "origin")
    );

    let answer = get_from(&harness, ALLOWED).await;
    assert_eq!(answer[header::ACCESS_CONTROL_ALLOW_ORIGIN], ALLOWED);
    let exposed = listed(&answer, header::ACCESS_CONTROL_EXPOSE_HEADERS);
    for needed in ["etag", "retry-after", "traceparent", "x-trace-id"] {
        assert!(exposed.iter().any(|item| item == needed), "{needed}");
    }
}

#[tokio::test]
async fn another_origin_gets_no_cors_header() {
    let harness = web_harness();
    for origin in ["https://evil.example.com", "http://127.0.0.1:8082", "null"] {
        let (_, headers) = preflight(&harness, origin).await;
        assert!(has_no_cors_header(&headers), "{origin}: {headers:?}");
        let answer = get_from(&harness, origin).await;
        assert!(has_no_cors_header(&answer), "{origin}: {answer:?}");
    }
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let harness = harness();
    let (_, headers) = preflight(&harness, ALLOWED).await;
    assert!(has_no_cors_header(&headers), "{headers:?}");
    let answer = get_from(&harness, ALLOWED).await;
    assert!(has_no_cors_header(&answer), "{answer:?}");
}
