//! `/api/v1/analytics/*` and `/wellbeing/score` reads of derived views: bytes from analytics,
//! enveloped without parsing, with ETags. Parameters are checked for shape here (a real date, an
//! integer in range); "today" and weeks are the user's, so analytics resolves them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use wellbeing_proto::analytics::v1::{
    AppsUsageRequest, ComparisonRequest, DailySummaryRequest, DashboardRequest, InsightsRequest,
    PatternsRequest, PeakHoursRequest, QuickStatsRequest, ViewResponse, WeeklySummaryRequest,
    WellbeingScoreRequest,
};
use wellbeing_proto::cache::v1::InvalidateUserRequest;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::respond::{cached_envelope, derived_view, revalidated};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;

pub async fn daily_summary(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = daily(&state, &user, &query).await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn weekly_summary(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = weekly(&state, &user, &query).await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn apps_usage(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state.upstreams.request(AppsUsageRequest {
        user_id: user.id(),
        days: query.bounded("days", 1..=90, 7)?,
    });
    let view = timed(state.upstreams.analytics().apps_usage(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn dashboard(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(DashboardRequest { user_id: user.id() });
    let view = timed(state.upstreams.analytics().dashboard(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn quick_stats(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(QuickStatsRequest { user_id: user.id() });
    let view = timed(state.upstreams.analytics().quick_stats(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

/// `/analytics/insights` and its older name `/analytics/insights/productivity`.
pub async fn insights(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = insights_view(&state, &user, &query).await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn patterns(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state.upstreams.request(PatternsRequest {
        user_id: user.id(),
        days: query.bounded("days", 3..=30, 7)?,
    });
    let view = timed(state.upstreams.analytics().patterns(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn peak_hours(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state.upstreams.request(PeakHoursRequest {
        user_id: user.id(),
        date: query.date("date")?,
    });
    let view = timed(state.upstreams.analytics().peak_hours(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn comparison(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(ComparisonRequest { user_id: user.id() });
    let view = timed(state.upstreams.analytics().comparison(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

/// `/wellbeing/score` and its alias `/analytics/insights/wellbeing-score`.
pub async fn wellbeing_score(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state.upstreams.request(WellbeingScoreRequest {
        user_id: user.id(),
        date: query.date("date")?,
    });
    let view = timed(state.upstreams.analytics().wellbeing_score(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

// --- the `*-optimized` reads: the same views, saying whether the cache answered ---

pub async fn daily_optimized(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = daily(&state, &user, &query).await?;
    Ok(optimized(&headers, &view))
}

pub async fn weekly_optimized(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = weekly(&state, &user, &query).await?;
    Ok(optimized(&headers, &view))
}

pub async fn insights_optimized(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = insights_view(&state, &user, &query).await?;
    Ok(optimized(&headers, &view))
}

/// `DELETE /analytics/cache`: drops the caller's cached views, so the next read recomputes.
pub async fn drop_cache(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(InvalidateUserRequest { user_id: user.id() });
    timed(state.upstreams.cache().invalidate_user(request)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn daily(
    state: &AppState,
    user: &AuthUser,
    query: &ApiQuery,
) -> Result<ViewResponse, ApiError> {
    query.check_user(user)?;
    let request = state.upstreams.request(DailySummaryRequest {
        user_id: user.id(),
        date: query.date("date")?,
    });
    Ok(timed(state.upstreams.analytics().daily_summary(request))
        .await?
        .into_inner())
}

async fn weekly(
    state: &AppState,
    user: &AuthUser,
    query: &ApiQuery,
) -> Result<ViewResponse, ApiError> {
    query.check_user(user)?;
    let request = state.upstreams.request(WeeklySummaryRequest {
        user_id: user.id(),
        end_date: query.date("end_date")?,
    });
    Ok(timed(state.upstreams.analytics().weekly_summary(request))
        .await?
        .into_inner())
}

async fn insights_view(
    state: &AppState,
    user: &AuthUser,
    query: &ApiQuery,
) -> Result<ViewResponse, ApiError> {
    query.check_user(user)?;
    let request = state
        .upstreams
        .request(InsightsRequest { user_id: user.id() });
    Ok(timed(state.upstreams.analytics().insights(request))
        .await?
        .into_inner())
}

/// `{"status":"success","cached":..,"data":..}`, revalidated like any derived read. The ETag is
/// the view's: whether the cache answered does not change the data the app shows.
fn optimized(headers: &HeaderMap, view: &ViewResponse) -> Response {
    revalidated(
        headers,
        cached_envelope(&view.json, view.cached),
        &view.etag,
    )
}
