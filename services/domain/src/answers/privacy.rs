//! Privacy answers: a stored report with its score, the score of the latest report, the
//! history of scores and their trend. Before the first report the views say so in `message`
//! instead of inventing a number.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::timestamp;
use crate::records::PrivacyState;
use crate::scores::{PrivacyComponents, PrivacyLevel, PrivacyScore, Trend};

/// The `message` of the privacy views before the first report.
pub const NOTHING_REPORTED: &str = "no privacy state has been reported yet";

/// The answer of `PUT /privacy/state`: the stored report and its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyReport {
    pub id: Uuid,
    #[serde(serialize_with = "timestamp::serialize")]
    pub reported_at: DateTime<Utc>,
    pub state: PrivacyState,
    pub score: f64,
    pub level: PrivacyLevel,
    pub components: PrivacyComponents,
    pub recommendations: Vec<String>,
}

impl PrivacyReport {
    pub fn new(
        id: Uuid,
        reported_at: DateTime<Utc>,
        state: PrivacyState,
        score: PrivacyScore,
    ) -> Self {
        Self {
            id,
            reported_at,
            state,
            score: score.score,
            level: score.level,
            components: score.components,
            recommendations: score.recommendations,
        }
    }
}

/// The privacy score of the latest report; before the first, every figure is null and
/// `message` says that nothing was reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyScoreView {
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub score: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub level: Option<PrivacyLevel>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub components: Option<PrivacyComponents>,
    pub recommendations: Vec<String>,
    #[serde(serialize_with = "timestamp::optional")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reported_at: Option<DateTime<Utc>>,
    /// Only before the first report.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub message: Option<&'static str>,
}

impl PrivacyScoreView {
    pub fn nothing_reported() -> Self {
        Self {
            score: None,
            level: None,
            components: None,
            recommendations: Vec::new(),
            reported_at: None,
            message: Some(NOTHING_REPORTED),
        }
    }

    /// The score of a report; `None` (a stored report that can no longer be scored) leaves
    /// only its time.
    pub fn reported(score: Option<PrivacyScore>, reported_at: DateTime<Utc>) -> Self {
        let (score, level, components, recommendations) = match score {
            Some(score) => (
                Some(score.score),
                Some(score.level),
                Some(score.components),
                score.recommendations,
            ),
            None => (None, None, None, Vec::new()),
        };
        Self {
            score,
            level,
            components,
            recommendations,
            reported_at: Some(reported_at),
            message: None,
        }
    }
}

/// One past report's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyHistoryEntry {
    pub score: f64,
    pub level: PrivacyLevel,
    #[serde(serialize_with = "timestamp::serialize")]
    pub reported_at: DateTime<Utc>,
}

/// `GET /privacy/score/history`: the latest reports, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyHistory {
    pub count: u32,
    pub history: Vec<PrivacyHistoryEntry>,
}

impl PrivacyHistory {
    pub fn new(history: Vec<PrivacyHistoryEntry>) -> Self {
        Self {
            count: u32::try_from(history.len()).unwrap_or(u32::MAX),
            history,
        }
    }
}

/// The last score of one local day.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyDayScore {
    pub date: NaiveDate,
    pub score: f64,
}

/// `GET /privacy/score/trend`: the last score of each of the 7 local days ending today that
/// had a report. `trend` and `slope` need two such days; `message` is set only when there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyTrend {
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub trend: Option<Trend>,
    /// Least-squares change per day, one decimal.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub slope: Option<f64>,
    /// Last minus first score, one decimal.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub change: Option<f64>,
    pub days: Vec<PrivacyDayScore>,
    /// Always 7.
    pub period_days: u32,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub message: Option<&'static str>,
}
