//! Security through the whole stack: user B against every path and id of user A (0 leaks, 0
//! changes), tokens that are expired, forged, unsigned, signed with another key or of the wrong
//! kind, refresh tokens replayed (also concurrently), passwords kept only as argon2id hashes and
//! refresh tokens only as hashes, and rate limits.
//!
//! Related tests elsewhere: isolation.rs (B's token with A's `user_id` in the query of every read
//! and the body of every write: 403; A's goal id: 404), contract_accounts.rs (a reused refresh
//! token revokes its family; erasure ends every token), foundation.rs (a malformed token),
//! gateway/src/auth.rs unit tests (another key, `alg: none`), gateway/tests/router/limits.rs
//! (the limiter's headers), log_secrets.rs (nothing secret in the logs).

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wellbeing_tests::fixtures::{at, track_all, utc_today};
use wellbeing_tests::probe::{Tally, fingerprint};
use wellbeing_tests::{Api, Session, StackOptions, TestStack};

/// The key the test stack's gateway signs with (tests/src/lib.rs).
const STACK_SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";
const PASSWORD: &str = "correct horse battery staple";

/// Every read of a user's data (the same list as isolation.rs).
fn reads(day: chrono::NaiveDate) -> Vec<String> {
    vec![
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
        "/api/v1/analytics/cache".to_owned(),
        "/api/v1/privacy/score".to_owned(),
        "/api/v1/privacy/score/history?limit=10".to_owned(),
        "/api/v1/privacy/score/trend".to_owned(),
        "/api/v1/auth/me".to_owned(),
        "/api/v1/me/export".to_owned(),
    ]
}

/// Whether an answer to B shows anything of A's.
fn leaks(answer: &Value, alice: &Session, markers: &[String]) -> bool {
    let text = answer.to_string();
    text.contains(&alice.user_id)
        || text.contains(&alice.email)
        || markers.iter().any(|marker| text.contains(marker.as_str()))
}

