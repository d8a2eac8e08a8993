//! The gateway's view cache: a repeated read answers from the gateway (no hop), a write
//! through that gateway is visible to the very next read, a write through another gateway is
//! visible as soon as its invalidation arrives, the caller's statistics count the gateway's
//! hits, and an erased account's views are never served again.

use std::time::{Duration, Instant};

use serde_json::json;
use wellbeing_tests::{Api, Session, TestStack, daytime_zone};

const DAILY: &str = "/api/v1/analytics/summary/daily";

/// The gateway's `wellbeing_gateway_view_cache_hits_total`.
async fn gateway_hits(api: &Api) -> anyhow::Result<u64> {
    let text = reqwest::get(api.url("/metrics")).await?.text().await?;
    text.lines()
        .find_map(|line| line.strip_prefix("wellbeing_gateway_view_cache_hits_total "))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no view cache hits series in /metrics"))
}

async fn screen_time_today(api: &Api, user: &Session) -> anyhow::Result<f64> {
    let answer = api.get(DAILY, Some(&user.access_token)).await?;
    anyhow::ensure!(answer.status == 200, "read failed: {answer:?}");
    answer.json["data"]["total_screen_time_minutes"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("no total in {answer:?}"))
}

async fn track(api: &Api, user: &Session, minutes: f64) -> anyhow::Result<()> {
    let answer = api
        .post(
            "/api/v1/analytics/track/screen-time",
            &json!({"app_name": "Reader", "duration_minutes": minutes}),
            Some(&user.access_token),
        )
        .await?;
    anyhow::ensure!(answer.status == 201, "write failed: {answer:?}");
    Ok(())
}

/// Reads until the gateway answers a read itself (it keeps views only once it follows the
/// invalidation stream, which it joins shortly after starting).
async fn until_gateway_hit(api: &Api, user: &Session) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let before = gateway_hits(api).await?;
        screen_time_today(api, user).await?;
        screen_time_today(api, user).await?;
        if gateway_hits(api).await? > before {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the gateway never answered a read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn repeated_reads_are_answered_by_the_gateway_and_never_older_than_its_writes()
-> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login(&daytime_zone()).await?;
    track(api, &user, 10.0).await?;
    until_gateway_hit(api, &user).await?;
    let before = screen_time_today(api, &user).await?;

    // Read-your-writes through the same gateway, with no wait at all.
    for round in 1..=5 {
        track(api, &user, 3.0).await?;
        let after = screen_time_today(api, &user).await?;
        assert!(
            (after - before - 3.0 * f64::from(round)).abs() < 1e-6,
            "round {round}: {before} then {after}"
        );
    }
    // And the view read after the write is kept again.
    let hits = gateway_hits(api).await?;
    let total = screen_time_today(api, &user).await?;
    screen_time_today(api, &user).await?;
    assert!(gateway_hits(api).await? > hits, "not kept after the write");
    assert!((total - before - 15.0).abs() < 1e-6);

    // The statistics include the gateway's hits, up to this very read.
    let stats = api
        .get("/api/v1/analytics/cache", Some(&user.access_token))
        .await?;
    let counted = stats.json["data"]["hits"].as_u64().unwrap_or(0);
    assert!(
        counted >= gateway_hits(api).await?,
        "statistics {stats:?} miss the gateway's hits"
    );

    // `POST /batch` only reads: the views kept stay kept (and it is answered from them).
    let batch = api
        .post(
            "/api/v1/batch",
            &json!({"requests": [{"method": "GET", "path": DAILY}]}),
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(batch.status, 200, "{batch:?}");
    let hits = gateway_hits(api).await?;
    screen_time_today(api, &user).await?;
    assert!(
        gateway_hits(api).await? > hits,
        "a read batch dropped the views"
    );

    // Another user's identical request is never answered with this user's view.
    let other = api.register_and_login(&daytime_zone()).await?;
    assert_eq!(screen_time_today(api, &other).await?, 0.0);
    stack.stop().await
}

#[tokio::test]
async fn a_write_through_another_gateway_reaches_this_gateways_readers() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    let second = stack.start_gateway().await?;
    let api = stack.api.clone();
    let user = api.register_and_login(&daytime_zone()).await?;
    track(&api, &user, 10.0).await?;
    until_gateway_hit(&api, &user).await?;
    let before = screen_time_today(&api, &user).await?;

    track(&second, &user, 7.0).await?;
    let written = Instant::now();
    loop {
        let seen = screen_time_today(&api, &user).await?;
        if (seen - before - 7.0).abs() < 1e-6 {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(5),
            "the first gateway still serves {seen} (before {before}) 5 s after the write"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "a write through the second gateway was visible on the first after {:?}",
        written.elapsed()
    );
    stack.stop().await
}

#[tokio::test]
async fn an_erased_accounts_views_are_not_served_again() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    let second = stack.start_gateway().await?;
    let api = stack.api.clone();
    let user = api.register_and_login(&daytime_zone()).await?;
    track(&api, &user, 10.0).await?;
    until_gateway_hit(&api, &user).await?;

    // Erased through the other gateway: this one hears of it on the invalidation stream.
    let erased = second
        .delete("/api/v1/me", Some(&user.access_token))
        .await?;
    assert!(erased.status < 300, "erasure failed: {erased:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = api.get(DAILY, Some(&user.access_token)).await?;
        if answer.status != 200 {
            assert!(answer.status == 401 || answer.status == 404, "{answer:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the erased account's view is still served 5 s later"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stack.stop().await
}
