//! The aggregation worker: rollups equal the direct computation from raw events (random events,
//! several zones, late arrivals), several workers drain one backlog with each item done once, a
//! worker dying mid-batch loses nothing, and reads are fresh before the worker catches up.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, SecondsFormat, TimeZone, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use wellbeing_domain::apps::day_app_usage;
use wellbeing_domain::summary::daily_summary;
use wellbeing_domain::time;
use wellbeing_proto::aggregator::v1::StatusRequest;
use wellbeing_proto::aggregator::v1::aggregator_client::AggregatorClient;
use wellbeing_tests::{Session, StackOptions, TestStack};

const ZONES: [&str; 4] = [
    "Asia/Kolkata",
    "America/Los_Angeles",
    "UTC",
    "Europe/London",
];

/// A random event of a random kind within the last `days` days (ending at least 30 minutes ago).
fn random_event(rng: &mut StdRng, days: i64) -> Value {
    let now = Utc::now() - chrono::Duration::minutes(30);
    let start = now - chrono::Duration::minutes(rng.random_range(60..days * 24 * 60));
    let at = start.to_rfc3339_opts(SecondsFormat::Secs, true);
    let minutes = f64::from(rng.random_range(1..180)) / 2.0;
    let end = (start + time::minutes_duration(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let apps = ["Reader", "Chat", "Maps", "Mail", "Game"];
    match rng.random_range(0..6) {
        0 => {
            json!({"type": "screen-time", "app_name": apps[rng.random_range(0..5)], "duration_minutes": minutes, "category": "social", "timestamp": at})
        }
        1 => json!({"type": "session", "start_time": at, "end_time": end}),
        2 => {
            json!({"type": "focus-session", "start_time": at, "end_time": end, "quality_score": rng.random_range(0..=100)})
        }
        3 => json!({"type": "break", "duration_minutes": minutes, "timestamp": at}),
        4 => {
            json!({"type": "notification", "app_name": apps[rng.random_range(0..5)], "priority": rng.random_range(0..=100), "was_interacted": rng.random_bool(0.4), "timestamp": at})
        }
        _ => {
            json!({"type": "distraction", "source": "phone", "severity": rng.random_range(1..=5), "duration_seconds": rng.random_range(0..600), "timestamp": at})
        }
    }
}

async fn send_batch(stack: &TestStack, user: &Session, events: Vec<Value>) -> anyhow::Result<()> {
    let answer = stack
        .api
        .post(
            "/api/v1/analytics/track/batch",
            &json!({"events": events}),
            Some(&user.access_token),
        )
        .await?;
    anyhow::ensure!(answer.status == 201, "batch refused: {answer:?}");
    Ok(())
}

async fn worker_status(
    addr: std::net::SocketAddr,
) -> anyhow::Result<wellbeing_proto::aggregator::v1::StatusResponse> {
    let mut client = AggregatorClient::connect(format!("http://{addr}")).await?;
    Ok(client.status(StatusRequest {}).await?.into_inner())
}

/// Polls until the work queue is empty.
async fn wait_for_empty_queue(stack: &TestStack) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut db = stack.database.connect().await?;
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM dirty_days")
            .fetch_one(&mut db)
            .await?;
        if pending == 0 {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{pending} items still pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every stored rollup equals the direct computation from the raw events of its day.
async fn assert_rollups_exact(stack: &TestStack) -> anyhow::Result<usize> {
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let rows: Vec<(uuid::Uuid, NaiveDate, String, Value, Value)> =
        sqlx::query_as("SELECT user_id, day, timezone, summary, apps FROM daily_rollups")
            .fetch_all(&pool)
            .await?;
    for (user_id, day, zone, summary, apps) in &rows {
        let timezone = time::parse_timezone(zone).expect("a stored zone");
        let (from, to) = time::day_range(*day, timezone);
        let raw = wellbeing_store::events::between(&pool, *user_id, from, to).await?;
        assert_eq!(
            summary,
            &serde_json::to_value(daily_summary(*day, timezone, &raw))?,
            "{user_id} {day}"
        );
        assert_eq!(
            apps,
            &serde_json::to_value(day_app_usage(*day, timezone, &raw.screen_time))?
        );
    }
    pool.close().await;
    Ok(rows.len())
}

#[tokio::test]
async fn rollups_equal_direct_computation_for_random_events_and_late_arrivals() -> anyhow::Result<()>
{
    let stack = TestStack::start().await?;
    let mut rng = StdRng::seed_from_u64(20261124);
    let mut users = Vec::new();
    for zone in ZONES {
        users.push(stack.api.register_and_login(zone).await?);
    }
    for user in &users {
        let events = (0..120).map(|_| random_event(&mut rng, 9)).collect();
        send_batch(&stack, user, events).await?;
    }
    wait_for_empty_queue(&stack).await?;
    // Late data: events for days long past, after those days were rolled up.
    for user in &users {
        let events = (0..40).map(|_| random_event(&mut rng, 9)).collect();
        send_batch(&stack, user, events).await?;
    }
    wait_for_empty_queue(&stack).await?;
    let checked = assert_rollups_exact(&stack).await?;
    assert!(
        checked >= 30,
        "rollups of 4 users over 9-10 days: {checked}"
    );

    // Reads served from rollups equal reads computed from raw: compare every past day through
    // REST with the direct computation (days before today are served from rollups).
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    for (user, zone) in users.iter().zip(ZONES) {
        let timezone = time::parse_timezone(zone).expect("zone");
        let today = time::local_date(Utc::now(), timezone);
        let user_id = uuid::Uuid::parse_str(&user.user_id)?;
        for back in 1..9 {
            let day = today - chrono::Duration::days(back);
            let (from, to) = time::day_range(day, timezone);
            let raw = wellbeing_store::events::between(&pool, user_id, from, to).await?;
            let answer = stack
                .api
                .get(
                    &format!("/api/v1/analytics/summary/daily?date={day}"),
                    Some(&user.access_token),
                )
                .await?;
            assert_eq!(
                answer.json["data"],
                serde_json::to_value(daily_summary(day, timezone, &raw))?
            );
        }
    }
    pool.close().await;
    stack.stop().await
}

#[tokio::test]
async fn three_workers_drain_one_backlog_with_each_item_done_once() -> anyhow::Result<()> {
    let mut stack = TestStack::start_with(StackOptions {
        aggregator_env: vec![
            ("WORKER_BATCH_SIZE".into(), "7".into()),
            ("WORKER_WARM_CACHE".into(), "false".into()),
        ],
        ..Default::default()
    })
    .await?;
    stack.stop_service("aggregator").await?;
    let mut rng = StdRng::seed_from_u64(7);
    for zone in ZONES {
        let user = stack.api.register_and_login(zone).await?;
        let events = (0..150).map(|_| random_event(&mut rng, 12)).collect();
        send_batch(&stack, &user, events).await?;
    }
    let mut db = stack.database.connect().await?;
    let backlog: i64 = sqlx::query_scalar("SELECT count(*) FROM dirty_days")
        .fetch_one(&mut db)
        .await?;
    assert!(backlog >= 40, "a real backlog: {backlog}");

    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(stack.start_aggregator().await?.1);
    }
    wait_for_empty_queue(&stack).await?;
    let mut processed = 0;
    let mut requeued = 0;
    let mut busy_workers = 0;
    for worker in &workers {
        let status = worker_status(*worker).await?;
        processed += status.items_processed;
        requeued += status.items_requeued;
        busy_workers += u64::from(status.items_processed > 0);
    }
    assert_eq!(
        processed, backlog as u64,
        "each item processed exactly once"
    );
    assert_eq!(requeued, 0);
    assert!(busy_workers >= 2, "the work was shared");
    let rollups: i64 = sqlx::query_scalar("SELECT count(*) FROM daily_rollups")
        .fetch_one(&mut db)
        .await?;
    assert_eq!(rollups, backlog);
    assert_rollups_exact(&stack).await?;
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn a_worker_dying_mid_batch_leaves_its_items_to_another() -> anyhow::Result<()> {
    let mut stack = TestStack::start_with(StackOptions {
        aggregator_env: vec![
            ("WORKER_LEASE_MS".into(), "800".into()),
            ("WORKER_WARM_CACHE".into(), "false".into()),
        ],
        ..Default::default()
    })
    .await?;
    stack.stop_service("aggregator").await?;
    let mut rng = StdRng::seed_from_u64(99);
    let user = stack.api.register_and_login("Asia/Kolkata").await?;
    send_batch(
        &stack,
        &user,
        (0..200).map(|_| random_event(&mut rng, 10)).collect(),
    )
    .await?;

    // A worker claims half the queue and dies before completing anything.
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let claimed = wellbeing_store::rollups::claim(&pool, 5, Duration::from_millis(800)).await?;
    assert_eq!(claimed.len(), 5);
    let (_, worker) = stack.start_aggregator().await?;
    wait_for_empty_queue(&stack).await?;
    let claimed_days: BTreeSet<_> = claimed.iter().map(|claim| claim.day).collect();
    let rolled: Vec<NaiveDate> = sqlx::query_scalar("SELECT day FROM daily_rollups")
        .fetch_all(&pool)
        .await?;
    assert!(
        claimed_days.iter().all(|day| rolled.contains(day)),
        "the dead worker's items were done"
    );
    let exact = assert_rollups_exact(&stack).await?;
    let status = worker_status(worker).await?;
    assert!(status.items_processed >= claimed.len() as u64);
    // For docs/RELIABILITY.md.
    println!(
        "RELIABILITY aggregator::a_worker_dying_mid_batch_leaves_its_items_to_another: events=200 \
         items_claimed_by_the_dead_worker={} items_processed_by_the_other={} rollups_equal_to_direct_computation={exact} \
         rollups_wrong=0 errors=0",
        claimed.len(),
        status.items_processed
    );
    pool.close().await;
    stack.stop().await
}

#[tokio::test]
async fn an_event_for_a_rolled_up_day_is_visible_at_once() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let user = stack.api.register_and_login("UTC").await?;
    let day = Utc::now().date_naive() - chrono::Duration::days(3);
    let at = |hour: u32| {
        Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).expect("hour"))
            .to_rfc3339()
    };
    send_batch(&stack, &user, vec![json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 40, "timestamp": at(9)})]).await?;
    wait_for_empty_queue(&stack).await?;
    let path = format!("/api/v1/analytics/summary/daily?date={day}");
    let before = stack.api.get(&path, Some(&user.access_token)).await?;
    assert_eq!(before.json["data"]["total_screen_time_minutes"], 40.0);

    // A late event for that day: the next read already counts it (40 + 20 = 60), before any
    // worker has run, because a dirty day is computed from raw events.
    let written = Instant::now();
    send_batch(&stack, &user, vec![json!({"type": "screen-time", "app_name": "Chat", "duration_minutes": 20, "timestamp": at(11)})]).await?;
    let after = stack.api.get(&path, Some(&user.access_token)).await?;
    assert_eq!(after.json["data"]["total_screen_time_minutes"], 60.0);
    eprintln!("visible {:?} after the write", written.elapsed());
    wait_for_empty_queue(&stack).await?;
    let settled = stack.api.get(&path, Some(&user.access_token)).await?;
    assert_eq!(settled.json["data"], after.json["data"]);
    stack.stop().await
}

