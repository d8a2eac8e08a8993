//! One user can never read or change another's data: a `user_id` that is not the caller's is a
//! 403 wherever it is sent, another user's goal or session is a 404, and reads only ever show
//! one's own.

use chrono::Duration;
use serde_json::{Value, json};
use wellbeing_tests::TestStack;
use wellbeing_tests::fixtures::{EVENT_TABLES, at, data, rows_of, track_all, utc_today};

#[tokio::test]
async fn another_user_can_neither_read_nor_change_anything() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let alice = api.register_and_login("UTC").await?;
    let bob = api.register_and_login("UTC").await?;
    let (a, b) = (alice.access_token.as_str(), bob.access_token.as_str());
    let day = utc_today() - Duration::days(1);
    track_all(api, a, vec![
        json!({"type": "session", "start_time": at(day, "08:00", "Z"), "end_time": at(day, "08:30", "Z")}),
        json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 45, "timestamp": at(day, "09:00", "Z")}),
        json!({"type": "focus-session", "start_time": at(day, "10:00", "Z"), "end_time": at(day, "11:00", "Z"), "quality_score": 90}),
        json!({"type": "break", "duration_minutes": 5, "timestamp": at(day, "11:00", "Z")}),
        json!({"type": "notification", "app_name": "Chat", "priority": 10, "timestamp": at(day, "12:00", "Z")}),
        json!({"type": "distraction", "source": "Social", "severity": 2, "timestamp": at(day, "13:00", "Z")}),
    ]).await?;
    let goal = api
        .post(
            "/api/v1/analytics/goals",
            &json!({"goal_type": "custom", "target_value": 10}),
            Some(a),
        )
        .await?;
    assert_eq!(goal.status, 201);
    let goal_path = format!(
        "/api/v1/analytics/goals/{}",
        goal.json["data"]["id"].as_str().unwrap_or_default()
    );
    let privacy = api
        .put("/api/v1/privacy/state", &json!({"vpn_connected": true, "kill_switch": true, "location_mode": "random", "monitoring_enabled": true}), Some(a))
        .await?;
    assert_eq!(privacy.status, 200);
    let mut db = stack.database.connect().await?;
    let mut alices_rows = Vec::new();
    for table in EVENT_TABLES.iter().chain(&["goals", "privacy_states"]) {
        alices_rows.push(rows_of(&mut db, table, &alice.user_id).await?);
    }

    // Bob's token with Alice's user_id in the query of every read: 403.
    let reads = [
        format!("/api/v1/analytics/summary/daily?date={day}"),
        format!("/api/v1/analytics/summary/weekly?end_date={day}"),
        "/api/v1/analytics/apps/usage?days=7".to_owned(),
        "/api/v1/analytics/dashboard".to_owned(),
        "/api/v1/analytics/quick-stats".to_owned(),
        "/api/v1/analytics/insights".to_owned(),
        "/api/v1/analytics/insights/productivity".to_owned(),
        "/api/v1/analytics/insights/patterns?days=7".to_owned(),
        format!("/api/v1/analytics/insights/peak-hours?date={day}"),
        "/api/v1/analytics/insights/comparison".to_owned(),
        format!("/api/v1/wellbeing/score?date={day}"),
        format!("/api/v1/analytics/insights/wellbeing-score?date={day}"),
        format!("/api/v1/analytics/summary/daily-optimized?date={day}"),
        "/api/v1/analytics/summary/weekly-optimized".to_owned(),
        "/api/v1/analytics/insights-optimized".to_owned(),
        "/api/v1/analytics/goals".to_owned(),
        "/api/v1/privacy/score".to_owned(),
        "/api/v1/privacy/score/history?limit=10".to_owned(),
        "/api/v1/privacy/score/trend".to_owned(),
        "/api/v1/auth/me".to_owned(),
        "/api/v1/me/export".to_owned(),
    ];
    for read in &reads {
        let separator = if read.contains('?') { '&' } else { '?' };
        let path = format!("{read}{separator}user_id={}", alice.user_id);
        let answer = api.get(&path, Some(b)).await?;
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
        assert_eq!(answer.json["code"], "forbidden");
        // With his own id, or none, Bob gets his own (empty) data.
        let own = format!("{read}{separator}user_id={}", bob.user_id);
        assert_eq!(api.get(&own, Some(b)).await?.status, 200, "{own}");
    }
    for path in ["/api/v1/me", "/api/v1/analytics/cache"] {
        let answer = api
            .delete(&format!("{path}?user_id={}", alice.user_id), Some(b))
            .await?;
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
    }

    // Bob's token with Alice's user_id in a body: 403, nothing stored.
    let writes = [
        (
            "session",
            json!({"start_time": at(day, "14:00", "Z"), "end_time": at(day, "14:30", "Z")}),
        ),
        (
            "screen-time",
            json!({"app_name": "Reader", "duration_minutes": 500, "timestamp": at(day, "14:00", "Z")}),
        ),
        (
            "focus-session",
            json!({"start_time": at(day, "14:00", "Z"), "end_time": at(day, "15:00", "Z"), "quality_score": 1}),
        ),
        ("break", json!({"duration_minutes": 5})),
        ("notification", json!({"app_name": "Chat", "priority": 10})),
        ("distraction", json!({"source": "Social", "severity": 5})),
    ];
    let mut batch = Vec::new();
    for (kind, body) in writes {
        let mut claimed = body.clone();
        claimed["user_id"] = json!(alice.user_id);
        let answer = api
            .post(
                &format!("/api/v1/analytics/track/{kind}"),
                &claimed,
                Some(b),
            )
            .await?;
        assert_eq!(answer.status, 403, "{kind}: {answer:?}");
        let mut event = body;
        event["type"] = json!(kind);
        batch.push(event);
    }
    let batch_claim = api
        .post(
            "/api/v1/analytics/track/batch",
            &json!({"user_id": alice.user_id, "events": batch}),
            Some(b),
        )
        .await?;
    assert_eq!(batch_claim.status, 403, "{batch_claim:?}");
    let mut inner = batch.clone();
    inner[0]["user_id"] = json!(alice.user_id);
    let inner_claim = api
        .post(
            "/api/v1/analytics/track/batch",
            &json!({"events": inner}),
            Some(b),
        )
        .await?;
    assert_eq!(inner_claim.status, 403, "{inner_claim:?}");
    let body_claims = [
        (
            "POST",
            "/api/v1/analytics/goals".to_owned(),
            json!({"user_id": alice.user_id, "goal_type": "custom", "target_value": 1}),
        ),
        (
            "PUT",
            goal_path.clone(),
            json!({"user_id": alice.user_id, "current_value": 10}),
        ),
        (
            "PUT",
            "/api/v1/privacy/state".to_owned(),
            json!({"user_id": alice.user_id, "location_mode": "real"}),
        ),
        (
            "PATCH",
            "/api/v1/auth/me".to_owned(),
            json!({"user_id": alice.user_id, "timezone": "Asia/Tokyo"}),
        ),
    ];
    for (method, path, body) in body_claims {
        let method: reqwest::Method = method.parse()?;
        let answer = api
            .send(method.clone(), &path, Some(&body), Some(b), &[])
            .await?;
        assert_eq!(answer.status, 403, "{method} {path}: {answer:?}");
    }

    // Bob on Alice's goal id: 404, and the goal is unchanged for Alice.
    let put = api
        .put(
            &goal_path,
            &json!({"current_value": 10, "target_value": 1}),
            Some(b),
        )
        .await?;
    assert_eq!(
        (put.status, put.json["code"].as_str()),
        (404, Some("not_found")),
        "{put:?}"
    );
    let delete = api.delete(&goal_path, Some(b)).await?;
    assert_eq!(delete.status, 404, "{delete:?}");
    let goals = data(api, "/api/v1/analytics/goals", a).await?;
    assert_eq!(goals["count"], 1);
    assert_eq!(goals["goals"][0]["target_value"], 10.0);
    assert_eq!(goals["goals"][0]["current_value"], 0.0);
    assert_eq!(goals["goals"][0]["status"], "active");

    // Bob's reads never show Alice's numbers.
    let daily = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day}"),
        b,
    )
    .await?;
    for field in [
        "total_screen_time_minutes",
        "total_focus_time_minutes",
        "total_break_time_minutes",
        "average_focus_quality",
    ] {
        assert_eq!(daily[field], 0.0, "{field}");
    }
    for field in [
        "sessions_count",
        "focus_sessions_count",
        "breaks_count",
        "notifications_received",
        "distractions_count",
    ] {
        assert_eq!(daily[field], 0, "{field}");
    }
    assert_eq!(daily["top_apps"], json!([]));
    let stats = data(api, "/api/v1/analytics/quick-stats", b).await?;
    assert_eq!(stats["privacy_score"], Value::Null);
    assert_eq!(stats["goals_on_track"], 0);
    assert_eq!(data(api, "/api/v1/analytics/goals", b).await?["count"], 0);
    assert_eq!(
        data(api, "/api/v1/privacy/score", b).await?["score"],
        Value::Null
    );
    let usage = data(api, "/api/v1/analytics/apps/usage?days=7", b).await?;
    assert_eq!(usage["total_apps"], 0);
    let export = api.get("/api/v1/me/export", Some(b)).await?;
    assert!(!export.json.to_string().contains("Reader"), "{export:?}");
    // ...while Alice still sees hers.
    let alices = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day}"),
        a,
    )
    .await?;
    assert_eq!(alices["total_screen_time_minutes"], 45.0);
    assert_eq!(alices["average_focus_quality"], 90.0);
    let me = api.get("/api/v1/auth/me", Some(a)).await?;
    assert_eq!(me.json["timezone"], "UTC", "Bob's PATCH changed nothing");

    // Nothing of Alice's changed, and Bob stored nothing.
    let mut after = Vec::new();
    for table in EVENT_TABLES.iter().chain(&["goals", "privacy_states"]) {
        after.push(rows_of(&mut db, table, &alice.user_id).await?);
        assert_eq!(
            rows_of(&mut db, table, &bob.user_id).await?,
            0,
            "{table} of Bob"
        );
    }
    assert_eq!(after, alices_rows);
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn another_user_can_neither_list_nor_end_ones_sessions() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let alice = api.register_and_login("UTC").await?;
    let bob = api.register_and_login("UTC").await?;
    let (a, b) = (alice.access_token.as_str(), bob.access_token.as_str());
    let alices = api.get("/api/v1/auth/sessions", Some(a)).await?;
    let alice_session = alices.json["sessions"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(alice_session.len(), 36, "{alices:?}");

    // Bob lists his own sessions only; with Alice's user_id: 403.
    let bobs = api.get("/api/v1/auth/sessions", Some(b)).await?;
    assert_eq!(bobs.status, 200);
    assert!(!bobs.json.to_string().contains(&alice_session), "{bobs:?}");
    let claimed = format!("/api/v1/auth/sessions?user_id={}", alice.user_id);
    assert_eq!(api.get(&claimed, Some(b)).await?.status, 403);
    // Bob cannot end Alice's session by its id (404, as an unknown one), by her refresh token
    // (401, as an unknown one), nor with her user_id claimed (403).
    let path = format!("/api/v1/auth/sessions/{alice_session}");
    let ended = api.delete(&path, Some(b)).await?;
    assert_eq!(ended.status, 404, "{ended:?}");
    assert_eq!(ended.json["code"], "not_found");
    let claimed = format!("{path}?user_id={}", alice.user_id);
    assert_eq!(api.delete(&claimed, Some(b)).await?.status, 403);
    let logout = api
        .post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": alice.refresh_token}),
            Some(b),
        )
        .await?;
    assert_eq!(logout.status, 401, "{logout:?}");
    let claimed = format!("/api/v1/auth/logout-all?user_id={}", alice.user_id);
    assert_eq!(api.post(&claimed, &json!({}), Some(b)).await?.status, 403);
    // Alice's session is untouched: her tokens work, her session is listed.
    assert_eq!(api.get("/api/v1/auth/me", Some(a)).await?.status, 200);
    let still = api.get("/api/v1/auth/sessions", Some(a)).await?;
    assert_eq!(still.json["sessions"][0]["id"], alice_session.as_str());
    let refreshed = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": alice.refresh_token}),
            None,
        )
        .await?;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    stack.stop().await
}
