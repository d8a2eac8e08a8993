//! A statement that cannot finish (here: behind a row lock another session holds) is cut by
//! PostgreSQL at `DB_STATEMENT_TIMEOUT_MS`: its request answers 503 at once instead of at the
//! gateway's 5 s deadline, and nothing is left waiting in the database afterwards.

use std::time::{Duration, Instant};

use serde_json::json;
use wellbeing_tests::{StackOptions, TestStack};

#[tokio::test]
async fn a_stuck_statement_is_cut_and_leaves_nothing_waiting() -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        analytics_env: vec![("DB_STATEMENT_TIMEOUT_MS".into(), "300".into())],
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login("Europe/London").await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;

    // Another session holds the user's row: a write (which reads it FOR KEY SHARE) waits.
    let mut holder = pool.begin().await?;
    sqlx::query("SELECT 1 FROM users WHERE id = $1::uuid FOR UPDATE")
        .bind(&user.user_id)
        .execute(&mut *holder)
        .await?;
    let event = json!({"app_name": "Reader", "duration_minutes": 5});
    let path = "/api/v1/analytics/track/screen-time";
    let started = Instant::now();
    let answer = stack
        .api
        .post(path, &event, Some(&user.access_token))
        .await?;
    let waited = started.elapsed();
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.header("retry-after").is_some());
    assert!(
        waited < Duration::from_secs(3),
        "answered after {waited:?}: the statement was not cut before the gateway's 5 s deadline"
    );
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(waiting, 0, "no statement is left waiting on the lock");

    // Released, the same write goes through, and an export (whose statements are not bound)
    // holds it.
    holder.rollback().await?;
    let answer = stack
        .api
        .post(path, &event, Some(&user.access_token))
        .await?;
    assert_eq!(answer.status, 201, "{answer:?}");
    let export = stack
        .api
        .get("/api/v1/me/export", Some(&user.access_token))
        .await?;
    assert_eq!(export.status, 200);
    let rows = export.json["data"]["screen_time"].as_array().map(Vec::len);
    assert_eq!(rows, Some(1), "{:?}", export.json);
    pool.close().await;
    stack.stop().await
}
