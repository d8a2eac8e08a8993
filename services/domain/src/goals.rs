//! Goals: their types (with the older names still accepted), which way each one points, and
//! how far along a goal is.
//!
//! A *target* goal (`daily_focus_minutes`, `weekly_focus_minutes`, `custom`) is reached by
//! getting to its value: `progress_percent` is the share reached, capped at 100, and the goal is
//! `completed` once `current ≥ target`. A *limit* goal (`daily_screen_time_limit`,
//! `app_daily_limit`, `daily_notifications_limit`) is a budget: `progress_percent` is the share
//! of the budget used and may pass 100, and the goal is `exceeded` once `current > limit`
//! (exactly at the limit is still `active`). Measured goals look at the user's local today
//! (weekly ones at the 7 local days ending today) and start again as `active` the next period.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::numbers::{finite_or_zero, round1, round2};
use crate::summary::DailySummary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GoalType {
    #[serde(alias = "screen_time_limit")]
    DailyScreenTimeLimit,
    #[serde(alias = "daily_focus_time")]
    DailyFocusMinutes,
    AppDailyLimit,
    DailyNotificationsLimit,
    WeeklyFocusMinutes,
    Custom,
}

/// The span a measured goal looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GoalPeriod {
    /// The user's local today.
    Day,
    /// The 7 local days ending today.
    Week,
}

impl GoalType {
    pub const ALL: [GoalType; 6] = [
        GoalType::DailyScreenTimeLimit,
        GoalType::DailyFocusMinutes,
        GoalType::AppDailyLimit,
        GoalType::DailyNotificationsLimit,
        GoalType::WeeklyFocusMinutes,
        GoalType::Custom,
    ];

    /// The current wire name (answers always use it).
    pub fn as_str(self) -> &'static str {
        match self {
            GoalType::DailyScreenTimeLimit => "daily_screen_time_limit",
            GoalType::DailyFocusMinutes => "daily_focus_minutes",
            GoalType::AppDailyLimit => "app_daily_limit",
            GoalType::DailyNotificationsLimit => "daily_notifications_limit",
            GoalType::WeeklyFocusMinutes => "weekly_focus_minutes",
            GoalType::Custom => "custom",
        }
    }

    /// A budget not to go over (rather than a target to reach).
    pub fn is_limit(self) -> bool {
        matches!(
            self,
            GoalType::DailyScreenTimeLimit
                | GoalType::AppDailyLimit
                | GoalType::DailyNotificationsLimit
        )
    }

    /// Computed from tracked data; only `custom` takes its `current_value` from the client.
    pub fn is_measured(self) -> bool {
        self != GoalType::Custom
    }

    /// Whether the goal needs an `app_name`.
    pub fn needs_app_name(self) -> bool {
        self == GoalType::AppDailyLimit
    }

    /// The span a measured goal looks at; `None` for `custom`.
    pub fn period(self) -> Option<GoalPeriod> {
        match self {
            GoalType::Custom => None,
            GoalType::WeeklyFocusMinutes => Some(GoalPeriod::Week),
            _ => Some(GoalPeriod::Day),
        }
    }
}

impl fmt::Display for GoalType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown goal type {}: expected daily_screen_time_limit, daily_focus_minutes, \
     app_daily_limit, daily_notifications_limit, weekly_focus_minutes or custom",
    crate::validation::shown(.0)
)]
pub struct UnknownGoalType(pub String);

impl FromStr for GoalType {
    type Err = UnknownGoalType;

    /// The current names, and the older `daily_focus_time` and `screen_time_limit`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "daily_focus_time" => Ok(GoalType::DailyFocusMinutes),
            "screen_time_limit" => Ok(GoalType::DailyScreenTimeLimit),
            _ => GoalType::ALL
                .into_iter()
                .find(|goal_type| goal_type.as_str() == text)
                .ok_or_else(|| UnknownGoalType(text.to_owned())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GoalStatus {
    Active,
    Completed,
    Exceeded,
}

impl GoalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GoalStatus::Active => "active",
            GoalStatus::Completed => "completed",
            GoalStatus::Exceeded => "exceeded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown goal status {}: expected active, completed or exceeded",
    crate::validation::shown(.0)
)]
pub struct UnknownGoalStatus(pub String);

