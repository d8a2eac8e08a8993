//! Rate limits: per user on the API (per client address without a valid token), per client
//! address on `/health`, refused with our error body and `Retry-After`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;

use crate::harness::{Harness, harness_with};

/// A read the gateway refuses itself (a bad query parameter), so no upstream is involved.
const CHEAP_READ: &str = "/api/v1/analytics/goals?status=paused";

fn from(address: &str, method: Method, uri: &str, token: Option<&str>) -> Request<Body> {
    let address: SocketAddr = address.parse().expect("an address");
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(Body::empty()).expect("request");
    request.extensions_mut().insert(ConnectInfo(address));
    request
}

async fn status_and_body(
    harness: &Harness,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let (status, headers, bytes) = harness.raw_bytes(request).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn the_api_is_limited_per_user_with_retry_after() {
    let harness = harness_with(&[("RATE_LIMIT_PER_MINUTE", "3")]);
    let token = harness.token.clone();
    for remaining in ["2", "1", "0"] {
        let request = from("10.0.0.1:1000", Method::GET, CHEAP_READ, Some(&token));
        let (status, headers, _) = status_and_body(&harness, request).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(headers["ratelimit-limit"], "3");
        assert_eq!(headers["ratelimit-remaining"], remaining);
        assert!(headers.contains_key("ratelimit-reset"));
    }
    // The same user from another address is the same caller.
    let request = from("10.0.0.2:1000", Method::GET, CHEAP_READ, Some(&token));
    let (status, headers, body) = status_and_body(&harness, request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "rate_limited");
    assert!(body["detail"].is_string());
    let retry_after: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=21).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers.contains_key("x-response-time"));

    // Another user, from the same address, has an allowance of their own.
    let other = harness.token_of_another_user();
    let request = from("10.0.0.2:1000", Method::GET, CHEAP_READ, Some(&other));
    assert_eq!(
        status_and_body(&harness, request).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn callers_without_a_valid_token_are_limited_per_address() {
    let harness = harness_with(&[("RATE_LIMIT_PER_MINUTE", "2")]);
    for _ in 0..2 {
        let request = from("10.0.0.3:1000", Method::GET, CHEAP_READ, Some("forged"));
        let (status, _, _) = status_and_body(&harness, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let request = from("10.0.0.3:2000", Method::GET, CHEAP_READ, None);
    let (status, _, body) = status_and_body(&harness, request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "rate_limited");
    // A valid token is its own key, whatever the address's allowance.
    let request = from(
        "10.0.0.3:1000",
        Method::GET,
        CHEAP_READ,
        Some(&harness.token),
    );
    assert_eq!(
        status_and_body(&harness, request).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let request = from("10.0.0.4:1000", Method::GET, CHEAP_READ, None);
    assert_eq!(
        status_and_body(&harness, request).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn health_allows_100_a_minute_per_client_address() {
    let harness = harness_with(&[("RATE_LIMIT_PER_MINUTE", "1")]);
    for count in 0..100 {
        let request = from("10.0.1.1:1000", Method::GET, "/health", None);
        let (status, headers, _) = harness.raw_bytes(request).await;
        assert_eq!(status, StatusCode::OK, "request {count}");
        assert_eq!(headers["ratelimit-limit"], "100");
    }
    let request = from("10.0.1.1:1000", Method::GET, "/health", None);
    let (status, headers, body) = status_and_body(&harness, request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "rate_limited");
    assert!(headers.contains_key(header::RETRY_AFTER));
    // Another address, and the API's own limiter, are untouched.
    let request = from("10.0.1.2:1000", Method::GET, "/health", None);
    assert_eq!(harness.raw_bytes(request).await.0, StatusCode::OK);
    let request = from("10.0.1.1:1000", Method::GET, "/livez", None);
    assert_eq!(harness.raw_bytes(request).await.0, StatusCode::OK);
}
