//! Backlog drain rate of the aggregator, for 1 and for 2 workers (a benchmark, not a test).
//!
//! Seeds a backlog through the REST batch API (USERS users x EVENTS events over DAYS local
//! days), then times workers draining it, and prints events/s and days/s per worker count.
//!
//! ```sh
//! cargo run --release -p wellbeing-tests --bin drain_bench            # defaults: 40 x 1000 x 30
//! USERS=100 EVENTS=2000 DAYS=60 cargo run --release -p wellbeing-tests --bin drain_bench
//! ```

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::json;
use wellbeing_proto::aggregator::v1::StatusRequest;
use wellbeing_proto::aggregator::v1::aggregator_client::AggregatorClient;
use wellbeing_tests::{StackOptions, TestStack};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let users = env_number("USERS", 40);
    let events_per_user = env_number("EVENTS", 1000);
    let days = env_number("DAYS", 30) as i64;
    let mut stack = TestStack::start_with(StackOptions {
        aggregator_env: vec![("WORKER_WARM_CACHE".into(), "false".into())],
        ..Default::default()
    })
    .await?;
    stack.stop_service("aggregator").await?;

    let seeding = Instant::now();
    let zones = [
        "UTC",
        "Asia/Kolkata",
        "America/Los_Angeles",
        "Europe/Berlin",
    ];
    for index in 0..users {
        let user = stack
            .api
            .register_and_login(zones[index % zones.len()])
            .await?;
        for chunk_start in (0..events_per_user).step_by(1000) {
            let events: Vec<_> = (chunk_start..(chunk_start + 1000).min(events_per_user))
                .map(|event| {
                    // Spread over the days, at different hours, a few apps.
                    let minutes_ago = 60 + (event as i64 * 7919) % (days * 24 * 60);
                    let at = (Utc::now() - chrono::Duration::minutes(minutes_ago))
                        .to_rfc3339_opts(SecondsFormat::Secs, true);
                    json!({"type": "screen-time", "app_name": format!("App{}", event % 12),
                           "duration_minutes": 1 + event % 30, "timestamp": at})
                })
                .collect();
            let answer = stack
                .api
                .post(
                    "/api/v1/analytics/track/batch",
                    &json!({"events": events}),
                    Some(&user.access_token),
                )
                .await?;
            anyhow::ensure!(answer.status == 201, "seeding failed: {answer:?}");
        }
    }
    let total_events = users * events_per_user;
    println!(
        "seeded {total_events} events for {users} users over {days} days in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    println!("| workers | days recomputed | events read | seconds | days/s | events/s |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for workers in [1usize, 2] {
        let pool = sqlx::PgPool::connect(&stack.database.url).await?;
        if workers > 1 {
            // The same backlog again: every rolled-up day marked dirty.
            sqlx::query("INSERT INTO dirty_days (user_id, day) SELECT user_id, day FROM daily_rollups ON CONFLICT DO NOTHING")
                .execute(&pool)
                .await?;
        }
        let backlog: i64 = sqlx::query_scalar("SELECT count(*) FROM dirty_days")
            .fetch_one(&pool)
            .await?;
        let started = Instant::now();
        let mut addresses = Vec::new();
        for _ in 0..workers {
            addresses.push(stack.start_aggregator().await?);
        }
        loop {
            let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM dirty_days")
                .fetch_one(&pool)
                .await?;
            if pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let mut events_read = 0;
        for (name, addr) in &addresses {
            let mut client = AggregatorClient::connect(format!("http://{addr}")).await?;
            events_read += client
                .status(StatusRequest {})
                .await?
                .into_inner()
                .events_processed;
            stack.stop_service(name).await?;
        }
        println!(
            "| {workers} | {backlog} | {events_read} | {seconds:.2} | {:.0} | {:.0} |",
            backlog as f64 / seconds,
            events_read as f64 / seconds
        );
        pool.close().await;
    }
    stack.stop().await
}
