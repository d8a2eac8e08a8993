//! The foundation works end to end: REST -> gateway -> gRPC -> analytics -> cache service and
//! PostgreSQL, with exact numbers.

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::json;
use wellbeing_proto::cache::v1::StatsRequest;
use wellbeing_tests::{TestStack, daytime_zone};

fn minutes_ago(minutes: i64) -> String {
    (Utc::now() - Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn screen_time_recorded_over_rest_shows_in_quick_stats_through_the_cache()
-> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login(&daytime_zone()).await?;
    let token = Some(user.access_token.as_str());

    // Two uses earlier today (the zone is chosen so that local now is between 08:00 and 20:00).
    let first = api
        .post(
            "/api/v1/analytics/track/screen-time",
            &json!({"app_name": "Reader", "duration_minutes": 30, "category": "productivity", "timestamp": minutes_ago(120)}),
            token,
        )
        .await?;
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.json["status"], "success");
    assert_eq!(first.json["data"]["type"], "screen-time");
    assert_eq!(first.json["data"]["app_name"], "Reader");
    assert_eq!(first.json["data"]["duration_minutes"], 30.0);
    assert_eq!(first.json["data"]["user_id"], user.user_id.as_str());
    let second = api
        .post(
            "/api/v1/analytics/track/screen-time",
            &json!({"app_name": "Chat", "duration_minutes": 15.5, "timestamp": minutes_ago(60)}),
            token,
        )
        .await?;
    assert_eq!(second.status, 201, "{second:?}");
    assert_eq!(second.json["data"]["category"], "other");

    // First read: computed (a miss), kept in memory.
    let cold = api.get("/api/v1/analytics/quick-stats", token).await?;
    assert_eq!(cold.status, 200, "{cold:?}");
    // 30 + 15.5 = 45.5 minutes today
    assert_eq!(cold.json["data"]["today_screen_time"], 45.5);
    assert_eq!(cold.json["data"]["today_focus_time"], 0.0);
    assert_eq!(cold.json["data"]["privacy_score"], serde_json::Value::Null);
    assert!(
        cold.header("x-response-time")
            .is_some_and(|v| v.ends_with("ms")),
        "{cold:?}"
    );
    let process_time: f64 = cold.header("x-process-time").unwrap_or("x").parse()?;
    assert!(process_time > 0.0, "time was spent behind the gateway");
    assert_eq!(cold.header("cache-control"), Some("private, no-cache"));
    let etag = cold
        .header("etag")
        .expect("derived reads carry an ETag")
        .to_owned();

    // Second read: the same bytes, from a cache.
    let warm = api.get("/api/v1/analytics/quick-stats", token).await?;
    assert_eq!(warm.json, cold.json);
    let mut cache = stack.cache_client().await?;
    let stats = cache.stats(StatsRequest {}).await?.into_inner();
    // The user's generation is the one the writes through this (only) analytics replica made:
    // its views are served from that replica's memory, the cache service is not asked.
    assert_eq!(stats.backend, "redis");
    assert_eq!((stats.misses, stats.sets), (0, 0), "{stats:?}");
    // The caller's own numbers: one read computed, one answered from a cache.
    let mine = api.get("/api/v1/analytics/cache", token).await?;
    assert_eq!(
        (
            mine.json["data"]["hits"].as_u64(),
            mine.json["data"]["misses"].as_u64()
        ),
        (Some(1), Some(1)),
        "{mine:?}"
    );

    // Revalidation with the ETag: 304, no body.
    let revalidated = api
        .send(
            reqwest::Method::GET,
            "/api/v1/analytics/quick-stats",
            None,
            token,
            &[("if-none-match", etag.as_str())],
        )
        .await?;
    assert_eq!(revalidated.status, 304);

    // A write invalidates the user's views: the next read is fresh, never stale.
    let third = api
        .post(
            "/api/v1/analytics/track/screen-time",
            &json!({"app_name": "Reader", "duration_minutes": 4.5, "timestamp": minutes_ago(30)}),
            token,
        )
        .await?;
    assert_eq!(third.status, 201);
    let fresh = api.get("/api/v1/analytics/quick-stats", token).await?;
    // 45.5 + 4.5 = 50
    assert_eq!(fresh.json["data"]["today_screen_time"], 50.0);
    assert_ne!(fresh.header("etag"), Some(etag.as_str()));
    let mine = api.get("/api/v1/analytics/cache", token).await?;
    // 304 revalidation counted as a hit. The write invalidates the user's views; the fresh read
    // composes them again from the day aggregates (a miss). 4 reads in all.
    let (hits, misses) = (
        mine.json["data"]["hits"].as_u64().unwrap_or_default(),
        mine.json["data"]["misses"].as_u64().unwrap_or_default(),
    );
    assert_eq!(hits + misses, 4, "{mine:?}");
    assert!((1..=2).contains(&misses), "{mine:?}");
    let stats = cache.stats(StatsRequest {}).await?.into_inner();
    assert_eq!(
        stats.sets, 0,
        "only the writer's own generations: {stats:?}"
    );

    stack.stop().await
}

