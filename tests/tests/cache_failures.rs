//! The cache levels under stress and failure: concurrent misses computed once, a Redis outage
//! (paused or killed) and a cache-service outage with 0 failed reads and no stale view after,
//! and the copies in two analytics replicas kept coherent.

use std::time::{Duration, Instant};

use serde_json::json;
use tonic::transport::Channel;
use wellbeing_proto::analytics::v1::DailySummaryRequest;
use wellbeing_proto::analytics::v1::analytics_client::AnalyticsClient;
use wellbeing_proto::cache::v1::StatsRequest;
use wellbeing_tests::redis::PrivateRedis;
use wellbeing_tests::{Api, Session, StackOptions, TestStack, daytime_zone};

fn minutes_ago(minutes: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn track(api: &Api, user: &Session, minutes: f64, ago: i64) -> anyhow::Result<()> {
    let answer = api
        .post(
            "/api/v1/analytics/track/screen-time",
            &json!({"app_name": "Reader", "duration_minutes": minutes, "timestamp": minutes_ago(ago)}),
            Some(&user.access_token),
        )
        .await?;
    anyhow::ensure!(answer.status == 201, "write failed: {answer:?}");
    Ok(())
}

/// Today's screen time through REST; any non-200 fails the test.
async fn screen_time_today(api: &Api, user: &Session) -> anyhow::Result<f64> {
    let answer = api
        .get("/api/v1/analytics/summary/daily", Some(&user.access_token))
        .await?;
    anyhow::ensure!(answer.status == 200, "read failed: {answer:?}");
    answer.json["data"]["total_screen_time_minutes"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("no total in {answer:?}"))
}

/// Polls the cache service until it serves from `backend`.
async fn wait_for_backend(stack: &TestStack, backend: &str) -> anyhow::Result<()> {
    let mut cache = stack.cache_client().await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(stats) = cache.stats(StatsRequest {}).await
            && stats.get_ref().backend == backend
        {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the cache never switched to {backend}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the cache service until its in-process store holds nothing (it is emptied right after
/// the switch back to Redis).
async fn wait_for_empty_memory(stack: &TestStack) -> anyhow::Result<()> {
    let mut cache = stack.cache_client().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = cache.stats(StatsRequest {}).await?.into_inner();
        if stats.memory_keys == 0 {
            assert_eq!(stats.failovers, 1, "one outage, one switch: {stats:?}");
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the in-process store still holds {} keys on redis",
            stats.memory_keys
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A stack with two analytics replicas, a user who tracked 15 minutes, and a client of each
/// replica.
async fn two_replicas_and_a_user()
-> anyhow::Result<(TestStack, Session, Vec<AnalyticsClient<Channel>>)> {
    let stack = TestStack::start_with(StackOptions {
        analytics_replicas: 2,
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    track(&stack.api, &user, 15.0, 100).await?;
    let mut replicas = Vec::new();
    for addr in &stack.analytics_addrs {
        replicas.push(AnalyticsClient::connect(format!("http://{addr}")).await?);
    }
    Ok((stack, user, replicas))
}

/// Today's screen-time minutes as one replica serves the user's daily summary.
async fn daily_total(
    replica: &mut AnalyticsClient<Channel>,
    user: &Session,
) -> anyhow::Result<f64> {
    let request = DailySummaryRequest {
        user_id: user.user_id.clone(),
        date: None,
    };
    let view = replica.daily_summary(request).await?.into_inner();
    let value: serde_json::Value = serde_json::from_slice(&view.json)?;
    Ok(value["total_screen_time_minutes"].as_f64().unwrap_or(-1.0))
}

#[tokio::test]
async fn fifty_concurrent_reads_of_a_cold_view_compute_it_once() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    track(&stack.api, &user, 25.0, 90).await?;

    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (api, user) = (stack.api.clone(), user.clone());
        reads.spawn(async move { screen_time_today(&api, &user).await });
    }
    while let Some(total) = reads.join_next().await {
        assert_eq!(total??, 25.0);
    }
    // One computation: the user's statistics count one miss (the generation is the write's
    // own, so the cache service is not asked: analytics counts for it).
    let stats = stack
        .api
        .get("/api/v1/analytics/cache", Some(&user.access_token))
        .await?;
    assert_eq!(stats.json["data"]["misses"], 1, "{stats:?}");
    stack.stop().await
}

#[tokio::test]
async fn a_paused_redis_fails_no_read_and_leaves_no_stale_view() -> anyhow::Result<()> {
    let redis = PrivateRedis::start()?;
    let stack = TestStack::start_with(StackOptions {
        redis_url: Some(redis.url()),
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    track(&stack.api, &user, 30.0, 120).await?;
    assert_eq!(screen_time_today(&stack.api, &user).await?, 30.0);
    assert_eq!(
        screen_time_today(&stack.api, &user).await?,
        30.0,
        "now cached in redis"
    );

    // Redis stops answering but keeps its data (a stall, not a crash).
    let paused = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port.to_string(),
            "client",
            "pause",
            "4000",
            "ALL",
        ])
        .output()?;
    assert!(paused.status.success());
    let mut reads = 0;
    // 30 + 12 = 42 after the write made during the stall.
    track(&stack.api, &user, 12.0, 60).await?;
    for _ in 0..20 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 42.0);
        reads += 1;
    }
    let stats = stack
        .cache_client()
        .await?
        .stats(StatsRequest {})
        .await?
        .into_inner();
    assert!(stats.degraded && stats.backend == "memory", "{stats:?}");
    assert_eq!(stats.failovers, 1, "{stats:?}");
    assert!(
        stats.memory_keys > 0,
        "the outage's views are in memory: {stats:?}"
    );

    // Back on Redis: the view cached there before the stall (30) must not come back.
    wait_for_backend(&stack, "redis").await?;
    for _ in 0..20 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 42.0);
        reads += 1;
    }
    assert_eq!(reads, 40, "every read answered");
    // What the outage put in process memory is given back once Redis serves again.
    wait_for_empty_memory(&stack).await?;
    stack.stop().await
}

#[tokio::test]
async fn a_killed_redis_fails_no_read_and_is_used_again_once_restarted() -> anyhow::Result<()> {
    let mut redis = PrivateRedis::start()?;
    let stack = TestStack::start_with(StackOptions {
        redis_url: Some(redis.url()),
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    track(&stack.api, &user, 20.0, 100).await?;
    assert_eq!(screen_time_today(&stack.api, &user).await?, 20.0);

    redis.kill();
    for _ in 0..10 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 20.0);
    }
    // 20 + 5 = 25: writes go on, and reads see them.
    track(&stack.api, &user, 5.0, 50).await?;
    for _ in 0..10 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 25.0);
    }
    redis.restart()?;
    wait_for_backend(&stack, "redis").await?;
    // 25 + 5 = 30
    track(&stack.api, &user, 5.0, 40).await?;
    for _ in 0..10 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 30.0);
    }
    stack.stop().await
}

