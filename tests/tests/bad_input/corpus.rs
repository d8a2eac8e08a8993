//! Every write path against the corpus: 4xx with a readable error, the database unchanged.

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use wellbeing_tests::TestStack;
use wellbeing_tests::fixtures::{at, minutes_ago, utc_today};
use wellbeing_tests::probe::{Tally, fingerprint};

use super::paths::*;

#[tokio::test]
async fn every_write_path_refuses_the_corpus_and_stores_nothing() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let goal = api
        .post(
            "/api/v1/analytics/goals",
            &json!({"goal_type": "custom", "target_value": 10}),
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(goal.status, 201, "{goal:?}");
    let goal_id = goal.json["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let paths = write_paths(&goal_id, &user.email, &user.refresh_token);
    let mut db = stack.database.connect().await?;
    let before = fingerprint(&mut db).await?;
    let mut sweep = Sweep {
        api,
        token: &user.access_token,
        tally: Tally::default(),
        failures: Vec::new(),
    };

    // 1. Bodies that are not what any path takes.
    for target in &paths {
        for (what, body, status) in hostile_bodies() {
            sweep.refused(target, what, body, status, None).await?;
        }
    }
    // 2. Each field of each path: the wrong type, and a field nobody knows, and a duplicate.
    for target in &paths {
        let fields = target.valid.as_object().expect("an object").clone();
        for (name, value) in &fields {
            let mut body = target.valid.clone();
            body[name] = wrong_type(value);
            sweep
                .refused(
                    target,
                    &format!("{name} of the wrong type"),
                    serde_json::to_vec(&body)?,
                    Some(422),
                    Some(name),
                )
                .await?;
        }
        let mut unknown = target.valid.clone();
        unknown["is_admin"] = json!(true);
        sweep
            .refused(
                target,
                "an unknown field",
                serde_json::to_vec(&unknown)?,
                Some(422),
                Some("is_admin"),
            )
            .await?;
        let (first, value) = fields.iter().next().expect("a field");
        let text = serde_json::to_string(&target.valid)?;
        let duplicated = format!("{{\"{first}\":{value},{}", &text[1..]);
        sweep
            .refused(
                target,
                "a duplicated key",
                duplicated.into_bytes(),
                Some(422),
                None,
            )
            .await?;
    }
    // 3. Numbers out of every range: huge, negative, not finite (as strings), beyond i64.
    let numeric: [(&str, &str, &[&str]); 10] = [
        (
            "track/screen-time",
            "duration_minutes",
            &[
                "1e308",
                "-1e308",
                "0",
                "-5",
                "1441",
                "\"NaN\"",
                "\"Infinity\"",
            ],
        ),
        (
            "track/break",
            "duration_minutes",
            &["1e308", "-0.0001", "2147483648", "\"-Infinity\""],
        ),
        (
            "track/focus-session",
            "quality_score",
            &["1e308", "-1", "100.5", "\"NaN\""],
        ),
        (
            "track/notification",
            "priority",
            &[
                "1e308",
                "101",
                "-1",
                "10000000000000000000",
                "2.5",
                "9223372036854775808",
            ],
        ),
        (
            "track/distraction",
            "severity",
            &["0", "6", "1e19", "-9223372036854775809"],
        ),
        (
            "track/distraction",
            "duration_seconds",
            &["-1", "86401", "1e308"],
        ),
        (
            "goals",
            "target_value",
            &["1e308", "-1", "1000000.01", "\"NaN\""],
        ),
        (
            "privacy/state",
            "calls_total",
            &["-1", "1e19", "18446744073709551616", "0.5"],
        ),
        ("privacy/state", "calls_blocked", &["11", "-3"]),
        ("privacy/state", "critical_threats", &["-1", "1e300"]),
    ];
    for (suffix, field, values) in numeric {
        let target = paths
            .iter()
            .find(|p| p.path.ends_with(suffix))
            .expect("a path");
        let text = serde_json::to_string(&target.valid)?;
        for value in values {
            let mut body: serde_json::Map<String, Value> = serde_json::from_str(&text)?;
            body.remove(field);
            let mut raw = serde_json::to_string(&body)?;
            raw.insert_str(1, &format!("\"{field}\":{value},"));
            sweep
                .refused(
                    target,
                    &format!("{field}={value}"),
                    raw.into_bytes(),
                    Some(422),
                    Some(field),
                )
                .await?;
        }
    }
    // 4. Texts, times and zones that break a rule.
    let long = "x".repeat(10_000);
    let day = utc_today() - Duration::days(1);
    let find = |suffix: &str| {
        paths
            .iter()
            .find(|p| p.path.ends_with(suffix))
            .expect("a path")
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "auth/register",
            json!({"timezone": "Mars/Olympus"}),
            "timezone",
        ),
        ("auth/register", json!({"timezone": "UTC+99"}), "timezone"),
        (
            "auth/register",
            json!({"timezone": "../../etc/passwd"}),
            "timezone",
        ),
        ("auth/register", json!({"timezone": long}), "timezone"),
        (
            "auth/register",
            json!({"timezone": "Europe/Paris\u{0}"}),
            "timezone",
        ),
        ("auth/register", json!({"username": long}), "username"),
        (
            "auth/register",
            json!({"email": format!("{long}@example.com")}),
            "email",
        ),
        ("auth/register", json!({"email": "not an email"}), "email"),
        ("auth/register", json!({"password": long}), "password"),
        ("auth/register", json!({"password": "short"}), "password"),
        (
            "auth/register",
            json!({"password": "nine char"}),
            "password",
        ),
        (
            "auth/register",
            json!({"username": "nul\u{0}byte"}),
            "username",
        ),
        ("auth/login", json!({"device_name": long}), "device_name"),
        ("auth/login", json!({"device_name": "  "}), "device_name"),
        (
            "auth/login",
            json!({"device_name": "nul\u{0}byte"}),
            "device_name",
        ),
        (
            "auth/password",
            json!({"new_password": "short"}),
            "new_password",
        ),
        (
            "auth/password",
            json!({"new_password": long}),
            "new_password",
        ),
        (
            "auth/password",
            json!({"new_password": "nul\u{0}byte in a long one"}),
            "new_password",
        ),
        ("auth/me", json!({"timezone": "Not/AZone"}), "timezone"),
        (
            "auth/me",
            json!({"timezone": "America/New York"}),
            "timezone",
        ),
        ("auth/me", json!({"username": long}), "username"),
        ("auth/me", json!({"timezone": long}), "timezone"),
        ("track/screen-time", json!({"app_name": long}), "app_name"),
        ("track/screen-time", json!({"app_name": ""}), "app_name"),
        ("track/screen-time", json!({"app_name": "   "}), "app_name"),
        ("track/screen-time", json!({"category": long}), "category"),
        (
            "track/screen-time",
            json!({"timestamp": "2026-02-30T08:00:00Z"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "2026-02-30T08:00:00+05:30"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "2026-11-24T08:00:00"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "yesterday"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "+275760-09-13T00:00:00Z"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "0001-01-01T00:00:00Z"}),
            "timestamp",
        ),
        (
            "track/session",
            json!({"start_time": "0001-01-01T10:00:00Z", "end_time": "0001-01-01T11:00:00Z"}),
            "start_time",
        ),
        (
            "track/screen-time",
            json!({"event_id": "'; DROP TABLE event_ids;--"}),
            "event_id",
        ),
        (
            "track/session",
            json!({"start_time": at(day, "09:00", "Z"), "end_time": at(day, "08:00", "Z")}),
            "end_time",
        ),
        (
            "track/session",
            json!({"start_time": at(day, "09:00", "Z"), "end_time": at(day, "09:00", "Z")}),
            "end_time",
        ),
        (
            "track/session",
            json!({"start_time": "2026-02-30T08:00:00Z"}),
            "start_time",
        ),
        (
            "track/session",
            json!({"start_time": minutes_ago(3000), "end_time": minutes_ago(10)}),
            "end_time",
        ),
        ("track/session", json!({"device_type": long}), "device_type"),
        (
            "track/focus-session",
            json!({"start_time": at(day, "10:45", "Z"), "end_time": at(day, "10:00", "Z")}),
            "end_time",
        ),
        (
            "track/focus-session",
            json!({"task_name": long}),
            "task_name",
        ),
        ("track/break", json!({"break_type": long}), "break_type"),
        ("track/notification", json!({"app_name": long}), "app_name"),
        ("track/distraction", json!({"source": long}), "source"),
        (
            "track/batch",
            json!({"events": [{"type": "screen-time", "app_name": "R", "duration_minutes": 3, "timestamp": "2026-02-30T08:00:00Z"}]}),
            "timestamp",
        ),
        (
            "track/batch",
            json!({"events": [{"type": "teleport", "distance": 3}]}),
            "type",
        ),
        (
            "track/batch",
            json!({"events": [{"type": "session", "start_time": at(day, "09:00", "Z"), "end_time": at(day, "08:00", "Z")}]}),
            "end_time",
        ),
        (
            "track/batch",
            json!({"events": (0..1000).map(|_| json!({"type": "break", "duration_minutes": 0})).collect::<Vec<_>>()}),
            "duration_minutes",
        ),
        (
            "track/batch",
            json!({"events": (0..1000).map(|_| json!({"type": "screen-time", "app_name": "y".repeat(300), "duration_minutes": 1})).collect::<Vec<_>>()}),
            "app_name",
        ),
        (
            "track/batch",
            json!({"events": (0..1001).map(|_| json!({"type": "break", "duration_minutes": 1})).collect::<Vec<_>>()}),
            "events",
        ),
        (
            "goals",
            json!({"goal_type": "world_domination"}),
            "goal_type",
        ),
        ("goals", json!({"goal_type": long}), "goal_type"),
        ("goals", json!({"deadline": "2026-02-30"}), "deadline"),
        ("goals", json!({"app_name": long}), "app_name"),
        (
            "goals",
            json!({"goal_type": "daily_focus_minutes", "app_name": long}),
            "app_name",
        ),
        ("goals/", json!({"deadline": "2026-13-01"}), "deadline"),
        (
            "privacy/state",
            json!({"location_mode": "teleported"}),
            "location_mode",
        ),
        (
            "privacy/state",
            json!({"location_mode": long}),
            "location_mode",
        ),
    ];
    for (suffix, change, field) in cases {
        let target = if suffix == "goals/" {
            paths
                .iter()
                .find(|p| p.path.contains("/goals/"))
                .expect("the goal path")
        } else {
            find(suffix)
        };
        let mut body = target.valid.clone();
        for (name, value) in change.as_object().expect("an object") {
            body[name] = value.clone();
        }
        let what = format!("{change}").chars().take(80).collect::<String>();
        sweep
            .refused(target, &what, serde_json::to_vec(&body)?, None, Some(field))
            .await?;
    }
    // 5. Query parameters of reads that break a rule (reads change nothing, but must not 500).
    let reads = [
        ("/api/v1/analytics/summary/daily?date=2026-02-30", "date"),
        ("/api/v1/analytics/summary/daily?date=30-02-2026", "date"),
        (
            "/api/v1/analytics/summary/weekly?end_date=2026-13-01",
            "end_date",
        ),
        ("/api/v1/analytics/apps/usage?days=1e400", "days"),
        ("/api/v1/analytics/apps/usage?days=91", "days"),
        ("/api/v1/analytics/apps/usage?days=-1", "days"),
        ("/api/v1/analytics/insights/patterns?days=NaN", "days"),
        ("/api/v1/analytics/insights/peak-hours?date=%00", "date"),
        (
            "/api/v1/privacy/score/history?limit=99999999999999999999",
            "limit",
        ),
        ("/api/v1/analytics/goals?status=%27%20OR%201%3D1", "status"),
    ];
    for (path, field) in reads {
        let target = WritePath {
            method: Method::GET,
            path: path.to_owned(),
            valid: Value::Null,
            anonymous: false,
        };
        sweep
            .refused(&target, "a bad query", Vec::new(), Some(422), Some(field))
            .await?;
    }

    let after = fingerprint(&mut db).await?;
    let changed: Vec<&String> = before
        .keys()
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();
    let tally = sweep.tally.clone();
    tally.report(
        "bad_input::every_write_path_refuses_the_corpus_and_stores_nothing",
        &format!(
            "paths={} tables_changed={} rows_changed={}",
            paths.len(),
            changed.len(),
            if changed.is_empty() { 0 } else { 1 }
        ),
    );
    assert!(
        sweep.failures.is_empty(),
        "{} of {} answers were wrong:\n{}",
        sweep.failures.len(),
        tally.requests,
        sweep.failures.join("\n")
    );
    assert!(
        tally
            .by_status
            .keys()
            .all(|status| (400..500).contains(status)),
        "{:?}",
        tally.by_status
    );
    assert!(changed.is_empty(), "refused requests changed {changed:?}");
    drop(db);
    stack.stop().await
}
