//! Single events and small batches of concurrent requests share transactions (group commit in
//! analytics). These tests send many at once and check what each request alone would guarantee:
//! every event stored once, a repeated `event_id` answered with the first record, a read right
//! after the answers showing the write, and one request's failing event failing only that
//! request (a batch: all of it, and nothing else).

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use wellbeing_tests::{Answer, Session, TestStack, daytime_zone};

fn minutes_ago(minutes: i64) -> String {
    (Utc::now() - Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

const SCREEN_TIME: &str = "/api/v1/analytics/track/screen-time";
const BATCH: &str = "/api/v1/analytics/track/batch";

/// Sends every post to `path` at once and returns the answers in order.
async fn post_all(
    stack: &TestStack,
    path: &'static str,
    posts: &[(&Session, Value)],
) -> anyhow::Result<Vec<Answer>> {
    let tasks: Vec<_> = posts
        .iter()
        .map(|(user, body)| {
            let api = stack.api.clone();
            let token = user.access_token.clone();
            let body = body.clone();
            tokio::spawn(async move { api.post(path, &body, Some(&token)).await })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await??);
    }
    Ok(answers)
}

async fn stored_rows(stack: &TestStack, user: &Session) -> anyhow::Result<(i64, i64)> {
    let mut db = stack.database.connect().await?;
    let user_id: uuid::Uuid = user.user_id.parse()?;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM screen_time WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut db)
        .await?;
    let ids: i64 = sqlx::query_scalar("SELECT count(*) FROM event_ids WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut db)
        .await?;
    Ok((rows, ids))
}

#[tokio::test]
async fn concurrent_events_of_many_users_are_stored_once_and_read_back() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let mut users = Vec::new();
    for _ in 0..3 {
        users.push(stack.api.register_and_login(&daytime_zone()).await?);
    }
    // Per user: 8 distinct events, and one event id sent 6 times with different minutes.
    let mut posts = Vec::new();
    for user in &users {
        let repeated = uuid::Uuid::new_v4().to_string();
        for index in 0..8 {
            let body = json!({"app_name": "Reader", "duration_minutes": 1 + index,
                "timestamp": minutes_ago(30 + index)});
            posts.push((user, body));
            let body = json!({"event_id": repeated, "app_name": "Chat",
                "duration_minutes": 10 + index, "timestamp": minutes_ago(20)});
            if index < 6 {
                posts.push((user, body));
            }
        }
    }
    let answers = post_all(&stack, SCREEN_TIME, &posts).await?;

    for user in &users {
        let mine: Vec<&Answer> = posts
            .iter()
            .zip(&answers)
            .filter(|((owner, _), _)| owner.user_id == user.user_id)
            .map(|(_, answer)| answer)
            .collect();
        let (repeats, distinct): (Vec<&Answer>, Vec<&Answer>) = mine
            .into_iter()
            .partition(|answer| answer.json["data"]["app_name"] == "Chat");
        assert!(distinct.iter().all(|a| a.status == 201), "{distinct:?}");
        assert_eq!(repeats.len(), 6, "{repeats:?}");
        let created: Vec<&&Answer> = repeats.iter().filter(|a| a.status == 201).collect();
        assert_eq!(created.len(), 1, "exactly one repeat stores: {repeats:?}");
        assert!(repeats.iter().all(|a| a.status == 200 || a.status == 201));
        // Every repeat answers the record the first one stored, minutes included.
        let first = &created[0].json["data"];
        for answer in &repeats {
            assert_eq!(answer.json["data"]["id"], first["id"], "{answer:?}");
            assert_eq!(
                answer.json["data"]["duration_minutes"], first["duration_minutes"],
                "{answer:?}"
            );
        }
        assert_eq!(stored_rows(&stack, user).await?, (9, 9));

        // Read right after the answers: the writes show (no stale cached view).
        let minutes = first["duration_minutes"].as_f64().unwrap_or_default() + 36.0;
        let stats = stack
            .api
            .get(
                "/api/v1/analytics/quick-stats",
                Some(user.access_token.as_str()),
            )
            .await?;
        assert_eq!(stats.status, 200, "{stats:?}");
        assert_eq!(
            stats.json["data"]["today_screen_time"], minutes,
            "{stats:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_event_the_database_refuses_fails_only_its_own_request() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let alice = stack.api.register_and_login(&daytime_zone()).await?;
    let bob = stack.api.register_and_login(&daytime_zone()).await?;
    let mut db = stack.database.connect().await?;
    // Valid for the domain rules, refused by the database: it fails inside a group's
    // transaction, which must not take the other requests of the group with it.
    sqlx::query(
        "ALTER TABLE screen_time ADD CONSTRAINT test_refused CHECK (app_name <> 'Refused')",
    )
    .execute(&mut db)
    .await?;
    let refused_id = uuid::Uuid::new_v4().to_string();
    let mut posts = Vec::new();
    for index in 0..12 {
        let user = if index % 2 == 0 { &alice } else { &bob };
        posts.push((
            user,
            json!({"app_name": "Reader", "duration_minutes": 2, "timestamp": minutes_ago(40 + index)}),
        ));
        if index == 5 {
            posts.push((
                &alice,
                json!({"event_id": refused_id, "app_name": "Refused", "duration_minutes": 3,
                    "timestamp": minutes_ago(10)}),
            ));
        }
        if index == 8 {
            // Refused by the domain rules: its own 422, before any group.
            posts.push((
                &bob,
                json!({"app_name": "Reader", "duration_minutes": -3, "timestamp": minutes_ago(5)}),
            ));
        }
    }
    let answers = post_all(&stack, SCREEN_TIME, &posts).await?;
    for ((_, body), answer) in posts.iter().zip(&answers) {
        if body["app_name"] == "Refused" {
            assert_eq!(answer.status, 500, "{answer:?}");
        } else if body["duration_minutes"] == -3 {
            assert_eq!(answer.status, 422, "{answer:?}");
        } else {
            assert_eq!(answer.status, 201, "{answer:?}");
        }
    }
    assert_eq!(stored_rows(&stack, &alice).await?, (6, 6));
    assert_eq!(stored_rows(&stack, &bob).await?, (6, 6));

    // Nothing of the refused event stayed behind: once allowed, the same id stores it.
    sqlx::query("ALTER TABLE screen_time DROP CONSTRAINT test_refused")
        .execute(&mut db)
        .await?;
    let again = post_all(&stack, SCREEN_TIME, &posts[6..7]).await?;
    assert_eq!(posts[6].1["app_name"], "Refused");
    assert_eq!(again[0].status, 201, "{again:?}");
    assert_eq!(stored_rows(&stack, &alice).await?, (7, 7));
    Ok(())
}

#[tokio::test]
async fn concurrent_batches_share_groups_and_each_is_all_or_nothing() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let alice = stack.api.register_and_login(&daytime_zone()).await?;
    let bob = stack.api.register_and_login(&daytime_zone()).await?;
    let mut db = stack.database.connect().await?;
    sqlx::query(
        "ALTER TABLE screen_time ADD CONSTRAINT test_refused CHECK (app_name <> 'Refused')",
    )
    .execute(&mut db)
    .await?;
    let screen = |minutes: i64, ago: i64| {
        json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": minutes,
            "timestamp": minutes_ago(ago)})
    };
    let notification = |ago: i64| {
        json!({"type": "notification", "app_name": "Chat", "priority": 5,
            "timestamp": minutes_ago(ago)})
    };
    // Each user: 10 batches of 2 screen-time minutes and a notification; one event id that
    // three of alice's batches carry; one alice batch the database refuses as a whole.
    let shared = uuid::Uuid::new_v4().to_string();
    let mut batches: Vec<(&Session, Vec<Value>)> = Vec::new();
    for index in 0..20 {
        let user = if index % 2 == 0 { &alice } else { &bob };
        let mut events = vec![screen(2, 30 + index), notification(30 + index)];
        if user.user_id == alice.user_id && index < 6 {
            events.push(
                json!({"type": "break", "event_id": shared, "duration_minutes": 5,
                "timestamp": minutes_ago(25)}),
            );
        }
        batches.push((user, events));
        if index == 9 {
            batches.push((
                &alice,
                vec![
                    notification(12),
                    json!({"type": "screen-time", "app_name": "Refused", "duration_minutes": 9,
                        "timestamp": minutes_ago(11)}),
                ],
            ));
        }
    }
    let bodies: Vec<(&Session, Value)> = batches
        .iter()
        .map(|(user, events)| (*user, json!({ "events": events })))
        .collect();
    let answers = post_all(&stack, BATCH, &bodies).await?;
    let (mut accepted, mut duplicates) = (0, 0);
    for ((user, events), answer) in batches.iter().zip(&answers) {
        if events.iter().any(|event| event["app_name"] == "Refused") {
            assert_eq!(answer.status, 500, "{answer:?}");
            continue;
        }
        assert_eq!(answer.status, 201, "{answer:?}");
        if user.user_id == alice.user_id {
            accepted += answer.json["data"]["accepted"].as_i64().unwrap_or_default();
            duplicates += answer.json["data"]["duplicates"]
                .as_i64()
                .unwrap_or_default();
        } else {
            assert_eq!(answer.json["data"]["accepted"], 2, "{answer:?}");
        }
    }
    // Alice: 10 x 2 events, and the shared break once of its three copies.
    assert_eq!((accepted, duplicates), (21, 2));
    assert_eq!(stored_rows(&stack, &alice).await?, (10, 21));
    assert_eq!(stored_rows(&stack, &bob).await?, (10, 20));

    // Read right after: exactly the stored events show; nothing of the refused batch.
    for user in [&alice, &bob] {
        let stats = stack
            .api
            .get("/api/v1/analytics/quick-stats", Some(&user.access_token))
            .await?;
        assert_eq!(stats.json["data"]["today_screen_time"], 20.0, "{stats:?}");
        assert_eq!(stats.json["data"]["notifications_today"], 10, "{stats:?}");
    }
    Ok(())
}

