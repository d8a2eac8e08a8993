use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::*;
use crate::records::{Break, Distraction, FocusSession, Notification, ScreenTime, Session};
use crate::time::parse_timezone;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn screen(app: &str, start: &str, minutes: f64) -> ScreenTime {
    ScreenTime {
        app_name: app.into(),
        category: "other".into(),
        start: utc(start),
        duration_minutes: minutes,
    }
}

fn hour_minutes(summary: &DailySummary) -> Vec<(u32, f64)> {
    summary
        .hourly_breakdown
        .iter()
        .filter(|slot| slot.minutes > 0.0)
        .map(|slot| (slot.hour, slot.minutes))
        .collect()
}

#[test]
fn a_kolkata_record_across_midnight_gives_10_and_20_minutes() {
    // 18:20Z-18:50Z is 23:50-00:20 in Kolkata (+05:30).
    let kolkata = parse_timezone("Asia/Kolkata").unwrap();
    let events = DayEvents {
        screen_time: vec![screen("Reader", "2026-03-01T18:20:00Z", 30.0)],
        focus_sessions: vec![FocusSession {
            start: utc("2026-03-01T18:20:00Z"),
            end: utc("2026-03-01T18:50:00Z"),
            quality_score: 90.0,
            task_name: None,
        }],
        ..DayEvents::default()
    };

    let first = daily_summary(date("2026-03-01"), kolkata, &events);
    assert_eq!(first.total_screen_time_minutes, 10.0);
    assert_eq!(hour_minutes(&first), vec![(23, 10.0)]);
    assert_eq!(
        first.top_apps,
        vec![AppMinutes {
            app_name: "Reader".into(),
            minutes: 10.0
        }]
    );
    // The focus session starts on day 1: its count and quality go there, minutes split.
    assert_eq!(first.total_focus_time_minutes, 10.0);
    assert_eq!(first.focus_sessions_count, 1);
    assert_eq!(first.average_focus_quality, 90.0);

    let second = daily_summary(date("2026-03-02"), kolkata, &events);
    assert_eq!(second.total_screen_time_minutes, 20.0);
    assert_eq!(hour_minutes(&second), vec![(0, 20.0)]);
    assert_eq!(second.hourly_breakdown[0].time_label, "00:00");
    assert_eq!(second.total_focus_time_minutes, 20.0);
    assert_eq!(second.focus_sessions_count, 0);
    assert_eq!(second.average_focus_quality, 0.0);
    // Day 2 productivity: 0.4·(20/240·100) + 0 + 0.2·100 + 0 = 3.33 + 20 = 23.3
    assert_eq!(second.productivity_score, 23.3);
}

#[test]
fn a_spring_forward_day_keeps_24_hours_with_the_skipped_one_empty() {
    // Los Angeles, 2026-03-08: 09:30Z is 01:30 PST, 10:30Z is 03:30 PDT. 60 real minutes.
    let los_angeles = parse_timezone("America/Los_Angeles").unwrap();
    let events = DayEvents {
        screen_time: vec![screen("Maps", "2026-03-08T09:30:00Z", 60.0)],
        ..DayEvents::default()
    };
    let summary = daily_summary(date("2026-03-08"), los_angeles, &events);
    assert_eq!(summary.hourly_breakdown.len(), 24);
    assert_eq!(hour_minutes(&summary), vec![(1, 30.0), (3, 30.0)]);
    assert_eq!(summary.hourly_breakdown[2].minutes, 0.0);
    assert_eq!(summary.total_screen_time_minutes, 60.0);
}

#[test]
fn a_fall_back_day_sums_both_repeated_hours() {
    // Los Angeles, 2026-11-01: 07:30Z is 00:30 PDT; two hours later, 09:30Z, is 01:30 PST.
    // Hour 0 gets 30 min, wall hour 1 gets 60 (PDT) + 30 (PST) = 90.
    let los_angeles = parse_timezone("America/Los_Angeles").unwrap();
    let events = DayEvents {
        screen_time: vec![screen("Video", "2026-11-01T07:30:00Z", 120.0)],
        ..DayEvents::default()
    };
    let summary = daily_summary(date("2026-11-01"), los_angeles, &events);
    assert_eq!(hour_minutes(&summary), vec![(0, 30.0), (1, 90.0)]);
    assert_eq!(summary.total_screen_time_minutes, 120.0);
}

