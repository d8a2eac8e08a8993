//! The cache service's contract, one suite run against each backend it can have: the in-process
//! store, a standalone Redis and a 3-master Redis Cluster. Counts in the statistics must match
//! the calls made exactly.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use wellbeing_common::grpc::TracedChannel;
use wellbeing_proto::cache::v1::cache_client::CacheClient;
use wellbeing_proto::cache::v1::*;
use wellbeing_tests::redis::RedisCluster;

/// A cache service on its own, stopped when dropped.
struct CacheUnderTest {
    client: CacheClient<TracedChannel>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl CacheUnderTest {
    async fn start(redis_url: &str) -> anyhow::Result<Self> {
        let namespace = format!("wbtest-{}", uuid::Uuid::new_v4().simple());
        let config = wellbeing_cache::CacheConfig::from_source(
            &[
                ("REDIS_URL", redis_url),
                ("CACHE_NAMESPACE", namespace.as_str()),
                ("INTERNAL_TLS", "off"),
            ][..],
        )?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = wellbeing_cache::Application::build_with_listener(config, listener);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        let channel = wellbeing_common::grpc::channel(
            &[format!("http://{addr}")],
            &wellbeing_common::internal_tls::Transport::Plaintext,
            wellbeing_common::internal_tls::Role::Cache,
        )?;
        let client = CacheClient::new(channel);
        // Ready when the backend it was configured with serves.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(stats) = client.clone().stats(StatsRequest {}).await {
                let wanted = if redis_url.is_empty() {
                    "memory"
                } else {
                    "redis"
                };
                if stats.get_ref().backend == wanted {
                    break;
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the cache service did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Self {
            client,
            stop: Some(stop),
            task: Some(task),
        })
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

fn key(user: &str, view: &str, params: &str) -> Option<ViewKey> {
    Some(ViewKey {
        user_id: user.to_owned(),
        view: view.to_owned(),
        params: params.to_owned(),
    })
}

async fn get(
    client: &mut CacheClient<TracedChannel>,
    user: &str,
    view: &str,
) -> anyhow::Result<Option<Bytes>> {
    let response = client
        .get(GetRequest {
            key: key(user, view, "p"),
        })
        .await?
        .into_inner();
    Ok(response.found.then_some(response.value))
}

async fn set(
    client: &mut CacheClient<TracedChannel>,
    user: &str,
    view: &str,
    value: &'static [u8],
    ttl: u32,
) -> anyhow::Result<()> {
    client
        .set(SetRequest {
            key: key(user, view, "p"),
            value: Bytes::from_static(value),
            ttl_seconds: ttl,
            version: None,
        })
        .await?;
    Ok(())
}

/// The contract every backend must keep.
async fn contract(redis_url: &str, backend: &str) -> anyhow::Result<()> {
    let cache = CacheUnderTest::start(redis_url).await?;
    let mut client = cache.client.clone();
    let (alice, bob) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    let mut invalidations = client
        .watch_invalidations(WatchInvalidationsRequest {})
        .await?
        .into_inner();

    // A miss, a set, a hit: exactly one of each in the statistics.
    assert_eq!(get(&mut client, &alice, "daily").await?, None);
    set(&mut client, &alice, "daily", b"{\"a\":1}", 60).await?;
    assert_eq!(
        get(&mut client, &alice, "daily").await?,
        Some(Bytes::from_static(b"{\"a\":1}"))
    );
    let stats = client.stats(StatsRequest {}).await?.into_inner();
    assert_eq!(
        (stats.hits, stats.misses, stats.sets),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.hit_rate_percent, 50.0);
    assert_eq!(stats.backend, backend);
    assert!(!stats.degraded);
    // Latency per operation: two gets and one set so far.
    let count_of = |operation: &str| {
        stats
            .latency
            .iter()
            .find(|latency| latency.operation == operation)
            .map(|latency| (latency.count, latency.max_ms >= latency.average_ms))
    };
    assert_eq!(count_of("get"), Some((2, true)));
    assert_eq!(count_of("set"), Some((1, true)));

    // Parameters select different entries.
    let other_params = client
        .get(GetRequest {
            key: key(&alice, "daily", "other"),
        })
        .await?
        .into_inner();
    assert!(!other_params.found);

    // Invalidating users hides all of their views, and only theirs; watchers hear of it.
    let carol = uuid::Uuid::new_v4().to_string();
    set(&mut client, &bob, "daily", b"bob", 60).await?;
    set(&mut client, &carol, "daily", b"carol", 60).await?;
    let generations = client
        .invalidate_users(InvalidateUsersRequest {
            user_ids: vec![alice.clone(), carol.clone()],
        })
        .await?
        .into_inner()
        .generations;
    assert_eq!(generations, [1, 1]);
    assert_eq!(get(&mut client, &alice, "daily").await?, None);
    assert_eq!(get(&mut client, &carol, "daily").await?, None);
    assert_eq!(
        get(&mut client, &bob, "daily").await?,
        Some(Bytes::from_static(b"bob"))
    );
    let nameless = client
        .invalidate_users(InvalidateUsersRequest {
            user_ids: vec![bob.clone(), String::new()],
        })
        .await
        .unwrap_err();
    assert_eq!(nameless.code(), tonic::Code::InvalidArgument);
    assert!(
        get(&mut client, &bob, "daily").await?.is_some(),
        "nothing done"
    );
    // Each call reaches a watcher as one message naming its users, exactly once (a second
    // message would drop again the copies a process made right after the write): a later
    // invalidation marks the end.
    let dave = uuid::Uuid::new_v4().to_string();
    client
        .invalidate_users(InvalidateUsersRequest {
            user_ids: vec![dave.clone()],
        })
        .await?;
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        let mut heard: Vec<Vec<String>> = Vec::new();
        while let Some(message) = invalidations.next().await {
            if let Some(invalidation::Scope::Users(users)) = message?.scope {
                let done = users.user_ids.contains(&dave);
                heard.push(users.user_ids);
                if done {
                    break;
                }
            }
        }
        anyhow::Ok(heard)
    })
    .await??;
    assert_eq!(
        heard,
        [vec![alice.clone(), carol.clone()], vec![dave.clone()]],
        "each invalidation reached the watcher once, as one message"
    );

    // A view is stored under the version its lookup returned: computed before a write of the
    // user, it is never taken for the generation that write made.
    let erin = uuid::Uuid::new_v4().to_string();
    let lookup = client
        .get(GetRequest {
            key: key(&erin, "daily", "p"),
        })
        .await?
        .into_inner();
    let before_write = lookup.version.expect("a lookup names its version");
    assert!(!lookup.found);
    client
        .invalidate_users(InvalidateUsersRequest {
            user_ids: vec![erin.clone()],
        })
        .await?;
    let store_under = |version: Version, value: &'static [u8]| SetRequest {
        key: key(&erin, "daily", "p"),
        value: Bytes::from_static(value),
        ttl_seconds: 60,
        version: Some(version),
    };
    client.set(store_under(before_write, b"old")).await?;
    assert_eq!(
        get(&mut client, &erin, "daily").await?,
        None,
        "older view hidden"
    );
    let after_write = client
        .get(GetRequest {
            key: key(&erin, "daily", "p"),
        })
        .await?
        .into_inner()
        .version
        .expect("a lookup names its version");
    assert_eq!(after_write.generation, before_write.generation + 1);
    client.set(store_under(after_write, b"new")).await?;
    assert_eq!(
        get(&mut client, &erin, "daily").await?,
        Some(Bytes::from_static(b"new"))
    );

