//! The caller's own account beyond sign-in: `PATCH /auth/me` (bare object, like every
//! `/auth/*` answer), `GET /me/export` and `DELETE /me`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use wellbeing_proto::analytics::v1::{EraseUserRequest, ExportUserDataRequest, UpdateUserRequest};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::respond::{envelope, json_bytes};
use crate::routes::auth::{UserBody, user_body};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeBody {
    user_id: Option<String>,
    username: Option<String>,
    timezone: Option<String>,
}

pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<UpdateMeBody>,
) -> Result<Json<UserBody>, ApiError> {
    user.check_claimed(body.user_id.as_deref())?;
    let request = state.upstreams.request(UpdateUserRequest {
        user_id: user.id(),
        username: body.username,
        timezone: body.timezone,
    });
    let response = timed(state.upstreams.analytics().update_user(request)).await?;
    user_body(response.into_inner().user).map(Json)
}

/// Everything held about the caller, as a download: a personal document, never stored by caches.
pub async fn export(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(ExportUserDataRequest { user_id: user.id() });
    let response = timed(state.upstreams.analytics().export_user_data(request)).await?;
    let mut answer = json_bytes(StatusCode::OK, envelope(&response.into_inner().json));
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"wellbeing-export.json\""),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(answer)
}

pub async fn erase(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(EraseUserRequest { user_id: user.id() });
    timed(state.upstreams.analytics().erase_user(request)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