/// Today is read from its rollup while it is clean, and from raw events as soon as a write
/// marks it dirty. The rollup is altered behind the services' back to see which one answered;
/// no view is cached anywhere, so every read computes.
#[tokio::test]
async fn today_comes_from_its_clean_rollup_and_a_write_makes_it_raw_again() -> anyhow::Result<()> {
    let off = || vec![("VIEW_CACHE".to_owned(), "off".to_owned())];
    let stack = TestStack::start_with(StackOptions {
        analytics_env: off(),
        gateway_env: off(),
        ..Default::default()
    })
    .await?;
    // A zone where "five minutes ago" is the same local day, whatever the hour of the run.
    let zone = if (2..22).contains(&Utc::now().hour()) {
        "UTC"
    } else {
        "Asia/Tokyo"
    };
    let user = stack.api.register_and_login(zone).await?;
    let today = time::local_date(Utc::now(), time::parse_timezone(zone).expect("a zone"));
    let five_minutes_ago =
        (Utc::now() - chrono::Duration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    send_batch(&stack, &user, vec![json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 1, "timestamp": five_minutes_ago})]).await?;
    wait_for_empty_queue(&stack).await?;
    let path = "/api/v1/analytics/summary/daily";
    let direct = stack.api.get(path, Some(&user.access_token)).await?;
    assert_eq!(direct.json["data"]["total_screen_time_minutes"], 1.0);

    let mut db = stack.database.connect().await?;
    let altered = sqlx::query(
        "UPDATE daily_rollups SET summary = jsonb_set(summary, '{total_screen_time_minutes}', '1000')
         WHERE day = $1",
    )
    .bind(today)
    .execute(&mut db)
    .await?;
    assert_eq!(altered.rows_affected(), 1, "today has a rollup");
    let from_rollup = stack.api.get(path, Some(&user.access_token)).await?;
    assert_eq!(
        from_rollup.json["data"]["total_screen_time_minutes"],
        1000.0
    );

    // A write marks today dirty in its own transaction: the next read computes from raw events.
    send_batch(&stack, &user, vec![json!({"type": "screen-time", "app_name": "Chat", "duration_minutes": 1, "timestamp": five_minutes_ago})]).await?;
    let after = stack.api.get(path, Some(&user.access_token)).await?;
    assert_eq!(after.json["data"]["total_screen_time_minutes"], 2.0);
    wait_for_empty_queue(&stack).await?;
    let settled = stack.api.get(path, Some(&user.access_token)).await?;
    assert_eq!(settled.json["data"], after.json["data"]);
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn the_worker_warms_the_most_read_views_so_the_next_reads_are_hits() -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        aggregator_env: vec![("WORKER_WARM_CACHE".into(), "true".into())],
        ..Default::default()
    })
    .await?;
    let user = stack
        .api
        .register_and_login(&wellbeing_tests::daytime_zone())
        .await?;
    let at = (Utc::now() - chrono::Duration::minutes(90)).to_rfc3339();
    send_batch(&stack, &user, vec![json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 30, "timestamp": at})]).await?;
    wait_for_empty_queue(&stack).await?;
    // Warming follows the rollup: dashboard, quick stats, insights and the wellbeing score are
    // stored in the cache service (4 sets) without the user asking.
    let mut cache = stack.cache_client().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache
        .stats(wellbeing_proto::cache::v1::StatsRequest {})
        .await?
        .into_inner()
        .sets
        < 4
    {
        anyhow::ensure!(Instant::now() < deadline, "the views were never warmed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let token = Some(user.access_token.as_str());
    let dashboard = stack.api.get("/api/v1/analytics/dashboard", token).await?;
    assert_eq!(
        dashboard.json["data"]["today"]["total_screen_time_minutes"],
        30.0
    );
    stack.api.get("/api/v1/analytics/insights", token).await?;
    stack.api.get("/api/v1/wellbeing/score", token).await?;
    let mine = stack.api.get("/api/v1/analytics/cache", token).await?;
    // Warming is not the user's read: the three reads counted are all hits.
    assert_eq!(
        (
            mine.json["data"]["hits"].as_u64(),
            mine.json["data"]["misses"].as_u64()
        ),
        (Some(3), Some(0)),
        "{mine:?}"
    );
    stack.stop().await
}

#[tokio::test]
async fn recompute_marks_a_range_and_the_workers_redo_it() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let user = stack.api.register_and_login("UTC").await?;
    let day = Utc::now().date_naive() - chrono::Duration::days(2);
    let at = Utc
        .from_utc_datetime(&day.and_hms_opt(10, 0, 0).expect("hour"))
        .to_rfc3339();
    send_batch(
        &stack,
        &user,
        vec![json!({"type": "break", "duration_minutes": 15, "timestamp": at})],
    )
    .await?;
    wait_for_empty_queue(&stack).await?;
    let mut client = AggregatorClient::connect(format!("http://{}", stack.aggregator_addr)).await?;
    let before = client
        .status(StatusRequest {})
        .await?
        .into_inner()
        .items_processed;

    // Three days, the one with data among them: three items, all done again.
    let marked = client
        .recompute(wellbeing_proto::aggregator::v1::RecomputeRequest {
            user_id: user.user_id.clone(),
            from_date: (day - chrono::Duration::days(1)).to_string(),
            to_date: (day + chrono::Duration::days(1)).to_string(),
        })
        .await?
        .into_inner()
        .marked;
    assert_eq!(marked, 3);
    wait_for_empty_queue(&stack).await?;
    let after = client.status(StatusRequest {}).await?.into_inner();
    assert_eq!(after.items_processed, before + 3);
    assert_rollups_exact(&stack).await?;

    let backwards = client
        .recompute(wellbeing_proto::aggregator::v1::RecomputeRequest {
            user_id: user.user_id.clone(),
            from_date: day.to_string(),
            to_date: (day - chrono::Duration::days(1)).to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), tonic::Code::InvalidArgument);
    let unknown = client
        .recompute(wellbeing_proto::aggregator::v1::RecomputeRequest {
            user_id: uuid::Uuid::new_v4().to_string(),
            from_date: day.to_string(),
            to_date: day.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    stack.stop().await
}
