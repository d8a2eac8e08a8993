//! `DATABASE_READ_URL`: views read their events from the replica, except for a user who wrote
//! within `READ_REPLICA_GRACE_MS`, who reads the primary (a lagging replica must not hide their
//! own write). The "replica" here is a second database holding different rows for the same user,
//! so which one a view was computed from shows in its numbers.

use std::time::Duration;

use serde_json::json;
use wellbeing_tests::fixtures::{data, minutes_ago, track};
use wellbeing_tests::{StackOptions, TestDatabase, TestStack, daytime_zone};

#[tokio::test]
async fn views_read_the_replica_except_right_after_the_users_own_write() -> anyhow::Result<()> {
    let replica = TestDatabase::create().await?;
    let replica_pool = sqlx::PgPool::connect(&replica.url).await?;
    wellbeing_store::MIGRATOR.run(&replica_pool).await?;
    let stack = TestStack::start_with(StackOptions {
        analytics_env: vec![
            ("DATABASE_READ_URL".into(), replica.url.clone()),
            ("READ_REPLICA_GRACE_MS".into(), "400".into()),
        ],
        ..Default::default()
    })
    .await?;
    // A zone where it is daytime, so that "an hour ago" is today (in UTC, near midnight, it is not).
    let zone = daytime_zone();
    let user = stack.api.register_and_login(&zone).await?;

    // The replica knows the user, with 7 minutes of screen time the primary does not have.
    let primary_pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let (username, email, hash): (String, String, String) =
        sqlx::query_as("SELECT username, email, password_hash FROM users WHERE id = $1::uuid")
            .bind(&user.user_id)
            .fetch_one(&primary_pool)
            .await?;
    sqlx::query(
        "INSERT INTO users (id, username, email, password_hash, timezone) VALUES ($1::uuid, $2, $3, $4, $5)",
    )
    .bind(&user.user_id)
    .bind(username)
    .bind(email)
    .bind(hash)
    .bind(&zone)
    .execute(&replica_pool)
    .await?;
    sqlx::query(
        "INSERT INTO screen_time (id, user_id, event_id, app_name, category, started_at, ended_at, duration_minutes)
         VALUES (gen_random_uuid(), $1::uuid, gen_random_uuid(), 'OnlyOnReplica', 'other',
                 now() - interval '20 minutes', now() - interval '13 minutes', 7)",
    )
    .bind(&user.user_id)
    .execute(&replica_pool)
    .await?;

    // Right after the user's write (30 minutes, on the primary), their reads see the primary.
    track(
        &stack.api,
        &user.access_token,
        "screen-time",
        json!({"app_name": "OnlyOnPrimary", "duration_minutes": 30, "timestamp": minutes_ago(60)}),
    )
    .await?;
    let fresh = data(
        &stack.api,
        "/api/v1/analytics/quick-stats",
        &user.access_token,
    )
    .await?;
    println!("right after the write: {fresh}");
    assert_eq!(fresh["today_screen_time"], 30.0, "{fresh}");

    // Once the grace period is over, a view not computed yet is read from the replica. (Not a
    // view of the recent week: those share the week read for quick-stats, from the primary.)
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = data(
        &stack.api,
        "/api/v1/analytics/apps/usage?days=14",
        &user.access_token,
    )
    .await?;
    println!("after the grace period: {later}");
    assert_eq!(later["total_time_minutes"], 7.0, "{later}");
    assert_eq!(later["apps"][0]["app_name"], "OnlyOnReplica", "{later}");

    primary_pool.close().await;
    replica_pool.close().await;
    stack.stop().await
}
