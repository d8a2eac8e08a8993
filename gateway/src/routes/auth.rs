//! `/api/v1/auth/*`: bare JSON objects (no envelope), as the contract shows. `PATCH /auth/me`
//! lives with the other account routes in `account.rs`; sign-out, the password change and the
//! sessions list in `sessions.rs`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wellbeing_proto::Timestamp;
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
    /// A name for this device, shown in the sessions list (`GET /auth/sessions`); 1 to 100
    /// characters. Absent: the `User-Agent` header is shown.
    #[schema(min_length = 1, max_length = 100, example = "Ada's phone")]
    device_name: Option<String>,
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
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<impl IntoResponse, ApiError> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let request = state.upstreams.request(LoginRequest {
        email: body.email,
        password: body.password,
        device_name: body.device_name.unwrap_or_default(),
        user_agent: user_agent.to_owned(),
    });
    let response = timed(state.upstreams.analytics().login(request))
        .await?
        .into_inner();
    let session = IssuedSession {
        user_id: &response.user_id,
        session_id: &response.session_id,
        issued_at: response.issued_at,
    };
    token_pair(&state, session, response.refresh_token).map(not_stored)
}

#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    summary = "Exchange a refresh token for a new pair",
    description = "The refresh token sent stops working. Sent again within a few seconds \
        (`REFRESH_REUSE_GRACE_SECS`, the answer was lost), it answers the same pair again; later, \
        it ends its session (a stolen token is assumed) and is a 401, as an unknown one.",
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
    let session = IssuedSession {
        user_id: &response.user_id,
        session_id: &response.session_id,
        issued_at: response.issued_at,
    };
    token_pair(&state, session, response.refresh_token).map(not_stored)
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
pub(crate) fn not_stored(pair: TokenPair) -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(pair),
    )
}

/// The session a refresh token was just issued in, as analytics answers it.
pub(crate) struct IssuedSession<'a> {
    pub user_id: &'a str,
    pub session_id: &'a str,
    /// The refresh token's issue time: the access token's `iat`.
    pub issued_at: Option<Timestamp>,
}

/// The pair: the refresh token analytics issued and an access token of the same session, signed
/// with the refresh token's issue time, so that a pair answered again is the same pair.
pub(crate) fn token_pair(
    state: &AppState,
    session: IssuedSession<'_>,
    refresh_token: String,
) -> Result<TokenPair, ApiError> {
    let session_id = uuid::Uuid::parse_str(session.session_id)
        .map_err(|_| ApiError::new(wellbeing_common::ErrorCode::Internal, "internal error"))?;
    let issued_at = session
        .issued_at
        .map_or_else(|| chrono::Utc::now().timestamp(), |at| at.seconds);
    let expires_at = issued_at + state.tokens.ttl_secs();
    Ok(TokenPair {
        access_token: state.tokens.issue(session.user_id, session_id, issued_at)?,
        refresh_token,
        token_type: "bearer",
        expires_in: u64::try_from(expires_at - chrono::Utc::now().timestamp()).unwrap_or(0),
    })
}

pub(crate) fn user_body(user: Option<User>) -> Result<UserBody, ApiError> {
    let user =
        user.ok_or_else(|| ApiError::new(wellbeing_common::ErrorCode::Internal, "internal error"))?;
    Ok(UserBody {
        user_id: user.user_id,
        username: user.username,
        email: user.email,
        timezone: user.timezone,
        created_at: rfc3339(user.created_at),
    })
}

/// A protobuf timestamp as the REST answers write one (empty when absent).
pub(crate) fn rfc3339(at: Option<Timestamp>) -> String {
    at.and_then(|at| {
        chrono::DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).unwrap_or(0))
    })
    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    .unwrap_or_default()
}
