//! Recomputation rate of the aggregator, for 1 and for 2 workers (a benchmark, not a test).
//!
//! Seeds history through the REST batch API (USERS users x EVENTS events over DAYS local days);
//! the ingestion statement adds it to the day aggregates, so nothing is left queued. Then, for
//! each worker count, marks every aggregated day dirty (what a manual `Recompute` of everything
//! would do) and times the workers draining that queue: each marked day recomputed from its raw
//! records and its aggregates replaced. Prints days and events per second per worker count, and
//! whether the recomputed aggregates equal those the deltas had built.
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

/// Seeds history, then times the aggregator draining every day marked dirty, with 1 and with 2
/// workers (a benchmark; see the file's header).
#[derive(clap::Parser)]
#[command(name = "drain_bench", version)]
struct Args {
    /// Users seeded
    #[arg(long, env = "USERS", default_value_t = 40)]
    users: usize,
    /// Events per user
    #[arg(long, env = "EVENTS", default_value_t = 1000)]
    events: usize,
    /// Days the events are spread over, ending now (at most a year: older events are refused)
    #[arg(long, env = "DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(i64).range(1..=365))]
    days: i64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Args {
        users,
        events: events_per_user,
        days,
    } = wellbeing_common::config::parse_or_exit(&[]);
    let mut stack = TestStack::start_with(StackOptions {
        // The sweep's checks are not part of the drain.
        aggregator_env: vec![("SWEEP_SAMPLE".into(), "0".into())],
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

    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let built_by_deltas = aggregates_digest(&pool).await?;
    println!(
        "| workers | days marked | days recomputed | events read | seconds | marked days/s | events/s | aggregates unchanged |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for workers in [1usize, 2] {
        // The backlog: every aggregated day marked, as if none could have taken its delta.
        sqlx::query(
            "INSERT INTO dirty_days (user_id, day) SELECT user_id, day FROM day_aggregates ON CONFLICT DO NOTHING",
        )
        .execute(&pool)
        .await?;
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
        // A worker recomputes every day between the first and the last it claimed of a user, so
        // it may recompute more days than were marked.
        let (mut days_recomputed, mut events_read) = (0, 0);
        for (name, addr) in &addresses {
            let mut client = AggregatorClient::connect(format!("http://{addr}")).await?;
            let status = client.status(StatusRequest {}).await?.into_inner();
            days_recomputed += status.items_processed;
            events_read += status.events_processed;
            stack.stop_service(name).await?;
        }
        let unchanged = aggregates_digest(&pool).await? == built_by_deltas;
        println!(
            "| {workers} | {backlog} | {days_recomputed} | {events_read} | {seconds:.2} | {:.0} | {:.0} | {} |",
            backlog as f64 / seconds,
            events_read as f64 / seconds,
            if unchanged { "yes" } else { "no" }
        );
    }
    pool.close().await;
    stack.stop().await
}

/// One digest of every day aggregate and app aggregate (categories sorted: their order is not
/// part of the value).
async fn aggregates_digest(pool: &sqlx::PgPool) -> anyhow::Result<(String, String)> {
    let days: String = sqlx::query_scalar(
        "SELECT md5(coalesce(string_agg(d::text, E'\\n' ORDER BY d.user_id, d.day), '')) FROM day_aggregates d",
    )
    .fetch_one(pool)
    .await?;
    let apps: String = sqlx::query_scalar(
        "SELECT md5(coalesce(string_agg(concat_ws(' ', a.user_id, a.day, a.app_name, a.screen_us, a.uses,
             ARRAY(SELECT c FROM unnest(a.categories) AS c ORDER BY c)), E'\\n'
             ORDER BY a.user_id, a.day, a.app_name), '')) FROM day_app_aggregates a",
    )
    .fetch_one(pool)
    .await?;
    Ok((days, apps))
}
