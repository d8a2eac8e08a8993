//! The cache levels broken under concurrent traffic (cache_failures.rs does the same one request
//! at a time and checks that no stale view is served): a private Redis killed and restarted, the
//! cache service killed (SIGKILL, as its own process) and started again, and the cache service
//! stopped and started again, while writers and readers run. Not one read or write fails, and
//! every acknowledged event is stored once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wellbeing_proto::cache::v1::StatsRequest;
use wellbeing_tests::probe::Tally;
use wellbeing_tests::redis::PrivateRedis;
use wellbeing_tests::traffic::{Outcome, Traffic, TrafficOptions, summary, unlimited_rate};
use wellbeing_tests::{Session, StackOptions, TestStack, daytime_zone};

fn tally_of(outcomes: &[Outcome]) -> Tally {
    let mut tally = Tally::default();
    for outcome in outcomes {
        tally.count(outcome.status);
        if !matches!(outcome.status, 200 | 201) {
            tally.errors += 1;
        }
    }
    tally
}

/// Acknowledged events missing from the database, and events stored twice.
async fn lost_and_duplicated(
    stack: &TestStack,
    user_id: &str,
    outcomes: &[Outcome],
) -> anyhow::Result<(usize, usize)> {
    let mut db = stack.database.connect().await?;
    let rows: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        "SELECT event_id, count(*) FROM screen_time WHERE user_id = $1 GROUP BY event_id",
    )
    .bind(user_id.parse::<uuid::Uuid>()?)
    .fetch_all(&mut db)
    .await?;
    let stored: std::collections::BTreeMap<String, i64> = rows
        .into_iter()
        .map(|(id, count)| (id.to_string(), count))
        .collect();
    let lost = outcomes
        .iter()
        .filter(|o| o.acknowledged())
        .flat_map(|o| o.events.iter())
        .filter(|e| !stored.contains_key(&e.event_id))
        .count();
    Ok((lost, stored.values().filter(|count| **count > 1).count()))
}

/// The final total equals the acknowledged minutes: no stale view after the outage.
async fn fresh_total(stack: &TestStack, token: &str, outcomes: &[Outcome]) -> anyhow::Result<()> {
    let expected: f64 = outcomes
        .iter()
        .filter(|o| o.acknowledged())
        .flat_map(|o| o.events.iter())
        .map(|e| e.minutes)
        .sum();
    let answer = stack
        .api
        .get("/api/v1/analytics/summary/daily", Some(token))
        .await?;
    assert_eq!(
        answer.json["data"]["total_screen_time_minutes"].as_f64(),
        Some(expected),
        "{answer:?}"
    );
    Ok(())
}

async fn backend_is(stack: &TestStack, backend: &str, limit: Duration) -> anyhow::Result<bool> {
    let mut cache = stack.cache_client().await?;
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Ok(stats) = cache.stats(StatsRequest {}).await
            && stats.get_ref().backend == backend
        {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(false)
}

/// Stops the traffic (a second after the fault is over) and checks its record: not one request
/// failed, every acknowledged event is stored once, and today's total equals them. Prints the
/// test's RELIABILITY line: `detail`, then the requests sent between `broken_from` and
/// `broken_until`.
async fn stop_and_check(
    stack: &TestStack,
    user: &Session,
    traffic: Traffic,
    test: &str,
    (broken_from, broken_until): (Duration, Duration),
    detail: String,
) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let outcomes = traffic.stop().await;
    let tally = tally_of(&outcomes);
    let (lost, duplicated) = lost_and_duplicated(stack, &user.user_id, &outcomes).await?;
    let during = outcomes
        .iter()
        .filter(|o| o.sent_at >= broken_from && o.sent_at < broken_until)
        .count();
    tally.report(
        &format!("faults_cache::{test}"),
        &format!(
            "{detail} requests_while_broken={during} lost={lost} duplicated={duplicated} traffic={}",
            summary(&outcomes)
        ),
    );
    assert_eq!(tally.errors, 0, "{}", summary(&outcomes));
    assert_eq!((lost, duplicated), (0, 0));
    fresh_total(stack, &user.access_token, &outcomes).await
}

