//! Answers composed of several read views: quick stats and the dashboard.

use serde::Serialize;

use super::goals::Goal;
use super::privacy::PrivacyScoreView;
use crate::insights::Insights;
use crate::scores::WellbeingScore;
use crate::summary::{AppMinutes, DailySummary};
use crate::weekly::{DayHighlight, WeeklyAverages, WeeklyTrends};

/// `GET /analytics/quick-stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuickStats {
    /// Minutes, today (local).
    pub today_screen_time: f64,
    /// Minutes, today (local).
    pub today_focus_time: f64,
    /// Null until the phone has reported a privacy state.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub privacy_score: Option<f64>,
    pub wellbeing_score: f64,
    pub notifications_today: u32,
    /// Goals not `exceeded` (limits kept, targets reached or still open).
    pub goals_on_track: u32,
}

/// The week part of the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DashboardWeek {
    pub averages: WeeklyAverages,
    pub best_day: DayHighlight,
    pub trends: WeeklyTrends,
}

/// `GET /analytics/dashboard`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dashboard {
    pub today: DailySummary,
    pub week: DashboardWeek,
    /// The week's most used apps (top 5).
    #[cfg_attr(feature = "openapi", schema(max_items = 5))]
    pub top_apps: Vec<AppMinutes>,
    pub insights: Insights,
    pub wellbeing: WellbeingScore,
    pub privacy: PrivacyScoreView,
    pub goals: Vec<Goal>,
}
