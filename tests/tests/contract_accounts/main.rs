//! Accounts through the REST gateway: registration and sign-in, refresh-token rotation with a
//! grace window and reuse detection, reading and changing one's profile (the timezone moves
//! days), export and erasure; sessions (sign-out, password change, the sessions list) in
//! [`sessions`], their upkeep in [`housekeeping`].

use chrono::Duration;
use serde_json::{Value, json};
use wellbeing_tests::TestStack;
use wellbeing_tests::fixtures::{
    at, data, rows_of, tables_with_user_id, track, track_all, utc_today,
};

const PASSWORD: &str = "correct horse battery staple";

mod housekeeping;
mod sessions;

#[tokio::test]
async fn refresh_rotates_the_pair_replays_within_the_grace_and_a_reuse_ends_the_session()
-> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let email = format!("Someone.{}@Example.com", uuid::Uuid::new_v4().simple());
    // No timezone: UTC. The email is stored lower-cased.
    let registered = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Someone", "email": email, "password": PASSWORD}),
            None,
        )
        .await?;
    assert_eq!(registered.status, 201, "{registered:?}");
    let user = &registered.json;
    assert_eq!(user["username"], "Someone");
    assert_eq!(user["email"], email.to_lowercase());
    assert_eq!(user["timezone"], "UTC");
    assert!(user["user_id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(
        user["created_at"]
            .as_str()
            .is_some_and(|at| at.parse::<chrono::DateTime<chrono::Utc>>().is_ok())
    );
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());

    let login = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await?;
    assert_eq!(login.status, 200, "{login:?}");
    assert_eq!(login.json["token_type"], "bearer");
    assert!(login.json["expires_in"].as_u64().is_some_and(|s| s > 0));
    let first_refresh = login.json["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let rotated = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first_refresh}),
            None,
        )
        .await?;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let second_access = rotated.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let second_refresh = rotated.json["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(rotated.json["token_type"], "bearer");
    let me = api.get("/api/v1/auth/me", Some(&second_access)).await?;
    assert_eq!(me.status, 200, "the new access token works: {me:?}");
    assert_eq!(me.json["user_id"], user["user_id"]);

    // Presented again within the grace window (the answer was lost): the same pair again.
    let replayed = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first_refresh}),
            None,
        )
        .await?;
    assert_eq!(replayed.status, 200, "{replayed:?}");
    assert_eq!(
        replayed.json["refresh_token"],
        rotated.json["refresh_token"]
    );
    assert_eq!(replayed.json["access_token"], rotated.json["access_token"]);
    assert_eq!(replayed.header("cache-control"), Some("no-store"));

    // After the window (its rotation moved a minute back), presenting it ends the session...
    let mut db = stack.database.connect().await?;
    sqlx::query("UPDATE refresh_tokens SET used_at = used_at - interval '1 minute' WHERE used_at IS NOT NULL")
        .execute(&mut db)
        .await?;
    drop(db);
    let reused = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first_refresh}),
            None,
        )
        .await?;
    assert_eq!(reused.status, 401, "{reused:?}");
    assert_eq!(reused.json["code"], "unauthenticated");
    // ...so the newer refresh token fails too, and so does the session's access token.
    let revoked = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": second_refresh}),
            None,
        )
        .await?;
    assert_eq!(revoked.status, 401, "{revoked:?}");
    let mut refused = api.get("/api/v1/auth/me", Some(&second_access)).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // Analytics ended the session: this gateway learns at its next poll (SESSION_POLL_MS).
    while refused.status == 200 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        refused = api.get("/api/v1/auth/me", Some(&second_access)).await?;
    }
    assert_eq!(refused.status, 401, "{refused:?}");
    let garbage = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": "not-a-token"}),
            None,
        )
        .await?;
    assert_eq!(garbage.status, 401);

    // Signing in again starts a new family that works.
    let again = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": email.to_uppercase(), "password": PASSWORD}),
            None,
        )
        .await?;
    assert_eq!(again.status, 200, "{again:?}");
    let fresh = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": again.json["refresh_token"]}),
            None,
        )
        .await?;
    assert_eq!(fresh.status, 200, "{fresh:?}");
    // Answers that carry tokens are kept by no cache on the way.
    for answer in [&again, &fresh] {
        assert_eq!(
            answer.header("cache-control"),
            Some("no-store"),
            "{answer:?}"
        );
    }
    stack.stop().await
}

