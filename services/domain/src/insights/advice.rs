//! Insights and recommendations (`/analytics/insights`) from one weekly summary: its 7-day
//! averages, its productivity trend and the hourly breakdowns of its days. Each rule below
//! yields at most one insight and one recommendation; recommendations are listed high priority
//! first, in rule order within a priority.

use serde::{Deserialize, Serialize};

use super::{BENCHMARK_FOCUS_MINUTES, BENCHMARK_SCREEN_MINUTES, format_minutes};
use crate::scores::{Trend, is_late_night};
use crate::weekly::{WEEK_DAYS, WeeklySummary};

/// Above this many screen minutes a day (8 h) cutting back is high priority.
const VERY_HIGH_SCREEN_MINUTES: f64 = 480.0;
/// Below this many focus minutes a day (1 h) more focus is high priority.
const VERY_LOW_FOCUS_MINUTES: f64 = 60.0;
/// From this many notifications a day the load is called heavy.
const HEAVY_NOTIFICATIONS_PER_DAY: f64 = 50.0;
/// From this many distractions a day they are called frequent.
const FREQUENT_DISTRACTIONS_PER_DAY: f64 = 10.0;
/// From this many minutes a day between 23:00 and 06:00 late-night use is flagged...
const LATE_NIGHT_MINUTES_PER_DAY: f64 = 15.0;
/// ...and from this many it is high priority.
const HEAVY_LATE_NIGHT_MINUTES_PER_DAY: f64 = 60.0;
/// Someone focusing at least this long a day...
const FOCUSED_MINUTES_PER_DAY: f64 = 60.0;
/// ...should take at least this many breaks a day.
const MIN_BREAKS_PER_DAY: f64 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InsightKind {
    Positive,
    Warning,
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InsightCategory {
    ScreenTime,
    Focus,
    Productivity,
    Notifications,
    Distractions,
    Balance,
    Breaks,
    General,
}

/// Declaration order is sort order: high first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Insight {
    #[serde(rename = "type")]
    pub kind: InsightKind,
    pub category: InsightCategory,
    pub title: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recommendation {
    pub category: InsightCategory,
    pub priority: Priority,
    pub text: String,
    /// A stable machine name the app can map to a screen (`set_screen_time_limit`, ...).
    pub action: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Insights {
    pub insights: Vec<Insight>,
    pub recommendations: Vec<Recommendation>,
}

impl Insights {
    fn say(&mut self, kind: InsightKind, category: InsightCategory, title: &str, message: String) {
        self.insights.push(Insight {
            kind,
            category,
            title: title.to_owned(),
            message,
        });
    }

    fn advise(&mut self, category: InsightCategory, priority: Priority, text: &str, action: &str) {
        self.recommendations.push(Recommendation {
            category,
            priority,
            text: text.to_owned(),
            action: action.to_owned(),
        });
    }
}

/// Insights and recommendations for the week of `week` (usually the 7 days ending today).
pub fn insights(week: &WeeklySummary) -> Insights {
    let mut out = Insights::default();
    if nothing_tracked(week) {
        out.say(
            InsightKind::Info,
            InsightCategory::General,
            "Not enough data yet",
            "Track your screen time and focus sessions to get personal insights.".to_owned(),
        );
        out.advise(
            InsightCategory::General,
            Priority::Low,
            "Start a focus session to begin tracking your productivity",
            "start_focus_session",
        );
        return out;
    }

    screen_time_rule(&mut out, week);
    focus_rule(&mut out, week);
    productivity_rule(&mut out, week);
    load_rules(&mut out, week);
    late_night_rule(&mut out, week);
    breaks_rule(&mut out, week);

    if out.recommendations.is_empty() {
        out.advise(
            InsightCategory::General,
            Priority::Low,
            "Keep your current routine; it is working",
            "keep_routine",
        );
    }
    // Stable: rule order is kept within a priority.
    out.recommendations
        .sort_by_key(|recommendation| recommendation.priority);
    out
}

fn nothing_tracked(week: &WeeklySummary) -> bool {
    week.daily_summaries.iter().all(|day| {
        day.total_screen_time_minutes == 0.0
            && day.total_focus_time_minutes == 0.0
            && day.total_break_time_minutes == 0.0
            && day.sessions_count == 0
            && day.focus_sessions_count == 0
            && day.breaks_count == 0
            && day.notifications_received == 0
            && day.distractions_count == 0
    })
}

/// Average screen time against the 6 h benchmark.
fn screen_time_rule(out: &mut Insights, week: &WeeklySummary) {
    let screen = week.weekly_averages.screen_time_minutes;
    let spent = format_minutes(screen);
    if screen <= BENCHMARK_SCREEN_MINUTES {
        out.say(
            InsightKind::Positive,
            InsightCategory::ScreenTime,
            "Screen time under control",
            format!(
                "You averaged {spent} of screen time a day this week, within the 6 h benchmark."
            ),
        );
        return;
    }
    out.say(
        InsightKind::Warning,
        InsightCategory::ScreenTime,
        "High screen time",
        format!("You averaged {spent} of screen time a day this week, above the 6 h benchmark."),
    );
    let priority = if screen > VERY_HIGH_SCREEN_MINUTES {
        Priority::High
    } else {
        Priority::Medium
    };
    out.advise(
        InsightCategory::ScreenTime,
        priority,
        "Set a daily screen-time limit",
        "set_screen_time_limit",
    );
}

/// Average focus against the 180-minute benchmark.
fn focus_rule(out: &mut Insights, week: &WeeklySummary) {
    let focus = week.weekly_averages.focus_time_minutes;
    let spent = format_minutes(focus);
    if focus >= BENCHMARK_FOCUS_MINUTES {
        out.say(
            InsightKind::Positive,
            InsightCategory::Focus,
            "Strong focus",
            format!("You averaged {spent} of focus a day this week, above the 3 h benchmark."),
        );
        return;
    }
    out.say(
        InsightKind::Warning,
        InsightCategory::Focus,
        "Low focus time",
        format!("You averaged {spent} of focus a day this week, below the 3 h benchmark."),
    );
    let priority = if focus < VERY_LOW_FOCUS_MINUTES {
        Priority::High
    } else {
        Priority::Medium
    };
    out.advise(
        InsightCategory::Focus,
        priority,
        "Block out a daily focus session",
        "schedule_focus_session",
    );
}

/// The direction of the daily productivity scores.
fn productivity_rule(out: &mut Insights, week: &WeeklySummary) {
    let average = week.weekly_averages.productivity_score;
    let (kind, title, change) = match week.trends.productivity {
        Trend::Improving => (
            InsightKind::Positive,
            "Productivity is improving",
            "rose through the week",
        ),
        Trend::Declining => (
            InsightKind::Warning,
            "Productivity is declining",
            "fell through the week",
        ),
        Trend::Stable => (
            InsightKind::Info,
            "Productivity is steady",
            "held steady this week",
        ),
    };
    out.say(
        kind,
        InsightCategory::Productivity,
        title,
        format!("Your productivity score {change} (average {average})."),
    );
    if week.trends.productivity == Trend::Declining {
        out.advise(
            InsightCategory::Productivity,
            Priority::Medium,
            "Look at what changed this week and protect your most productive hours",
            "review_week",
        );
    }
}

/// Notifications and distractions per day.
fn load_rules(out: &mut Insights, week: &WeeklySummary) {
    let notifications = week.weekly_averages.notifications_per_day;
    if notifications >= HEAVY_NOTIFICATIONS_PER_DAY {
        out.say(
            InsightKind::Warning,
            InsightCategory::Notifications,
            "Heavy notification load",
            format!(
                "You received {} notifications a day on average.",
                notifications.round()
            ),
        );
        out.advise(
            InsightCategory::Notifications,
            Priority::Medium,
            "Mute notifications from non-essential apps",
            "review_notifications",
        );
    }
    let distractions = week.weekly_averages.distractions_per_day;
    if distractions >= FREQUENT_DISTRACTIONS_PER_DAY {
        out.say(
            InsightKind::Warning,
            InsightCategory::Distractions,
            "Frequent distractions",
            format!(
                "You logged {} distractions a day on average.",
                distractions.round()
            ),
        );
        out.advise(
            InsightCategory::Distractions,
            Priority::Medium,
            "Turn on focus mode to silence distractions while you work",
            "enable_focus_mode",
        );
    }
}

/// Screen minutes between 23:00 and 06:00, per day of the week.
fn late_night_rule(out: &mut Insights, week: &WeeklySummary) {
    let late_night = week
        .daily_summaries
        .iter()
        .flat_map(|day| &day.hourly_breakdown)
        .filter(|slot| is_late_night(slot.hour))
        .map(|slot| slot.minutes)
        .sum::<f64>()
        / WEEK_DAYS as f64;
    if late_night < LATE_NIGHT_MINUTES_PER_DAY {
        return;
    }
    out.say(
        InsightKind::Warning,
        InsightCategory::Balance,
        "Late-night screen use",
        format!(
            "You spent {} a day on screens between 23:00 and 06:00.",
            format_minutes(late_night)
        ),
    );
    let priority = if late_night >= HEAVY_LATE_NIGHT_MINUTES_PER_DAY {
        Priority::High
    } else {
        Priority::Medium
    };
    out.advise(
        InsightCategory::Balance,
        priority,
        "Put screens away by 23:00",
        "set_bedtime_reminder",
    );
}

/// Long focus with few breaks.
fn breaks_rule(out: &mut Insights, week: &WeeklySummary) {
    let breaks = week
        .daily_summaries
        .iter()
        .map(|day| f64::from(day.breaks_count))
        .sum::<f64>()
        / WEEK_DAYS as f64;
    if week.weekly_averages.focus_time_minutes >= FOCUSED_MINUTES_PER_DAY
        && breaks < MIN_BREAKS_PER_DAY
    {
        out.advise(
            InsightCategory::Breaks,
            Priority::Low,
            "Take a short break after every 60-90 minutes of focus",
            "schedule_breaks",
        );
    }
}

#[cfg(test)]
mod tests;
