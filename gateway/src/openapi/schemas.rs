//! Shapes that exist only for the document: answers that analytics assembles itself (with
//! `json!` or private structs: records, goals, privacy views, quick stats, the dashboard, the
//! export) and the gateway's error body (its operations answers are in [`super::operations`]).
//! The read views that are domain types are not mirrored here: they derive `ToSchema` in
//! wellbeing-domain (feature `openapi`), so their schemas are the very types analytics
//! serialises.
//!
//! None of these is ever built, hence `dead_code`; each says where the JSON it describes is made.
#![allow(dead_code)]

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;
use wellbeing_common::ErrorCode;
use wellbeing_domain::goals::{GoalStatus, GoalType};
use wellbeing_domain::insights::Insights;
use wellbeing_domain::records::PrivacyState;
use wellbeing_domain::scores::{PrivacyComponents, PrivacyLevel, Trend, WellbeingScore};
use wellbeing_domain::summary::{AppMinutes, DailySummary};
use wellbeing_domain::weekly::{DayHighlight, WeeklyAverages, WeeklyTrends};

use crate::routes::auth::UserBody;

// --- envelopes ---

/// Always `"success"`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Success {
    Success,
}

/// The answer of `/api/v1` routes other than `/auth/*` and 204s (`respond::envelope`).
#[derive(ToSchema)]
pub struct Envelope<T> {
    status: Success,
    data: T,
}

/// The answer of the `*-optimized` reads (`respond::cached_envelope`).
#[derive(ToSchema)]
pub struct CachedEnvelope<T> {
    status: Success,
    /// True only when this answer came from the cache.
    cached: bool,
    data: T,
}

// --- errors (`error::ApiError`) ---

/// Every error answer, bare (never enveloped).
#[derive(ToSchema)]
#[schema(examples(json!({"detail": "duration_minutes must be greater than 0", "code": "validation_failed", "field": "duration_minutes"})))]
pub struct ErrorBody {
    /// What was wrong, for a person.
    detail: String,
    code: ErrorCodeName,
    /// The field (or query parameter) at fault, when one is.
    #[schema(nullable = false)]
    field: Option<String>,
    /// Every invalid event of a batch (`POST /analytics/track/batch`, 422), nothing stored.
    #[schema(nullable = false)]
    errors: Option<Vec<EventError>>,
}

/// One invalid event of a batch (`wellbeing_common::error::ItemError`).
#[derive(ToSchema)]
pub struct EventError {
    /// Position of the event in `events`, from 0.
    index: u32,
    field: String,
    detail: String,
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

// --- tracking (analytics `events.rs`, `EventRow::to_json`) ---

/// The kind of a tracking record, as `POST /analytics/track/<type>` names it.
#[derive(ToSchema)]
#[schema(rename_all = "kebab-case")]
pub enum EventType {
    Session,
    ScreenTime,
    FocusSession,
    Break,
    Notification,
    Distraction,
}

/// A stored tracking record: the common fields, then those of its `type` (the fields sent,
/// defaults filled in).
#[derive(ToSchema)]
pub struct EventRecord {
    id: Uuid,
    /// The client's `event_id`, or one assigned when none was sent.
    event_id: Uuid,
    r#type: EventType,
    user_id: Uuid,
    /// The local day (user's timezone) where the record starts.
    date: NaiveDate,
    /// The local hour where the record starts.
    #[schema(maximum = 23)]
    hour: u32,
    /// Minutes the record lasts: 0 for a notification, `duration_seconds / 60` for a distraction.
    duration_minutes: f64,
    created_at: DateTime<Utc>,
    /// `session`, `focus-session`.
    #[schema(nullable = false)]
    start_time: Option<DateTime<Utc>>,
    /// `session`, `focus-session`.
    #[schema(nullable = false)]
    end_time: Option<DateTime<Utc>>,
    /// `session`.
    #[schema(nullable = false)]
    device_type: Option<String>,
    /// `screen-time`, `break` (when the use began), `notification`, `distraction` (when it happened).
    #[schema(nullable = false)]
    timestamp: Option<DateTime<Utc>>,
    /// `screen-time`, `notification`.
    #[schema(nullable = false)]
    app_name: Option<String>,
    /// `screen-time`.
    #[schema(nullable = false)]
    category: Option<String>,
    /// `focus-session`.
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    quality_score: Option<f64>,
    /// `focus-session` (null when none was given).
    task_name: Option<String>,
    /// `break`.
    #[schema(nullable = false)]
    break_type: Option<String>,
    /// `notification`.
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    priority: Option<i64>,
    /// `notification`.
    #[schema(nullable = false)]
    was_interacted: Option<bool>,
    /// `distraction`.
    #[schema(nullable = false)]
    source: Option<String>,
    /// `distraction`.
    #[schema(nullable = false, minimum = 1, maximum = 5)]
    severity: Option<i64>,
    /// `distraction`.
    #[schema(nullable = false, minimum = 0, maximum = 86400)]
    duration_seconds: Option<f64>,
}

/// What a valid batch did (`routes::batch`).
#[derive(ToSchema)]
pub struct BatchOutcome {
    /// Events stored now.
    accepted: u32,
    /// Events already stored under their `event_id`, or repeated within the batch.
    duplicates: u32,
}

// --- goals (analytics `goals.rs`, `render`) ---

/// The span a measured goal looks at.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum GoalPeriodName {
    Day,
    Week,
}

