//! A router over upstreams that cannot answer, a token for a fresh user, and a way to send.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;
use wellbeing_gateway::GatewayConfig;
use wellbeing_gateway::auth::TokenKeys;

pub struct Harness {
    app: Router,
    pub user: Uuid,
    pub token: String,
    tokens: Arc<TokenKeys>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn field(&self) -> Option<&str> {
        self.body["field"].as_str()
    }
}

pub fn harness() -> Harness {
    harness_with(&[])
}

/// A harness whose configuration adds (or overrides with) `extra`.
pub fn harness_with(extra: &[(&str, &str)]) -> Harness {
    let secret = "x".repeat(32);
    let mut pairs: Vec<(&str, &str)> = vec![
        ("ANALYTICS_URL", "127.0.0.1:9"),
        ("CACHE_URL", "127.0.0.1:9"),
        ("AGGREGATOR_URL", "127.0.0.1:9"),
        ("JWT_SECRET", &secret),
        ("UPSTREAM_TIMEOUT_MS", "2000"),
        ("INTERNAL_TLS", "off"),
        // Requests made in process come from the unspecified address.
        ("METRICS_ALLOWED_NETWORKS", "0.0.0.0/32"),
    ];
    pairs.retain(|(name, _)| !extra.iter().any(|(other, _)| other == name));
    pairs.extend_from_slice(extra);
    let config = GatewayConfig::from_source(pairs.as_slice()).expect("config");
    let state = wellbeing_gateway::state(&config).expect("state");
    let user = Uuid::new_v4();
    let token = state
        .tokens
        .issue(&user.to_string(), Uuid::new_v4(), now())
        .expect("token");
    Harness {
        tokens: state.tokens.clone(),
        app: wellbeing_gateway::router(state),
        user,
        token,
    }
}

impl Harness {
    /// A valid token of another user.
    pub fn token_of_another_user(&self) -> String {
        self.tokens
            .issue(&Uuid::new_v4().to_string(), Uuid::new_v4(), now())
            .expect("token")
    }

    /// Sends a request as built, answering the raw response.
    pub async fn raw(&self, request: Request<Body>) -> Response {
        self.app.clone().oneshot(request).await.expect("response")
    }

    /// Sends a request as built, answering its status, headers and body bytes.
    pub async fn raw_bytes(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        let response = self.raw(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, headers, bytes)
    }

    pub async fn send(&self, method: Method, uri: &str, body: Option<Vec<u8>>) -> Answer {
        self.send_as(Some(&self.token), method, uri, body).await
    }

    pub async fn send_json(&self, method: Method, uri: &str, body: Value) -> Answer {
        self.send(method, uri, Some(body.to_string().into_bytes()))
            .await
    }

    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: Method,
        uri: &str,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        let response = self.app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
        let body = if bytes.is_empty() {
            Value::Null
        } else if is_json {
            serde_json::from_slice(&bytes).expect("a JSON body")
        } else {
            // Only `/metrics` and the reference page answer text; everything else is JSON.
            assert!(
                uri.starts_with("/metrics") || uri.starts_with("/docs"),
                "{uri}: not JSON"
            );
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
        Answer {
            status,
            headers,
            body,
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(0))
}