#[tokio::test]
async fn an_erasure_during_ingestion_leaves_no_row_behind() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    let other = stack.api.register_and_login(&daytime_zone()).await?;
    let posts: Vec<(&Session, Value)> = (0..40)
        .map(|index| {
            let owner = if index % 4 == 0 { &other } else { &user };
            let body = json!({"app_name": "Reader", "duration_minutes": 1,
                "timestamp": minutes_ago(30 + index)});
            (owner, body)
        })
        .collect();
    // The event tables have no foreign key: the store keeps erasure and ingestion apart.
    let writes = post_all(&stack, SCREEN_TIME, &posts);
    let erase = stack.api.delete("/api/v1/me", Some(&user.access_token));
    let (answers, erased) = tokio::join!(writes, erase);
    assert_eq!(erased?.status, 204);
    for ((owner, _), answer) in posts.iter().zip(answers?) {
        if owner.user_id == other.user_id {
            assert_eq!(answer.status, 201, "{answer:?}");
        } else {
            assert!(matches!(answer.status, 201 | 401), "{answer:?}");
        }
    }
    // After the erasure, the old token stores nothing, one event or a batch.
    let single = stack
        .api
        .post(
            "/api/v1/analytics/track/screen-time",
            &posts[1].1,
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(single.status, 401, "{single:?}");
    let batch = json!({"events": [
        {"type": "screen-time", "app_name": "Reader", "duration_minutes": 1, "timestamp": minutes_ago(3)},
        {"type": "notification", "app_name": "Chat", "priority": 10, "timestamp": minutes_ago(2)},
    ]});
    let batch = stack
        .api
        .post(
            "/api/v1/analytics/track/batch",
            &batch,
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(batch.status, 401, "{batch:?}");

    let mut db = stack.database.connect().await?;
    let erased: uuid::Uuid = user.user_id.parse()?;
    for table in TABLES_OF_A_USER {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE user_id = $1"
        )))
        .bind(erased)
        .fetch_one(&mut db)
        .await?;
        assert_eq!(rows, 0, "{table}");
        // No row anywhere names a user that does not exist (what the foreign keys checked).
        let orphans: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.user_id)"
        )))
        .fetch_one(&mut db)
        .await?;
        assert_eq!(orphans, 0, "{table}");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
        .bind(erased)
        .fetch_one(&mut db)
        .await?;
    assert_eq!(users, 0);
    assert_eq!(stored_rows(&stack, &other).await?, (10, 10));
    Ok(())
}

/// Every table ingestion or the aggregator writes rows of a user to, by `user_id`: the event ids,
/// the six event tables, the day aggregates the ingestion statement adds to, the days it marks
/// instead, and the rebuilds the aggregator works through.
const TABLES_OF_A_USER: [&str; 11] = [
    "event_ids",
    "screen_time",
    "sessions",
    "focus_sessions",
    "breaks",
    "notifications",
    "distractions",
    "day_aggregates",
    "day_app_aggregates",
    "dirty_days",
    "aggregate_rebuilds",
];