/// A's day: events of every kind, a goal and a privacy report, with names only A uses.
async fn alices_data(api: &Api, alice: &Session, marker: &str) -> anyhow::Result<(String, String)> {
    let day = utc_today() - chrono::Duration::days(1);
    let event_id = uuid::Uuid::new_v4().to_string();
    track_all(api, &alice.access_token, vec![
        json!({"type": "session", "start_time": at(day, "08:00", "Z"), "end_time": at(day, "08:30", "Z"), "device_type": format!("{marker}-device")}),
        json!({"type": "screen-time", "event_id": event_id, "app_name": format!("{marker}-app"), "duration_minutes": 45, "timestamp": at(day, "09:00", "Z")}),
        json!({"type": "focus-session", "start_time": at(day, "10:00", "Z"), "end_time": at(day, "11:00", "Z"), "quality_score": 90, "task_name": format!("{marker}-task")}),
        json!({"type": "break", "duration_minutes": 5, "timestamp": at(day, "11:00", "Z")}),
        json!({"type": "notification", "app_name": format!("{marker}-chat"), "priority": 10, "timestamp": at(day, "12:00", "Z")}),
        json!({"type": "distraction", "source": format!("{marker}-source"), "severity": 2, "timestamp": at(day, "13:00", "Z")}),
    ]).await?;
    // Today too, so "today" views of A are not empty.
    track_all(api, &alice.access_token, vec![
        json!({"type": "screen-time", "app_name": format!("{marker}-app"), "duration_minutes": 1}),
    ]).await?;
    let goal = api
        .post(
            "/api/v1/analytics/goals",
            &json!({"goal_type": "app_daily_limit", "target_value": 77, "app_name": format!("{marker}-app")}),
            Some(&alice.access_token),
        )
        .await?;
    anyhow::ensure!(goal.status == 201, "{goal:?}");
    let privacy = api
        .put(
            "/api/v1/privacy/state",
            &json!({"vpn_connected": true, "kill_switch": true, "location_mode": "random", "calls_total": 4242}),
            Some(&alice.access_token),
        )
        .await?;
    anyhow::ensure!(privacy.status == 200, "{privacy:?}");
    Ok((
        goal.json["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        event_id,
    ))
}

#[tokio::test]
async fn user_b_against_every_path_and_id_of_user_a_gets_nothing() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let alice = api.register_and_login("UTC").await?;
    let bob = api.register_and_login("UTC").await?;
    let marker = format!("alice{}", uuid::Uuid::new_v4().simple());
    let (goal_id, event_id) = alices_data(api, &alice, &marker).await?;
    let markers = vec![marker.clone(), "4242".to_owned()];
    let b = bob.access_token.as_str();
    let day = utc_today() - chrono::Duration::days(1);
    let mut db = stack.database.connect().await?;
    let before = fingerprint(&mut db).await?;
    let mut tally = Tally::default();
    let mut leaked = Vec::new();
    let mut wrong = Vec::new();

    let upper = alice.user_id.to_uppercase();
    let braced = format!("{{{}}}", alice.user_id);
    let claims = [
        alice.user_id.clone(),
        upper,
        braced,
        format!("%20{}%20", alice.user_id),
    ];
    for read in reads(day) {
        let separator = if read.contains('?') { '&' } else { '?' };
        // A's id in the query, spelled several ways: 403.
        for claim in &claims {
            let path = format!("{read}{separator}user_id={claim}");
            let answer = api.get(&path, Some(b)).await?;
            tally.count(answer.status);
            if answer.status != 403 {
                wrong.push(format!("{path}: {} {}", answer.status, answer.json));
            }
            if leaks(&answer.json, &alice, &markers) {
                leaked.push(path);
            }
        }
        // B's id first, A's second (the first wins): B's own data, nothing of A's.
        let path = format!(
            "{read}{separator}user_id={}&user_id={}",
            bob.user_id, alice.user_id
        );
        let answer = api.get(&path, Some(b)).await?;
        tally.count(answer.status);
        if answer.status != 200 {
            wrong.push(format!("{path}: {} {}", answer.status, answer.json));
        }
        if leaks(&answer.json, &alice, &markers) {
            leaked.push(path);
        }
        // Identity headers a proxy might trust: ignored, B gets B's own data.
        for header in [
            "x-user-id",
            "x-forwarded-user",
            "x-auth-user",
            "x-original-user",
        ] {
            let answer = api
                .send(
                    reqwest::Method::GET,
                    &read,
                    None,
                    Some(b),
                    &[(header, alice.user_id.as_str())],
                )
                .await?;
            tally.count(answer.status);
            if answer.status != 200 {
                wrong.push(format!("{read} with {header}: {}", answer.status));
            }
            if leaks(&answer.json, &alice, &markers) {
                leaked.push(format!("{read} with {header}"));
            }
        }
    }
    // Through POST /batch: every inner read with A's id is a 403, nothing of A's comes back.
    for chunk in reads(day).chunks(20) {
        let requests: Vec<Value> = chunk
            .iter()
            .map(|read| {
                let separator = if read.contains('?') { '&' } else { '?' };
                json!({"method": "GET", "path": format!("{read}{separator}user_id={}", alice.user_id)})
            })
            .collect();
        let answer = api
            .post("/api/v1/batch", &json!({"requests": requests}), Some(b))
            .await?;
        tally.count(answer.status);
        let statuses: Vec<u64> = answer.json["data"]["responses"]
            .as_array()
            .map(|all| all.iter().filter_map(|r| r["status"].as_u64()).collect())
            .unwrap_or_default();
        if answer.status != 200
            || statuses.len() != chunk.len()
            || statuses.iter().any(|s| *s != 403)
        {
            wrong.push(format!("batch: {} {}", answer.status, answer.json));
        }
        if leaks(&answer.json, &alice, &markers) {
            leaked.push("batch".to_owned());
        }
    }
    // A's goal id on every goal route, and in the batch: 404 / refused, nothing changes.
    let goal_path = format!("/api/v1/analytics/goals/{goal_id}");
    for (method, body) in [
        (reqwest::Method::PUT, Some(json!({"target_value": 1}))),
        (
            reqwest::Method::PUT,
            Some(json!({"current_value": 1, "app_name": "Bob"})),
        ),
        (reqwest::Method::DELETE, None),
        (reqwest::Method::GET, None),
        (reqwest::Method::PATCH, Some(json!({"target_value": 1}))),
    ] {
        let answer = api
            .send(method.clone(), &goal_path, body.as_ref(), Some(b), &[])
            .await?;
        tally.count(answer.status);
        if !matches!(answer.status, 404 | 405) {
            wrong.push(format!(
                "{method} {goal_path}: {} {}",
                answer.status, answer.json
            ));
        }
        if leaks(&answer.json, &alice, &markers) {
            leaked.push(format!("{method} {goal_path}"));
        }
    }
    let answer = api
        .post(
            "/api/v1/batch",
            &json!({"requests": [{"method": "GET", "path": goal_path}, {"method": "DELETE", "path": goal_path}]}),
            Some(b),
        )
        .await?;
    tally.count(answer.status);
    if leaks(&answer.json, &alice, &markers) {
        leaked.push("batch of the goal path".to_owned());
    }
    // A token B mints for A without the key: refused (forged, unsigned), so no write lands on A.
    let forged = [
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": alice.user_id, "iat": 0, "exp": 4_102_444_800i64, "typ": "access"}),
            &EncodingKey::from_secret(b"guessed-guessed-guessed-guessed-guessed"),
        )?,
        unsigned(
            &json!({"sub": alice.user_id, "iat": 0, "exp": 4_102_444_800i64, "typ": "access"}),
        ),
        resigned_for(&bob.access_token, &alice.user_id),
    ];
    for token in &forged {
        for (method, path, body) in [
            (reqwest::Method::GET, "/api/v1/analytics/quick-stats", None),
            (
                reqwest::Method::POST,
                "/api/v1/analytics/track/screen-time",
                Some(json!({"app_name": "Forged", "duration_minutes": 5})),
            ),
            (reqwest::Method::DELETE, "/api/v1/me", None),
        ] {
            let answer = api
                .send(method.clone(), path, body.as_ref(), Some(token), &[])
                .await?;
            tally.count(answer.status);
            if answer.status != 401 {
                wrong.push(format!("forged {method} {path}: {}", answer.status));
            }
        }
    }

    // Nothing of A's changed, and B's attempts stored nothing.
    let after = fingerprint(&mut db).await?;
    let changed: Vec<&String> = before
        .keys()
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();

    // A's event id sent by B: B's own new record, never A's (event ids are unique per user).
    let collision = api
        .post(
            "/api/v1/analytics/track/screen-time",
            &json!({"event_id": event_id, "app_name": "BobsApp", "duration_minutes": 3}),
            Some(b),
        )
        .await?;
    tally.count(collision.status);
    assert_eq!(collision.status, 201, "{collision:?}");
    assert_eq!(collision.json["data"]["user_id"], bob.user_id.as_str());
    assert_eq!(collision.json["data"]["app_name"], "BobsApp");
    if leaks(&collision.json, &alice, &markers) {
        leaked.push("event id collision".to_owned());
    }
    let alices_export = api
        .get("/api/v1/me/export", Some(&alice.access_token))
        .await?;
    assert!(!alices_export.json.to_string().contains("BobsApp"));

    tally.errors = (wrong.len() + leaked.len() + changed.len()) as u64;
    tally.report(
        "security::user_b_against_every_path_and_id_of_user_a_gets_nothing",
        &format!(
            "leaks={} changes={} wrong_status={}",
            leaked.len(),
            changed.len(),
            wrong.len()
        ),
    );
    assert!(leaked.is_empty(), "A's data reached B: {leaked:#?}");
    assert!(changed.is_empty(), "B's attempts changed {changed:?}");
    assert!(wrong.is_empty(), "{wrong:#?}");
    drop(db);
    stack.stop().await
}

