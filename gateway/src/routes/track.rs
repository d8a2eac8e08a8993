//! `/api/v1/analytics/track/<type>`: one event per request. Shape errors (types, unknown fields,
//! timestamps without an offset) are caught here; the rules of the domain are checked by
//! analytics. Batches live in `batch.rs`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use wellbeing_proto::analytics::v1::{
    RecordBreakRequest, RecordDistractionRequest, RecordEventResponse, RecordFocusSessionRequest,
    RecordNotificationRequest, RecordScreenTimeRequest, RecordSessionRequest,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::respond::{envelope, json_bytes};
use crate::routes::events::{
    BreakBody, DistractionBody, EventBody, FocusSessionBody, NotificationBody, ScreenTimeBody,
    SessionBody,
};
use crate::state::AppState;
use crate::upstream::timed;

pub async fn session(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<SessionBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordSessionRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = timed(state.upstreams.analytics().record_session(request)).await?;
    Ok(recorded(response.into_inner()))
}

pub async fn screen_time(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<ScreenTimeBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordScreenTimeRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = timed(state.upstreams.analytics().record_screen_time(request)).await?;
    Ok(recorded(response.into_inner()))
}

pub async fn focus_session(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<FocusSessionBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordFocusSessionRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = timed(state.upstreams.analytics().record_focus_session(request)).await?;
    Ok(recorded(response.into_inner()))
}

pub async fn break_taken(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<BreakBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordBreakRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = timed(state.upstreams.analytics().record_break(request)).await?;
    Ok(recorded(response.into_inner()))
}

pub async fn notification(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NotificationBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordNotificationRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = timed(state.upstreams.analytics().record_notification(request)).await?;
    Ok(recorded(response.into_inner()))
}

pub async fn distraction(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<DistractionBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordDistractionRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = timed(state.upstreams.analytics().record_distraction(request)).await?;
    Ok(recorded(response.into_inner()))
}

/// 201 with the new record, or 200 with the record first stored under the same event_id.
fn recorded(response: RecordEventResponse) -> Response {
    let status = if response.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_bytes(status, envelope(&response.record_json))
}
