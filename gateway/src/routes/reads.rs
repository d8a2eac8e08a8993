//! `/api/v1/analytics/*` and `/wellbeing/score` reads of derived views: bytes from analytics
//! (or the copy the gateway's view cache kept), enveloped without parsing, with ETags. Parameters are checked for shape here (a real date, an
//! integer in range); "today" and weeks are the user's, so analytics resolves them.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use wellbeing_proto::analytics::v1::{
    AppsUsageRequest, ComparisonRequest, DailySummaryRequest, DashboardRequest, InsightsRequest,
    PatternsRequest, PeakHoursRequest, QuickStatsRequest, ViewResponse, WeeklySummaryRequest,
    WellbeingScoreRequest,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::openapi::schemas::{CachedEnvelope, Envelope};
use crate::openapi::{
    AppsDaysParam, ClaimedUser, DayParam, NotModified, PatternDaysParam, WeekParam,
};
use crate::respond::{cached_envelope, derived_view, revalidated};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;
use wellbeing_domain::answers::summaries::{Dashboard, QuickStats};
use wellbeing_domain::apps::AppsUsage;
use wellbeing_domain::insights::{Comparison, Insights, Patterns, PeakHours};
use wellbeing_domain::scores::WellbeingScore;
use wellbeing_domain::summary::DailySummary;
use wellbeing_domain::weekly::WeeklySummary;