impl FromStr for GoalStatus {
    type Err = UnknownGoalStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            GoalStatus::Active,
            GoalStatus::Completed,
            GoalStatus::Exceeded,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or_else(|| UnknownGoalStatus(text.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalProgress {
    /// Two decimals.
    pub current_value: f64,
    /// One decimal; capped at 100 for target goals, uncapped for limit goals.
    pub progress_percent: f64,
    pub status: GoalStatus,
}

/// How far along a goal is. Negative or non-finite current values read as 0. A target of 0
/// (refused by validation) is already completed; a limit of 0 is exceeded by anything above 0.
pub fn goal_progress(goal_type: GoalType, target_value: f64, current_value: f64) -> GoalProgress {
    let current = finite_or_zero(current_value).max(0.0);
    let target = finite_or_zero(target_value).max(0.0);
    let share = if target > 0.0 {
        current / target * 100.0
    } else if current > 0.0 || !goal_type.is_limit() {
        100.0
    } else {
        0.0
    };
    let (progress_percent, status) = if goal_type.is_limit() {
        let status = if current > target {
            GoalStatus::Exceeded
        } else {
            GoalStatus::Active
        };
        (share, status)
    } else {
        let status = if current >= target {
            GoalStatus::Completed
        } else {
            GoalStatus::Active
        };
        (share.min(100.0), status)
    };
    GoalProgress {
        current_value: round2(current),
        progress_percent: round1(progress_percent),
        status,
    }
}

/// What measured goals read.
#[derive(Debug, Clone, Copy)]
pub struct GoalMeasurements<'a> {
    /// The summary of the user's local today.
    pub today: &'a DailySummary,
    /// Focus minutes of the 7 local days ending today.
    pub week_focus_minutes: f64,
    /// Minutes per app on local today, every app (see [`crate::summary::app_minutes`]).
    pub today_app_minutes: &'a BTreeMap<String, f64>,
}

/// The computed `current_value` of a measured goal; `None` for `custom`. An app goal without an
/// app, or for an app not used today, measures 0.
pub fn measured_value(
    goal_type: GoalType,
    app_name: Option<&str>,
    measurements: &GoalMeasurements<'_>,
) -> Option<f64> {
    let today = measurements.today;
    match goal_type {
        GoalType::DailyScreenTimeLimit => Some(today.total_screen_time_minutes),
        GoalType::DailyFocusMinutes => Some(today.total_focus_time_minutes),
        GoalType::AppDailyLimit => Some(
            app_name
                .and_then(|app| measurements.today_app_minutes.get(app))
                .copied()
                .map_or(0.0, round2),
        ),
        GoalType::DailyNotificationsLimit => Some(f64::from(today.notifications_received)),
        GoalType::WeeklyFocusMinutes => Some(round2(measurements.week_focus_minutes)),
        GoalType::Custom => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse() {
        assert_eq!("daily_focus_time".parse(), Ok(GoalType::DailyFocusMinutes));
        assert_eq!(
            "screen_time_limit".parse(),
            Ok(GoalType::DailyScreenTimeLimit)
        );
        for goal_type in GoalType::ALL {
            assert_eq!(goal_type.as_str().parse(), Ok(goal_type));
        }
        assert_eq!(
            "sleep_more".parse::<GoalType>(),
            Err(UnknownGoalType("sleep_more".into()))
        );
        // Serde accepts the aliases too, and answers with the new names.
        let old: GoalType = serde_json::from_str("\"daily_focus_time\"").unwrap();
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            "\"daily_focus_minutes\""
        );
        assert!(serde_json::from_str::<GoalType>("\"nope\"").is_err());
    }

    #[test]
    fn kinds_of_goals() {
        assert!(GoalType::AppDailyLimit.is_limit() && GoalType::AppDailyLimit.needs_app_name());
        assert!(!GoalType::WeeklyFocusMinutes.is_limit());
        assert!(!GoalType::Custom.is_measured() && !GoalType::Custom.is_limit());
        assert_eq!(
            GoalType::WeeklyFocusMinutes.period(),
            Some(GoalPeriod::Week)
        );
        assert_eq!(
            GoalType::DailyNotificationsLimit.period(),
            Some(GoalPeriod::Day)
        );
        assert_eq!("exceeded".parse(), Ok(GoalStatus::Exceeded));
        assert!("done".parse::<GoalStatus>().is_err());
    }

    #[test]
    fn target_goals_complete_at_their_target_and_cap_at_100() {
        // 90 of 120 focus minutes: 75 %, active.
        let halfway = goal_progress(GoalType::DailyFocusMinutes, 120.0, 90.0);
        assert_eq!(
            halfway,
            GoalProgress {
                current_value: 90.0,
                progress_percent: 75.0,
                status: GoalStatus::Active
            }
        );
        // 150 of 120: capped at 100 %, completed. Exactly the target is completed too.
        let over = goal_progress(GoalType::DailyFocusMinutes, 120.0, 150.0);
        assert_eq!(
            (over.progress_percent, over.status),
            (100.0, GoalStatus::Completed)
        );
        assert_eq!(
            goal_progress(GoalType::Custom, 10.0, 10.0).status,
            GoalStatus::Completed
        );
        // 1 of 3: 33.33 -> 33.3
        assert_eq!(
            goal_progress(GoalType::Custom, 3.0, 1.0).progress_percent,
            33.3
        );
    }

    #[test]
    fn limit_goals_show_the_budget_used_and_exceed_above_it() {
        // 300 of a 240-minute limit: 125 % used, exceeded.
        let over = goal_progress(GoalType::DailyScreenTimeLimit, 240.0, 300.0);
        assert_eq!(
            over,
            GoalProgress {
                current_value: 300.0,
                progress_percent: 125.0,
                status: GoalStatus::Exceeded
            }
        );
        // Exactly at the limit is still active.
        let at = goal_progress(GoalType::DailyNotificationsLimit, 50.0, 50.0);
        assert_eq!(
            (at.progress_percent, at.status),
            (100.0, GoalStatus::Active)
        );
        // A zero limit: untouched is active at 0 %, any use exceeds it.
        assert_eq!(
            goal_progress(GoalType::AppDailyLimit, 0.0, 0.0).status,
            GoalStatus::Active
        );
        assert_eq!(
            goal_progress(GoalType::AppDailyLimit, 0.0, 5.0).progress_percent,
            100.0
        );
        assert_eq!(
            goal_progress(GoalType::AppDailyLimit, 0.0, 5.0).status,
            GoalStatus::Exceeded
        );
    }

    #[test]
    fn measured_values_come_from_the_right_figure() {
        let today = DailySummary {
            total_screen_time_minutes: 200.0,
            total_focus_time_minutes: 45.0,
            notifications_received: 12,
            ..DailySummary::empty("2026-03-01".parse().unwrap())
        };
        let apps = BTreeMap::from([("Chat".to_owned(), 33.333)]);
        let measurements = GoalMeasurements {
            today: &today,
            week_focus_minutes: 400.0,
            today_app_minutes: &apps,
        };
        let value = |goal_type, app| measured_value(goal_type, app, &measurements);
        assert_eq!(value(GoalType::DailyScreenTimeLimit, None), Some(200.0));
        assert_eq!(value(GoalType::DailyFocusMinutes, None), Some(45.0));
        assert_eq!(value(GoalType::AppDailyLimit, Some("Chat")), Some(33.33));
        assert_eq!(value(GoalType::AppDailyLimit, Some("Mail")), Some(0.0));
        assert_eq!(value(GoalType::DailyNotificationsLimit, None), Some(12.0));
        assert_eq!(value(GoalType::WeeklyFocusMinutes, None), Some(400.0));
        assert_eq!(value(GoalType::Custom, None), None);
    }
}

/// When a target was reached: the instant at which the minutes of `intervals` inside
/// `[from, to)`, taken in order of start, first add up to `target_minutes`. `None` when they
/// never do (or the target is not positive).
///
/// ```text
/// target 60:  [09:00──09:40) 40 min   [10:00──────10:45) → reached at 10:20 (40 + 20)
/// ```
pub fn target_reached_at(
    intervals: &[(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)],
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    target_minutes: f64,
) -> Option<chrono::DateTime<chrono::Utc>> {
    if target_minutes.is_nan() || target_minutes <= 0.0 {
        return None;
    }
    let mut sorted: Vec<_> = intervals.to_vec();
    sorted.sort();
    let mut total = 0.0;
    for (start, end) in sorted {
        let start = start.max(from);
        let end = end.min(to);
        if end <= start {
            continue;
        }
        let minutes = crate::time::duration_minutes(end - start);
        if total + minutes >= target_minutes {
            return Some(start + crate::time::minutes_duration(target_minutes - total));
        }
        total += minutes;
    }
    None
}

#[cfg(test)]
mod reached_tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_target_is_reached_inside_the_interval_that_crosses_it() {
        // 40 minutes from the first session, then 20 more of the second: 10:00 + 20 min.
        let intervals = [
            (at("2026-11-24T10:00:00Z"), at("2026-11-24T10:45:00Z")),
            (at("2026-11-24T09:00:00Z"), at("2026-11-24T09:40:00Z")),
        ];
        let (from, to) = (at("2026-11-24T00:00:00Z"), at("2026-11-25T00:00:00Z"));
        assert_eq!(
            target_reached_at(&intervals, from, to, 60.0),
            Some(at("2026-11-24T10:20:00Z"))
        );
        // 40 + 45 = 85 minutes never reach 90.
        assert_eq!(target_reached_at(&intervals, from, to, 90.0), None);
    }

    #[test]
    fn only_the_part_inside_the_period_counts() {
        // 23:30-00:30 gives 30 minutes to the day that starts at midnight: 00:00 + 20 min.
        let intervals = [(at("2026-11-23T23:30:00Z"), at("2026-11-24T00:30:00Z"))];
        let (from, to) = (at("2026-11-24T00:00:00Z"), at("2026-11-25T00:00:00Z"));
        assert_eq!(
            target_reached_at(&intervals, from, to, 20.0),
            Some(at("2026-11-24T00:20:00Z"))
        );
    }
}
