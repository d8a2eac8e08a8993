//! One of two analytics replicas lost under load. Stopped (as Kubernetes stops a pod: in-flight
//! calls drained), not one request fails. Killed (its connections cut at once, its port refusing:
//! a TCP proxy in front of it, tests/src/proxy.rs), no read fails (the gateway retries reads and
//! any call that never reached a replica on another one, and keeps a dead replica out of the
//! rotation for a while); only writes caught in flight inside the dying replica can fail, and the
//! phone's one retry with the same `event_id` stores each exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use wellbeing_tests::probe::Tally;
use wellbeing_tests::traffic::{Kind, Outcome, Traffic, TrafficOptions, summary, unlimited_rate};
use wellbeing_tests::{StackOptions, TestStack, daytime_zone};

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

/// `screen_time` rows of the user: event id -> how many times stored.
async fn stored(stack: &TestStack, user_id: &str) -> anyhow::Result<BTreeMap<String, u32>> {
    let mut db = stack.database.connect().await?;
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT event_id FROM screen_time WHERE user_id = $1")
            .bind(user_id.parse::<uuid::Uuid>()?)
            .fetch_all(&mut db)
            .await?;
    let mut counts = BTreeMap::new();
    for id in ids {
        *counts.entry(id.to_string()).or_default() += 1;
    }
    Ok(counts)
}

#[tokio::test]
async fn a_replica_stopped_under_load_fails_no_request() -> anyhow::Result<()> {
    let mut stack = TestStack::start_with(StackOptions {
        analytics_replicas: 2,
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
    stack.stop_service("analytics-1").await?;
    let gone_at = traffic.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let outcomes = traffic.stop().await;
    let tally = tally_of(&outcomes);
    let after = outcomes.iter().filter(|o| o.sent_at >= stopped_at).count();
    let stored = stored(&stack, &user.user_id).await?;
    let acknowledged: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.acknowledged())
        .flat_map(|o| o.events.iter().map(|e| e.event_id.as_str()))
        .collect();
    let lost = acknowledged
        .iter()
        .filter(|id| !stored.contains_key(**id))
        .count();
    tally.report(
        "faults_replica::a_replica_stopped_under_load_fails_no_request",
        &format!(
            "requests_after_stop={after} drain={:?} lost={lost} duplicated={} traffic={}",
            gone_at - stopped_at,
            stored.values().filter(|count| **count > 1).count(),
            summary(&outcomes)
        ),
    );
    assert_eq!(tally.errors, 0, "{}", summary(&outcomes));
    assert_eq!(lost, 0);
    assert_eq!(stored.len(), acknowledged.len());
    stack.stop().await
}

#[tokio::test]
async fn a_replica_killed_under_load_fails_no_read_and_no_write_beyond_one_retry()
-> anyhow::Result<()> {
    let mut stack = TestStack::start_with(StackOptions {
        analytics_replicas: 2,
        gateway_env: unlimited_rate(),
        analytics_proxies: true,
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    let traffic = Traffic::start(
        &stack.api,
        &user,
        TrafficOptions {
            writers: 3,
            readers: 3,
            ..Default::default()
        },
    );
    assert!(
        traffic.steady().await,
        "writes are acknowledged before the fault"
    );
    let killed_at = traffic.elapsed();
    stack.analytics_proxies[1].kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The replica comes back: it is used again, and nothing fails meanwhile either.
    let back_at = traffic.elapsed();
    stack.analytics_proxies[1].restart().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let outcomes = traffic.stop().await;

    let tally = tally_of(&outcomes);
    let failed_reads: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.kind == Kind::Read && o.status != 200)
        .collect();
    let failed_writes: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.kind != Kind::Read && !o.acknowledged())
        .collect();
    // The phone's retry: once, the same event ids.
    let mut retried = Tally::default();
    for outcome in &failed_writes {
        let events: Vec<_> = outcome
            .events
            .iter()
            .map(|e| json!({"type": "screen-time", "event_id": e.event_id, "app_name": "Traffic", "duration_minutes": e.minutes}))
            .collect();
        let answer = stack
            .api
            .post(
                "/api/v1/analytics/track/batch",
                &json!({"events": events}),
                Some(&user.access_token),
            )
            .await?;
        retried.count(answer.status);
        if !matches!(answer.status, 200 | 201) {
            retried.errors += 1;
        }
    }
    let stored = stored(&stack, &user.user_id).await?;
    let sent: Vec<&str> = outcomes
        .iter()
        .flat_map(|o| o.events.iter().map(|e| e.event_id.as_str()))
        .collect();
    let missing = sent.iter().filter(|id| !stored.contains_key(**id)).count();
    let duplicated = stored.values().filter(|count| **count > 1).count();
    let after_kill = outcomes
        .iter()
        .filter(|o| o.sent_at >= killed_at && o.sent_at < back_at)
        .count();
    tally.report(
        "faults_replica::a_replica_killed_under_load_fails_no_read_and_no_write_beyond_one_retry",
        &format!(
            "requests_while_dead={after_kill} failed_reads={} failed_writes={} \
             failed_writes_after_one_retry={} missing={missing} duplicated={duplicated} traffic={}",
            failed_reads.len(),
            failed_writes.len(),
            retried.errors,
            summary(&outcomes)
        ),
    );
    assert!(
        failed_reads.is_empty(),
        "reads failed: {:?}",
        failed_reads
            .iter()
            .map(|o| (o.sent_at, o.status))
            .collect::<Vec<_>>()
    );
    // Only the writes in flight inside the killed replica may fail: at most one per writer.
    assert!(
        failed_writes.len() <= 3,
        "{:?}",
        failed_writes
            .iter()
            .map(|o| (o.sent_at, o.status))
            .collect::<Vec<_>>()
    );
    // ...each answered 503 with Retry-After (a dependency cut off, never a 500).
    assert!(
        failed_writes
            .iter()
            .all(|o| o.status == 503 && o.retry_after),
        "{:?}",
        failed_writes.iter().map(|o| o.status).collect::<Vec<_>>()
    );
    assert_eq!(retried.errors, 0);
    assert_eq!(missing, 0);
    assert_eq!(duplicated, 0);
    stack.stop().await
}
