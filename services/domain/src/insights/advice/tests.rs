use chrono::{Days, NaiveDate};

use super::*;
use crate::summary::DailySummary;
use crate::weekly::weekly_summary;

fn first_day() -> NaiveDate {
    "2026-03-01".parse().unwrap()
}

/// A week of 7 days built by `make(index, empty day)`.
fn week(make: impl Fn(u32, DailySummary) -> DailySummary) -> WeeklySummary {
    let days = (0..7)
        .map(|index| {
            let date = first_day() + Days::new(u64::from(index));
            make(index, DailySummary::empty(date))
        })
        .collect();
    weekly_summary(first_day() + Days::new(6), days)
}

fn actions(found: &Insights) -> Vec<(&str, Priority)> {
    found
        .recommendations
        .iter()
        .map(|recommendation| (recommendation.action.as_str(), recommendation.priority))
        .collect()
}

fn titles(found: &Insights) -> Vec<(InsightKind, &str)> {
    found
        .insights
        .iter()
        .map(|insight| (insight.kind, insight.title.as_str()))
        .collect()
}

#[test]
fn an_empty_week_asks_for_data() {
    let found = insights(&week(|_, day| day));
    assert_eq!(
        titles(&found),
        vec![(InsightKind::Info, "Not enough data yet")]
    );
    assert_eq!(
        actions(&found),
        vec![("start_focus_session", Priority::Low)]
    );
}

#[test]
fn a_heavy_week_raises_every_warning_high_priority_first() {
    // Every day: 540 screen minutes (60 of them at 23:00), 30 focus minutes, 60 notifications,
    // 12 distractions; productivity 80, 70, ..., 20 (slope −10: declining).
    let heavy = week(|index, mut day| {
        day.total_screen_time_minutes = 540.0;
        day.hourly_breakdown[14].minutes = 480.0;
        day.hourly_breakdown[23].minutes = 60.0;
        day.total_focus_time_minutes = 30.0;
        day.notifications_received = 60;
        day.distractions_count = 12;
        day.productivity_score = 80.0 - 10.0 * f64::from(index);
        day
    });
    let found = insights(&heavy);
    assert_eq!(
        titles(&found),
        vec![
            (InsightKind::Warning, "High screen time"),
            (InsightKind::Warning, "Low focus time"),
            (InsightKind::Warning, "Productivity is declining"),
            (InsightKind::Warning, "Heavy notification load"),
            (InsightKind::Warning, "Frequent distractions"),
            (InsightKind::Warning, "Late-night screen use"),
        ]
    );
    assert_eq!(
        found.insights[0].message,
        "You averaged 9 h of screen time a day this week, above the 6 h benchmark."
    );
    // 540 > 480, 30 < 60 and 60 late minutes ≥ 60 are high; the rest medium.
    assert_eq!(
        actions(&found),
        vec![
            ("set_screen_time_limit", Priority::High),
            ("schedule_focus_session", Priority::High),
            ("set_bedtime_reminder", Priority::High),
            ("review_week", Priority::Medium),
            ("review_notifications", Priority::Medium),
            ("enable_focus_mode", Priority::Medium),
        ]
    );
}

#[test]
fn a_balanced_week_is_praised_and_kept() {
    // 200 screen minutes, 200 focus minutes, 3 breaks and productivity 75 every day.
    let balanced = week(|_, mut day| {
        day.total_screen_time_minutes = 200.0;
        day.hourly_breakdown[10].minutes = 200.0;
        day.total_focus_time_minutes = 200.0;
        day.breaks_count = 3;
        day.productivity_score = 75.0;
        day
    });
    let found = insights(&balanced);
    assert_eq!(
        titles(&found),
        vec![
            (InsightKind::Positive, "Screen time under control"),
            (InsightKind::Positive, "Strong focus"),
            (InsightKind::Info, "Productivity is steady"),
        ]
    );
    assert_eq!(actions(&found), vec![("keep_routine", Priority::Low)]);
    let json = serde_json::to_value(&found).unwrap();
    assert_eq!(json["insights"][0]["type"], "positive");
    assert_eq!(json["insights"][0]["category"], "screen_time");
    assert_eq!(json["recommendations"][0]["priority"], "low");
}

#[test]
fn focused_days_without_breaks_get_a_low_priority_nudge() {
    // 200 focus minutes a day and one break a day (< 2): schedule breaks.
    let focused = week(|_, mut day| {
        day.total_focus_time_minutes = 200.0;
        day.breaks_count = 1;
        day
    });
    assert_eq!(
        actions(&insights(&focused)),
        vec![("schedule_breaks", Priority::Low)]
    );
}