#[tokio::test]
async fn a_password_is_10_to_256_characters_and_not_the_email() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let email = format!("rules-{}@example.com", uuid::Uuid::new_v4().simple());
    let register = |password: String| {
        let body = json!({"username": "Ada", "email": email, "password": password});
        async move { api.post("/api/v1/auth/register", &body, None).await }
    };
    for refused in [
        "123456789".to_owned(),
        "p".repeat(257),
        email.clone(),
        email.to_uppercase(),
    ] {
        let answer = register(refused.clone()).await?;
        assert_eq!(
            answer.status,
            422,
            "{} characters: {answer:?}",
            refused.len()
        );
        assert_eq!(answer.json["field"], "password", "{answer:?}");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut stack.database.connect().await?)
        .await?;
    assert_eq!(users, 0, "nothing stored for a refused password");
    for accepted in ["1234567890".to_owned(), "p".repeat(256)] {
        let answer = register(accepted).await?;
        assert_eq!(answer.status, 201, "{answer:?}");
        // Free the email for the next one.
        sqlx::query("DELETE FROM users WHERE email = $1")
            .bind(&email)
            .execute(&mut stack.database.connect().await?)
            .await?;
    }
    stack.stop().await
}

#[tokio::test]
async fn the_profile_can_be_read_and_changed_and_the_timezone_moves_days() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = user.access_token.as_str();
    let me = api.get("/api/v1/auth/me", Some(token)).await?;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["user_id"], user.user_id.as_str());
    assert_eq!(me.json["email"], user.email.as_str());
    assert_eq!(me.json["username"], "Test User");
    assert_eq!(me.json["timezone"], "UTC");

    // 30 minutes at 20:00Z: 20:00 in UTC, 01:30 the next day in Kolkata (+05:30).
    let day = utc_today() - Duration::days(3);
    let next = day + Duration::days(1);
    track(
        api,
        token,
        "screen-time",
        json!({"app_name": "Video", "duration_minutes": 30, "timestamp": at(day, "20:00", "Z")}),
    )
    .await?;
    let daily = |date: chrono::NaiveDate| async move {
        data(
            api,
            &format!("/api/v1/analytics/summary/daily?date={date}"),
            token,
        )
        .await
    };
    let before = daily(day).await?;
    assert_eq!(before["total_screen_time_minutes"], 30.0);
    assert_eq!(before["hourly_breakdown"][20]["minutes"], 30.0);

    let changed = api
        .patch(
            "/api/v1/auth/me",
            &json!({"username": "  Renamed  ", "timezone": "Asia/Kolkata"}),
            Some(token),
        )
        .await?;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.json["username"], "Renamed");
    assert_eq!(changed.json["timezone"], "Asia/Kolkata");
    assert_eq!(changed.json["created_at"], me.json["created_at"]);
    let me = api.get("/api/v1/auth/me", Some(token)).await?;
    assert_eq!(me.json["timezone"], "Asia/Kolkata");

    // The same record now lands on the next local day at hour 1 (20:00Z + 5:30 = 01:30).
    let old_day = daily(day).await?;
    assert_eq!(old_day["total_screen_time_minutes"], 0.0);
    let new_day = daily(next).await?;
    assert_eq!(new_day["total_screen_time_minutes"], 30.0);
    assert_eq!(new_day["hourly_breakdown"][1]["minutes"], 30.0);

    // Only the timezone: the username stays.
    let zone_only = api
        .patch(
            "/api/v1/auth/me",
            &json!({"timezone": "America/Los_Angeles"}),
            Some(token),
        )
        .await?;
    assert_eq!(zone_only.status, 200);
    assert_eq!(zone_only.json["username"], "Renamed");
    for (body, field) in [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"username": "   "}), "username"),
        (json!({"email": "new@example.com"}), "email"),
    ] {
        let answer = api.patch("/api/v1/auth/me", &body, Some(token)).await?;
        assert_eq!(answer.status, 422, "{body} -> {answer:?}");
        assert_eq!(answer.json["field"], field, "{body} -> {answer:?}");
    }
    stack.stop().await
}

/// One event of each kind, a goal and a privacy report for the user behind `token`.
async fn some_of_everything(stack: &TestStack, token: &str) -> anyhow::Result<()> {
    let api = &stack.api;
    let day = utc_today() - Duration::days(2);
    track_all(api, token, vec![
        json!({"type": "session", "start_time": at(day, "08:00", "Z"), "end_time": at(day, "08:30", "Z")}),
        json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 25, "timestamp": at(day, "09:00", "Z")}),
        json!({"type": "focus-session", "start_time": at(day, "10:00", "Z"), "end_time": at(day, "10:30", "Z"), "quality_score": 75, "task_name": "Thesis"}),
        json!({"type": "break", "duration_minutes": 5, "timestamp": at(day, "11:00", "Z")}),
        json!({"type": "notification", "app_name": "Chat", "priority": 10, "timestamp": at(day, "12:00", "Z")}),
        json!({"type": "distraction", "source": "Social", "severity": 2, "timestamp": at(day, "13:00", "Z")}),
    ]).await?;
    let goal = api
        .post(
            "/api/v1/analytics/goals",
            &json!({"goal_type": "custom", "target_value": 3}),
            Some(token),
        )
        .await?;
    anyhow::ensure!(goal.status == 201, "{goal:?}");
    let privacy = api
        .put(
            "/api/v1/privacy/state",
            &json!({"vpn_connected": true, "location_mode": "random"}),
            Some(token),
        )
        .await?;
    anyhow::ensure!(privacy.status == 200, "{privacy:?}");
    Ok(())
}

