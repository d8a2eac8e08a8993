//! A router over upstreams that cannot answer, a token for a fresh user, and a way to send.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;
use wellbeing_gateway::GatewayConfig;

pub struct Harness {
    app: Router,
    pub user: Uuid,
    token: String,
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
    let secret = "x".repeat(32);
    let source: &[(&str, &str)] = &[
        ("ANALYTICS_URL", "127.0.0.1:9"),
        ("CACHE_URL", "127.0.0.1:9"),
        ("AGGREGATOR_URL", "127.0.0.1:9"),
        ("JWT_SECRET", &secret),
        ("UPSTREAM_TIMEOUT_MS", "2000"),
    ];
    let config = GatewayConfig::from_source(source).expect("config");
    let state = wellbeing_gateway::state(&config).expect("state");
    let user = Uuid::new_v4();
    let token = state.tokens.issue(&user.to_string()).expect("token");
    Harness {
        app: wellbeing_gateway::router(state),
        user,
        token,
    }
}

impl Harness {
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
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        Answer {
            status,
            headers,
            body,
        }
    }
}
