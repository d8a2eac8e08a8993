//! `/api/v1/analytics/goals`: goals and their progress. Goal types, aliases and progress are
//! analytics' business; here only shapes are checked (a real `deadline`, a known `status`).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;
use wellbeing_proto::analytics::v1::{
    CreateGoalRequest, DeleteGoalRequest, ListGoalsRequest, UpdateGoalRequest,
};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::openapi::schemas::{Envelope, GoalTypeInput};
use crate::openapi::{ClaimedUser, GoalIdParam, GoalStatusParam, NotFound, NotModified};
use crate::respond::{derived_view, envelope, json_bytes};
use crate::routes::parse::{owned_id, parse_date};
use crate::routes::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::timed;
use wellbeing_domain::answers::goals::{Goal, GoalList};

const STATUSES: [&str; 3] = ["active", "completed", "exceeded"];

/// A new goal. Measured types take their `current_value` from tracked data; `custom` goals from
/// the client (`PUT`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGoalBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    #[schema(value_type = GoalTypeInput)]
    goal_type: String,
    /// At most 1 000 000; over 0 for target goals, at least 0 for limits.
    #[schema(minimum = 0, maximum = 1000000)]
    target_value: f64,
    /// Required for `app_daily_limit`, 1 to 200 characters.
    #[schema(max_length = 200)]
    app_name: Option<String>,
    /// A real date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    deadline: Option<String>,
}

/// What changes; an absent field stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGoalBody {
    /// Sent by older clients: must be the caller's own id (403 otherwise).
    #[schema(format = Uuid)]
    user_id: Option<String>,
    /// At most 1 000 000; over 0 for target goals, at least 0 for limits.
    #[schema(minimum = 0, maximum = 1000000)]
    target_value: Option<f64>,
    #[schema(max_length = 200)]
    app_name: Option<String>,
    /// A real date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    deadline: Option<String>,
    /// Only for `custom` goals (ignored for measured types), 0 to 1 000 000.
    #[schema(minimum = 0, maximum = 1000000)]
    current_value: Option<f64>,
}

/// The `{id}` of a goal route. Something that is not a UUID cannot be one of the caller's
/// goals, so it is a 404 like any other goal they do not own (and it is checked before the body).
pub struct GoalId(Uuid);

impl<S: Send + Sync> FromRequestParts<S> for GoalId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        owned_id(parts, state, NO_SUCH_GOAL).await.map(GoalId)
    }
}

const NO_SUCH_GOAL: &str = "no such goal";

#[utoipa::path(
    post,
    path = "/analytics/goals",
    tag = "goals",
    summary = "Create a goal",
    description = "A user keeps at most 100 goals.",
    security(("bearer" = [])),
    request_body = CreateGoalBody,
    responses(
        (status = 201, description = "The goal, with its progress", body = Envelope<Goal>),
        (status = 409, description = "The caller already has 100 goals", body = crate::openapi::schemas::ErrorBody),
    ),
)]
pub async fn create_goal(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<CreateGoalBody>,
) -> Result<Response, ApiError> {
    user.check_claimed(body.user_id.as_deref())?;
    let request = state.upstreams.request(CreateGoalRequest {
        user_id: user.id(),
        goal_type: body.goal_type,
        target_value: body.target_value,
        app_name: body.app_name,
        deadline: optional_deadline(body.deadline.as_deref())?,
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().create_goal(request)),
        )
        .await?;
    Ok(json_bytes(
        StatusCode::CREATED,
        envelope(&response.into_inner().goal_json),
    ))
}

#[utoipa::path(
    get,
    path = "/analytics/goals",
    tag = "goals",
    summary = "The caller's goals with their progress",
    description = "Daily goals measure the user's local today, weekly ones the 7 local days \
        ending today; `completed` and `exceeded` hold for the current period only.",
    security(("bearer" = [])),
    params(ClaimedUser, GoalStatusParam),
    responses(
        (status = 200, description = "The goals", body = Envelope<GoalList>),
        (status = 304, response = NotModified),
    ),
)]
pub async fn list_goals(
    State(state): State<AppState>,
    user: AuthUser,
    query: ApiQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let status = query.one_of("status", &STATUSES)?;
    let params = status.clone().unwrap_or_default();
    let view = state
        .view_cache
        .get_or_fetch(&user.id(), "goals", &params, || async {
            let request = state.upstreams.request(ListGoalsRequest {
                user_id: user.id(),
                status,
            });
            Ok(timed(state.upstreams.analytics().list_goals(request))
                .await?
                .into_inner())
        })
        .await?;
    Ok(derived_view(&headers, &view.json, &view.etag))
}

#[utoipa::path(
    put,
    path = "/analytics/goals/{id}",
    tag = "goals",
    summary = "Change a goal",
    security(("bearer" = [])),
    params(GoalIdParam),
    request_body = UpdateGoalBody,
    responses(
        (status = 200, description = "The goal, with its progress", body = Envelope<Goal>),
        (status = 404, response = NotFound),
    ),
)]
pub async fn update_goal(
    State(state): State<AppState>,
    user: AuthUser,
    GoalId(goal_id): GoalId,
    ApiJson(body): ApiJson<UpdateGoalBody>,
) -> Result<Response, ApiError> {
    user.check_claimed(body.user_id.as_deref())?;
    let request = state.upstreams.request(UpdateGoalRequest {
        user_id: user.id(),
        goal_id: goal_id.to_string(),
        target_value: body.target_value,
        app_name: body.app_name,
        deadline: optional_deadline(body.deadline.as_deref())?,
        current_value: body.current_value,
    });
    let response = state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().update_goal(request)),
        )
        .await?;
    Ok(json_bytes(
        StatusCode::OK,
        envelope(&response.into_inner().goal_json),
    ))
}

#[utoipa::path(
    delete,
    path = "/analytics/goals/{id}",
    tag = "goals",
    summary = "Delete a goal",
    security(("bearer" = [])),
    params(GoalIdParam, ClaimedUser),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_goal(
    State(state): State<AppState>,
    user: AuthUser,
    GoalId(goal_id): GoalId,
    query: ApiQuery,
) -> Result<Response, ApiError> {
    query.check_user(&user)?;
    let request = state.upstreams.request(DeleteGoalRequest {
        user_id: user.id(),
        goal_id: goal_id.to_string(),
    });
    state
        .view_cache
        .after_write(
            &user.id(),
            timed(state.upstreams.analytics().delete_goal(request)),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn optional_deadline(text: Option<&str>) -> Result<Option<String>, ApiError> {
    text.map(|text| parse_date("deadline", text)).transpose()
}
