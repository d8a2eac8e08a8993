//! Sessions through the REST gateway: sign-out of one session or of all, the password change,
//! the sessions list and ending a session from it, each ending the access tokens of the
//! sessions it ends (also for reads the gateway answers from its copies), the absolute lifetime,
//! and the upkeep that keeps the tables bounded.

use serde_json::{Value, json};
use wellbeing_tests::{Api, Session, TestStack};

use super::PASSWORD;

/// Signs `user` in once more, as a device with `device_name` (none: the client's User-Agent).
async fn sign_in_again(
    api: &Api,
    user: &Session,
    device_name: Option<&str>,
) -> anyhow::Result<Session> {
    let mut body = json!({"email": user.email, "password": PASSWORD});
    if let Some(name) = device_name {
        body["device_name"] = json!(name);
    }
    let answer = api
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            Some(&body),
            None,
            &[("user-agent", "WellbeingApp/2.1 (Android 15)")],
        )
        .await?;
    anyhow::ensure!(answer.status == 200, "login answered {answer:?}");
    Ok(Session {
        access_token: text(&answer.json["access_token"]),
        refresh_token: text(&answer.json["refresh_token"]),
        ..user.clone()
    })
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The status of `/auth/me`, and of a derived read read twice (so that the second is answered
/// from the gateway's copy when the token is accepted), with `token`.
async fn statuses_with(api: &Api, token: &str) -> anyhow::Result<[u16; 3]> {
    let me = api.get("/api/v1/auth/me", Some(token)).await?.status;
    let first = api
        .get("/api/v1/analytics/quick-stats", Some(token))
        .await?;
    let second = api
        .get("/api/v1/analytics/quick-stats", Some(token))
        .await?;
    Ok([me, first.status, second.status])
}

async fn refresh_status(api: &Api, refresh_token: &str) -> anyhow::Result<u16> {
    let answer = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
            None,
        )
        .await?;
    Ok(answer.status)
}

async fn sessions_of(api: &Api, token: &str) -> anyhow::Result<Vec<Value>> {
    let answer = api.get("/api/v1/auth/sessions", Some(token)).await?;
    anyhow::ensure!(answer.status == 200, "sessions answered {answer:?}");
    Ok(answer.json["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

#[tokio::test]
async fn logout_ends_that_session_and_the_access_tokens_issued_with_it() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let phone = api.register_and_login("UTC").await?;
    let tablet = sign_in_again(api, &phone, Some("Ada's tablet")).await?;
    let laptop = sign_in_again(api, &phone, None).await?;

    // The list: every session, the caller's marked, labelled, and never a token.
    let listed = sessions_of(api, &tablet.access_token).await?;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{listed:?}");
    assert_eq!(current[0]["device"], "Ada's tablet");
    assert!(
        listed
            .iter()
            .any(|s| s["device"] == "WellbeingApp/2.1 (Android 15)"),
        "the User-Agent labels a session without a name: {listed:?}"
    );
    for session in &listed {
        let mut keys: Vec<&String> = session
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(
            keys,
            ["created_at", "current", "device", "id", "last_used_at"]
        );
    }
    let listing = serde_json::to_string(&listed)?;
    for secret in [&phone, &tablet, &laptop]
        .iter()
        .flat_map(|s| [&s.access_token, &s.refresh_token])
    {
        assert!(!listing.contains(secret.as_str()), "a token in the list");
    }

    // The tablet's token was accepted, and its read kept by the gateway...
    assert_eq!(statuses_with(api, &tablet.access_token).await?, [200; 3]);
    let logout = api
        .post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": tablet.refresh_token}),
            Some(&tablet.access_token),
        )
        .await?;
    assert_eq!(logout.status, 204, "{logout:?}");
    assert_eq!(logout.json, Value::Null);
    // ...and is refused now, the kept read too; its refresh token as well.
    assert_eq!(statuses_with(api, &tablet.access_token).await?, [401; 3]);
    assert_eq!(refresh_status(api, &tablet.refresh_token).await?, 401);
    // The other sessions go on.
    assert_eq!(statuses_with(api, &phone.access_token).await?, [200; 3]);
    let left = sessions_of(api, &phone.access_token).await?;
    assert_eq!(left.len(), 2, "{left:?}");
    // Signing out of an ended session again: 204; with a token that is not the caller's: 401.
    let again = api
        .post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": tablet.refresh_token}),
            Some(&phone.access_token),
        )
        .await?;
    assert_eq!(again.status, 204, "{again:?}");
    let unknown = api
        .post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": "not-a-token"}),
            Some(&phone.access_token),
        )
        .await?;
    assert_eq!(unknown.status, 401, "{unknown:?}");
    assert_eq!(unknown.json["code"], "unauthenticated");
    assert_eq!(refresh_status(api, &laptop.refresh_token).await?, 200);
    stack.stop().await
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_caller_only() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let first = api.register_and_login("UTC").await?;
    let second = sign_in_again(api, &first, Some("Phone")).await?;
    let someone_else = api.register_and_login("UTC").await?;
    let answer = api
        .post(
            "/api/v1/auth/logout-all",
            &json!({}),
            Some(&second.access_token),
        )
        .await?;
    assert_eq!(answer.status, 204, "{answer:?}");
    for session in [&first, &second] {
        assert_eq!(statuses_with(api, &session.access_token).await?, [401; 3]);
        assert_eq!(refresh_status(api, &session.refresh_token).await?, 401);
    }
    assert_eq!(
        statuses_with(api, &someone_else.access_token).await?,
        [200; 3]
    );
    // Signing in again works, in a new session.
    let back = sign_in_again(api, &first, None).await?;
    assert_eq!(sessions_of(api, &back.access_token).await?.len(), 1);
    stack.stop().await
}

