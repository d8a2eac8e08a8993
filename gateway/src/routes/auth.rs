//! `/api/v1/auth/*`: bare JSON objects (no envelope), as the contract shows. `PATCH /auth/me`
//! lives with the other account routes in `account.rs`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use wellbeing_proto::analytics::v1::{
    GetUserRequest, LoginRequest, RefreshSessionRequest, RegisterUserRequest, User,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    username: String,
    email: String,
    password: String,
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

#[derive(Serialize)]
pub struct UserBody {
    user_id: String,
    username: String,
    email: String,
    timezone: String,
    created_at: String,
}

#[derive(Serialize)]
pub struct TokenPair {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
}

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

pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<TokenPair>, ApiError> {
    let request = state.upstreams.request(LoginRequest {
        email: body.email,
        password: body.password,
    });
    let response = timed(state.upstreams.analytics().login(request))
        .await?
        .into_inner();
    token_pair(&state, &response.user_id, response.refresh_token).map(Json)
}

pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenPair>, ApiError> {
    let request = state.upstreams.request(RefreshSessionRequest {
        refresh_token: body.refresh_token,
    });
    let response = timed(state.upstreams.analytics().refresh_session(request))
        .await?
        .into_inner();
    token_pair(&state, &response.user_id, response.refresh_token).map(Json)
}

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