#[tokio::test]
async fn resending_an_event_id_stores_nothing_and_answers_the_first_record() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = Some(user.access_token.as_str());
    let event_id = uuid::Uuid::new_v4().to_string();
    let body = json!({"event_id": event_id, "app_name": "Maps", "duration_minutes": 12, "timestamp": minutes_ago(20)});

    let first = api
        .post("/api/v1/analytics/track/screen-time", &body, token)
        .await?;
    assert_eq!(first.status, 201, "{first:?}");
    let mut changed = body.clone();
    changed["duration_minutes"] = json!(13);
    let again = api
        .post("/api/v1/analytics/track/screen-time", &changed, token)
        .await?;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json["data"]["id"], first.json["data"]["id"]);
    assert_eq!(again.json["data"]["duration_minutes"], 12.0);

    // The id is the user's, across kinds: a break sent under it answers the screen-time record.
    let as_break = api
        .post(
            "/api/v1/analytics/track/break",
            &json!({"event_id": event_id, "duration_minutes": 5}),
            token,
        )
        .await?;
    assert_eq!(as_break.status, 200, "{as_break:?}");
    assert_eq!(as_break.json["data"]["type"], "screen-time");
    assert_eq!(as_break.json["data"]["id"], first.json["data"]["id"]);
    // In a batch too: nothing new is stored, one duplicate is reported.
    let batch = api
        .post(
            "/api/v1/analytics/track/batch",
            &json!({"events": [{"type": "notification", "event_id": event_id, "app_name": "Chat", "priority": 5}]}),
            token,
        )
        .await?;
    assert_eq!(batch.status, 200, "{batch:?}");
    assert_eq!(batch.json["data"], json!({"accepted": 0, "duplicates": 1}));

    let mut db = stack.database.connect().await?;
    let stored: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM screen_time) + (SELECT count(*) FROM breaks) + (SELECT count(*) FROM notifications)",
    )
    .fetch_one(&mut db)
    .await?;
    assert_eq!(stored, 1);
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn bad_input_and_bad_tokens_get_json_errors_with_the_right_status() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("Asia/Kolkata").await?;
    let token = Some(user.access_token.as_str());
    let path = "/api/v1/analytics/track/screen-time";

    let unparseable = api.post_raw(path, "{\"app_name\": ", token).await?;
    assert_eq!(unparseable.status, 400);
    assert_eq!(unparseable.json["code"], "invalid_json");

    let cases = [
        (
            json!({"app_name": "X", "duration_minutes": "ten"}),
            "duration_minutes",
        ),
        (
            json!({"app_name": "X", "duration_minutes": 0}),
            "duration_minutes",
        ),
        (
            json!({"app_name": "X", "duration_minutes": 1441}),
            "duration_minutes",
        ),
        (
            json!({"app_name": "X", "duration_minutes": 5, "colour": "red"}),
            "colour",
        ),
        (
            json!({"app_name": "X", "duration_minutes": 5, "timestamp": "2026-11-24T08:00:00"}),
            "timestamp",
        ),
        (
            json!({"app_name": "X", "duration_minutes": 5, "timestamp": "2026-02-30T08:00:00Z"}),
            "timestamp",
        ),
        (
            json!({"app_name": "X", "duration_minutes": 5, "timestamp": (Utc::now() + Duration::hours(1)).to_rfc3339()}),
            "timestamp",
        ),
        (json!({"duration_minutes": 5}), "app_name"),
    ];
    for (body, field) in cases {
        let answer = api.post(path, &body, token).await?;
        assert_eq!(answer.status, 422, "{body} -> {answer:?}");
        assert_eq!(answer.json["field"], field, "{body} -> {answer:?}");
        assert!(
            answer.json["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }

    let other_user = uuid::Uuid::new_v4().to_string();
    let forbidden = api
        .post(
            path,
            &json!({"user_id": other_user, "app_name": "X", "duration_minutes": 5}),
            token,
        )
        .await?;
    assert_eq!(forbidden.status, 403, "{forbidden:?}");
    let forbidden_read = api
        .get(
            &format!("/api/v1/analytics/quick-stats?user_id={other_user}"),
            token,
        )
        .await?;
    assert_eq!(forbidden_read.status, 403);

    let missing = api.get("/api/v1/analytics/quick-stats", None).await?;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json["code"], "unauthenticated");
    let forged = api
        .get("/api/v1/analytics/quick-stats", Some("not.a.token"))
        .await?;
    assert_eq!(forged.status, 401);

    let wrong_password = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": user.email, "password": "nope-nope-nope"}),
            None,
        )
        .await?;
    assert_eq!(wrong_password.status, 401);
    let taken = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Again", "email": user.email.to_uppercase(), "password": "another password"}),
            None,
        )
        .await?;
    assert_eq!(taken.status, 409, "{taken:?}");
    let bad_zone = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Z", "email": "z@example.com", "password": "long enough pw", "timezone": "Mars/Olympus"}),
            None,
        )
        .await?;
    assert_eq!(
        (bad_zone.status, bad_zone.json["field"].as_str()),
        (422, Some("timezone"))
    );

    let mut db = stack.database.connect().await?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM screen_time")
        .fetch_one(&mut db)
        .await?;
    assert_eq!(stored, 0, "rejected requests store nothing");
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn operations_endpoints_report_every_service() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let health = stack.api.get("/health", None).await?;
    assert_eq!(health.status, 200);
    assert_eq!(health.json["status"], "healthy");
    assert_eq!(
        health.json["services"],
        json!({"database": "healthy", "cache": "healthy", "analytics": "healthy", "aggregator": "healthy"})
    );
    // The aggregator's queue is surfaced: nothing has been written, so nothing waits.
    assert_eq!(
        health.json["aggregator_lag"],
        json!({"queue_depth": 0, "oldest_pending_seconds": 0.0})
    );
    assert_eq!(stack.api.get("/livez", None).await?.status, 200);
    assert_eq!(stack.api.get("/readyz", None).await?.status, 200);
    let unknown = stack.api.get("/api/v1/nothing-here", None).await?;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json["code"], "not_found");
    stack.stop().await
}