    // Delete removes one view.
    set(&mut client, &alice, "weekly", b"w", 60).await?;
    let deleted = client
        .delete(DeleteRequest {
            key: key(&alice, "weekly", "p"),
        })
        .await?
        .into_inner();
    assert!(deleted.deleted);
    let again = client
        .delete(DeleteRequest {
            key: key(&alice, "weekly", "p"),
        })
        .await?
        .into_inner();
    assert!(!again.deleted);

    // Per-user read counters add up exactly.
    client
        .record_user_stats(RecordUserStatsRequest {
            deltas: vec![
                UserStatsDelta {
                    user_id: alice.clone(),
                    hits: 3,
                    misses: 1,
                },
                UserStatsDelta {
                    user_id: alice.clone(),
                    hits: 2,
                    misses: 0,
                },
                UserStatsDelta {
                    user_id: bob.clone(),
                    hits: 0,
                    misses: 4,
                },
            ],
        })
        .await?;
    let alice_stats = client
        .user_stats(UserStatsRequest {
            user_id: alice.clone(),
        })
        .await?
        .into_inner();
    // 3 + 2 = 5 hits, 1 miss: 5 / 6 = 83.3 %
    assert_eq!(
        (
            alice_stats.hits,
            alice_stats.misses,
            alice_stats.hit_rate_percent
        ),
        (5, 1, 83.3)
    );
    assert_eq!(alice_stats.backend, backend);

    // A view with a 1 s TTL is gone after it (polled, bounded).
    set(&mut client, &bob, "short", b"s", 1).await?;
    assert!(get(&mut client, &bob, "short").await?.is_some());
    let deadline = Instant::now() + Duration::from_secs(5);
    while get(&mut client, &bob, "short").await?.is_some() {
        anyhow::ensure!(Instant::now() < deadline, "the 1 s TTL did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Erasure removes every key of the user, counters included, and no one else's.
    set(&mut client, &alice, "daily", b"again", 60).await?;
    let erased = client
        .erase_user(EraseUserRequest {
            user_id: alice.clone(),
        })
        .await?
        .into_inner();
    assert!(
        erased.deleted >= 3,
        "views, generation and counters: {erased:?}"
    );
    assert_eq!(get(&mut client, &alice, "daily").await?, None);
    let alice_stats = client
        .user_stats(UserStatsRequest {
            user_id: alice.clone(),
        })
        .await?
        .into_inner();
    assert_eq!((alice_stats.hits, alice_stats.misses), (0, 0));
    assert_eq!(
        get(&mut client, &bob, "daily").await?,
        Some(Bytes::from_static(b"bob"))
    );

    // Clearing the whole namespace leaves nothing.
    let cleared = client
        .clear_prefix(ClearPrefixRequest {
            prefix: String::new(),
        })
        .await?
        .into_inner();
    assert!(cleared.deleted >= 1);
    assert_eq!(get(&mut client, &bob, "daily").await?, None);

    // Bad requests are refused.
    let missing = client.get(GetRequest { key: None }).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::InvalidArgument);

    cache.stop().await
}

#[tokio::test]
async fn contract_holds_on_the_in_process_store() -> anyhow::Result<()> {
    contract("", "memory").await
}

#[tokio::test]
async fn contract_holds_on_standalone_redis() -> anyhow::Result<()> {
    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    contract(&url, "redis").await
}

#[tokio::test]
async fn contract_holds_on_a_redis_cluster() -> anyhow::Result<()> {
    let cluster = RedisCluster::start()?;
    contract(&cluster.url(), "redis").await
}
