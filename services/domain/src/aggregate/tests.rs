use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::*;
use crate::time::{parse_timezone, split_by_local_hour};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn screen(app: &str, category: &str, start: &str, minutes: f64) -> ScreenTime {
    ScreenTime {
        app_name: app.into(),
        category: category.into(),
        start: utc(start),
        duration_minutes: minutes,
    }
}

#[test]
fn a_record_across_kolkata_midnight_adds_minutes_to_both_days_and_the_use_to_the_first() {
    let kolkata = parse_timezone("Asia/Kolkata").unwrap();
    let mut days = Days::new();
    screen("Chat", "social", "2026-03-01T18:20:00Z", 30.0).contribute(kolkata, &mut days);
    let first = &days[&date("2026-03-01")];
    let second = &days[&date("2026-03-02")];
    assert_eq!(first.screen_us[23], 10 * MICROS_PER_MINUTE);
    assert_eq!(second.screen_us[0], 20 * MICROS_PER_MINUTE);
    assert_eq!(
        (
            first.apps.get("Chat").unwrap().uses,
            second.apps.get("Chat").unwrap().uses
        ),
        (1, 0)
    );
    assert_eq!(
        second.apps.get("Chat").unwrap().screen_us,
        20 * MICROS_PER_MINUTE
    );
}

#[test]
fn microsecond_slices_match_the_minute_split_of_the_time_module() {
    let zones = [
        "America/Los_Angeles",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "UTC",
    ];
    let starts = [
        "2026-11-01T08:10:00.123456Z",
        "2026-03-08T09:59:59.999999Z",
        "2026-04-04T14:45:00Z",
    ];
    for zone in zones {
        let zone: Tz = zone.parse().unwrap();
        for start in starts {
            let start = utc(start);
            let end = start + chrono::Duration::microseconds(3 * 3_600_000_000 + 17);
            let ours = split_micros(micros_of(start), micros_of(end), zone);
            let theirs = split_by_local_hour(start, end, zone);
            assert_eq!(ours.len(), theirs.len(), "{zone} {start}");
            for (ours, theirs) in ours.iter().zip(&theirs) {
                assert_eq!((ours.date, ours.hour), (theirs.date, theirs.hour));
                assert!((minutes(ours.micros) - theirs.minutes).abs() < 1e-9);
            }
            let total: i64 = ours.iter().map(|slice| slice.micros).sum();
            assert_eq!(total, micros_of(end) - micros_of(start));
        }
    }
}

#[test]
fn sums_do_not_depend_on_the_order_records_are_added_in() {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let records = [
        screen("Mail", "work", "2026-03-29T00:40:00.000001Z", 95.3),
        screen("Mail", "email", "2026-03-29T20:59:00Z", 0.7),
        screen("Video", "entertainment", "2026-03-28T23:30:00Z", 45.123456),
    ];
    let focus = FocusSession {
        start: utc("2026-03-29T05:00:00Z"),
        end: utc("2026-03-29T06:10:00Z"),
        quality_score: 66.6666666,
        task_name: None,
    };
    let mut forward = Days::new();
    for record in &records {
        record.contribute(zone, &mut forward);
    }
    focus.contribute(zone, &mut forward);
    let mut backward = Days::new();
    focus.contribute(zone, &mut backward);
    for record in records.iter().rev() {
        let mut one = Days::new();
        record.contribute(zone, &mut one);
        for (date, delta) in one {
            backward.entry(date).or_default().add(&delta);
        }
    }
    assert_eq!(forward, backward);
    let day = &forward[&date("2026-03-29")];
    assert_eq!(day.focus_count, 1);
    assert_eq!(day.focus_quality_micros, 66_666_667);
    assert_eq!(
        day.apps
            .get("Mail")
            .unwrap()
            .categories
            .iter()
            .collect::<Vec<_>>(),
        ["email", "work"]
    );
}

#[test]
fn point_events_count_on_their_local_day() {
    let zone: Tz = "Asia/Tokyo".parse().unwrap();
    let mut days = Days::new();
    Notification {
        at: utc("2026-03-01T15:00:00Z"),
        app_name: "Chat".into(),
        priority: 1,
        was_interacted: true,
    }
    .contribute(zone, &mut days);
    Distraction {
        at: utc("2026-03-01T14:59:59Z"),
        source: "phone".into(),
        severity: 2,
        duration_seconds: 3.0,
    }
    .contribute(zone, &mut days);
    assert_eq!(days[&date("2026-03-02")].notifications_interacted, 1);
    assert_eq!(days[&date("2026-03-01")].distractions, 1);
    assert!(!days[&date("2026-03-01")].is_empty());
    assert!(DayAggregate::default().is_empty());
}
