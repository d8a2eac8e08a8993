//! `/api/v1/auth/*`: bare JSON objects (no envelope), as the contract shows. `PATCH /auth/me`
//! lives with the other account routes in `account.rs`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wellbeing_proto::analytics::v1::{
    GetUserRequest, LoginRequest, RefreshSessionRequest, RegisterUserRequest, User,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::openapi::{ClaimedUser, Conflict, Unauthorized};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// 1 to 50 characters once trimmed.
    #[schema(min_length = 1, max_length = 50)]
    username: String,
    /// An address like `name@example.com`, stored lower-cased; one account per email.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// 10 to 256 characters, taken as typed, not the email.
    #[schema(min_length = 10, max_length = 256, write_only)]
    password: String,
    /// An IANA zone name such as `Europe/Paris`; the user's days and hours are computed in it.
    #[schema(default = "UTC", example = "Europe/Paris")]
    timezone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[schema(format = Email)]
    email: String,
    #[schema(write_only)]
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token of the last pair; it stops working once used.
    refresh_token: String,
}

/// An account, as `/auth/*` answers it (a bare object).
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    #[schema(format = Uuid)]
    user_id: String,
    username: String,
    #[schema(format = Email)]
    email: String,
    /// IANA zone name.
    timezone: String,
    #[schema(format = DateTime)]
    created_at: String,
}

/// A new token pair (a bare object).
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer <token>`.
    access_token: String,
    /// Opaque; exchanged once at `/auth/refresh` for a new pair.
    refresh_token: String,
    /// Always `bearer`.
    #[schema(value_type = String, pattern = "^bearer$", example = "bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
}

#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    summary = "Create an account",
    description = "The password is hashed (argon2). Answers the account as a bare object.",
    security(),
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The new account", body = UserBody),
        (status = 409, response = Conflict),
    ),
)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<impl IntoResponse, ApiError> {
    let request = state.upstreams.request(RegisterUserRequest {
        username: body.username,
        email: body.email,
        password: body.password,
        timezone: body.timezone.unwrap_or_default(),
    });
    let response = timed(state.upstreams.analytics().register_user(request)).await?;
    let user = user_body(response.into_inner().user)?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    summary = "Sign in: a token pair",
    security(),
    request_body = LoginBody,
    responses(
        (status = 200, description = "A token pair (`Cache-Control: no-store`)", body = TokenPair),
        (status = 401, response = Unauthorized),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<impl IntoResponse, ApiError> {
    let request = state.upstreams.request(LoginRequest {
        email: body.email,
        password: body.password,
    });
    let response = timed(state.upstreams.analytics().login(request))
        .await?
        .into_inner();
    token_pair(&state, &response.user_id, response.refresh_token).map(not_stored)
}

#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    summary = "Exchange a refresh token for a new pair",
    description = "The refresh token sent stops working; a used or unknown one is a 401.",
    security(),
    request_body = RefreshBody,
    responses(
        (status = 200, description = "A new token pair (`Cache-Control: no-store`)", body = TokenPair),
        (status = 401, response = Unauthorized),
    ),
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<impl IntoResponse, ApiError> {
    let request = state.upstreams.request(RefreshSessionRequest {
        refresh_token: body.refresh_token,
    });
    let response = timed(state.upstreams.analytics().refresh_session(request))
        .await?
        .into_inner();
    token_pair(&state, &response.user_id, response.refresh_token).map(not_stored)
}

#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "auth",
    summary = "The caller's account",
    security(("bearer" = [])),
    params(ClaimedUser),
    responses((status = 200, description = "The caller's account", body = UserBody)),
)]
pub async fn me(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
) -> Result<Json<UserBody>, ApiError> {
    query.check_user(&user)?;
    let request = state
        .upstreams
        .request(GetUserRequest { user_id: user.id() });
    let response = timed(state.upstreams.analytics().get_user(request)).await?;
    user_body(response.into_inner().user).map(Json)
}

/// An answer carrying tokens: no cache along the way (a proxy, the app's HTTP cache) may keep it.
fn not_stored(pair: TokenPair) -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(pair),
    )
}

fn token_pair(
    state: &AppState,
    user_id: &str,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    Ok(TokenPair {
        access_token: state.tokens.issue(user_id)?,
        refresh_token,
        token_type: "bearer",
        expires_in: state.tokens.access_ttl.as_secs(),
    })
}

pub(crate) fn user_body(user: Option<User>) -> Result<UserBody, ApiError> {
    let user =
        user.ok_or_else(|| ApiError::new(wellbeing_common::ErrorCode::Internal, "internal error"))?;
    let created_at = user
        .created_at
        .and_then(|at| {
            chrono::DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0))
        })
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default();
    Ok(UserBody {
        user_id: user.user_id,
        username: user.username,
        email: user.email,
        timezone: user.timezone,
        created_at,
    })
}