#[tokio::test]
async fn a_stopped_cache_service_fails_no_read_and_leaves_no_stale_view() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    track(&stack.api, &user, 10.0, 100).await?;
    assert_eq!(screen_time_today(&stack.api, &user).await?, 10.0);

    stack.stop_service("cache").await?;
    let started = Instant::now();
    for _ in 0..10 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 10.0);
    }
    // 10 + 7 = 17: the cache service cannot be told, yet the write is seen.
    track(&stack.api, &user, 7.0, 60).await?;
    for _ in 0..10 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 17.0);
    }
    let outage = started.elapsed();
    assert!(
        outage < Duration::from_secs(10),
        "reads stayed fast: {outage:?} for 21 requests"
    );

    // Back: the view cached before the outage (10) must never be served.
    stack.restart_cache().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut cache = stack.cache_client().await?;
    loop {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 17.0);
        let stats = cache.stats(StatsRequest {}).await?.into_inner();
        // Analytics asks the cache service again. (Whether the first view computed after the
        // restart is also stored there depends on timing: a view computed while the user's
        // generation moved, as it does when the invalidation stream reconnects, is not stored.)
        if stats.hits + stats.misses > 0 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the cache service was never used again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.stop().await
}

#[tokio::test]
async fn near_caches_of_two_replicas_stay_coherent() -> anyhow::Result<()> {
    let (stack, user, mut replicas) = two_replicas_and_a_user().await?;
    // Both replicas hold a copy of the view.
    for replica in &mut replicas {
        for _ in 0..3 {
            assert_eq!(daily_total(replica, &user).await?, 15.0);
        }
    }
    // A write through the gateway (either replica); the other replica must drop its copy.
    // 15 + 6 = 21
    track(&stack.api, &user, 6.0, 50).await?;
    let written = Instant::now();
    for replica in &mut replicas {
        loop {
            if daily_total(replica, &user).await? == 21.0 {
                break;
            }
            anyhow::ensure!(
                written.elapsed() < Duration::from_secs(1),
                "a replica served the old view for over a second"
            );
            tokio::task::yield_now().await;
        }
    }
    eprintln!(
        "both replicas fresh {:?} after the write",
        written.elapsed()
    );
    // The test's own connections would keep the replicas draining (up to 20 s) at stop.
    drop(replicas);
    stack.stop().await
}

