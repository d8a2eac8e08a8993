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
use crate::openapi::schemas::Envelope;
use crate::respond::{envelope, json_bytes};
use crate::routes::events::{
    BreakBody, DistractionBody, EventBody, FocusSessionBody, NotificationBody, ScreenTimeBody,
    SessionBody,
};
use crate::state::AppState;
use crate::upstream::timed;
use wellbeing_domain::answers::events::EventRecord;

#[utoipa::path(
    post,
    path = "/analytics/track/session",
    operation_id = "track_session",
    tag = "tracking",
    summary = "Track a device session",
    security(("bearer" = [])),
    request_body = SessionBody,
    responses(
        (status = 201, description = "Stored: the new record", body = Envelope<EventRecord>),
        (status = 200, description = "This `event_id` was already stored: nothing new, the record first stored", body = Envelope<EventRecord>),
    ),
)]
pub async fn session(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<SessionBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordSessionRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().record_session(request)),
        )
        .await?;
    Ok(recorded(response.into_inner()))
}

#[utoipa::path(
    post,
    path = "/analytics/track/screen-time",
    operation_id = "track_screen_time",
    tag = "tracking",
    summary = "Track time spent in an app",
    security(("bearer" = [])),
    request_body = ScreenTimeBody,
    responses(
        (status = 201, description = "Stored: the new record", body = Envelope<EventRecord>),
        (status = 200, description = "This `event_id` was already stored: nothing new, the record first stored", body = Envelope<EventRecord>),
    ),
)]
pub async fn screen_time(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<ScreenTimeBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordScreenTimeRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().record_screen_time(request)),
        )
        .await?;
    Ok(recorded(response.into_inner()))
}

#[utoipa::path(
    post,
    path = "/analytics/track/focus-session",
    operation_id = "track_focus_session",
    tag = "tracking",
    summary = "Track a focus session",
    security(("bearer" = [])),
    request_body = FocusSessionBody,
    responses(
        (status = 201, description = "Stored: the new record", body = Envelope<EventRecord>),
        (status = 200, description = "This `event_id` was already stored: nothing new, the record first stored", body = Envelope<EventRecord>),
    ),
)]
pub async fn focus_session(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<FocusSessionBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordFocusSessionRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().record_focus_session(request)),
        )
        .await?;
    Ok(recorded(response.into_inner()))
}

#[utoipa::path(
    post,
    path = "/analytics/track/break",
    operation_id = "track_break",
    tag = "tracking",
    summary = "Track a break",
    security(("bearer" = [])),
    request_body = BreakBody,
    responses(
        (status = 201, description = "Stored: the new record", body = Envelope<EventRecord>),
        (status = 200, description = "This `event_id` was already stored: nothing new, the record first stored", body = Envelope<EventRecord>),
    ),
)]
pub async fn break_taken(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<BreakBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordBreakRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().record_break(request)),
        )
        .await?;
    Ok(recorded(response.into_inner()))
}

#[utoipa::path(
    post,
    path = "/analytics/track/notification",
    operation_id = "track_notification",
    tag = "tracking",
    summary = "Track a notification",
    security(("bearer" = [])),
    request_body = NotificationBody,
    responses(
        (status = 201, description = "Stored: the new record", body = Envelope<EventRecord>),
        (status = 200, description = "This `event_id` was already stored: nothing new, the record first stored", body = Envelope<EventRecord>),
    ),
)]
pub async fn notification(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NotificationBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordNotificationRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().record_notification(request)),
        )
        .await?;
    Ok(recorded(response.into_inner()))
}

#[utoipa::path(
    post,
    path = "/analytics/track/distraction",
    operation_id = "track_distraction",
    tag = "tracking",
    summary = "Track a distraction",
    security(("bearer" = [])),
    request_body = DistractionBody,
    responses(
        (status = 201, description = "Stored: the new record", body = Envelope<EventRecord>),
        (status = 200, description = "This `event_id` was already stored: nothing new, the record first stored", body = Envelope<EventRecord>),
    ),
)]
pub async fn distraction(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<DistractionBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(RecordDistractionRequest {
        event: Some(body.checked(&user)?),
        user_id: user.id(),
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().record_distraction(request)),
        )
        .await?;
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