/// A goal with its progress in the current period.
#[derive(ToSchema)]
pub struct Goal {
    id: Uuid,
    /// Always the current name, also for goals created with an older alias.
    goal_type: GoalType,
    target_value: f64,
    #[schema(required = true)]
    app_name: Option<String>,
    #[schema(required = true)]
    deadline: Option<NaiveDate>,
    /// Measured from tracked data, except for `custom` goals (set by the client).
    current_value: f64,
    /// Share of the target reached (capped at 100), or of a limit used (may pass 100).
    progress_percent: f64,
    status: GoalStatus,
    /// When a target was reached in the current period.
    #[schema(required = true)]
    completed_at: Option<DateTime<Utc>>,
    /// `day` or `week` for measured goals, null for `custom`.
    #[schema(required = true)]
    period: Option<GoalPeriodName>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// `GET /analytics/goals`.
#[derive(ToSchema)]
pub struct GoalList {
    goals: Vec<Goal>,
    count: u32,
}

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

// --- privacy (analytics `privacy.rs` and `views/privacy.rs`) ---

/// The answer of `PUT /privacy/state`: the stored report and its score.
#[derive(ToSchema)]
pub struct PrivacyReport {
    id: Uuid,
    reported_at: DateTime<Utc>,
    state: PrivacyState,
    score: f64,
    level: PrivacyLevel,
    components: PrivacyComponents,
    recommendations: Vec<String>,
}

/// The privacy score of the latest report; before the first, every figure is null and
/// `message` says that nothing was reported.
#[derive(ToSchema)]
pub struct PrivacyScoreView {
    #[schema(required = true)]
    score: Option<f64>,
    #[schema(required = true)]
    level: Option<PrivacyLevel>,
    #[schema(required = true)]
    components: Option<PrivacyComponents>,
    recommendations: Vec<String>,
    #[schema(required = true)]
    reported_at: Option<DateTime<Utc>>,
    /// Only before the first report.
    #[schema(nullable = false)]
    message: Option<String>,
}

/// One past report's score.
#[derive(ToSchema)]
pub struct PrivacyHistoryEntry {
    score: f64,
    level: PrivacyLevel,
    reported_at: DateTime<Utc>,
}

/// `GET /privacy/score/history`: the latest reports, newest first.
#[derive(ToSchema)]
pub struct PrivacyHistory {
    count: u32,
    history: Vec<PrivacyHistoryEntry>,
}

/// The last score of one local day.
#[derive(ToSchema)]
pub struct PrivacyDayScore {
    date: NaiveDate,
    score: f64,
}

/// `GET /privacy/score/trend`: the last score of each of the 7 local days ending today that
/// had a report. `trend` and `slope` need two such days; `message` is set only when there is none.
#[derive(ToSchema)]
pub struct PrivacyTrend {
    #[schema(required = true)]
    trend: Option<Trend>,
    /// Least-squares change per day, one decimal.
    #[schema(required = true)]
    slope: Option<f64>,
    /// Last minus first score, one decimal.
    #[schema(required = true)]
    change: Option<f64>,
    days: Vec<PrivacyDayScore>,
    /// Always 7.
    period_days: u32,
    #[schema(required = true)]
    message: Option<String>,
}

/// `GET /analytics/cache`: the caller's reads of derived views.
#[derive(ToSchema)]
pub struct CacheStatsView {
    /// False while the cache service cannot be reached (reads are then computed directly).
    enabled: bool,
    /// `redis`, `memory`, or `unavailable` when the cache service does not answer.
    backend: String,
    /// Reads answered from a cache.
    hits: u64,
    /// Reads computed.
    misses: u64,
    /// Hits over reads, percent, one decimal; 0 before any read.
    hit_rate_percent: f64,
}

// --- summaries assembled by analytics (`views/summaries.rs`) ---

/// `GET /analytics/quick-stats`.
#[derive(ToSchema)]
pub struct QuickStats {
    /// Minutes, today (local).
    today_screen_time: f64,
    /// Minutes, today (local).
    today_focus_time: f64,
    /// Null until the phone has reported a privacy state.
    #[schema(required = true)]
    privacy_score: Option<f64>,
    wellbeing_score: f64,
    notifications_today: u32,
    /// Goals not `exceeded`.
    goals_on_track: u32,
}

/// The week part of the dashboard.
#[derive(ToSchema)]
pub struct DashboardWeek {
    averages: WeeklyAverages,
    best_day: DayHighlight,
    trends: WeeklyTrends,
}

/// `GET /analytics/dashboard`.
#[derive(ToSchema)]
pub struct Dashboard {
    today: DailySummary,
    week: DashboardWeek,
    /// The week's most used apps (top 5).
    #[schema(max_items = 5)]
    top_apps: Vec<AppMinutes>,
    insights: Insights,
    wellbeing: WellbeingScore,
    privacy: PrivacyScoreView,
    goals: Vec<Goal>,
}

// --- account (analytics `privacy_rights.rs`) ---

/// `GET /me/export`: every record held about the caller. The record arrays hold the stored
/// rows as they are (column names as fields).
#[derive(ToSchema)]
pub struct ExportDocument {
    exported_at: DateTime<Utc>,
    user: UserBody,
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
    #[schema(value_type = Vec<Object>)]
    goals: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    privacy_states: Vec<Value>,
    /// Refresh-token sessions (never the tokens themselves).
    #[schema(value_type = Vec<Object>)]
    sign_in_sessions: Vec<Value>,
}
