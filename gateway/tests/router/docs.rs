//! The API reference page (`GET /docs`) and its renderer's script: served by the gateway itself
//! under a policy that lets the page load nothing from elsewhere, without a token or a rate
//! limit. That the page renders the operations is checked in a browser by
//! `deploy/local/docs-test.sh`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};

use crate::harness::{harness, harness_with};
use crate::openapi::served_document;

fn get_from(address: &str, uri: &str) -> Request<Body> {
    let address: SocketAddr = address.parse().expect("an address");
    let mut request = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    request.extensions_mut().insert(ConnectInfo(address));
    request
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .expect("a visible header")
}

/// The value of `attribute="..."` in `page`, once.
fn attribute<'a>(page: &'a str, attribute: &str) -> &'a str {
    let start = format!("{attribute}=\"");
    let (_, rest) = page
        .split_once(&start)
        .unwrap_or_else(|| panic!("no {attribute} in {page}"));
    rest.split_once('"').expect("a closing quote").0
}

#[tokio::test]
async fn the_page_and_its_script_come_from_the_gateway_alone() {
    let harness = harness();
    let (status, headers, page) = harness.raw_bytes(get_from("10.0.2.1:1000", "/docs")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        text(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(text(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let policy = text(&headers, header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self';",
        "connect-src 'self';",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} not in {policy}");
    }
    assert!(!policy.contains("http"), "a host outside: {policy}");
    let page = String::from_utf8(page.to_vec()).expect("UTF-8");
    // Relative URLs only: the page's own origin (and path prefix, behind a proxy).
    assert!(!page.contains("//"), "{page}");
    assert_eq!(attribute(&page, "spec-url"), "openapi.json");

    let script_path = format!("/{}", attribute(&page, "src"));
    let (status, headers, script) = harness
        .raw_bytes(get_from("10.0.2.1:1000", &script_path))
        .await;
    assert_eq!(status, StatusCode::OK, "{script_path}");
    assert_eq!(
        text(&headers, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        text(&headers, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert!(
        script.starts_with(b"/*! For license information please see redoc.standalone.js"),
        "not Redoc's bundle"
    );
    assert!(script.len() > 500_000, "{} bytes", script.len());

    let document = served_document(&harness).await;
    assert!(document["paths"]["/docs"]["get"].is_object());
    assert!(document["paths"][&script_path]["get"].is_object());
}

/// Like `/openapi.json`: a page that reloads often, or many readers behind one address, are never
/// refused, however low the API's limit.
#[tokio::test]
async fn the_page_needs_no_token_and_is_not_rate_limited() {
    let harness = harness_with(&[("RATE_LIMIT_PER_MINUTE", "1")]);
    let (_, _, page) = harness.raw_bytes(get_from("10.0.2.2:1000", "/docs")).await;
    let page = String::from_utf8(page.to_vec()).expect("UTF-8");
    let script_path = format!("/{}", attribute(&page, "src"));
    // More than `/health`'s 100 a minute, and than the API's 1.
    for (uri, times) in [("/docs", 101), (script_path.as_str(), 3)] {
        for count in 0..times {
            let (status, headers, _) = harness.raw_bytes(get_from("10.0.2.2:1000", uri)).await;
            assert_eq!(status, StatusCode::OK, "{uri}, request {count}");
            assert!(!headers.contains_key("ratelimit-limit"), "{uri}");
        }
    }
    let answer = harness.send_as(None, Method::GET, "/docs", None).await;
    assert_eq!(answer.status, StatusCode::OK);
}
