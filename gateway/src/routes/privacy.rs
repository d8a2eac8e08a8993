//! `/api/v1/privacy/*`: the privacy state the phone reports, and the scores derived from it.
//! The scoring and the `location_mode` vocabulary are analytics' business.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use wellbeing_proto::analytics::v1::{
    PrivacyHistoryRequest, PrivacyScoreRequest, PrivacyStateReport, PrivacyTrendRequest,
    ReportPrivacyStateRequest,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::openapi::schemas::Envelope;
use crate::openapi::{ClaimedUser, HistoryLimitParam, NotModified};
use crate::respond::{derived_view, envelope, json_bytes};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;
use wellbeing_domain::answers::privacy::{
    PrivacyHistory, PrivacyReport, PrivacyScoreView, PrivacyTrend,
};
use wellbeing_domain::records::LocationMode;

/// What the phone reports. A flag or counter it leaves out means off / none (the phone may lack
/// that feature); the location mode has no safe default, so it is required.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyStateBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    #[serde(default)]
    #[schema(default = false)]
    vpn_connected: bool,
    #[serde(default)]
    #[schema(default = false)]
    kill_switch: bool,
    #[serde(default)]
    #[schema(default = false)]
    leak_detected: bool,
    #[serde(default)]
    #[schema(default = false)]
    caller_masking: bool,
    #[serde(default, deserialize_with = "crate::json::integer")]
    #[schema(default = 0, minimum = 0)]
    calls_total: i64,
    /// At most `calls_total`.
    #[serde(default, deserialize_with = "crate::json::integer")]
    #[schema(default = 0, minimum = 0)]
    calls_blocked: i64,
    #[serde(default, deserialize_with = "crate::json::integer")]
    #[schema(default = 0, minimum = 0)]
    blocklist_size: i64,
    #[schema(value_type = LocationMode)]
    location_mode: String,
    #[serde(default, deserialize_with = "crate::json::integer")]
    #[schema(default = 0, minimum = 0)]
    network_threats: i64,
    #[serde(default, deserialize_with = "crate::json::integer")]
    #[schema(default = 0, minimum = 0)]
    critical_threats: i64,
    #[serde(default)]
    #[schema(default = false)]
    monitoring_enabled: bool,
}

#[utoipa::path(
    put,
    path = "/privacy/state",
    operation_id = "report_privacy_state",
    tag = "privacy",
    summary = "Report the phone's privacy state",
    security(("bearer" = [])),
    request_body = PrivacyStateBody,
    responses((status = 200, description = "The stored report and its score", body = Envelope<PrivacyReport>)),
)]
pub async fn report_state(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<PrivacyStateBody>,
) -> Result<Response, ApiError> {
    user.check_claimed(body.user_id.as_deref())?;
    let report = PrivacyStateReport {
        vpn_connected: body.vpn_connected,
        kill_switch: body.kill_switch,
        leak_detected: body.leak_detected,
        caller_masking: body.caller_masking,
        calls_total: body.calls_total,
        calls_blocked: body.calls_blocked,
        blocklist_size: body.blocklist_size,
        location_mode: body.location_mode,
        network_threats: body.network_threats,
        critical_threats: body.critical_threats,
        monitoring_enabled: body.monitoring_enabled,
    };
    let request = state.upstreams.request(ReportPrivacyStateRequest {
        user_id: user.id(),
        state: Some(report),
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().report_privacy_state(request)),
        )
        .await?;
    Ok(json_bytes(
        StatusCode::OK,
        envelope(&response.into_inner().json),
    ))
}

#[utoipa::path(
    get,
    path = "/privacy/score",
    operation_id = "privacy_score",
    tag = "privacy",
    summary = "The privacy score of the latest report",
    description = "`0.30·vpn + 0.20·caller + 0.25·location + 0.25·network`; levels ≥90 excellent, \
        ≥75 good, ≥60 fair, ≥40 poor, else critical. Before any report, the figures are null.",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses(
        (status = 200, description = "The score", body = Envelope<PrivacyScoreView>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn score(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "privacy", "", || async {
            let request = state
                .upstreams
                .request(PrivacyScoreRequest { user_id: user.id() });
            Ok(timed(state.upstreams.analytics().privacy_score(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/privacy/score/history",
    operation_id = "privacy_history",
    tag = "privacy",
    summary = "The scores of the latest reports",
    security(("bearer" = [])),
    params(ClaimedUser, HistoryLimitParam),
    responses(
        (status = 200, description = "The history", body = Envelope<PrivacyHistory>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let limit = query.bounded("limit", 1..=100, 10)?;
    let view = state
        .view_cache
        .get_or_fetch(
            &user.id(),
            "privacy-history",
            &limit.to_string(),
            || async {
                let request = state.upstreams.request(PrivacyHistoryRequest {
                    user_id: user.id(),
                    limit,
                });
                Ok(timed(state.upstreams.analytics().privacy_history(request))
                    .await?
                    .into_inner())
            },
        )
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    get,
    path = "/privacy/score/trend",
    operation_id = "privacy_trend",
    tag = "privacy",
    summary = "The privacy score over the last 7 local days",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses(
        (status = 200, description = "The trend", body = Envelope<PrivacyTrend>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn trend(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "privacy-trend", "", || async {
            let request = state
                .upstreams
                .request(PrivacyTrendRequest { user_id: user.id() });
            Ok(timed(state.upstreams.analytics().privacy_trend(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}
