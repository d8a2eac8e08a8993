//! Ingestion through the REST gateway: each kind's answer, idempotent re-sends, all-or-nothing
//! batches, and a 422 naming the right field for each endpoint. Local days: `contract_days.rs`.

use chrono::Duration;
use serde_json::json;
use wellbeing_tests::TestStack;
use wellbeing_tests::fixtures::{EVENT_TABLES, at, data, minutes_ago, rows_in, track, utc_today};

#[tokio::test]
async fn every_kind_answers_its_record_and_a_resend_stores_nothing() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = user.access_token.as_str();
    let day = utc_today() - Duration::days(2);
    let date = day.to_string();

    // (kind, first body, a changed body with the same event_id, expected hour, duration_minutes)
    let cases = [
        (
            "session",
            json!({"start_time": at(day, "08:00", "Z"), "end_time": at(day, "08:45", "Z")}),
            json!({"end_time": at(day, "09:00", "Z")}),
            8,
            45.0, // 08:00-08:45
        ),
        (
            "screen-time",
            json!({"app_name": "Maps", "duration_minutes": 12, "timestamp": at(day, "09:00", "Z")}),
            json!({"duration_minutes": 13}),
            9,
            12.0,
        ),
        (
            "focus-session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "10:50", "Z"), "quality_score": 70, "task_name": "Write"}),
            json!({"quality_score": 90}),
            10,
            50.0, // 10:00-10:50
        ),
        (
            "break",
            json!({"duration_minutes": 7.5, "break_type": "walk", "timestamp": at(day, "11:00", "Z")}),
            json!({"duration_minutes": 8}),
            11,
            7.5,
        ),
        (
            "notification",
            json!({"app_name": "Chat", "priority": 40, "was_interacted": true, "timestamp": at(day, "12:00", "Z")}),
            json!({"priority": 41}),
            12,
            0.0, // a point event
        ),
        (
            "distraction",
            json!({"source": "Social", "severity": 3, "duration_seconds": 90, "timestamp": at(day, "13:15", "Z")}),
            json!({"severity": 4}),
            13,
            1.5, // 90 s / 60
        ),
    ];
    let mut batch = Vec::new();
    for (kind, mut body, change, hour, minutes) in cases {
        let event_id = uuid::Uuid::new_v4().to_string();
        body["event_id"] = json!(event_id);
        let path = format!("/api/v1/analytics/track/{kind}");
        let first = api.post(&path, &body, Some(token)).await?;
        assert_eq!(first.status, 201, "{kind}: {first:?}");
        assert_eq!(first.json["status"], "success");
        let record = &first.json["data"];
        assert_eq!(record["type"], kind);
        assert_eq!(record["event_id"], event_id.as_str());
        assert_eq!(record["user_id"], user.user_id.as_str());
        assert_eq!(record["date"], date.as_str(), "{kind}");
        assert_eq!(record["hour"], hour, "{kind}");
        assert_eq!(record["duration_minutes"], minutes, "{kind}");
        assert!(record["id"].as_str().is_some_and(|id| id.len() == 36));
        assert!(record["created_at"].is_string());
        for (field, sent) in body.as_object().expect("an object") {
            if field.ends_with("_time") || field == "timestamp" {
                continue;
            }
            // Numbers compare by value (12 was sent, 12.0 may be answered).
            match sent.as_f64() {
                Some(number) => assert_eq!(record[field], number, "{kind}.{field}: {record}"),
                None => assert_eq!(&record[field], sent, "{kind}.{field}: {record}"),
            }
        }

        // The same event_id with another payload: 200 and the first record, unchanged.
        let mut changed = body.clone();
        for (field, value) in change.as_object().expect("an object") {
            changed[field] = value.clone();
        }
        let again = api.post(&path, &changed, Some(token)).await?;
        assert_eq!(again.status, 200, "{kind}: {again:?}");
        assert_eq!(again.json["data"], first.json["data"], "{kind}");

        let mut in_batch = changed;
        in_batch["type"] = json!(kind);
        batch.push(in_batch);
    }

    // The six again in one batch: all duplicates, nothing stored, 200.
    let resent = api
        .post(
            "/api/v1/analytics/track/batch",
            &json!({"events": batch}),
            Some(token),
        )
        .await?;
    assert_eq!(resent.status, 200, "{resent:?}");
    assert_eq!(
        resent.json,
        json!({"status": "success", "data": {"accepted": 0, "duplicates": 6}})
    );

    let mut db = stack.database.connect().await?;
    for table in EVENT_TABLES {
        assert_eq!(rows_in(&mut db, table).await?, 1, "{table}");
    }
    drop(db);

    // The first payloads are what count: 12 screen minutes, quality 70, priority unchanged.
    let day_summary = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={date}"),
        token,
    )
    .await?;
    assert_eq!(day_summary["total_screen_time_minutes"], 12.0);
    assert_eq!(day_summary["average_focus_quality"], 70.0);
    assert_eq!(day_summary["total_break_time_minutes"], 7.5);
    assert_eq!(day_summary["sessions_count"], 1);
    stack.stop().await
}