/// `{"alg":"none"}` with `claims` and an empty signature.
fn unsigned(claims: &Value) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
        engine.encode(claims.to_string())
    )
}

/// B's own valid token with its subject changed to `user_id`, the signature left as it was.
fn resigned_for(token: &str, user_id: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = engine
        .decode(parts[1])
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    claims["sub"] = json!(user_id);
    format!(
        "{}.{}.{}",
        parts[0],
        engine.encode(claims.to_string()),
        parts[2]
    )
}

#[tokio::test]
async fn expired_forged_unsigned_and_wrong_key_tokens_are_refused() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let now = chrono::Utc::now().timestamp();
    let claims =
        |exp: i64, typ: &str| json!({"sub": user.user_id, "iat": now - 60, "exp": exp, "typ": typ});
    let sign = |algorithm: Algorithm, claims: &Value, key: &[u8]| {
        jsonwebtoken::encode(
            &Header::new(algorithm),
            claims,
            &EncodingKey::from_secret(key),
        )
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let valid = user.access_token.clone();
    let parts: Vec<&str> = valid.split('.').collect();
    let tokens: Vec<(&str, String)> = vec![
        // The right key, but expired beyond the 5 s leeway.
        (
            "expired",
            sign(Algorithm::HS256, &claims(now - 120, "access"), STACK_SECRET)?,
        ),
        // The right key, but not an access token / no subject / no expiry.
        (
            "refresh-typed",
            sign(
                Algorithm::HS256,
                &claims(now + 600, "refresh"),
                STACK_SECRET,
            )?,
        ),
        (
            "no subject",
            sign(
                Algorithm::HS256,
                &json!({"exp": now + 600, "typ": "access"}),
                STACK_SECRET,
            )?,
        ),
        (
            "no expiry",
            sign(
                Algorithm::HS256,
                &json!({"sub": user.user_id, "typ": "access"}),
                STACK_SECRET,
            )?,
        ),
        (
            "subject not a UUID",
            sign(
                Algorithm::HS256,
                &json!({"sub": "admin", "exp": now + 600, "typ": "access"}),
                STACK_SECRET,
            )?,
        ),
        // Another key, and another HMAC algorithm with the right key.
        (
            "wrong key",
            sign(
                Algorithm::HS256,
                &claims(now + 600, "access"),
                b"another-secret-another-secret-0123",
            )?,
        ),
        (
            "HS512 with the right key",
            sign(Algorithm::HS512, &claims(now + 600, "access"), STACK_SECRET)?,
        ),
        ("alg none", unsigned(&claims(now + 600, "access"))),
        (
            "alg none, valid signature kept",
            format!(
                "{}.{}.{}",
                engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
                parts[1],
                parts[2]
            ),
        ),
        (
            "alg NONE",
            format!(
                "{}.{}.",
                engine.encode(br#"{"alg":"NONE","typ":"JWT"}"#),
                parts[1]
            ),
        ),
        (
            "RS256 header",
            format!(
                "{}.{}.{}",
                engine.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
                parts[1],
                parts[2]
            ),
        ),
        ("signature stripped", format!("{}.{}.", parts[0], parts[1])),
        (
            "signature of another token",
            format!(
                "{}.{}.{}",
                parts[0],
                engine.encode(claims(now + 86_400, "access").to_string()),
                parts[2]
            ),
        ),
        ("truncated", valid[..valid.len() - 3].to_owned()),
        ("garbage", "not.a.token".to_owned()),
        ("the refresh token", user.refresh_token.clone()),
        ("empty", String::new()),
    ];
    let targets = [
        (reqwest::Method::GET, "/api/v1/auth/me", None),
        (reqwest::Method::GET, "/api/v1/analytics/dashboard", None),
        (
            reqwest::Method::POST,
            "/api/v1/analytics/track/break",
            Some(json!({"duration_minutes": 5})),
        ),
        (
            reqwest::Method::PATCH,
            "/api/v1/auth/me",
            Some(json!({"timezone": "Asia/Tokyo"})),
        ),
        (reqwest::Method::DELETE, "/api/v1/me", None),
    ];
    let mut tally = Tally::default();
    let mut wrong = Vec::new();
    let mut db = stack.database.connect().await?;
    let before = fingerprint(&mut db).await?;
    for (name, token) in &tokens {
        for (method, path, body) in &targets {
            let answer = api
                .send(method.clone(), path, body.as_ref(), Some(token), &[])
                .await?;
            tally.count(answer.status);
            if answer.status != 401
                || answer.json["code"] != "unauthenticated"
                || answer.header("www-authenticate") != Some("Bearer")
            {
                wrong.push(format!(
                    "{name} {method} {path}: {} {}",
                    answer.status, answer.json
                ));
            }
        }
    }
    // Schemes other than Bearer.
    for header in [
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{PASSWORD}", user.email))
        ),
        format!("Token {valid}"),
        valid.clone(),
        format!("Bearer {valid} extra"),
    ] {
        let answer = api
            .send(
                reqwest::Method::GET,
                "/api/v1/auth/me",
                None,
                None,
                &[("authorization", header.as_str())],
            )
            .await?;
        tally.count(answer.status);
        if answer.status != 401 {
            wrong.push(format!("authorization {header:.20}: {}", answer.status));
        }
    }
    let after = fingerprint(&mut db).await?;
    // The real token still works: nothing above harmed the account.
    let me = api.get("/api/v1/auth/me", Some(&valid)).await?;
    tally.count(me.status);
    assert_eq!(me.status, 200);
    tally.errors = wrong.len() as u64 + u64::from(before != after);
    tally.report(
        "security::expired_forged_unsigned_and_wrong_key_tokens_are_refused",
        &format!("kinds_of_token={} accepted=0", tokens.len() + 4),
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(before, after, "a refused token changed data");
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn a_refresh_token_replayed_concurrently_is_honoured_at_most_once() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let mut replays = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (api, token) = (api.clone(), user.refresh_token.clone());
        replays.spawn(async move {
            api.post(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": token}),
                None,
            )
            .await
        });
    }
    let mut tally = Tally::default();
    let mut winners = Vec::new();
    while let Some(answer) = replays.join_next().await {
        let answer = answer??;
        tally.count(answer.status);
        match answer.status {
            200 => winners.push(answer.json),
            401 => {}
            other => panic!("a replay answered {other}: {answer:?}"),
        }
    }
    assert!(
        winners.len() <= 1,
        "one refresh token gave {} pairs",
        winners.len()
    );
    // The replays revoked the family: even the winner's new refresh token is refused.
    for winner in &winners {
        let next = api
            .post(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": winner["refresh_token"]}),
                None,
            )
            .await?;
        tally.count(next.status);
        assert_eq!(next.status, 401, "the family was revoked: {next:?}");
    }
    let mut db = stack.database.connect().await?;
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(user.user_id.parse::<uuid::Uuid>()?)
    .fetch_one(&mut db)
    .await?;
    tally.report(
        "security::a_refresh_token_replayed_concurrently_is_honoured_at_most_once",
        &format!("pairs_issued={} live_tokens_after={live}", winners.len()),
    );
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn passwords_and_refresh_tokens_are_stored_only_as_hashes() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let password = format!("Pässwörd-{}-🔑", uuid::Uuid::new_v4().simple());
    let email = format!("hash-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Hashed", "email": email, "password": password}),
            None,
        )
        .await?;
    assert_eq!(registered.status, 201);
    let mut refresh_tokens = Vec::new();
    for _ in 0..2 {
        let login = api
            .post(
                "/api/v1/auth/login",
                &json!({"email": email, "password": password}),
                None,
            )
            .await?;
        assert_eq!(login.status, 200);
        refresh_tokens.push(
            login.json["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let mut db = stack.database.connect().await?;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(&email)
        .fetch_one(&mut db)
        .await?;
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    // The PHC string verifies the password, and a second account with the same password gets
    // another salt.
    assert!(hash.split('$').count() == 6, "{hash}");
    let other_email = format!("hash2-{}@example.com", uuid::Uuid::new_v4().simple());
    let second = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Hashed", "email": other_email, "password": password}),
            None,
        )
        .await?;
    assert_eq!(second.status, 201);
    let other_hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE email = $1")
        .bind(&other_email)
        .fetch_one(&mut db)
        .await?;
    assert_ne!(hash, other_hash, "salted");

    // No row of any table holds the password or a refresh token in clear (or base64 of them).
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut db)
    .await?;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut needles = vec![password.clone(), engine.encode(&password)];
    needles.extend(refresh_tokens.iter().cloned());
    let mut found = Vec::new();
    for table in &tables {
        for needle in &needles {
            let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM \"{table}\" t WHERE strpos(t::text, $1) > 0"
            )))
            .bind(needle)
            .fetch_one(&mut db)
            .await?;
            if hits > 0 {
                found.push(format!("{table} holds {needle:.12}..."));
            }
        }
    }
    println!(
        "RELIABILITY security::passwords_and_refresh_tokens_are_stored_only_as_hashes: requests=5 errors={} tables_searched={} secrets_found={}",
        found.len(),
        tables.len(),
        found.len()
    );
    assert!(found.is_empty(), "{found:?}");
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn rate_limits_are_enforced_per_user_and_per_address() -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![("RATE_LIMIT_PER_MINUTE".into(), "5".into())],
        ..Default::default()
    })
    .await?;
    let api = &stack.api;
    let mut tally = Tally::default();
    // Registration and sign-in are limited per address: the 6th attempt in a burst is a 429.
    let email = format!("limited-{}@example.com", uuid::Uuid::new_v4().simple());
    let registered = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Limited", "email": email, "password": PASSWORD}),
            None,
        )
        .await?;
    tally.count(registered.status);
    assert_eq!(registered.status, 201);
    let mut logins = Vec::new();
    for _ in 0..6 {
        let login = api
            .post(
                "/api/v1/auth/login",
                &json!({"email": email, "password": "wrong password guess"}),
                None,
            )
            .await?;
        tally.count(login.status);
        logins.push(login);
    }
    let statuses: Vec<u16> = logins.iter().map(|login| login.status).collect();
    // 1 register + 4 guesses use the address's 5; the 5th guess on is refused.
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429], "{statuses:?}");
    let refused = &logins[5];
    assert_eq!(refused.json["code"], "rate_limited");
    assert!(
        refused
            .header("retry-after")
            .and_then(|value| value.parse::<u64>().ok())
            .is_some_and(|seconds| (1..=60).contains(&seconds)),
        "{refused:?}"
    );

    // A signed-in user has an allowance of their own; spending it does not touch another's.
    let token_of = |user_id: &str| {
        let now = chrono::Utc::now().timestamp();
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": user_id, "iat": now, "exp": now + 600, "typ": "access"}),
            &EncodingKey::from_secret(STACK_SECRET),
        )
    };
    let first = token_of(&uuid::Uuid::new_v4().to_string())?;
    let second = token_of(&uuid::Uuid::new_v4().to_string())?;
    let mut first_statuses = Vec::new();
    for _ in 0..7 {
        // A read the gateway refuses itself (bad parameter): no upstream is involved.
        let answer = api
            .get("/api/v1/analytics/goals?status=paused", Some(&first))
            .await?;
        tally.count(answer.status);
        first_statuses.push(answer.status);
    }
    assert_eq!(first_statuses, [422, 422, 422, 422, 422, 429, 429]);
    let other = api
        .get("/api/v1/analytics/goals?status=paused", Some(&second))
        .await?;
    tally.count(other.status);
    assert_eq!(other.status, 422, "another user is not limited");

    // /health: 100 a minute per address (the stack's start already spent some polling it).
    let mut health = Vec::new();
    for _ in 0..101 {
        let answer = api.get("/health", None).await?;
        tally.count(answer.status);
        health.push(answer.status);
        if answer.status == 429 {
            assert!(answer.header("retry-after").is_some());
            break;
        }
    }
    assert_eq!(health.last(), Some(&429), "{health:?}");
    assert!(
        health[..health.len() - 1]
            .iter()
            .all(|status| *status == 200),
        "{health:?}"
    );
    tally.report(
        "security::rate_limits_are_enforced_per_user_and_per_address",
        "limited_answers_expected=2+2+1",
    );
    stack.stop().await
}
