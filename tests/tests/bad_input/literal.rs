//! Hostile-looking but valid strings are stored and answered literally.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::json;
use wellbeing_tests::TestStack;
use wellbeing_tests::fixtures::{at, utc_today};
use wellbeing_tests::probe::Tally;

use super::PASSWORD;

/// Texts that look dangerous but are valid: each is stored and answered exactly as sent.
fn literal_texts() -> Vec<String> {
    vec![
        "Robert'); DROP TABLE users;--".to_owned(),
        "' OR '1'='1".to_owned(),
        "<script>alert('x')</script>".to_owned(),
        "<img src=x onerror=alert(1)>".to_owned(),
        "{{7*7}} ${jndi:ldap://example.com/a} %s%n%x".to_owned(),
        "📱 Social 🎉 👨‍👩‍👧‍👦 🏳️‍🌈".to_owned(),
        "日本語のアプリ".to_owned(),
        "مرحبا بالعالم".to_owned(),
        "back\\slash \"quoted\" 'single' `tick`".to_owned(),
        "tab\tnew\nline".to_owned(),
        "\u{202e}reversed\u{202c}".to_owned(),
        "é".repeat(200),
        "x".repeat(200),
    ]
}

#[tokio::test]
async fn hostile_looking_valid_strings_are_stored_literally() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let mut tally = Tally::default();
    let day = utc_today() - Duration::days(1);
    let texts = literal_texts();

    // As a username too: registration and the profile answer it as typed.
    let email = format!("literal-{}@example.com", uuid::Uuid::new_v4().simple());
    let username = "<b>Zoë</b> 😀 '; DROP TABLE users;--";
    let registered = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": username, "email": email, "password": PASSWORD, "timezone": "UTC"}),
            None,
        )
        .await?;
    tally.count(registered.status);
    assert_eq!(registered.status, 201, "{registered:?}");
    assert_eq!(registered.json["username"], username);
    let login = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await?;
    tally.count(login.status);
    let token = login.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let me = api.get("/api/v1/auth/me", Some(&token)).await?;
    tally.count(me.status);
    assert_eq!(me.json["username"], username);

    let mut ids: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (index, text) in texts.iter().enumerate() {
        let minute = format!("{:02}:{:02}", 8 + index / 60, index % 60);
        let label: String = text.chars().take(50).collect();
        let sends = [
            (
                "screen-time",
                json!({"app_name": text, "category": label, "duration_minutes": 1, "timestamp": at(day, &minute, "Z")}),
                "app_name",
                "screen_time",
            ),
            (
                "notification",
                json!({"app_name": text, "priority": 5, "timestamp": at(day, &minute, "Z")}),
                "app_name",
                "notifications",
            ),
            (
                "distraction",
                json!({"source": text, "severity": 2, "timestamp": at(day, &minute, "Z")}),
                "source",
                "distractions",
            ),
            (
                "focus-session",
                json!({"task_name": text, "start_time": at(day, &minute, "Z"), "end_time": at(day + Duration::days(1), "00:00", "Z"), "quality_score": 50}),
                "task_name",
                "focus_sessions",
            ),
            (
                "break",
                json!({"break_type": label, "duration_minutes": 1, "timestamp": at(day, &minute, "Z")}),
                "break_type",
                "breaks",
            ),
            (
                "session",
                json!({"device_type": label, "start_time": at(day, &minute, "Z"), "end_time": at(day, "20:00", "Z")}),
                "device_type",
                "sessions",
            ),
        ];
        for (kind, body, field, table) in sends {
            let answer = api
                .post(
                    &format!("/api/v1/analytics/track/{kind}"),
                    &body,
                    Some(&token),
                )
                .await?;
            tally.count(answer.status);
            assert_eq!(answer.status, 201, "{kind} {body}: {answer:?}");
            assert_eq!(answer.json["data"][field], body[field], "{kind} answered");
            let id = answer.json["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            ids.insert(
                id,
                (
                    table.to_owned(),
                    body[field].as_str().unwrap_or_default().to_owned(),
                ),
            );
        }
        let goal = api
            .post(
                "/api/v1/analytics/goals",
                &json!({"goal_type": "app_daily_limit", "target_value": 30, "app_name": text}),
                Some(&token),
            )
            .await?;
        tally.count(goal.status);
        assert_eq!(goal.status, 201, "{goal:?}");
        assert_eq!(goal.json["data"]["app_name"], text.as_str());
    }

    // In the database: exactly the bytes sent.
    let mut db = stack.database.connect().await?;
    for (id, (table, sent)) in &ids {
        let column = match table.as_str() {
            "screen_time" | "notifications" => "app_name",
            "distractions" => "source",
            "focus_sessions" => "task_name",
            "breaks" => "break_type",
            _ => "device_type",
        };
        let stored: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {column} FROM {table} WHERE id = $1"
        )))
        .bind(id.parse::<uuid::Uuid>()?)
        .fetch_one(&mut db)
        .await?;
        assert_eq!(&stored, sent, "{table}.{column}");
    }
    let stored_name: String = sqlx::query_scalar("SELECT username FROM users WHERE email = $1")
        .bind(&email)
        .fetch_one(&mut db)
        .await?;
    assert_eq!(stored_name, username);
    // Every table still there (no payload ran as SQL).
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('users', 'event_ids')",
    )
    .fetch_one(&mut db)
    .await?;
    assert_eq!(tables, 2);

    // In the answers of reads: the export, app usage and top apps carry them as sent.
    let export = api.get("/api/v1/me/export", Some(&token)).await?;
    tally.count(export.status);
    assert_eq!(export.status, 200);
    let exported: Vec<&str> = export.json["data"]["screen_time"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|row| row["app_name"].as_str())
        .collect();
    for text in &texts {
        assert!(exported.contains(&text.as_str()), "export lacks {text:?}");
    }
    let usage = api
        .get("/api/v1/analytics/apps/usage?days=7", Some(&token))
        .await?;
    tally.count(usage.status);
    let names: Vec<&str> = usage.json["data"]["apps"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|app| app["app_name"].as_str())
        .collect();
    for text in &texts {
        assert!(names.contains(&text.as_str()), "apps/usage lacks {text:?}");
    }
    // The answers are JSON (the script is data, never markup).
    assert!(
        usage
            .header("content-type")
            .is_some_and(|kind| kind.starts_with("application/json"))
    );
    tally.report(
        "bad_input::hostile_looking_valid_strings_are_stored_literally",
        &format!("texts={} stored_and_checked={}", texts.len(), ids.len()),
    );
    drop(db);
    stack.stop().await
}
