//! The aggregator's jobs: a recompute request marks days and the workers redo them from raw
//! records, several workers share one backlog with each day done once, a dead worker's claims
//! expire and another finishes them, and the sweep finds and repairs a day that went wrong.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;
use wellbeing_domain::time;
use wellbeing_proto::aggregator::v1::aggregator_client::AggregatorClient;
use wellbeing_proto::aggregator::v1::{RecomputeRequest, StatusRequest, StatusResponse};
use wellbeing_tests::{Session, StackOptions, TestStack, exact};

const DAYS: i64 = 10;

/// A random event within the last `DAYS` days.
fn random_event(rng: &mut StdRng) -> Value {
    let now = Utc::now() - chrono::Duration::minutes(30);
    let start = now - chrono::Duration::minutes(rng.random_range(60..DAYS * 24 * 60));
    let at = start.to_rfc3339_opts(SecondsFormat::Secs, true);
    let minutes = f64::from(rng.random_range(1..180)) / 2.0;
    let end = (start + time::minutes_duration(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true);
    match rng.random_range(0..4) {
        0 => {
            json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": minutes, "timestamp": at})
        }
        1 => {
            json!({"type": "focus-session", "start_time": at, "end_time": end, "quality_score": 70})
        }
        2 => json!({"type": "break", "duration_minutes": minutes, "timestamp": at}),
        _ => json!({"type": "notification", "app_name": "Chat", "priority": 5, "timestamp": at}),
    }
}

async fn user_with_events(
    stack: &TestStack,
    rng: &mut StdRng,
    zone: &str,
    count: usize,
) -> anyhow::Result<(Session, Uuid, Tz)> {
    let user = stack.api.register_and_login(zone).await?;
    let events: Vec<Value> = (0..count).map(|_| random_event(rng)).collect();
    let answer = stack.api.track_batch(&user.access_token, &events).await?;
    anyhow::ensure!(answer.status == 201, "nothing stored: {answer:?}");
    let user_id = Uuid::parse_str(&user.user_id)?;
    Ok((user, user_id, time::parse_timezone(zone).expect("a zone")))
}

async fn status(addr: std::net::SocketAddr) -> anyhow::Result<StatusResponse> {
    let mut client = AggregatorClient::connect(format!("http://{addr}")).await?;
    Ok(client.status(StatusRequest {}).await?.into_inner())
}

/// Adds a minute of break to each stored day of the user since `since`, behind the services'
/// back.
async fn corrupt(pool: &sqlx::PgPool, user_id: Uuid, since: NaiveDate) -> anyhow::Result<u64> {
    let query = "UPDATE day_aggregates SET break_us = break_us + 60000000
                 WHERE user_id = $1 AND day >= $2";
    Ok(sqlx::query(query)
        .bind(user_id)
        .bind(since)
        .execute(pool)
        .await?
        .rows_affected())
}

/// The user's local date `days` days ago: stored days are local days, and near UTC midnight a
/// user east or west of UTC is already on another date.
fn local_days_ago(timezone: Tz, days: i64) -> NaiveDate {
    time::local_date(Utc::now(), timezone) - chrono::Duration::days(days)
}

#[tokio::test]
async fn recompute_marks_a_range_and_the_workers_redo_it_from_raw_records() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let mut rng = StdRng::seed_from_u64(17);
    let (_, user_id, timezone) = user_with_events(&stack, &mut rng, "UTC", 60).await?;
    let corrupted = corrupt(&pool, user_id, local_days_ago(timezone, DAYS)).await?;
    assert!(corrupted >= 5, "days corrupted: {corrupted}");
    let wrong = exact::wrong_days(&pool, user_id, timezone, DAYS).await?;
    assert_eq!(wrong.len() as u64, corrupted, "the corruption is visible");

    let mut client = AggregatorClient::connect(format!("http://{}", stack.aggregator_addr)).await?;
    let before = status(stack.aggregator_addr).await?.items_processed;
    let today = local_days_ago(timezone, 0);
    let marked = client
        .recompute(RecomputeRequest {
            user_id: user_id.to_string(),
            from_date: (today - chrono::Duration::days(DAYS)).to_string(),
            to_date: today.to_string(),
        })
        .await?
        .into_inner()
        .marked;
    assert_eq!(marked, DAYS as u64 + 1);
    exact::drain(&stack).await?;
    let after = status(stack.aggregator_addr).await?;
    assert_eq!(after.items_processed, before + marked);
    exact::assert_aggregates_exact(&pool, user_id, timezone, DAYS).await?;

    let backwards = client
        .recompute(RecomputeRequest {
            user_id: user_id.to_string(),
            from_date: today.to_string(),
            to_date: (today - chrono::Duration::days(1)).to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), tonic::Code::InvalidArgument);
    let unknown = client
        .recompute(RecomputeRequest {
            user_id: Uuid::new_v4().to_string(),
            from_date: today.to_string(),
            to_date: today.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    pool.close().await;
    stack.stop().await
}

#[tokio::test]
async fn three_workers_drain_one_backlog_with_each_day_done_once() -> anyhow::Result<()> {
    let mut stack = TestStack::start_with(StackOptions {
        aggregator_env: vec![("WORKER_BATCH_SIZE".into(), "7".into())],
        ..Default::default()
    })
    .await?;
    stack.stop_service("aggregator").await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let mut rng = StdRng::seed_from_u64(7);
    let mut users = Vec::new();
    let mut backlog = 0;
    for zone in [
        "Asia/Kolkata",
        "America/Los_Angeles",
        "UTC",
        "Europe/London",
    ] {
        let (_, user_id, timezone) = user_with_events(&stack, &mut rng, zone, 100).await?;
        corrupt(&pool, user_id, local_days_ago(timezone, DAYS)).await?;
        backlog += wellbeing_store::dirty_days::mark_range(
            &pool,
            user_id,
            local_days_ago(timezone, DAYS),
            local_days_ago(timezone, 0),
        )
        .await?;
        users.push((user_id, timezone));
    }
    assert_eq!(backlog, 4 * (DAYS as u64 + 1));

    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(stack.start_aggregator().await?.1);
    }
    exact::drain(&stack).await?;
    let mut processed = 0;
    let mut busy_workers = 0;
    for worker in &workers {
        let status = status(*worker).await?;
        processed += status.items_processed;
        busy_workers += u64::from(status.items_processed > 0);
    }
    assert_eq!(processed, backlog, "each day processed exactly once");
    assert!(busy_workers >= 2, "the work was shared");
    for (user_id, timezone) in users {
        exact::assert_aggregates_exact(&pool, user_id, timezone, DAYS).await?;
    }
    pool.close().await;
    stack.stop().await
}

#[tokio::test]
async fn a_worker_dying_mid_batch_leaves_its_days_to_another() -> anyhow::Result<()> {
    let mut stack = TestStack::start_with(StackOptions {
        aggregator_env: vec![("WORKER_LEASE_MS".into(), "800".into())],
        ..Default::default()
    })
    .await?;
    stack.stop_service("aggregator").await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let mut rng = StdRng::seed_from_u64(99);
    let (_, user_id, timezone) = user_with_events(&stack, &mut rng, "Asia/Kolkata", 200).await?;
    corrupt(&pool, user_id, local_days_ago(timezone, DAYS)).await?;
    let marked = wellbeing_store::dirty_days::mark_range(
        &pool,
        user_id,
        local_days_ago(timezone, DAYS),
        local_days_ago(timezone, 0),
    )
    .await?;

    // A worker claims five days and dies before completing any.
    let claimed = wellbeing_store::dirty_days::claim(&pool, 5, Duration::from_millis(800)).await?;
    assert_eq!(claimed.len(), 5);
    let (_, worker) = stack.start_aggregator().await?;
    exact::drain(&stack).await?;
    let exact_days = exact::assert_aggregates_exact(&pool, user_id, timezone, DAYS).await?;
    let status = status(worker).await?;
    assert_eq!(
        status.items_processed, marked,
        "the dead worker's days were done too"
    );
    // For docs/RELIABILITY.md.
    println!(
        "RELIABILITY aggregator::a_worker_dying_mid_batch_leaves_its_days_to_another: events=200 \
         days_claimed_by_the_dead_worker={} days_processed_by_the_other={} \
         days_equal_to_raw_computation={exact_days} days_wrong=0 errors=0",
        claimed.len(),
        status.items_processed
    );
    pool.close().await;
    stack.stop().await
}

#[tokio::test]
async fn the_sweep_finds_a_wrong_day_repairs_it_and_counts_it() -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        aggregator_env: vec![
            ("SWEEP_INTERVAL_SECS".into(), "1".into()),
            ("SWEEP_SAMPLE".into(), "1000".into()),
        ],
        ..Default::default()
    })
    .await?;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let mut rng = StdRng::seed_from_u64(5);
    let (_, user_id, timezone) = user_with_events(&stack, &mut rng, "Asia/Kathmandu", 80).await?;
    // The sweep samples the last week.
    let corrupted = corrupt(&pool, user_id, local_days_ago(timezone, 4)).await?;
    assert!(corrupted >= 2, "days corrupted: {corrupted}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = status(stack.aggregator_addr).await?;
        if status.aggregate_repairs >= corrupted {
            assert_eq!(status.aggregate_repairs, corrupted, "only the wrong days");
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "repaired {} of {corrupted}",
            status.aggregate_repairs
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    exact::assert_aggregates_exact(&pool, user_id, timezone, DAYS).await?;
    pool.close().await;
    stack.stop().await
}
