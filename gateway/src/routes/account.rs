//! The caller's own account beyond sign-in: `PATCH /auth/me` (bare object, like every
//! `/auth/*` answer), `GET /me/export` and `DELETE /me`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;
use utoipa::ToSchema;
use wellbeing_common::ErrorCode;
use wellbeing_proto::analytics::v1::{EraseUserRequest, ExportUserDataRequest, UpdateUserRequest};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::openapi::ClaimedUser;
use crate::openapi::schemas::{Envelope, ExportDocument};
use crate::respond::json_stream;
use crate::routes::auth::{UserBody, user_body};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;

/// What changes; an absent field stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// 1 to 50 characters once trimmed.
    #[schema(min_length = 1, max_length = 50)]
    username: Option<String>,
    /// An IANA zone name; derived views use the new zone from now on.
    #[schema(example = "Europe/Paris")]
    timezone: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/auth/me",
    tag = "auth",
    summary = "Change the caller's username or timezone",
    security(("bearer" = [])),
    request_body = UpdateMeBody,
    responses((status = 200, description = "The updated account", body = UserBody)),
)]
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
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().update_user(request)),
        )
        .await?;
    user_body(response.into_inner().user).map(Json)
}

/// Everything held about the caller, as a download: a personal document, never stored by caches.
#[utoipa::path(
    get,
    path = "/me/export",
    tag = "account",
    summary = "Export every record held about the caller",
    description = "One JSON document, sent as an attachment (`wellbeing-export.json`) with \
        `Cache-Control: private, no-store`, streamed as it is read (chunked), so it works at \
        any size. One export per user at a time.",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses(
        (status = 200, description = "Everything held about the caller", body = Envelope<ExportDocument>),
        (status = 429, description = "An export of the caller is already being sent (`Retry-After`)", body = crate::openapi::schemas::ErrorBody),
    ),
)]
pub async fn export(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let running = state.exports.start(user.id()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::RateLimited,
            "an export of yours is already being sent; try again when it is done",
        )
    })?;
    let request = state
        .upstreams
        .request(ExportUserDataRequest { user_id: user.id() });
    let chunks = timed(state.upstreams.analytics().export_user_data(request))
        .await?
        .into_inner()
        // The mark of a running export goes when the last chunk has been sent (or the
        // client went away).
        .map_ok(move |chunk| {
            let _running = &running;
            chunk.json
        });
    let mut answer = json_stream(chunks);
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

#[utoipa::path(
    delete,
    path = "/me",
    tag = "account",
    summary = "Erase the caller's account and every record of theirs",
    description = "Every row and cache entry of the caller is erased; their tokens stop working.",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses((status = 204, description = "Erased")),
)]
pub async fn erase(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(EraseUserRequest { user_id: user.id() });
    state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().erase_user(request)),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
