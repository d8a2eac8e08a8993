//! A goal as answered (created, changed, listed, on the dashboard): the stored goal with its
//! progress in the current period.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::timestamp;
use crate::goals::{GoalPeriod, GoalStatus, GoalType};

/// A goal with its progress in the current period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Goal {
    pub id: Uuid,
    /// Always the current name, also for goals created with an older alias.
    pub goal_type: GoalType,
    pub target_value: f64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub app_name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub deadline: Option<NaiveDate>,
    /// Measured from tracked data, except for `custom` goals (set by the client).
    pub current_value: f64,
    /// Share of the target reached (capped at 100), or of a limit used (may pass 100).
    pub progress_percent: f64,
    pub status: GoalStatus,
    /// When a target was reached in the current period.
    #[serde(serialize_with = "timestamp::optional")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub completed_at: Option<DateTime<Utc>>,
    /// `day` or `week` for measured goals, null for `custom`.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub period: Option<GoalPeriod>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// `GET /analytics/goals`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GoalList {
    pub count: u32,
    pub goals: Vec<Goal>,
}

impl GoalList {
    pub fn new(goals: Vec<Goal>) -> Self {
        Self {
            count: u32::try_from(goals.len()).unwrap_or(u32::MAX),
            goals,
        }
    }
}
