//! `/api/v1/analytics/cache`: the caller's own cache, to look at or to drop.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wellbeing_proto::analytics::v1::CacheStatsRequest;
use wellbeing_proto::cache::v1::InvalidateUsersRequest;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::openapi::ClaimedUser;
use crate::openapi::schemas::Envelope;
use crate::respond::{envelope, json_bytes};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;
use wellbeing_domain::answers::cache::CacheStats;

/// `GET /analytics/cache`: the caller's hits and misses, counted where views are served.
#[utoipa::path(
    get,
    path = "/analytics/cache",
    tag = "reads",
    summary = "The caller's cache statistics",
    description = "Reads of the caller's derived views answered from a cache (a copy in the gateway or analytics, or the cache service) and computed.",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses((status = 200, description = "The statistics", body = Envelope<CacheStats>)),
)]
pub async fn cache_stats(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    // Reads the gateway answered itself count too, up to this one.
    state
        .view_cache
        .flush_hits(&state.upstreams, Some(&user.id()))
        .await;
    let request = state
        .upstreams
        .request(CacheStatsRequest { user_id: user.id() });
    let view = timed(state.upstreams.analytics().cache_stats(request))
        .await?
        .into_inner();
    let mut response = json_bytes(StatusCode::OK, envelope(&view.json));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /analytics/cache`: drops the caller's cached views, so the next read recomputes.
#[utoipa::path(
    delete,
    path = "/analytics/cache",
    tag = "reads",
    summary = "Drop the caller's cached views",
    description = "The next read recomputes.",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses((status = 204, description = "Dropped")),
)]
pub async fn drop_cache(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state.upstreams.request(InvalidateUsersRequest {
        user_ids: vec![user.id()],
    });
    state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.cache().invalidate_users(request)),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