/// A generation of a user made by a replica's own write is served from that replica alone:
/// its reads after the write make no lookup in the cache service (a sure miss, and a lookup
/// sent before the cache service counted the write would find the views from before it) and
/// store nothing there, while the other replica looks up and stores as before. Both show the
/// write.
#[tokio::test]
async fn views_after_a_replicas_own_write_skip_the_cache_service() -> anyhow::Result<()> {
    let (stack, user, mut replicas) = two_replicas_and_a_user().await?;
    track(&stack.api, &user, 6.0, 50).await?;
    let lookups_and_stores = async || -> anyhow::Result<(u64, u64)> {
        let stats = stack.cache_client().await?.stats(StatsRequest {}).await?;
        Ok((
            stats.get_ref().hits + stats.get_ref().misses,
            stats.get_ref().sets,
        ))
    };
    let before = lookups_and_stores().await?;
    for replica in &mut replicas {
        for _ in 0..3 {
            assert_eq!(daily_total(replica, &user).await?, 21.0);
        }
    }
    let after = lookups_and_stores().await?;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 1),
        "one lookup and one store, by the replica that did not make the generation"
    );
    drop(replicas);
    stack.stop().await
}

/// Redis behind a password (`requirepass`; the password in `REDIS_URL`, from a Secret in
/// Kubernetes): the cache service authenticates and keeps views there, while the same Redis
/// refuses a client without the password. (Given a URL without it, the cache service stays
/// NOT_SERVING, as it does until Redis answers.)
#[tokio::test]
async fn redis_with_a_password_is_used_with_it() -> anyhow::Result<()> {
    const PASSWORD: &str = "a-long-dev-password-for-redis";
    let redis = PrivateRedis::with_password(PASSWORD)?;
    let stack = TestStack::start_with(StackOptions {
        redis_url: Some(redis.url()),
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    // Read before the user's first write: a generation this replica did not make is looked
    // up and stored in Redis (the reads after the write are served by the writing replica).
    assert_eq!(screen_time_today(&stack.api, &user).await?, 0.0);
    track(&stack.api, &user, 20.0, 90).await?;
    for _ in 0..3 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 20.0);
    }
    let stats = stack
        .cache_client()
        .await?
        .stats(StatsRequest {})
        .await?
        .into_inner();
    assert_eq!(stats.backend, "redis", "{stats:?}");
    assert!(stats.sets > 0, "views were stored in Redis: {stats:?}");
    stack.stop().await?;

    let redis_cli = |password: Option<&str>| {
        let mut command = std::process::Command::new("redis-cli");
        command.args(["-p", &redis.port.to_string(), "--no-auth-warning"]);
        if let Some(password) = password {
            command.args(["-a", password]);
        }
        command.arg("dbsize").output()
    };
    let keys: u64 = String::from_utf8_lossy(&redis_cli(Some(PASSWORD))?.stdout)
        .trim()
        .parse()?;
    assert!(keys > 0, "the views are in the protected Redis");
    let refused = String::from_utf8_lossy(&redis_cli(None)?.stdout).into_owned();
    assert!(refused.contains("NOAUTH"), "{refused}");
    Ok(())
}

