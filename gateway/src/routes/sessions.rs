//! The caller's sessions (`/api/v1/auth/*`, bare objects): sign-out of one session or of all,
//! the password change, the sessions list, and ending one session from it. Each route that ends
//! sessions adds them to this replica's [`crate::ended_sessions`] before it answers, so the
//! caller's next request here is already refused with the ended session's access token; other
//! replicas learn within `SESSION_POLL_MS`.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wellbeing_proto::analytics::v1::{
    ChangePasswordRequest, EndSessionRequest, ListSessionsRequest, LogoutAllRequest, LogoutRequest,
    SessionsEndedResponse,
};

use crate::auth::{AuthUser, CurrentSession};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::openapi::{ClaimedUser, NotFound, SessionIdParam, Unauthorized};
use crate::routes::auth::{IssuedSession, TokenPair, not_stored, rfc3339, token_pair};
use crate::routes::parse::owned_id;
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutBody {
    /// The refresh token of the session to end (the caller's own).
    refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    #[schema(write_only)]
    current_password: String,
    /// 10 to 256 characters, taken as typed, not the email.
    #[schema(min_length = 10, max_length = 256, write_only)]
    new_password: String,
}

/// One signed-in session (never a token).
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    #[schema(format = Uuid)]
    id: String,
    /// The name the app gave at sign-in (`device_name`), else its `User-Agent`.
    device: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// The sign-in or the last refresh.
    #[schema(format = DateTime)]
    last_used_at: String,
    /// True for the session of the access token used for this request.
    current: bool,
}

/// The caller's live sessions, most recently used first.
#[derive(Serialize, ToSchema)]
pub struct SessionsBody {
    sessions: Vec<SessionBody>,
}

#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    summary = "Sign out: end the session of a refresh token",
    description = "The refresh token and every access token of its session stop working. \
        Signing out of an ended session again is a 204 too; a refresh token that is not the \
        caller's is a 401.",
    security(("bearer" = [])),
    request_body = LogoutBody,
    responses((status = 204, description = "The session has ended")),
)]
pub async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<LogoutBody>,
) -> Result<Response, ApiError> {
    let request = state.upstreams.request(LogoutRequest {
        user_id: user.id(),
        refresh_token: body.refresh_token,
    });
    let ended = timed(state.upstreams.analytics().logout(request)).await?;
    Ok(sessions_ended(&state, ended.into_inner()))
}

#[utoipa::path(
    post,
    path = "/auth/logout-all",
    tag = "auth",
    summary = "Sign out everywhere: end every session of the caller",
    description = "Every refresh token and access token of the caller stops working, this \
        request's included.",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses((status = 204, description = "Every session has ended")),
)]
pub async fn logout_all(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(LogoutAllRequest { user_id: user.id() });
    let ended = timed(state.upstreams.analytics().logout_all(request)).await?;
    Ok(sessions_ended(&state, ended.into_inner()))
}

#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "auth",
    summary = "Change the password: a fresh pair, every other session ends",
    description = "Checked against the current password (wrong: 401, and it counts towards \
        the account's sign-in throttle). The new one follows the registration rules (422 naming \
        `new_password`). Every other session ends; this one continues with the fresh pair.",
    security(("bearer" = [])),
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "A fresh token pair (`Cache-Control: no-store`)", body = TokenPair),
        (status = 401, response = Unauthorized),
    ),
)]
pub async fn change_password(
    State(state): State<AppState>,
    current: CurrentSession,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<impl IntoResponse, ApiError> {
    let user_id = current.user.id();
    let session_id = current.session_id.to_string();
    let request = state.upstreams.request(ChangePasswordRequest {
        user_id: user_id.clone(),
        session_id: session_id.clone(),
        current_password: body.current_password,
        new_password: body.new_password,
    });
    let changed = timed(state.upstreams.analytics().change_password(request))
        .await?
        .into_inner();
    state.ended_sessions.add(&changed.ended);
    let session = IssuedSession {
        user_id: &user_id,
        session_id: &session_id,
        issued_at: changed.issued_at,
    };
    token_pair(&state, session, changed.refresh_token).map(not_stored)
}

#[utoipa::path(
    get,
    path = "/auth/sessions",
    tag = "auth",
    summary = "The caller's signed-in sessions",
    description = "Live sessions only (not ended, not expired), most recently used first; \
        `current` marks this request's.",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses((status = 200, description = "The sessions", body = SessionsBody)),
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    current: CurrentSession,
    query: ApiQuery,
) -> Result<Json<SessionsBody>, ApiError> {
    query.check_user(&current.user)?;
    let request = state.upstreams.request(ListSessionsRequest {
        user_id: current.user.id(),
    });
    let listed = timed(state.upstreams.analytics().list_sessions(request))
        .await?
        .into_inner();
    let current_id = current.session_id.to_string();
    let sessions = listed
        .sessions
        .into_iter()
        .map(|session| SessionBody {
            current: session.session_id == current_id,
            id: session.session_id,
            device: session.device,
            created_at: rfc3339(session.created_at),
            last_used_at: rfc3339(session.last_used_at),
        })
        .collect();
    Ok(Json(SessionsBody { sessions }))
}

#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    tag = "auth",
    summary = "End one of the caller's sessions",
    description = "Its refresh token and access tokens stop working. Another user's session, \
        an ended or an unknown one: 404.",
    security(("bearer" = [])),
    params(SessionIdParam, ClaimedUser),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn end_session(
    State(state): State<AppState>,
    user: AuthUser,
    SessionId(session_id): SessionId,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state.upstreams.request(EndSessionRequest {
        user_id: user.id(),
        session_id: session_id.to_string(),
    });
    let ended = timed(state.upstreams.analytics().end_session(request)).await?;
    Ok(sessions_ended(&state, ended.into_inner()))
}

/// Remembers the sessions analytics ended, then answers 204.
fn sessions_ended(state: &AppState, ended: SessionsEndedResponse) -> Response {
    state.ended_sessions.add(&ended.ended);
    StatusCode::NO_CONTENT.into_response()
}

/// The `{id}` of `/auth/sessions/{id}`; not a UUID: no such session (404).
pub struct SessionId(Uuid);

impl<S: Send + Sync> FromRequestParts<S> for SessionId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        owned_id(parts, state, "no such session")
            .await
            .map(SessionId)
    }
}