#[tokio::test]
async fn the_export_holds_the_callers_records_and_no_secrets() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let other = api.register_and_login("UTC").await?;
    some_of_everything(&stack, &user.access_token).await?;
    track(
        api,
        &other.access_token,
        "screen-time",
        json!({"app_name": "OtherApp", "duration_minutes": 5}),
    )
    .await?;

    let export = api
        .get("/api/v1/me/export", Some(&user.access_token))
        .await?;
    assert_eq!(export.status, 200, "{export:?}");
    assert_eq!(export.json["status"], "success");
    let document = &export.json["data"];
    assert_eq!(document["user"]["user_id"], user.user_id.as_str());
    assert_eq!(document["user"]["email"], user.email.as_str());
    let one = |name: &str| -> &Value {
        let rows = document[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is a list"));
        assert_eq!(rows.len(), 1, "{name}: {rows:?}");
        &rows[0]
    };
    assert_eq!(one("screen_time")["app_name"], "Reader");
    assert_eq!(one("screen_time")["duration_minutes"], 25.0);
    assert_eq!(one("sessions")["device_type"], "mobile");
    assert_eq!(one("focus_sessions")["task_name"], "Thesis");
    assert_eq!(one("breaks")["duration_minutes"], 5.0);
    assert_eq!(one("notifications")["app_name"], "Chat");
    assert_eq!(one("distractions")["source"], "Social");
    assert_eq!(one("goals")["goal_type"], "custom");
    assert_eq!(one("privacy_states")["location_mode"], "random");
    let text = export.json.to_string();
    assert!(!text.contains("OtherApp"), "another user's records leaked");
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "secrets leaked: {text}"
    );
    assert!(!text.contains(&user.refresh_token), "refresh tokens leaked");
    assert!(
        export
            .header("content-disposition")
            .is_some_and(|v| v.contains("attachment"))
    );
    stack.stop().await
}

#[tokio::test]
async fn erasing_an_account_removes_every_row_and_ends_its_tokens() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let other = api.register_and_login("UTC").await?;
    some_of_everything(&stack, &user.access_token).await?;
    some_of_everything(&stack, &other.access_token).await?;
    // Views of the user are cached before the erasure.
    data(api, "/api/v1/analytics/quick-stats", &user.access_token).await?;

    let mut db = stack.database.connect().await?;
    let tables = tables_with_user_id(&mut db).await?;
    for table in [
        "refresh_tokens",
        "screen_time",
        "sessions",
        "focus_sessions",
        "breaks",
        "notifications",
        "distractions",
        "goals",
        "privacy_states",
    ] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
        assert!(
            rows_of(&mut db, table, &user.user_id).await? >= 1,
            "{table} before"
        );
    }

    let erased = api.delete("/api/v1/me", Some(&user.access_token)).await?;
    assert_eq!(erased.status, 204, "{erased:?}");
    assert_eq!(erased.json, Value::Null);

    // The old access token: 401 everywhere, also for reads that were cached.
    for path in [
        "/api/v1/auth/me",
        "/api/v1/analytics/quick-stats",
        "/api/v1/me/export",
        "/api/v1/analytics/goals",
    ] {
        let answer = api.get(path, Some(&user.access_token)).await?;
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
    }
    let again = api.delete("/api/v1/me", Some(&user.access_token)).await?;
    assert_eq!(again.status, 401);
    let login = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": user.email, "password": PASSWORD}),
            None,
        )
        .await?;
    assert_eq!(login.status, 401);
    let refresh = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": user.refresh_token}),
            None,
        )
        .await?;
    assert_eq!(refresh.status, 401);

    // No row of the user in any table; the other user keeps everything.
    assert_eq!(rows_of(&mut db, "users", &user.user_id).await?, 0);
    for table in &tables {
        assert_eq!(rows_of(&mut db, table, &user.user_id).await?, 0, "{table}");
    }
    for table in ["screen_time", "goals", "privacy_states", "refresh_tokens"] {
        assert_eq!(
            rows_of(&mut db, table, &other.user_id).await?,
            1,
            "{table} of the other user"
        );
    }
    let others = data(api, "/api/v1/analytics/quick-stats", &other.access_token).await?;
    assert!(others["privacy_score"].is_number());
    // The email is free again.
    let reregistered = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Back", "email": user.email, "password": PASSWORD}),
            None,
        )
        .await?;
    assert_eq!(reregistered.status, 201, "{reregistered:?}");
    assert_ne!(reregistered.json["user_id"], user.user_id.as_str());
    drop(db);
    stack.stop().await
}
