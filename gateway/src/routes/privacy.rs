//! `/api/v1/privacy/*`: the privacy state the phone reports, and the scores derived from it.
//! The scoring and the `location_mode` vocabulary are analytics' business.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use wellbeing_proto::analytics::v1::{
    PrivacyHistoryRequest, PrivacyScoreRequest, PrivacyStateReport, PrivacyTrendRequest,
    ReportPrivacyStateRequest,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::respond::{derived_view, envelope, json_bytes};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;

/// What the phone reports. A flag or counter it leaves out means off / none (the phone may lack
/// that feature); the location mode has no safe default, so it is required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyStateBody {
    user_id: Option<String>,
    #[serde(default)]
    vpn_connected: bool,
    #[serde(default)]
    kill_switch: bool,
    #[serde(default)]
    leak_detected: bool,
    #[serde(default)]
    caller_masking: bool,
    #[serde(default)]
    calls_total: i64,
    #[serde(default)]
    calls_blocked: i64,
    #[serde(default)]
    blocklist_size: i64,
    location_mode: String,
    #[serde(default)]
    network_threats: i64,
    #[serde(default)]
    critical_threats: i64,
    #[serde(default)]
    monitoring_enabled: bool,
}

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
    let response = timed(state.upstreams.analytics().report_privacy_state(request)).await?;
    Ok(json_bytes(
        StatusCode::OK,
        envelope(&response.into_inner().json),
    ))
}

pub async fn score(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(PrivacyScoreRequest { user_id: user.id() });
    let view = timed(state.upstreams.analytics().privacy_score(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state.upstreams.request(PrivacyHistoryRequest {
        user_id: user.id(),
        limit: query.bounded("limit", 1..=100, 10)?,
    });
    let view = timed(state.upstreams.analytics().privacy_history(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}

pub async fn trend(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(PrivacyTrendRequest { user_id: user.id() });
    let view = timed(state.upstreams.analytics().privacy_trend(request))
        .await?
        .into_inner();
    Ok(derived_view(&headers, &view.json, &view.etag))
}
