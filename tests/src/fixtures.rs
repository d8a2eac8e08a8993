//! Helpers for writing tests: instants at chosen local times (always with an explicit offset),
//! "today" in a zone, posting events, and counting stored rows.

use anyhow::Context;
use chrono::{Duration, NaiveDate, NaiveDateTime, Offset, SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::api::Api;

/// `minutes` ago, as RFC 3339 in UTC.
pub fn minutes_ago(minutes: i64) -> String {
    (Utc::now() - Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Today's date in UTC.
pub fn utc_today() -> NaiveDate {
    Utc::now().date_naive()
}

fn zone(name: &str) -> chrono_tz::Tz {
    name.parse()
        .unwrap_or_else(|_| panic!("{name} is not an IANA zone"))
}

/// The local date now in the IANA zone `name`.
pub fn local_today(name: &str) -> NaiveDate {
    Utc::now().with_timezone(&zone(name)).date_naive()
}

/// `date` at `time` ("HH:MM") with the offset written out: `at(d, "23:50", "+05:30")`.
pub fn at(date: NaiveDate, time: &str, offset: &str) -> String {
    format!("{date}T{time}:00{offset}")
}

/// The UTC offset of zone `name` at local `date` `time`, written like `+05:30` or `-08:00`.
pub fn offset_of(name: &str, date: NaiveDate, time: &str) -> String {
    let naive = NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M")
        .expect("time is HH:MM");
    let seconds = zone(name)
        .from_local_datetime(&naive)
        .earliest()
        .expect("the local time exists")
        .offset()
        .fix()
        .local_minus_utc();
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.abs();
    format!("{sign}{:02}:{:02}", seconds / 3600, seconds % 3600 / 60)
}

/// `date` at `time` in zone `name`, written with that zone's offset at that moment.
pub fn local_at(name: &str, date: NaiveDate, time: &str) -> String {
    at(date, time, &offset_of(name, date, time))
}

/// Posts one event to `/api/v1/analytics/track/{kind}` and returns its `data` (must be a 201).
pub async fn track(api: &Api, token: &str, kind: &str, body: Value) -> anyhow::Result<Value> {
    let answer = api
        .post(
            &format!("/api/v1/analytics/track/{kind}"),
            &body,
            Some(token),
        )
        .await?;
    anyhow::ensure!(
        answer.status == 201,
        "track/{kind} {body} answered {answer:?}"
    );
    Ok(answer.json["data"].clone())
}

/// Posts a batch of events (each with its `type`) and checks that all were accepted.
pub async fn track_all(api: &Api, token: &str, events: Vec<Value>) -> anyhow::Result<()> {
    let count = events.len();
    let answer = api
        .post(
            "/api/v1/analytics/track/batch",
            &json!({"events": events}),
            Some(token),
        )
        .await?;
    anyhow::ensure!(
        answer.status == 201 && answer.json["data"]["accepted"] == count,
        "batch answered {answer:?}"
    );
    Ok(())
}

/// `GET path` as `token`, which must answer 200; returns `data`.
pub async fn data(api: &Api, path: &str, token: &str) -> anyhow::Result<Value> {
    let answer = api.get(path, Some(token)).await?;
    anyhow::ensure!(answer.status == 200, "GET {path} answered {answer:?}");
    anyhow::ensure!(answer.json["status"] == "success", "GET {path}: {answer:?}");
    Ok(answer.json["data"].clone())
}

/// The tables of the public schema that hold a `user_id` column.
pub async fn tables_with_user_id(db: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'user_id' ORDER BY table_name",
    )
    .fetch_all(db)
    .await?)
}

/// Rows of `table` that belong to `user_id` (`users` is keyed by `id`).
pub async fn rows_of(db: &mut PgConnection, table: &str, user_id: &str) -> anyhow::Result<i64> {
    let column = if table == "users" { "id" } else { "user_id" };
    let user_id: uuid::Uuid = user_id.parse().context("user ids are UUIDs")?;
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {table} WHERE {column} = $1"
    )))
    .bind(user_id)
    .fetch_one(db)
    .await?)
}

/// Every row of `table`.
pub async fn rows_in(db: &mut PgConnection, table: &str) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(db)
            .await?,
    )
}

/// The six event tables.
pub const EVENT_TABLES: [&str; 6] = [
    "sessions",
    "screen_time",
    "focus_sessions",
    "breaks",
    "notifications",
    "distractions",
];

/// `(hour, minutes)` of every hour of a daily summary's `hourly_breakdown` that has minutes,
/// after checking that it lists the 24 hours in order with their `HH:00` labels.
pub fn busy_hours(summary: &Value) -> Vec<(u64, f64)> {
    let hours = summary["hourly_breakdown"]
        .as_array()
        .expect("hourly_breakdown is a list");
    assert_eq!(hours.len(), 24, "{summary}");
    for (index, hour) in hours.iter().enumerate() {
        assert_eq!(hour["hour"], index, "{hour}");
        assert_eq!(hour["time_label"], format!("{index:02}:00"), "{hour}");
    }
    hours
        .iter()
        .filter(|hour| hour["minutes"].as_f64() != Some(0.0))
        .map(|hour| {
            (
                hour["hour"].as_u64().unwrap_or(99),
                hour["minutes"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect()
}
