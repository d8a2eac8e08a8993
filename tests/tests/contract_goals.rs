//! Goals through the REST gateway: each measured type computed from tracked data, the older type
//! names, custom goals with the client's value, status filters, validation and deletion.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use wellbeing_tests::fixtures::{data, local_at, local_today, minutes_ago, rows_in, track_all};
use wellbeing_tests::{TestStack, daytime_zone};

const GOALS: &str = "/api/v1/analytics/goals";

/// `(goal_type, current_value, progress_percent, status)` of a goal.
fn progress(goal: &Value) -> (String, f64, f64, String) {
    (
        goal["goal_type"].as_str().unwrap_or("?").to_owned(),
        goal["current_value"].as_f64().unwrap_or(-1.0),
        goal["progress_percent"].as_f64().unwrap_or(-1.0),
        goal["status"].as_str().unwrap_or("?").to_owned(),
    )
}

fn expected(
    goal_type: &str,
    current: f64,
    percent: f64,
    status: &str,
) -> (String, f64, f64, String) {
    (goal_type.to_owned(), current, percent, status.to_owned())
}

#[tokio::test]
async fn measured_goals_are_computed_from_tracked_data() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let zone = daytime_zone();
    let user = api.register_and_login(&zone).await?;
    let token = user.access_token.as_str();
    let yesterday = local_today(&zone) - Duration::days(1);
    // Local now is 08:00-20:00: everything "minutes ago" below is today.
    track_all(api, token, vec![
        // focus today: 100 → 55 minutes ago = 45 minutes; yesterday 60 minutes
        json!({"type": "focus-session", "start_time": minutes_ago(100), "end_time": minutes_ago(55), "quality_score": 80}),
        json!({"type": "focus-session", "start_time": local_at(&zone, yesterday, "12:00"), "end_time": local_at(&zone, yesterday, "13:00"), "quality_score": 80}),
        // screen today: Chat 50 + Reader 20 = 70 minutes
        json!({"type": "screen-time", "app_name": "Chat", "duration_minutes": 50, "timestamp": minutes_ago(120)}),
        json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 20, "timestamp": minutes_ago(60)}),
        // 3 notifications today
        json!({"type": "notification", "app_name": "Chat", "priority": 1, "timestamp": minutes_ago(30)}),
        json!({"type": "notification", "app_name": "Chat", "priority": 1, "timestamp": minutes_ago(29)}),
        json!({"type": "notification", "app_name": "Chat", "priority": 1, "timestamp": minutes_ago(28)}),
    ]).await?;

    let cases = [
        // 45 / 60 = 75 %, below the target: active
        (
            json!({"goal_type": "daily_focus_minutes", "target_value": 60}),
            expected("daily_focus_minutes", 45.0, 75.0, "active"),
        ),
        // the older name; 45 ≥ 40: completed, capped at 100 %
        (
            json!({"goal_type": "daily_focus_time", "target_value": 40}),
            expected("daily_focus_minutes", 45.0, 100.0, "completed"),
        ),
        // 70 / 60 = 116.67 % of the budget: exceeded
        (
            json!({"goal_type": "daily_screen_time_limit", "target_value": 60}),
            expected("daily_screen_time_limit", 70.0, 116.7, "exceeded"),
        ),
        // the older name; 70 / 120 = 58.33 %
        (
            json!({"goal_type": "screen_time_limit", "target_value": 120}),
            expected("daily_screen_time_limit", 70.0, 58.3, "active"),
        ),
        // Chat used exactly its 50-minute limit: 100 %, still active
        (
            json!({"goal_type": "app_daily_limit", "target_value": 50, "app_name": "Chat"}),
            expected("app_daily_limit", 50.0, 100.0, "active"),
        ),
        // 3 notifications over a limit of 2: 150 %
        (
            json!({"goal_type": "daily_notifications_limit", "target_value": 2}),
            expected("daily_notifications_limit", 3.0, 150.0, "exceeded"),
        ),
        // 45 today + 60 yesterday = 105 of 300 = 35 %
        (
            json!({"goal_type": "weekly_focus_minutes", "target_value": 300}),
            expected("weekly_focus_minutes", 105.0, 35.0, "active"),
        ),
        // custom goals start at 0
        (
            json!({"goal_type": "custom", "target_value": 10, "deadline": "2030-01-31"}),
            expected("custom", 0.0, 0.0, "active"),
        ),
        // a limit of 0 on an unused app: 0 %, active
        (
            json!({"goal_type": "app_daily_limit", "target_value": 0, "app_name": "Games"}),
            expected("app_daily_limit", 0.0, 0.0, "active"),
        ),
        // a limit of 0 with any use: 100 %, exceeded
        (
            json!({"goal_type": "daily_notifications_limit", "target_value": 0}),
            expected("daily_notifications_limit", 3.0, 100.0, "exceeded"),
        ),
    ];
    let mut ids = Vec::new();
    for (body, want) in cases {
        let created = api.post(GOALS, &body, Some(token)).await?;
        assert_eq!(created.status, 201, "{body} -> {created:?}");
        assert_eq!(created.json["status"], "success");
        let goal = &created.json["data"];
        assert_eq!(progress(goal), want, "{body} -> {goal}");
        assert_eq!(
            goal["target_value"],
            body["target_value"].as_f64().unwrap_or(-1.0)
        );
        assert!(
            goal["id"].as_str().is_some_and(|id| id.len() == 36),
            "{goal}"
        );
        ids.push(goal["id"].as_str().unwrap_or_default().to_owned());
    }
    let completed_focus = data(api, &format!("{GOALS}?status=completed"), token).await?;
    assert_eq!(completed_focus["count"], 1);
    let goal = &completed_focus["goals"][0];
    assert_eq!(goal["id"], ids[1].as_str());
    // Reached 40 minutes into the session that began 100 minutes ago: about 60 minutes ago.
    let completed_at: DateTime<Utc> = goal["completed_at"].as_str().unwrap_or_default().parse()?;
    let reached = Utc::now() - Duration::minutes(60);
    assert!((completed_at - reached).num_seconds().abs() < 120, "{goal}");
    assert_eq!(goal["deadline"], Value::Null);

    let all = data(api, GOALS, token).await?;
    assert_eq!(all["count"], 10);
    assert_eq!(all["goals"].as_array().map(Vec::len), Some(10));
    let exceeded = data(api, &format!("{GOALS}?status=exceeded"), token).await?;
    let mut exceeded_ids: Vec<&str> = exceeded["goals"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|goal| goal["id"].as_str())
        .collect();
    exceeded_ids.sort_unstable();
    let mut want = vec![ids[2].as_str(), ids[5].as_str(), ids[9].as_str()];
    want.sort_unstable();
    assert_eq!(exceeded_ids, want);
    assert_eq!(exceeded["count"], 3);
    let active = data(api, &format!("{GOALS}?status=active"), token).await?;
    assert_eq!(active["count"], 6); // 10 − 1 completed − 3 exceeded
    let paused = api
        .get(&format!("{GOALS}?status=paused"), Some(token))
        .await?;
    assert_eq!(
        (paused.status, paused.json["field"].as_str()),
        (422, Some("status"))
    );

    // A current_value sent for a measured goal is ignored; a new target changes the progress.
    let changed = api
        .put(
            &format!("{GOALS}/{}", ids[0]),
            &json!({"current_value": 999, "target_value": 90}),
            Some(token),
        )
        .await?;
    assert_eq!(changed.status, 200, "{changed:?}");
    // 45 / 90 = 50 %
    assert_eq!(
        progress(&changed.json["data"]),
        expected("daily_focus_minutes", 45.0, 50.0, "active")
    );

    // Refused: an unknown type, a limit on no app, a target of 0 or below, unknown fields, bad dates.
    let refusals = [
        (
            json!({"goal_type": "sleep_hours", "target_value": 8}),
            "goal_type",
        ),
        (
            json!({"goal_type": "app_daily_limit", "target_value": 30}),
            "app_name",
        ),
        (
            json!({"goal_type": "daily_focus_minutes", "target_value": 0}),
            "target_value",
        ),
        (
            json!({"goal_type": "daily_screen_time_limit", "target_value": -1}),
            "target_value",
        ),
        (
            json!({"goal_type": "custom", "target_value": 2_000_000}),
            "target_value",
        ),
        (
            json!({"goal_type": "custom", "target_value": "ten"}),
            "target_value",
        ),
        (
            json!({"goal_type": "custom", "target_value": 10, "colour": "red"}),
            "colour",
        ),
        (
            json!({"goal_type": "custom", "target_value": 10, "deadline": "2030-02-30"}),
            "deadline",
        ),
    ];
    for (body, field) in refusals {
        let answer = api.post(GOALS, &body, Some(token)).await?;
        assert_eq!(answer.status, 422, "{body} -> {answer:?}");
        assert_eq!(answer.json["field"], field, "{body} -> {answer:?}");
    }
    let mut db = stack.database.connect().await?;
    assert_eq!(rows_in(&mut db, "goals").await?, 10);
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn custom_goals_take_the_clients_value_and_can_be_deleted() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = Some(user.access_token.as_str());
    let created = api
        .post(
            GOALS,
            &json!({"goal_type": "custom", "target_value": 10, "deadline": "2030-06-30"}),
            token,
        )
        .await?;
    assert_eq!(created.status, 201, "{created:?}");
    let goal = &created.json["data"];
    assert_eq!(goal["deadline"], "2030-06-30");
    assert_eq!(goal["completed_at"], Value::Null);
    let path = format!("{GOALS}/{}", goal["id"].as_str().unwrap_or_default());

    let put = |body: Value| {
        let path = path.clone();
        async move { api.put(&path, &body, token).await }
    };
    let four = put(json!({"current_value": 4})).await?;
    assert_eq!(four.status, 200, "{four:?}");
    // 4 / 10 = 40 %
    assert_eq!(
        progress(&four.json["data"]),
        expected("custom", 4.0, 40.0, "active")
    );
    assert_eq!(four.json["data"]["completed_at"], Value::Null);

    let ten = put(json!({"current_value": 10})).await?;
    // 10 ≥ 10: completed, with the moment it was reached
    assert_eq!(
        progress(&ten.json["data"]),
        expected("custom", 10.0, 100.0, "completed")
    );
    let completed_at = ten.json["data"]["completed_at"].clone();
    let at: DateTime<Utc> = completed_at.as_str().unwrap_or_default().parse()?;
    assert!((Utc::now() - at).num_seconds().abs() < 60, "{completed_at}");
    let listed = data(
        api,
        &format!("{GOALS}?status=completed"),
        &user.access_token,
    )
    .await?;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["goals"][0]["completed_at"], completed_at);

    // Beyond the target: still completed at the same moment, progress capped at 100 %.
    let twelve = put(json!({"current_value": 12})).await?;
    assert_eq!(
        progress(&twelve.json["data"]),
        expected("custom", 12.0, 100.0, "completed")
    );
    assert_eq!(twelve.json["data"]["completed_at"], completed_at);
    // A higher target reopens it: 12 / 20 = 60 %.
    let reopened = put(json!({"target_value": 20})).await?;
    assert_eq!(
        progress(&reopened.json["data"]),
        expected("custom", 12.0, 60.0, "active")
    );
    assert_eq!(reopened.json["data"]["completed_at"], Value::Null);

    let negative = put(json!({"current_value": -1})).await?;
    assert_eq!(
        (negative.status, negative.json["field"].as_str()),
        (422, Some("current_value"))
    );
    let bad_deadline = put(json!({"deadline": "2030-02-30"})).await?;
    assert_eq!(
        (bad_deadline.status, bad_deadline.json["field"].as_str()),
        (422, Some("deadline"))
    );

    // Unknown ids, and ids that are not UUIDs, are 404s.
    let unknown = format!("{GOALS}/{}", uuid::Uuid::new_v4());
    assert_eq!(
        api.put(&unknown, &json!({"target_value": 5}), token)
            .await?
            .status,
        404
    );
    assert_eq!(api.delete(&unknown, token).await?.status, 404);
    let not_an_id = api
        .put(&format!("{GOALS}/42"), &json!({"target_value": 5}), token)
        .await?;
    assert_eq!(
        (not_an_id.status, not_an_id.json["code"].as_str()),
        (404, Some("not_found"))
    );

    let deleted = api.delete(&path, token).await?;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert_eq!(deleted.json, Value::Null);
    assert_eq!(api.delete(&path, token).await?.status, 404);
    assert_eq!(put(json!({"target_value": 5})).await?.status, 404);
    let remaining = data(api, GOALS, &user.access_token).await?;
    assert_eq!(remaining, json!({"goals": [], "count": 0}));
    let mut db = stack.database.connect().await?;
    assert_eq!(rows_in(&mut db, "goals").await?, 0);
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn a_user_keeps_at_most_a_hundred_goals() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = Some(user.access_token.as_str());
    let body = json!({"goal_type": "custom", "target_value": 10});
    // Concurrently, so that the cap is checked under contention: exactly 100 are kept.
    let answers =
        futures_util::future::try_join_all((0..110).map(|_| api.post(GOALS, &body, token))).await?;
    let created = answers.iter().filter(|answer| answer.status == 201).count();
    let refused: Vec<&wellbeing_tests::Answer> = answers
        .iter()
        .filter(|answer| answer.status != 201)
        .collect();
    assert_eq!(created, 100, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|answer| answer.status == 409 && answer.json["code"] == "conflict"),
        "{refused:?}"
    );
    let listed = api.get(GOALS, token).await?;
    assert_eq!(listed.json["data"]["count"], 100, "{listed:?}");
    // Deleting one makes room for one.
    let id = listed.json["data"]["goals"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let deleted = api.delete(&format!("{GOALS}/{id}"), token).await?;
    assert_eq!(deleted.status, 204);
    assert_eq!(api.post(GOALS, &body, token).await?.status, 201);
    assert_eq!(api.post(GOALS, &body, token).await?.status, 409);
    stack.stop().await
}