/// Polls the cache service until it has taken the invalidation of a write (every write of the
/// traffic invalidates its user there; the views read after it are the writing replica's own,
/// so they are not stored there): it is in use.
async fn takes_invalidations(stack: &TestStack, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Ok(mut cache) = stack.cache_client().await
            && let Ok(stats) = cache.stats(StatsRequest {}).await
            && stats
                .get_ref()
                .latency
                .iter()
                .any(|operation| operation.operation == "invalidate_users" && operation.count > 0)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The cache service as a process of its own on the stack's cache address and Redis namespace;
/// killed with SIGKILL when dropped.
struct CacheProcess(Child);

impl CacheProcess {
    fn start(stack: &TestStack) -> anyhow::Result<Self> {
        let child = Command::new(env!("CARGO_BIN_EXE_cache_process"))
            .env("CACHE_ADDR", stack.cache_addr.to_string())
            .env("REDIS_URL", stack.redis_url().unwrap_or(""))
            .env("CACHE_NAMESPACE", &stack.cache_namespace)
            .env("RUST_LOG", "warn")
            .env("INTERNAL_TLS", "off")
            .env_remove("METRICS_ADDR")
            .stdout(Stdio::null())
            .spawn()?;
        Ok(Self(child))
    }

    /// SIGKILL: no drain, connections reset mid-call.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for CacheProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn the_cache_service_killed_and_restarted_under_traffic_fails_nothing() -> anyhow::Result<()>
{
    let mut stack = TestStack::start_with(StackOptions {
        gateway_env: unlimited_rate(),
        ..Default::default()
    })
    .await?;
    // The in-process cache service gives its address to a process that can be killed.
    stack.stop_service("cache").await?;
    let mut cache = CacheProcess::start(&stack)?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    let traffic = Traffic::start(&stack.api, &user, TrafficOptions::default());
    assert!(
        traffic.steady().await,
        "writes are acknowledged before the fault"
    );
    assert!(
        takes_invalidations(&stack, Duration::from_secs(20)).await,
        "the cache process is in use before it is killed"
    );
    let killed_at = traffic.elapsed();
    cache.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restarted_at = traffic.elapsed();
    let _cache = CacheProcess::start(&stack)?;
    let used_again = takes_invalidations(&stack, Duration::from_secs(20)).await;
    stop_and_check(
        &stack,
        &user,
        traffic,
        "the_cache_service_killed_and_restarted_under_traffic_fails_nothing",
        (killed_at, restarted_at),
        format!(
            "cache_down={:?} used_again={used_again}",
            restarted_at - killed_at
        ),
    )
    .await?;
    assert!(
        used_again,
        "the restarted cache service takes invalidations again"
    );
    stack.stop().await
}

#[tokio::test]
async fn redis_killed_and_restarted_under_traffic_fails_nothing() -> anyhow::Result<()> {
    let mut redis = PrivateRedis::start()?;
    let stack = TestStack::start_with(StackOptions {
        redis_url: Some(redis.url()),
        gateway_env: unlimited_rate(),
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    let traffic = Traffic::start(&stack.api, &user, TrafficOptions::default());
    assert!(
        traffic.steady().await,
        "writes are acknowledged before the fault"
    );
    let killed_at = traffic.elapsed();
    redis.kill();
    assert!(backend_is(&stack, "memory", Duration::from_secs(20)).await?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restarted_at = traffic.elapsed();
    redis.restart()?;
    assert!(backend_is(&stack, "redis", Duration::from_secs(20)).await?);
    let back_at = traffic.elapsed();
    stop_and_check(
        &stack,
        &user,
        traffic,
        "redis_killed_and_restarted_under_traffic_fails_nothing",
        (killed_at, back_at),
        format!(
            "redis_down={:?} back_on_redis_after={:?}",
            restarted_at - killed_at,
            back_at - restarted_at
        ),
    )
    .await?;
    stack.stop().await
}

#[tokio::test]
async fn the_cache_service_stopped_and_restarted_under_traffic_fails_nothing() -> anyhow::Result<()>
{
    let mut stack = TestStack::start_with(StackOptions {
        gateway_env: unlimited_rate(),
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    let traffic = Traffic::start(&stack.api, &user, TrafficOptions::default());
    assert!(
        traffic.steady().await,
        "writes are acknowledged before the fault"
    );
    let stopped_at = traffic.elapsed();
    stack.stop_service("cache").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restarted_at = traffic.elapsed();
    stack.restart_cache().await?;
    let used_again = takes_invalidations(&stack, Duration::from_secs(20)).await;
    stop_and_check(
        &stack,
        &user,
        traffic,
        "the_cache_service_stopped_and_restarted_under_traffic_fails_nothing",
        (stopped_at, restarted_at),
        format!(
            "cache_down={:?} used_again={used_again}",
            restarted_at - stopped_at
        ),
    )
    .await?;
    assert!(
        used_again,
        "the restarted cache service takes invalidations again"
    );
    stack.stop().await
}

/// How many keys of the user Redis holds (views, generation, counters: all carry `{u:<id>}`).
async fn redis_keys_of(redis_url: &str, user_id: &str) -> anyhow::Result<usize> {
    use fred::prelude::*;
    use futures_util::StreamExt;
    let client = Builder::from_config(Config::from_url(redis_url)?).build()?;
    client.init().await?;
    let mut keys = client.scan_buffered(format!("*{{u:{user_id}}}*"), Some(500), None);
    let mut count = 0;
    while let Some(key) = keys.next().await {
        key?;
        count += 1;
    }
    client.quit().await?;
    Ok(count)
}

#[tokio::test]
async fn an_erasure_while_the_cache_service_is_down_removes_every_key_once_it_is_back()
-> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    let redis_url = stack
        .redis_url()
        .ok_or_else(|| anyhow::anyhow!("this test needs Redis"))?
        .to_owned();
    stack.stop_service("cache").await?;
    let mut cache = CacheProcess::start(&stack)?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    let token = Some(user.access_token.as_str());
    // Views, a generation and read counters of the user in Redis.
    let started = std::time::Instant::now();
    while redis_keys_of(&redis_url, &user.user_id).await? < 3 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(20),
            "no keys stored"
        );
        // Read first: views of a generation this replica's own write made are not stored there.
        for path in [
            "/api/v1/analytics/dashboard",
            "/api/v1/analytics/quick-stats",
        ] {
            stack.api.get(path, token).await?;
        }
        stack
            .api
            .track_batch(
                &user.access_token,
                &[serde_json::json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 5})],
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let held = redis_keys_of(&redis_url, &user.user_id).await?;

    cache.kill();
    let erased = stack.api.delete("/api/v1/me", token).await?;
    assert_eq!(erased.status, 204, "{erased:?}");
    // At least as many (the read counters, sent once a second, may have landed since).
    let after_erasure = redis_keys_of(&redis_url, &user.user_id).await?;
    assert!(
        after_erasure >= held,
        "nothing could remove them while the cache service is down: {after_erasure} < {held}"
    );
    let held = after_erasure;

    // Back: the erasure recorded with the deletion is done by analytics' retry.
    let _cache = CacheProcess::start(&stack)?;
    let back = std::time::Instant::now();
    let mut left = held;
    while left > 0 && back.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = redis_keys_of(&redis_url, &user.user_id).await?;
    }
    println!(
        "erasure while the cache service was down: {held} keys, 0 left {:?} after it came back",
        back.elapsed()
    );
    assert_eq!(left, 0, "every key of the erased user is gone");
    stack.stop().await
}
