//! Operations endpoints (no token): `/health` (always 200, `degraded` when a dependency is not
//! serving), `/livez` (the process answers) and `/readyz` (503 when the data path cannot serve).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;
use crate::upstream::UpstreamHealth;

pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let upstreams = &state.upstreams;
    let (analytics, cache, aggregator) = tokio::join!(
        upstreams.health(&upstreams.analytics),
        upstreams.health(&upstreams.cache),
        upstreams.health(&upstreams.aggregator),
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
    Json(json!({
        "status": if all_serving { "healthy" } else { "degraded" },
        "services": {
            "database": database,
            "cache": cache.as_str(),
            "analytics": analytics.as_str(),
            "aggregator": aggregator.as_str(),
        }
    }))
}

pub async fn livez() -> impl IntoResponse {
    Json(json!({"status": "alive"}))
}

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
