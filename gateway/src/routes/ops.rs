//! Operations endpoints (no token): `/health` (always 200, `degraded` when a dependency is not
//! serving), `/livez` (the process answers), `/readyz` (503 when the data path cannot serve) and
//! `/openapi.json` (the API's description).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;

use crate::openapi::operations::{
    AggregatorLag, CacheHealth, DatabaseHealth, Health, HealthServices, NotReady, OverallHealth,
    Probe,
};
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
        UpstreamHealth::Serving => DatabaseHealth::Healthy,
        UpstreamHealth::NotServing => DatabaseHealth::Unhealthy,
        UpstreamHealth::Unreachable => DatabaseHealth::Unknown,
    };
    let all_serving = [analytics, cache, aggregator]
        .iter()
        .all(|health| *health == UpstreamHealth::Serving);
    // The cache service serves from its in-process store while Redis is down: working, but
    // degraded (views are not shared between replicas meanwhile).
    let cache_status = match (cache, cache_degraded) {
        (UpstreamHealth::Serving, true) => CacheHealth::Degraded,
        (UpstreamHealth::Serving, false) => CacheHealth::Healthy,
        (UpstreamHealth::NotServing, _) => CacheHealth::Unhealthy,
        (UpstreamHealth::Unreachable, _) => CacheHealth::Unreachable,
    };
    Json(Health {
        status: if all_serving && !cache_degraded {
            OverallHealth::Healthy
        } else {
            OverallHealth::Degraded
        },
        services: HealthServices {
            database,
            cache: cache_status,
            analytics: analytics.into(),
            aggregator: aggregator.into(),
        },
        aggregator_lag: lag.map(|(queue_depth, oldest_pending_seconds)| AggregatorLag {
            queue_depth,
            oldest_pending_seconds,
        }),
    })
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
    Json(Probe { status: "alive" })
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness: whether the data path (analytics and its database) can serve",
    description = "Also not ready until the gateway knows which sessions ended recently, whose \
        access tokens it refuses.",
    security(),
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`", body = Probe),
        (status = 503, description = "Analytics cannot serve", body = NotReady),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let analytics = state.upstreams.health(&state.upstreams.analytics).await;
    let ended_sessions_known = state.ended_sessions.is_loaded();
    if analytics == UpstreamHealth::Serving && ended_sessions_known {
        (StatusCode::OK, Json(Probe { status: "ready" })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(NotReady {
                status: "not_ready",
                analytics: analytics.into(),
                ended_sessions_known,
            }),
        )
            .into_response()
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
