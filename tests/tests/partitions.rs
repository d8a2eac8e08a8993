//! The event tables are partitioned by month: the worker creates the months ahead, rows of a
//! month without a partition wait in the default partition and move when it is created, and
//! retention (`RETENTION_DAYS`) drops whole old months and deletes the older rows of the rest,
//! with their event ids. Analytics refuses events older than the retention period.

use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use serde_json::{Value, json};
use wellbeing_store::partitions;
use wellbeing_tests::fixtures::track_all;
use wellbeing_tests::{StackOptions, TestStack};

fn screen_time_days_ago(days: i64, app: &str) -> Value {
    let at = Utc::now() - chrono::Duration::days(days) - chrono::Duration::hours(1);
    json!({"type": "screen-time", "app_name": app, "duration_minutes": 10,
           "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
}

fn month_partition(table: &str, days_ago: i64) -> String {
    let at = Utc::now() - chrono::Duration::days(days_ago) - chrono::Duration::hours(1);
    format!("{table}_p{:04}{:02}", at.year(), at.month())
}

/// Which table holds the screen-time row of `app`.
async fn partition_of(pool: &sqlx::PgPool, app: &str) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT tableoid::regclass::text FROM screen_time WHERE app_name = $1")
            .bind(app)
            .fetch_optional(pool)
            .await?,
    )
}

async fn count(pool: &sqlx::PgPool, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

#[tokio::test]
async fn months_are_created_ahead_and_retention_drops_old_months() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let user = stack.api.register_and_login("UTC").await?;

    // The worker creates this month and the next two for every event table.
    let wanted: Vec<String> = (0..3)
        .map(|ahead| {
            let month = Utc::now().date_naive().with_day(1).expect("a first day")
                + chrono::Months::new(ahead);
            format!("notifications_p{:04}{:02}", month.year(), month.month())
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let existing = partitions::of_table(&pool, "notifications").await?;
        if wanted.iter().all(|name| existing.contains(name)) {
            assert!(existing.contains(&"notifications_default".to_owned()));
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "partitions ahead: {existing:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    track_all(
        &stack.api,
        &user.access_token,
        vec![
            screen_time_days_ago(150, "Old"),
            screen_time_days_ago(70, "Older than retention"),
            screen_time_days_ago(30, "Within retention"),
            screen_time_days_ago(0, "Today"),
        ],
    )
    .await?;
    // A month with no partition yet: the row waits in the default partition ...
    assert_eq!(
        partition_of(&pool, "Old").await?.as_deref(),
        Some("screen_time_default")
    );
    assert_eq!(
        partition_of(&pool, "Today").await?,
        Some(month_partition("screen_time", 0))
    );
    // ... and moves into its month's partition when that is created.
    let old_month = (Utc::now() - chrono::Duration::days(150) - chrono::Duration::hours(1))
        .date_naive()
        .with_day(1)
        .expect("a first day");
    let created: bool =
        sqlx::query_scalar("SELECT wb_ensure_partition('screen_time', 'started_at', $1)")
            .bind(old_month)
            .fetch_one(&pool)
            .await?;
    assert!(created);
    assert_eq!(
        partition_of(&pool, "Old").await?,
        Some(month_partition("screen_time", 150))
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM screen_time").await?, 4);

    // Retention of 60 days: the old month is dropped whole, the rest of the older rows deleted.
    let actions = partitions::maintain(&pool, 2, 60).await?;
    println!("retention actions: {actions:?}");
    let dropped = actions
        .iter()
        .find(|action| {
            action.action == "dropped" && action.target == month_partition("screen_time", 150)
        })
        .unwrap_or_else(|| panic!("the old month was dropped: {actions:?}"));
    assert_eq!(dropped.rows_affected, 1);
    let apps: Vec<String> =
        sqlx::query_scalar("SELECT app_name FROM screen_time ORDER BY started_at")
            .fetch_all(&pool)
            .await?;
    assert_eq!(apps, ["Within retention", "Today"]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM event_ids").await?,
        2,
        "the ids of removed events are forgotten too"
    );
    assert!(
        !partitions::of_table(&pool, "screen_time")
            .await?
            .contains(&month_partition("screen_time", 150))
    );

    // The API agrees: the old day is empty, the recent ones intact.
    let old_day =
        (Utc::now() - chrono::Duration::days(150) - chrono::Duration::hours(1)).date_naive();
    let summary = stack
        .api
        .get(
            &format!("/api/v1/analytics/summary/daily?date={old_day}"),
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(summary.status, 200, "{summary:?}");
    assert_eq!(
        summary.json["data"]["total_screen_time_minutes"], 0.0,
        "{summary:?}"
    );
    assert_eq!(summary.json["data"]["top_apps"], json!([]), "{summary:?}");
    pool.close().await;
    stack.stop().await
}

#[tokio::test]
async fn the_worker_applies_retention_and_analytics_refuses_older_events() -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        aggregator_env: vec![
            ("RETENTION_DAYS".into(), "60".into()),
            ("PARTITION_MAINTENANCE_SECS".into(), "1".into()),
        ],
        ..Default::default()
    })
    .await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let user = stack.api.register_and_login("UTC").await?;
    track_all(
        &stack.api,
        &user.access_token,
        vec![
            screen_time_days_ago(70, "Too old"),
            screen_time_days_ago(1, "Recent"),
        ],
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while partition_of(&pool, "Too old").await?.is_some() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the worker did not apply retention"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(partition_of(&pool, "Recent").await?.is_some());
    stack.stop().await?;

    // With RETENTION_DAYS, analytics refuses what would be removed, naming the field.
    let stack = TestStack::start_with(StackOptions {
        analytics_env: vec![("RETENTION_DAYS".into(), "60".into())],
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login("UTC").await?;
    let mut old = screen_time_days_ago(61, "Too old");
    old.as_object_mut().expect("an object").remove("type");
    let refused = stack
        .api
        .post(
            "/api/v1/analytics/track/screen-time",
            &old,
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert_eq!(refused.json["field"], "timestamp", "{refused:?}");
    let mut recent = screen_time_days_ago(59, "Kept");
    recent.as_object_mut().expect("an object").remove("type");
    let accepted = stack
        .api
        .post(
            "/api/v1/analytics/track/screen-time",
            &recent,
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(accepted.status, 201, "{accepted:?}");
    pool.close().await;
    stack.stop().await
}