#[tokio::test]
async fn batches_store_everything_or_nothing_and_count_duplicates() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = Some(user.access_token.as_str());
    let day = utc_today() - Duration::days(2);
    let path = "/api/v1/analytics/track/batch";
    let mut db = stack.database.connect().await?;

    // Three events break domain rules (indexes 1, 3, 4): 422 listing each, nothing stored.
    let bad = json!({"events": [
        {"type": "screen-time", "app_name": "Maps", "duration_minutes": 20, "timestamp": at(day, "09:00", "Z")},
        {"type": "focus-session", "start_time": at(day, "10:00", "Z"), "end_time": at(day, "10:30", "Z"), "quality_score": 101},
        {"type": "break", "duration_minutes": 5, "timestamp": at(day, "11:00", "Z")},
        {"type": "distraction", "source": "Social", "severity": 0},
        {"type": "session", "start_time": at(day, "12:00", "Z"), "end_time": at(day, "11:00", "Z")},
    ]});
    let refused = api.post(path, &bad, token).await?;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert!(
        refused.json["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    let listed: Vec<(u64, &str)> = refused.json["errors"]
        .as_array()
        .expect("errors is a list")
        .iter()
        .map(|error| {
            assert!(
                error["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{error}"
            );
            (
                error["index"].as_u64().unwrap_or(99),
                error["field"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![(1, "quality_score"), (3, "severity"), (4, "end_time")]
    );
    // A shape error (an unknown type) is listed the same way.
    let unknown_type = json!({"events": [
        {"type": "screen-time", "app_name": "Maps", "duration_minutes": 20, "timestamp": at(day, "09:00", "Z")},
        {"type": "nap", "duration_minutes": 20},
    ]});
    let refused = api.post(path, &unknown_type, token).await?;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert_eq!(refused.json["errors"][0]["index"], 1);
    assert_eq!(refused.json["errors"][0]["field"], "type");
    for table in EVENT_TABLES {
        assert_eq!(
            rows_in(&mut db, table).await?,
            0,
            "{table} after refused batches"
        );
    }

    // A good batch of all six kinds: 201, 6 accepted.
    let ids: Vec<String> = (0..6).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let good = json!({"events": [
        {"type": "session", "event_id": ids[0], "start_time": at(day, "08:00", "Z"), "end_time": at(day, "08:30", "Z")},
        {"type": "screen-time", "event_id": ids[1], "app_name": "Maps", "duration_minutes": 20, "timestamp": at(day, "09:00", "Z")},
        {"type": "focus-session", "event_id": ids[2], "start_time": at(day, "10:00", "Z"), "end_time": at(day, "10:30", "Z"), "quality_score": 60},
        {"type": "break", "event_id": ids[3], "duration_minutes": 5, "timestamp": at(day, "11:00", "Z")},
        {"type": "notification", "event_id": ids[4], "app_name": "Chat", "priority": 10, "timestamp": at(day, "12:00", "Z")},
        {"type": "distraction", "event_id": ids[5], "source": "Social", "severity": 2, "timestamp": at(day, "13:00", "Z")},
    ]});
    let stored = api.post(path, &good, token).await?;
    assert_eq!(stored.status, 201, "{stored:?}");
    assert_eq!(
        stored.json,
        json!({"status": "success", "data": {"accepted": 6, "duplicates": 0}})
    );
    for table in EVENT_TABLES {
        assert_eq!(rows_in(&mut db, table).await?, 1, "{table}");
    }
    let summary = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day}"),
        &user.access_token,
    )
    .await?;
    assert_eq!(summary["total_screen_time_minutes"], 20.0);
    assert_eq!(summary["total_focus_time_minutes"], 30.0);
    assert_eq!(summary["total_break_time_minutes"], 5.0);
    assert_eq!(
        [
            &summary["sessions_count"],
            &summary["focus_sessions_count"],
            &summary["breaks_count"],
            &summary["notifications_received"],
            &summary["distractions_count"],
        ],
        [&json!(1), &json!(1), &json!(1), &json!(1), &json!(1)]
    );
    // 0.4·(30/240·100 = 12.5) + 0.3·60 + 0.2·(100 − 2·1) + 0.1·min(5·1, 20) = 5 + 18 + 19.6 + 0.5 = 43.1
    assert_eq!(summary["productivity_score"], 43.1);

    // The same batch again: 200, every event a duplicate.
    let resent = api.post(path, &good, token).await?;
    assert_eq!(resent.status, 200, "{resent:?}");
    assert_eq!(resent.json["data"], json!({"accepted": 0, "duplicates": 6}));

    // Repeats within one batch count as duplicates too: A, A again, an already stored id, B.
    let a = uuid::Uuid::new_v4().to_string();
    let mixed = json!({"events": [
        {"type": "screen-time", "event_id": a, "app_name": "Reader", "duration_minutes": 10, "timestamp": at(day, "14:00", "Z")},
        {"type": "screen-time", "event_id": a, "app_name": "Reader", "duration_minutes": 11, "timestamp": at(day, "14:00", "Z")},
        {"type": "screen-time", "event_id": ids[1], "app_name": "Maps", "duration_minutes": 20, "timestamp": at(day, "09:00", "Z")},
        {"type": "screen-time", "app_name": "Chat", "duration_minutes": 4, "timestamp": at(day, "15:00", "Z")},
    ]});
    let answer = api.post(path, &mixed, token).await?;
    assert_eq!(answer.status, 201, "{answer:?}");
    // stored: A and the event without an id; duplicates: A's repeat and ids[1]
    assert_eq!(answer.json["data"], json!({"accepted": 2, "duplicates": 2}));
    // 1 + 2 = 3 screen-time rows
    assert_eq!(rows_in(&mut db, "screen_time").await?, 3);
    let summary = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day}"),
        &user.access_token,
    )
    .await?;
    // 20 + 10 (the first A wins) + 4 = 34
    assert_eq!(summary["total_screen_time_minutes"], 34.0);

    // At most 1000 events: 1001 are refused whole (naming `events`), 1000 are stored.
    let notification = |minute: usize| json!({"type": "notification", "app_name": "Chat", "priority": 1, "timestamp": format!("{day}T16:{:02}:{:02}Z", minute / 60 % 60, minute % 60)});
    let too_many: Vec<_> = (0..1001).map(notification).collect();
    let refused = api.post(path, &json!({"events": too_many}), token).await?;
    assert_eq!(
        (refused.status, refused.json["field"].as_str()),
        (422, Some("events")),
        "{refused:?}"
    );
    assert_eq!(rows_in(&mut db, "notifications").await?, 1);
    let most: Vec<_> = (0..1000).map(notification).collect();
    let answer = api.post(path, &json!({"events": most}), token).await?;
    assert_eq!(
        answer.json["data"],
        json!({"accepted": 1000, "duplicates": 0})
    );
    assert_eq!(rows_in(&mut db, "notifications").await?, 1001); // 1 + 1000

    // An empty batch stores nothing: 200.
    let empty = api.post(path, &json!({"events": []}), token).await?;
    assert_eq!(empty.status, 200, "{empty:?}");
    assert_eq!(empty.json["data"], json!({"accepted": 0, "duplicates": 0}));
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn each_tracking_endpoint_names_the_field_it_refuses() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = Some(user.access_token.as_str());
    let day = utc_today() - Duration::days(1);
    let in_an_hour = (chrono::Utc::now() + Duration::hours(1)).to_rfc3339();
    let long_name = "x".repeat(201);

    let cases = [
        // sessions
        (
            "session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "09:00", "Z")}),
            "end_time",
        ),
        (
            "session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "10:00", "Z")}),
            "end_time",
        ),
        (
            "session",
            json!({"start_time": at(day - Duration::days(2), "10:00", "Z"), "end_time": at(day, "10:01", "Z")}),
            "end_time",
        ),
        (
            "session",
            json!({"start_time": minutes_ago(10), "end_time": in_an_hour}),
            "end_time",
        ),
        (
            "session",
            json!({"end_time": at(day, "09:00", "Z")}),
            "start_time",
        ),
        (
            "session",
            json!({"start_time": "2026-11-20T10:00:00", "end_time": at(day, "09:00", "Z")}),
            "start_time",
        ),
        // screen time: the start too late names timestamp, only the end too late duration_minutes
        (
            "screen-time",
            json!({"app_name": "X", "duration_minutes": 5, "timestamp": in_an_hour}),
            "timestamp",
        ),
        (
            "screen-time",
            json!({"app_name": "X", "duration_minutes": 30, "timestamp": minutes_ago(1)}),
            "duration_minutes",
        ),
        (
            "screen-time",
            json!({"app_name": "  ", "duration_minutes": 5}),
            "app_name",
        ),
        (
            "screen-time",
            json!({"app_name": "X", "duration_minutes": -5}),
            "duration_minutes",
        ),
        // focus sessions: both end_time and quality_score are wrong; end_time comes first
        (
            "focus-session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "09:00", "Z"), "quality_score": 101}),
            "end_time",
        ),
        (
            "focus-session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "11:00", "Z"), "quality_score": 101}),
            "quality_score",
        ),
        (
            "focus-session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "11:00", "Z"), "quality_score": -1}),
            "quality_score",
        ),
        (
            "focus-session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "11:00", "Z"), "quality_score": "high"}),
            "quality_score",
        ),
        (
            "focus-session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "11:00", "Z"), "quality_score": 50, "task_name": long_name}),
            "task_name",
        ),
        // breaks
        ("break", json!({"duration_minutes": 0}), "duration_minutes"),
        (
            "break",
            json!({"duration_minutes": 1441}),
            "duration_minutes",
        ),
        (
            "break",
            json!({"duration_minutes": 5, "timestamp": in_an_hour}),
            "timestamp",
        ),
        (
            "break",
            json!({"duration_minutes": 30, "timestamp": minutes_ago(2)}),
            "duration_minutes",
        ),
        // notifications: priority 101 and a future timestamp; priority comes first
        (
            "notification",
            json!({"app_name": "Chat", "priority": 101}),
            "priority",
        ),
        (
            "notification",
            json!({"app_name": "Chat", "priority": 101, "timestamp": in_an_hour}),
            "priority",
        ),
        (
            "notification",
            json!({"app_name": "Chat", "priority": -1}),
            "priority",
        ),
        (
            "notification",
            json!({"app_name": "Chat", "priority": 2.5}),
            "priority",
        ),
        (
            "notification",
            json!({"app_name": "Chat", "priority": 5, "timestamp": in_an_hour}),
            "timestamp",
        ),
        ("notification", json!({"priority": 5}), "app_name"),
        // distractions
        (
            "distraction",
            json!({"source": "Social", "severity": 0}),
            "severity",
        ),
        (
            "distraction",
            json!({"source": "Social", "severity": 6}),
            "severity",
        ),
        (
            "distraction",
            json!({"source": "Social", "severity": 2, "duration_seconds": -1}),
            "duration_seconds",
        ),
        (
            "distraction",
            json!({"source": "", "severity": 2}),
            "source",
        ),
        (
            "distraction",
            json!({"source": "Social", "severity": 2, "timestamp": in_an_hour}),
            "timestamp",
        ),
        // any kind: unknown fields and a malformed event_id
        (
            "distraction",
            json!({"source": "Social", "severity": 2, "mood": "bad"}),
            "mood",
        ),
        (
            "break",
            json!({"duration_minutes": 5, "event_id": "not-a-uuid"}),
            "event_id",
        ),
    ];
    for (kind, body, field) in cases {
        let answer = api
            .post(&format!("/api/v1/analytics/track/{kind}"), &body, token)
            .await?;
        assert_eq!(answer.status, 422, "{kind} {body} -> {answer:?}");
        assert_eq!(answer.json["field"], field, "{kind} {body} -> {answer:?}");
        assert_eq!(answer.json["code"], "validation_failed");
        assert!(
            answer.json["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }

    // A timestamp a little ahead (within the 5-minute skew) is accepted.
    let skewed = (chrono::Utc::now() + Duration::minutes(2)).to_rfc3339();
    track(
        api,
        &user.access_token,
        "notification",
        json!({"app_name": "Chat", "priority": 5, "timestamp": skewed}),
    )
    .await?;
    let mut db = stack.database.connect().await?;
    for table in EVENT_TABLES {
        let expected = i64::from(table == "notifications");
        assert_eq!(rows_in(&mut db, table).await?, expected, "{table}");
    }
    drop(db);
    stack.stop().await
}

/// Without a retention period an event may be up to 400 days old (the contract's bound); an
/// older one is refused naming its time field, alone and in a batch, and nothing is stored.
#[tokio::test]
async fn events_older_than_400_days_are_refused_when_no_retention_is_set() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = Some(user.access_token.as_str());
    let days_ago = |days: i64| chrono::Utc::now() - Duration::days(days);
    // Bodies as the single-event endpoints take them; a batch adds each one's type.
    let screen_time = |days: i64| json!({"app_name": "Maps", "duration_minutes": 5, "timestamp": days_ago(days).to_rfc3339()});
    let session = |days: i64| {
        let start = days_ago(days);
        json!({"start_time": start.to_rfc3339(),
               "end_time": (start + Duration::minutes(30)).to_rfc3339()})
    };
    let typed = |kind: &str, mut body: serde_json::Value| {
        body["type"] = json!(kind);
        body
    };

    for (kind, body, field) in [
        ("screen-time", screen_time(401), "timestamp"),
        ("session", session(401), "start_time"),
    ] {
        let answer = api
            .post(&format!("/api/v1/analytics/track/{kind}"), &body, token)
            .await?;
        assert_eq!(answer.status, 422, "{kind} -> {answer:?}");
        assert_eq!(answer.json["field"], field, "{kind} -> {answer:?}");
    }
    let path = "/api/v1/analytics/track/batch";
    let mixed = json!({"events": [
        typed("screen-time", screen_time(399)),
        typed("session", session(401)),
        typed("screen-time", screen_time(401)),
    ]});
    let refused = api.post(path, &mixed, token).await?;
    assert_eq!(refused.status, 422, "{refused:?}");
    let listed: Vec<(u64, &str)> = refused.json["errors"]
        .as_array()
        .expect("errors is a list")
        .iter()
        .map(|error| {
            let index = error["index"].as_u64().unwrap_or(99);
            (index, error["field"].as_str().unwrap_or("?"))
        })
        .collect();
    assert_eq!(listed, vec![(1, "start_time"), (2, "timestamp")]);
    let mut db = stack.database.connect().await?;
    for table in EVENT_TABLES {
        assert_eq!(rows_in(&mut db, table).await?, 0, "{table} after refusals");
    }

    // 399 days is within the bound, alone and in a batch.
    track(api, &user.access_token, "screen-time", screen_time(399)).await?;
    let batch =
        json!({"events": [typed("screen-time", screen_time(399)), typed("session", session(399))]});
    let stored = api.post(path, &batch, token).await?;
    assert_eq!(stored.status, 201, "{stored:?}");
    assert_eq!(rows_in(&mut db, "screen_time").await?, 2);
    drop(db);
    stack.stop().await
}
