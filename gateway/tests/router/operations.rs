//! `/metrics` (Prometheus text and its JSON summary, with every upstream down), compression,
//! JSON 405s and the request time bound.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::harness::{harness, harness_with};
use crate::openapi::{answer_schema, fits, served_document};

fn get(uri: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("request")
}

/// One sample line of the text exposition format: `name{labels} value` or `name value`.
fn parse_sample(line: &str) -> (String, String, f64) {
    let (series, value) = line.rsplit_once(' ').expect("a value after the series");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}")),
    };
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => {
            let labels = rest.strip_suffix('}').expect("labels end with }");
            for pair in labels.split("\",").filter(|pair| !pair.is_empty()) {
                let (key, quoted) = pair.split_once('=').expect("label=value");
                assert!(
                    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(quoted.starts_with('"'), "{line}");
            }
            (name, labels.to_owned())
        }
        None => (series, String::new()),
    };
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "{line}"
    );
    (name.to_owned(), labels, value)
}

#[tokio::test]
async fn metrics_are_prometheus_text_by_route_template() {
    let harness = harness();
    let goal = Uuid::new_v4();
    let deleting = harness
        .send(
            Method::DELETE,
            &format!("/api/v1/analytics/goals/{goal}"),
            None,
        )
        .await;
    assert_eq!(deleting.status, StatusCode::SERVICE_UNAVAILABLE);
    harness.send(Method::GET, "/livez", None).await;
    harness.send(Method::GET, "/nothing-here", None).await;

    let (status, headers, bytes) = harness.raw_bytes(get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
    assert!(!text.contains(&goal.to_string()), "a raw path leaked");
    let samples: Vec<_> = text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(parse_sample)
        .collect();
    let has = |name: &str, labels: &str, value: f64| {
        samples
            .iter()
            .any(|sample| sample.0 == name && sample.1 == labels && sample.2 == value)
    };
    assert!(
        has(
            "http_requests_total",
            r#"method="DELETE",route="/api/v1/analytics/goals/{id}",status="503""#,
            1.0
        ),
        "{text}"
    );
    assert!(has(
        "http_requests_total",
        r#"method="GET",route="unmatched",status="404""#,
        1.0
    ));
    assert!(
        samples
            .iter()
            .any(|sample| sample.0 == "http_request_duration_seconds_bucket"
                && sample.1.contains(r#"route="/livez""#))
    );
    // Only the gateway's own figures: each service serves its own, so that Prometheus does not
    // get them once per gateway replica.
    assert!(
        samples
            .iter()
            .all(|sample| sample.0.starts_with("http_")
                || sample.0.starts_with("wellbeing_gateway_")),
        "{text}"
    );
    for line in text.lines().filter(|line| line.starts_with("# TYPE ")) {
        let kind = line.rsplit(' ').next().unwrap();
        assert!(
            ["counter", "gauge", "histogram", "summary"].contains(&kind),
            "{line}"
        );
    }
}

/// Every answer has a trace id to quote in a bug report, even with no collector configured (as
/// here): the caller's trace id when it sent a `traceparent`, a new one otherwise.
#[tokio::test]
async fn every_answer_carries_a_trace_id_without_a_collector() {
    let harness = harness();
    let ids = |headers: &axum::http::HeaderMap| {
        let traceparent = headers["traceparent"].to_str().expect("ASCII").to_owned();
        let trace_id = headers["x-trace-id"].to_str().expect("ASCII").to_owned();
        (traceparent, trace_id)
    };
    let mut seen = std::collections::HashSet::new();
    for uri in ["/livez", "/nothing-here", "/api/v1/analytics/dashboard"] {
        let (_, headers, _) = harness.raw_bytes(get(uri)).await;
        let (traceparent, trace_id) = ids(&headers);
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!((parts[0], parts[1].len(), parts[2].len()), ("00", 32, 16));
        assert_eq!(
            parts[1], trace_id,
            "X-Trace-Id is the traceparent's trace id"
        );
        assert!(trace_id.chars().all(|c| c.is_ascii_hexdigit()) && trace_id != "0".repeat(32));
        assert!(seen.insert(trace_id), "a new id per request");
    }
    let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request = Request::builder()
        .uri("/livez")
        .header("traceparent", format!("00-{caller}-00f067aa0ba902b7-01"))
        .body(Body::empty())
        .expect("request");
    let (_, headers, _) = harness.raw_bytes(request).await;
    let (traceparent, trace_id) = ids(&headers);
    assert_eq!(trace_id, caller, "the caller's trace goes on");
    assert!(
        !traceparent.contains("00f067aa0ba902b7"),
        "a span id of the gateway's own"
    );
}

#[tokio::test]
async fn metrics_are_refused_to_a_client_outside_the_allowed_networks() {
    let harness = harness_with(&[("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8")]);
    for uri in ["/metrics", "/metrics?format=json"] {
        let answer = harness.send_as(None, Method::GET, uri, None).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(answer.body["code"], "forbidden", "{uri}: {:?}", answer.body);
    }
    let refused = harness
        .send_as(None, Method::GET, "/metrics?format=xml", None)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "refused before the query is read"
    );
}

#[tokio::test]
async fn the_json_summary_has_every_key_with_upstreams_down() {
    let harness = harness();
    harness.send(Method::GET, "/livez", None).await;
    let answer = harness
        .send_as(None, Method::GET, "/metrics?format=json", None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = &answer.body;
    for key in [
        "total_requests",
        "total_time_ms",
        "average_time_ms",
        "slow_requests",
    ] {
        assert!(body["requests"][key].is_number(), "{key}");
    }
    assert!(body["requests"]["total_requests"].as_u64().unwrap() >= 1);
    let sections: [(&str, &[&str]); 3] = [
        (
            "cache",
            &[
                "hits",
                "misses",
                "hit_rate_percent",
                "backend",
                "keys",
                "errors",
            ],
        ),
        ("database_pool", &["size", "idle", "in_use", "max"]),
        (
            "aggregator",
            &[
                "queue_depth",
                "oldest_pending_seconds",
                "items_per_second",
                "events_per_second",
            ],
        ),
    ];
    for (section, keys) in sections {
        assert_eq!(body[section]["up"], false, "{section}");
        for key in keys {
            assert_eq!(
                body[section].get(key),
                Some(&Value::Null),
                "{section}.{key}"
            );
        }
    }
    let document = served_document(&harness).await;
    fits(
        &document,
        answer_schema(&document, "get", "/metrics", 200),
        body,
    )
    .unwrap();

    let bad = harness
        .send_as(None, Method::GET, "/metrics?format=xml", None)
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.field(), Some("format"));
}

#[tokio::test]
async fn answers_are_gzipped_when_the_client_asks() {
    let harness = harness();
    let asking = Request::builder()
        .uri("/openapi.json")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let (status, headers, bytes) = harness.raw_bytes(asking).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    assert!(headers.contains_key("x-response-time"));
    let (_, plain_headers, plain) = harness.raw_bytes(get("/openapi.json")).await;
    assert!(!plain_headers.contains_key(header::CONTENT_ENCODING));
    assert!(bytes.len() < plain.len() / 2);
}

#[tokio::test]
async fn answers_are_brotli_compressed_when_the_client_prefers_it() {
    let harness = harness();
    let asking = Request::builder()
        .uri("/openapi.json")
        .header(header::ACCEPT_ENCODING, "br")
        .body(Body::empty())
        .unwrap();
    let (status, headers, bytes) = harness.raw_bytes(asking).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    let (_, _, plain) = harness.raw_bytes(get("/openapi.json")).await;
    assert!(
        bytes.len() < plain.len() / 2,
        "{} of {}",
        bytes.len(),
        plain.len()
    );
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_allow() {
    let harness = harness();
    for (method, uri, allowed) in [
        (Method::PUT, "/health", "GET"),
        (Method::DELETE, "/openapi.json", "GET"),
        (Method::GET, "/api/v1/analytics/track/session", "POST"),
        (Method::POST, "/api/v1/analytics/summary/daily", "GET"),
        (Method::GET, "/api/v1/batch", "POST"),
    ] {
        let answer = harness.send(method.clone(), uri, None).await;
        assert_eq!(
            answer.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert_eq!(answer.body["code"], "method_not_allowed", "{method} {uri}");
        assert!(answer.body["detail"].is_string());
        let allow = answer.headers[header::ALLOW].to_str().unwrap();
        assert!(allow.contains(allowed), "{method} {uri}: {allow}");
    }
}

#[tokio::test]
async fn a_request_past_the_time_bound_is_a_json_503() {
    // An upstream that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let harness = harness_with(&[
        ("ANALYTICS_URL", &address),
        ("REQUEST_TIMEOUT_MS", "200"),
        ("UPSTREAM_TIMEOUT_MS", "10000"),
    ]);
    let started = std::time::Instant::now();
    let answer = harness
        .send(Method::GET, "/api/v1/analytics/dashboard", None)
        .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body["code"], "unavailable");
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(silent);
}
