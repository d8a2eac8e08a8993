//! Operations endpoints (no token): `/health` (always 200, `degraded` when a dependency is not
//! serving), `/livez` (the process answers), `/readyz` (503 when the data path cannot serve) and
//! `/openapi.json` (the API's description).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::openapi::operations::{Health, NotReady, Probe};
use crate::state::AppState;
use crate::upstream::UpstreamHealth;

#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    summary = "Health of the gateway and its dependencies",
    description = "Always 200, with `status: degraded` when a dependency is not serving.",
    security(),
    responses((status = 200, description = "Each dependency's health", body = Health)),
)]
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let upstreams = &state.upstreams;
    let (analytics, cache, aggregator, cache_degraded, lag) = tokio::join!(
        upstreams.health(&upstreams.analytics),
        upstreams.health(&upstreams.cache),
        upstreams.health(&upstreams.aggregator),
        upstreams.cache_degraded(),
        upstreams.aggregator_lag(),
    );
    // Analytics serves only while PostgreSQL answers, so its health is the database's; when
    // analytics cannot be reached, the database's state is unknown.
    let database = match analytics {
        UpstreamHealth::Serving => "healthy",
        UpstreamHealth::NotServing => "unhealthy",
        UpstreamHealth::Unreachable => "unknown",
    };
    let all_serving = [analytics, cache, aggregator]
        .iter()
        .all(|health| *health == UpstreamHealth::Serving);
    // The cache service serves from its in-process store while Redis is down: working, but
    // degraded (views are not shared between replicas meanwhile).
    let cache_status = if cache == UpstreamHealth::Serving && cache_degraded {
        "degraded"
    } else {
        cache.as_str()
    };
    let aggregator_lag = match lag {
        Some((queue_depth, oldest_pending_seconds)) => json!({
            "queue_depth": queue_depth,
            "oldest_pending_seconds": oldest_pending_seconds,
        }),
        None => Value::Null,
    };
    Json(json!({
        "status": if all_serving && !cache_degraded { "healthy" } else { "degraded" },
        "services": {
            "database": database,
            "cache": cache_status,
            "analytics": analytics.as_str(),
            "aggregator": aggregator.as_str(),
        },
        "aggregator_lag": aggregator_lag,
    }))
}

#[utoipa::path(
    get,
    path = "/livez",
    tag = "operations",
    summary = "Liveness: the process answers",
    security(),
    responses((status = 200, description = "`{\"status\": \"alive\"}`", body = Probe)),
)]
pub async fn livez() -> impl IntoResponse {
    Json(json!({"status": "alive"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness: whether the data path (analytics and its database) can serve",
    security(),
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`", body = Probe),
        (status = 503, description = "Analytics cannot serve", body = NotReady),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let analytics = state.upstreams.health(&state.upstreams.analytics).await;
    if analytics == UpstreamHealth::Serving {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "analytics": analytics.as_str()})),
        )
    }
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    summary = "This OpenAPI 3.1 document",
    security(),
    responses((status = 200, description = "The OpenAPI document", body = Object)),
)]
pub async fn openapi() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::json(),
    )
}