#[test]
fn top_apps_are_the_five_longest_with_ties_by_name() {
    let events = DayEvents {
        screen_time: vec![
            screen("Zeta", "2026-03-01T08:00:00Z", 30.0),
            screen("Alpha", "2026-03-01T09:00:00Z", 30.0),
            screen("Mail", "2026-03-01T10:00:00Z", 5.0),
            screen("Mail", "2026-03-01T11:00:00Z", 40.0),
            screen("Chat", "2026-03-01T12:00:00Z", 10.0),
            screen("Books", "2026-03-01T13:00:00Z", 10.0),
            screen("Notes", "2026-03-01T14:00:00Z", 1.0),
        ],
        ..DayEvents::default()
    };
    let summary = daily_summary(date("2026-03-01"), Tz::UTC, &events);
    let names: Vec<(&str, f64)> = summary
        .top_apps
        .iter()
        .map(|app| (app.app_name.as_str(), app.minutes))
        .collect();
    // Mail 45; Alpha and Zeta tie at 30 (name order); Books and Chat tie at 10; Notes is 6th.
    assert_eq!(
        names,
        vec![
            ("Mail", 45.0),
            ("Alpha", 30.0),
            ("Zeta", 30.0),
            ("Books", 10.0),
            ("Chat", 10.0)
        ]
    );
    assert_eq!(summary.total_screen_time_minutes, 126.0);
}

#[test]
fn counts_go_to_the_start_day_and_rates_have_one_decimal() {
    let day = date("2026-03-01");
    let note = |at: &str, was_interacted| Notification {
        at: utc(at),
        app_name: "Chat".into(),
        priority: 50,
        was_interacted,
    };
    let distraction = |at: &str| Distraction {
        at: utc(at),
        source: "phone".into(),
        severity: 2,
        duration_seconds: 30.0,
    };
    let events = DayEvents {
        sessions: vec![
            Session {
                start: utc("2026-03-01T08:00:00Z"),
                end: utc("2026-03-01T08:10:00Z"),
                device_type: "mobile".into(),
            },
            // Starts the day before: not counted, though it ends on the 1st.
            Session {
                start: utc("2026-02-28T23:55:00Z"),
                end: utc("2026-03-01T00:05:00Z"),
                device_type: "mobile".into(),
            },
        ],
        focus_sessions: vec![
            FocusSession {
                start: utc("2026-03-01T09:00:00Z"),
                end: utc("2026-03-01T10:00:00Z"),
                quality_score: 70.0,
                task_name: None,
            },
            FocusSession {
                start: utc("2026-03-01T14:00:00Z"),
                end: utc("2026-03-01T15:00:00Z"),
                quality_score: 90.0,
                task_name: Some("report".into()),
            },
        ],
        breaks: vec![
            Break {
                start: utc("2026-03-01T10:00:00Z"),
                duration_minutes: 15.0,
                break_type: "short".into(),
            },
            Break {
                start: utc("2026-03-01T23:50:00Z"),
                duration_minutes: 20.0,
                break_type: "long".into(),
            },
        ],
        notifications: vec![
            note("2026-03-01T08:00:00Z", true),
            note("2026-03-01T09:00:00Z", false),
            note("2026-03-01T10:00:00Z", false),
            note("2026-03-02T10:00:00Z", true),
        ],
        distractions: vec![
            distraction("2026-03-01T09:30:00Z"),
            distraction("2026-03-01T14:30:00Z"),
            distraction("2026-03-01T16:00:00Z"),
        ],
        ..DayEvents::default()
    };
    let summary = daily_summary(day, Tz::UTC, &events);
    assert_eq!(summary.sessions_count, 1);
    assert_eq!(summary.focus_sessions_count, 2);
    assert_eq!(summary.total_focus_time_minutes, 120.0);
    // Mean of 70 and 90.
    assert_eq!(summary.average_focus_quality, 80.0);
    // 15 + the 10 minutes of the second break before midnight; both breaks start on the 1st.
    assert_eq!(summary.total_break_time_minutes, 25.0);
    assert_eq!(summary.breaks_count, 2);
    assert_eq!(summary.notifications_received, 3);
    assert_eq!(summary.notifications_interacted, 1);
    // 1/3 = 33.33 % -> 33.3
    assert_eq!(summary.notification_interaction_rate, 33.3);
    assert_eq!(summary.distractions_count, 3);
    // The worked example of scores: 120 min, quality 80, 3 distractions, 2 breaks -> 63.8.
    assert_eq!(summary.productivity_score, 63.8);
    // No screen-time records: no screen minutes and no apps, whatever else happened.
    assert_eq!(summary.total_screen_time_minutes, 0.0);
    assert!(summary.top_apps.is_empty());
}

#[test]
fn an_empty_day_serialises_with_the_contract_field_names() {
    let summary = DailySummary::empty(date("2026-03-01"));
    assert_eq!(summary.productivity_score, 20.0);
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["date"], "2026-03-01");
    assert_eq!(json["hourly_breakdown"].as_array().unwrap().len(), 24);
    assert_eq!(json["hourly_breakdown"][7]["time_label"], "07:00");
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "average_focus_quality",
            "breaks_count",
            "date",
            "distractions_count",
            "focus_sessions_count",
            "hourly_breakdown",
            "notification_interaction_rate",
            "notifications_interacted",
            "notifications_received",
            "productivity_score",
            "sessions_count",
            "top_apps",
            "total_break_time_minutes",
            "total_focus_time_minutes",
            "total_screen_time_minutes",
        ]
    );
    let back: DailySummary = serde_json::from_value(json).unwrap();
    assert_eq!(back, summary);
}