#[utoipa::path(
    get,
    path = "/analytics/summary/daily",
    tag = "reads",
    summary = "A day's summary",
    description = "Screen-time minutes, `top_apps` and the hourly breakdown come from screen-time records only; intervals are split at local midnight and local hours.",
    security(("bearer" = [])),
    params(ClaimedUser, DayParam),
    responses(
        (status = 200, description = "The view", body = Envelope<DailySummary>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn daily_summary(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = daily(&state, &user, &query).await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/analytics/summary/weekly",
    tag = "reads",
    summary = "The 7 local days ending with `end_date`",
    description = "Oldest first; averages divide by 7 (empty days and a partial today count).",
    security(("bearer" = [])),
    params(ClaimedUser, WeekParam),
    responses(
        (status = 200, description = "The view", body = Envelope<WeeklySummary>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn weekly_summary(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = weekly(&state, &user, &query).await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/analytics/apps/usage",
    tag = "reads",
    summary = "App usage over the last `days` local days",
    security(("bearer" = [])),
    params(ClaimedUser, AppsDaysParam),
    responses(
        (status = 200, description = "The view", body = Envelope<AppsUsage>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn apps_usage(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let days = query.bounded("days", 1..=90, 7)?;
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "apps", &days.to_string(), || async {
            let request = state.upstreams.request(AppsUsageRequest {
                user_id: user.id(),
                days,
            });
            Ok(timed(state.upstreams.analytics().apps_usage(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/analytics/dashboard",
    tag = "reads",
    summary = "Everything the home screen shows",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses(
        (status = 200, description = "The view", body = Envelope<Dashboard>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn dashboard(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "dashboard", "", || async {
            let request = state
                .upstreams
                .request(DashboardRequest { user_id: user.id() });
            Ok(timed(state.upstreams.analytics().dashboard(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/analytics/quick-stats",
    tag = "reads",
    summary = "Today's headline figures",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses(
        (status = 200, description = "The view", body = Envelope<QuickStats>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn quick_stats(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "quick-stats", "", || async {
            let request = state
                .upstreams
                .request(QuickStatsRequest { user_id: user.id() });
            Ok(timed(state.upstreams.analytics().quick_stats(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

/// `/analytics/insights` and its older name `/analytics/insights/productivity`.
#[utoipa::path(
    get,
    path = "/analytics/insights",
    tag = "reads",
    summary = "Insights and recommendations over the last 7 days",
    description = "Also served as `/analytics/insights/productivity`.",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses(
        (status = 200, description = "The view", body = Envelope<Insights>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn insights(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = insights_view(&state, &user, &query).await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/analytics/insights/patterns",
    tag = "reads",
    summary = "Recurring patterns over the last `days` local days",
    security(("bearer" = [])),
    params(ClaimedUser, PatternDaysParam),
    responses(
        (status = 200, description = "The view", body = Envelope<Patterns>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn patterns(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let days = query.bounded("days", 3..=30, 7)?;
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "patterns", &days.to_string(), || async {
            let request = state.upstreams.request(PatternsRequest {
                user_id: user.id(),
                days,
            });
            Ok(timed(state.upstreams.analytics().patterns(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/analytics/insights/peak-hours",
    tag = "reads",
    summary = "A day's peak and quiet hours",
    security(("bearer" = [])),
    params(ClaimedUser, DayParam),
    responses(
        (status = 200, description = "The view", body = Envelope<PeakHours>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn peak_hours(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let date = query.date("date")?;
    let params = date.clone().unwrap_or_default();
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "peak-hours", &params, || async {
            let request = state.upstreams.request(PeakHoursRequest {
                user_id: user.id(),
                date,
            });
            Ok(timed(state.upstreams.analytics().peak_hours(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/analytics/insights/comparison",
    tag = "reads",
    summary = "The last 7 days against fixed benchmarks",
    description = "Benchmarks: 6 h screen time a day (lower is better), 180 focus minutes and productivity 70 (higher is better).",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses(
        (status = 200, description = "The view", body = Envelope<Comparison>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn comparison(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "comparison", "", || async {
            let request = state
                .upstreams
                .request(ComparisonRequest { user_id: user.id() });
            Ok(timed(state.upstreams.analytics().comparison(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

/// `/wellbeing/score` and its alias `/analytics/insights/wellbeing-score`.
#[utoipa::path(
    get,
    path = "/wellbeing/score",
    tag = "reads",
    summary = "A day's wellbeing score",
    description = "Each component is 0-100; `balance` is 100 times the share of the day's screen \
        time outside 23:00-06:00 local (100 with no screen time). Also served as \
        `/analytics/insights/wellbeing-score`.",
    security(("bearer" = [])),
    params(ClaimedUser, DayParam),
    responses(
        (status = 200, description = "The view", body = Envelope<WellbeingScore>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn wellbeing_score(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let date = query.date("date")?;
    let params = date.clone().unwrap_or_default();
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "wellbeing-score", &params, || async {
            let request = state.upstreams.request(WellbeingScoreRequest {
                user_id: user.id(),
                date,
            });
            Ok(timed(state.upstreams.analytics().wellbeing_score(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

// --- the `*-optimized` reads: the same views, saying whether the cache answered ---

#[utoipa::path(
    get,
    path = "/analytics/summary/daily-optimized",
    tag = "reads",
    summary = "A day's summary, saying whether the cache answered",
    security(("bearer" = [])),
    params(ClaimedUser, DayParam),
    responses(
        (status = 200, description = "The view", body = CachedEnvelope<DailySummary>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn daily_optimized(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = daily(&state, &user, &query).await?;
    Ok(optimized(&headers, &view))
}

#[utoipa::path(
    get,
    path = "/analytics/summary/weekly-optimized",
    tag = "reads",
    summary = "The weekly summary, saying whether the cache answered",
    security(("bearer" = [])),
    params(ClaimedUser, WeekParam),
    responses(
        (status = 200, description = "The view", body = CachedEnvelope<WeeklySummary>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn weekly_optimized(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = weekly(&state, &user, &query).await?;
    Ok(optimized(&headers, &view))
}

#[utoipa::path(
    get,
    path = "/analytics/insights-optimized",
    tag = "reads",
    summary = "Insights, saying whether the cache answered",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses(
        (status = 200, description = "The view", body = CachedEnvelope<Insights>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn insights_optimized(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = insights_view(&state, &user, &query).await?;
    Ok(optimized(&headers, &view))
}

async fn daily(
    state: &AppState,
    user: &AuthUser,
    query: &ApiQuery,
) -> Result<ViewResponse, ApiError> {
    query.check_user(user)?;
    let date = query.date("date")?;
    let params = date.clone().unwrap_or_default();
    state
        .view_cache
        .get_or_fetch(&user.id(), "daily", &params, || async {
            let request = state.upstreams.request(DailySummaryRequest {
                user_id: user.id(),
                date,
            });
            Ok(timed(state.upstreams.analytics().daily_summary(request))
                .await?
                .into_inner())
        })
        .await
}

async fn weekly(
    state: &AppState,
    user: &AuthUser,
    query: &ApiQuery,
) -> Result<ViewResponse, ApiError> {
    query.check_user(user)?;
    let end_date = query.date("end_date")?;
    let params = end_date.clone().unwrap_or_default();
    state
        .view_cache
        .get_or_fetch(&user.id(), "weekly", &params, || async {
            let request = state.upstreams.request(WeeklySummaryRequest {
                user_id: user.id(),
                end_date,
            });
            Ok(timed(state.upstreams.analytics().weekly_summary(request))
                .await?
                .into_inner())
        })
        .await
}

async fn insights_view(
    state: &AppState,
    user: &AuthUser,
    query: &ApiQuery,
) -> Result<ViewResponse, ApiError> {
    query.check_user(user)?;
    state
        .view_cache
        .get_or_fetch(&user.id(), "insights", "", || async {
            let request = state
                .upstreams
                .request(InsightsRequest { user_id: user.id() });
            Ok(timed(state.upstreams.analytics().insights(request))
                .await?
                .into_inner())
        })
        .await
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