#[tokio::test]
async fn a_password_change_keeps_this_session_and_ends_every_other() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let this = api.register_and_login("UTC").await?;
    let other = sign_in_again(api, &this, Some("Old phone")).await?;
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let token = this.access_token.clone();
        async move { api.post("/api/v1/auth/password", &body, Some(&token)).await }
    };
    let new_password = "a much longer new passphrase";

    let wrong = change("not the password", new_password).await?;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    for (bad, why) in [("short", "too short"), (this.email.as_str(), "the email")] {
        let refused = change(PASSWORD, bad).await?;
        assert_eq!(refused.status, 422, "{why}: {refused:?}");
        assert_eq!(refused.json["field"], "new_password", "{why}");
    }
    let unparseable = api
        .post_raw(
            "/api/v1/auth/password",
            "{\"current_password\":",
            Some(&this.access_token),
        )
        .await?;
    assert_eq!(unparseable.status, 400, "{unparseable:?}");
    // Nothing changed so far.
    assert_eq!(statuses_with(api, &other.access_token).await?, [200; 3]);

    let changed = change(PASSWORD, new_password).await?;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.header("cache-control"), Some("no-store"));
    assert_eq!(changed.json["token_type"], "bearer");
    let fresh_access = text(&changed.json["access_token"]);
    let fresh_refresh = text(&changed.json["refresh_token"]);
    // The other session has ended; this one goes on with the fresh pair (and its access token).
    assert_eq!(statuses_with(api, &other.access_token).await?, [401; 3]);
    assert_eq!(refresh_status(api, &other.refresh_token).await?, 401);
    assert_eq!(statuses_with(api, &fresh_access).await?, [200; 3]);
    assert_eq!(statuses_with(api, &this.access_token).await?, [200; 3]);
    let listed = sessions_of(api, &fresh_access).await?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["current"], true);
    assert_eq!(refresh_status(api, &fresh_refresh).await?, 200);
    // The old password no longer signs in; the new one does.
    let old = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": this.email, "password": PASSWORD}),
            None,
        )
        .await?;
    assert_eq!(old.status, 401, "{old:?}");
    let new = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": this.email, "password": new_password}),
            None,
        )
        .await?;
    assert_eq!(new.status, 200, "{new:?}");
    stack.stop().await
}

#[tokio::test]
async fn a_session_can_be_ended_from_the_list() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let mine = api.register_and_login("UTC").await?;
    let lost_phone = sign_in_again(api, &mine, Some("Lost phone")).await?;
    let listed = sessions_of(api, &mine.access_token).await?;
    let lost_id = listed
        .iter()
        .find(|s| s["device"] == "Lost phone")
        .map(|s| text(&s["id"]))
        .unwrap_or_default();
    let path = format!("/api/v1/auth/sessions/{lost_id}");
    let ended = api.delete(&path, Some(&mine.access_token)).await?;
    assert_eq!(ended.status, 204, "{ended:?}");
    assert_eq!(
        statuses_with(api, &lost_phone.access_token).await?,
        [401; 3]
    );
    assert_eq!(refresh_status(api, &lost_phone.refresh_token).await?, 401);
    assert_eq!(statuses_with(api, &mine.access_token).await?, [200; 3]);
    // Ended already, unknown, or not an id: 404.
    for path in [
        path.clone(),
        format!("/api/v1/auth/sessions/{}", uuid::Uuid::new_v4()),
        "/api/v1/auth/sessions/not-an-id".to_owned(),
    ] {
        let answer = api.delete(&path, Some(&mine.access_token)).await?;
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
        assert_eq!(answer.json["code"], "not_found");
    }
    stack.stop().await
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_often_refreshed() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let refreshed = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": user.refresh_token}),
            None,
        )
        .await?;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    // The session reached its absolute end (as 90 days would).
    let mut db = stack.database.connect().await?;
    sqlx::query(
        "UPDATE auth_sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1",
    )
    .bind(user.user_id.parse::<uuid::Uuid>()?)
    .execute(&mut db)
    .await?;
    assert_eq!(
        refresh_status(api, &text(&refreshed.json["refresh_token"])).await?,
        401
    );
    let access = text(&refreshed.json["access_token"]);
    assert!(sessions_of(api, &access).await?.is_empty());
    drop(db);
    stack.stop().await
}
