//! Shapes the gateway's document names that no shared type gives: the success envelopes (built
//! as bytes around upstream JSON by `respond`, never as values), the error body (built from
//! this very type by `error::ApiError`), the goal types a client may send, and the export
//! document, which analytics streams in chunks (its head is the shared `ExportHead`).
//! The answers analytics serialises are not here: they are wellbeing-domain's types
//! (`answers` and the read views, `ToSchema` behind its `openapi` feature), so the document
//! describes the very types sent.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};
use wellbeing_common::ErrorCode;
use wellbeing_common::error::ItemError;
use wellbeing_domain::answers::account::ExportedUser;
use wellbeing_domain::goals::GoalType;

// --- envelopes ---

// The envelopes are written as bytes (`respond::envelope`) so that upstream JSON passes
// through unparsed; these types only describe them.

/// Always `"success"`.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Success {
    Success,
}

/// The answer of `/api/v1` routes other than `/auth/*` and 204s (`respond::envelope`).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct Envelope<T> {
    status: Success,
    data: T,
}

/// The answer of the `*-optimized` reads (`respond::cached_envelope`).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct CachedEnvelope<T> {
    status: Success,
    /// True only when this answer came from the cache.
    cached: bool,
    data: T,
}

// --- errors (`error::ApiError`) ---

// Built by `error::ApiError`, so the document describes the very type sent.
/// Every error answer, bare (never enveloped).
#[derive(Serialize, ToSchema)]
#[schema(examples(json!({"detail": "duration_minutes must be greater than 0", "code": "validation_failed", "field": "duration_minutes"})))]
pub struct ErrorBody {
    /// What was wrong, for a person.
    pub detail: String,
    #[schema(value_type = ErrorCodeName)]
    pub code: ErrorCode,
    /// The field (or query parameter) at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// Every invalid event of a batch (`POST /analytics/track/batch`, 422), nothing stored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<ItemError>,
}

/// The machine code of an error: its names are read from [`ErrorCode`] itself.
pub struct ErrorCodeName;

/// Every [`ErrorCode`], in the order of their HTTP statuses.
pub const ERROR_CODES: [ErrorCode; 11] = [
    ErrorCode::InvalidJson,
    ErrorCode::Unauthenticated,
    ErrorCode::Forbidden,
    ErrorCode::NotFound,
    ErrorCode::MethodNotAllowed,
    ErrorCode::Conflict,
    ErrorCode::PayloadTooLarge,
    ErrorCode::ValidationFailed,
    ErrorCode::RateLimited,
    ErrorCode::Internal,
    ErrorCode::Unavailable,
];

impl PartialSchema for ErrorCodeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(ERROR_CODES.map(ErrorCode::as_str)))
            .description(Some(
                "invalid_json 400, unauthenticated 401, forbidden 403, not_found 404, \
                 method_not_allowed 405, conflict 409, payload_too_large 413, validation_failed 422, rate_limited 429, \
                 internal 500, unavailable 503",
            ))
            .into()
    }
}

impl ToSchema for ErrorCodeName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

// --- goals (analytics `goals.rs`, `render`) ---

/// A `goal_type` as the client may send it: a current name or an older alias
/// (`daily_focus_time`, `screen_time_limit`); anything else is a 422.
pub struct GoalTypeInput;

/// The older names analytics still accepts (`GoalType::from_str`).
pub const GOAL_TYPE_ALIASES: [&str; 2] = ["daily_focus_time", "screen_time_limit"];

impl PartialSchema for GoalTypeInput {
    fn schema() -> RefOr<Schema> {
        let names = GoalType::ALL
            .map(GoalType::as_str)
            .into_iter()
            .chain(GOAL_TYPE_ALIASES);
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(names))
            .description(Some(
                "A goal type; `daily_focus_time` and `screen_time_limit` are accepted as \
                 older names of `daily_focus_minutes` and `daily_screen_time_limit`.",
            ))
            .into()
    }
}

impl ToSchema for GoalTypeInput {}

// --- account (analytics `privacy_rights.rs`) ---

/// `GET /me/export`: every record held about the caller. Analytics serialises the head
/// (`ExportHead`: `exported_at`, `user`, `goals`, `privacy_states`, `sign_in_sessions`) and
/// streams the event tables after it, so the whole is never one value. The record arrays hold
/// the stored rows as they are (column names as fields).
#[allow(dead_code)]
#[derive(ToSchema)]
pub struct ExportDocument {
    exported_at: DateTime<Utc>,
    user: ExportedUser,
    #[schema(value_type = Vec<Object>)]
    goals: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    privacy_states: Vec<Value>,
    /// Refresh-token sessions (never the tokens themselves).
    #[schema(value_type = Vec<Object>)]
    sign_in_sessions: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    screen_time: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    sessions: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    focus_sessions: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    breaks: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    notifications: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    distractions: Vec<Value>,
}