/// Redis over TLS (`rediss://`) with a private authority (`REDIS_TLS_CA_FILE`): the cache
/// service stores and reads views through it; plaintext to that Redis is refused, and a cache
/// service that trusts another authority does not use it (it serves from memory, degraded).
#[tokio::test]
async fn redis_over_tls_is_used_with_its_authority() -> anyhow::Result<()> {
    const PASSWORD: &str = "a-long-dev-password-for-redis";
    let root = std::env::temp_dir().join(format!("redis-tls-{}", uuid::Uuid::new_v4().simple()));
    // The server's certificate names the address the URL dials (an IP address SAN).
    wellbeing_dev_certs::issue(&root.join("ours"), &["127.0.0.1"])?;
    wellbeing_dev_certs::issue(&root.join("theirs"), &["127.0.0.1"])?;
    let redis = PrivateRedis::with_tls(PASSWORD, &root.join("ours").join("127.0.0.1"))?;
    assert!(redis.url().starts_with("rediss://"));
    let authority = |which: &str| {
        root.join(which)
            .join("ca.crt")
            .to_string_lossy()
            .into_owned()
    };

    let stack = TestStack::start_with(StackOptions {
        redis_url: Some(redis.url()),
        cache_env: vec![("REDIS_TLS_CA_FILE".into(), authority("ours"))],
        ..Default::default()
    })
    .await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    // Read before the user's first write: a generation this replica did not make is looked
    // up and stored in Redis (the reads after the write are served by the writing replica).
    assert_eq!(screen_time_today(&stack.api, &user).await?, 0.0);
    track(&stack.api, &user, 20.0, 90).await?;
    for _ in 0..3 {
        assert_eq!(screen_time_today(&stack.api, &user).await?, 20.0);
    }
    let stats = stack
        .cache_client()
        .await?
        .stats(StatsRequest {})
        .await?
        .into_inner();
    assert_eq!(stats.backend, "redis", "{stats:?}");
    assert!(!stats.degraded, "{stats:?}");
    assert!(
        stats.sets > 0,
        "views were stored in Redis over TLS: {stats:?}"
    );
    stack.stop().await?;

    let redis_cli = |tls: bool| {
        let mut command = std::process::Command::new("redis-cli");
        command.args([
            "-p",
            &redis.port.to_string(),
            "--no-auth-warning",
            "-a",
            PASSWORD,
        ]);
        if tls {
            command.args(["--tls", "--cacert", &authority("ours")]);
        }
        command.arg("dbsize").output()
    };
    let keys: u64 = String::from_utf8_lossy(&redis_cli(true)?.stdout)
        .trim()
        .parse()?;
    assert!(keys > 0, "the views are in the TLS-only Redis");
    let plaintext = redis_cli(false)?;
    assert!(
        String::from_utf8_lossy(&plaintext.stdout)
            .trim()
            .parse::<u64>()
            .is_err(),
        "plaintext answered: {plaintext:?}"
    );

    // Trusting another authority, a cache service cannot reach Redis: it serves from memory.
    let theirs = authority("theirs");
    let config = wellbeing_cache::CacheConfig::from_source(
        &[
            ("REDIS_URL", redis.url().as_str()),
            ("REDIS_TLS_CA_FILE", theirs.as_str()),
            ("INTERNAL_TLS", "off"),
        ][..],
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cache = tokio::spawn(
        wellbeing_cache::Application::build_with_listener(config, listener).run_until_stopped(
            async move {
                let _ = stopped.await;
            },
        ),
    );
    let channel = wellbeing_common::grpc::channel(
        &[format!("http://{addr}")],
        &wellbeing_common::internal_tls::Transport::Plaintext,
        wellbeing_common::internal_tls::Role::Cache,
    )?;
    let mut client = wellbeing_proto::cache::v1::cache_client::CacheClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(10);
    let stats = loop {
        if let Ok(stats) = client.stats(StatsRequest {}).await {
            break stats.into_inner();
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the cache service did not answer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(stats.backend, "memory", "{stats:?}");
    assert!(
        stats.degraded,
        "a configured Redis it cannot trust: {stats:?}"
    );
    let _ = stop.send(());
    cache.await??;
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}
