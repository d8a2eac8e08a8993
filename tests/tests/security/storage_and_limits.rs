//! Passwords and refresh tokens stored only as hashes; rate limits per user and per address.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use wellbeing_tests::probe::Tally;
use wellbeing_tests::{StackOptions, TestStack};

use super::{PASSWORD, STACK_SECRET};

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
            &json!({"sub": user_id, "sid": uuid::Uuid::new_v4(), "iat": now, "exp": now + 600, "typ": "access"}),
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

/// Six wrong logins for `email`, sent as coming from `forwarded_for` (with `token` attached
/// when given): the statuses.
/// A name for each client's guesses: the per-account throttle (sign_in_throttle.rs) must not
/// be what refuses them here.
fn fresh_email() -> String {
    format!("proxied-{}@example.com", uuid::Uuid::new_v4().simple())
}

async fn six_guesses(
    api: &wellbeing_tests::api::Api,
    email: &str,
    forwarded_for: &str,
    token: Option<&str>,
) -> anyhow::Result<Vec<u16>> {
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let answer = api
            .send(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                Some(&json!({"email": email, "password": "wrong password guess"})),
                token,
                &[("x-forwarded-for", forwarded_for)],
            )
            .await?;
        statuses.push(answer.status);
    }
    Ok(statuses)
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_sign_in_allowance() -> anyhow::Result<()> {
    // The test client connects from 127.0.0.1: as a proxy the gateway trusts.
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![
            ("RATE_LIMIT_PER_MINUTE".into(), "5".into()),
            ("TRUSTED_PROXIES".into(), "127.0.0.1/32, 10.0.0.0/8".into()),
        ],
        ..Default::default()
    })
    .await?;
    let api = &stack.api;
    // One client spends its allowance; a spoofed first hop does not move it elsewhere, nor does
    // a valid access token attached to the login.
    let first = six_guesses(api, &fresh_email(), "198.51.100.1", None).await?;
    assert_eq!(first, [401, 401, 401, 401, 401, 429], "{first:?}");
    let spoofed = six_guesses(
        api,
        &fresh_email(),
        "203.0.113.77, 198.51.100.1, 10.1.1.1",
        None,
    )
    .await?;
    assert!(spoofed.iter().all(|status| *status == 429), "{spoofed:?}");
    let now = chrono::Utc::now().timestamp();
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": uuid::Uuid::new_v4().to_string(), "iat": now, "exp": now + 600, "typ": "access"}),
        &EncodingKey::from_secret(STACK_SECRET),
    )?;
    let with_token = six_guesses(api, &fresh_email(), "198.51.100.1", Some(&token)).await?;
    assert!(
        with_token.iter().all(|status| *status == 429),
        "{with_token:?}"
    );
    // Another client behind the same proxy is not locked out.
    let other = six_guesses(api, &fresh_email(), "198.51.100.2", None).await?;
    assert_eq!(other, [401, 401, 401, 401, 401, 429], "{other:?}");
    stack.stop().await?;

    // Without TRUSTED_PROXIES, the header is the client's word: ignored, so varying it does
    // not buy a fresh allowance.
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![("RATE_LIMIT_PER_MINUTE".into(), "5".into())],
        ..Default::default()
    })
    .await?;
    let mut statuses = Vec::new();
    for n in 0..6 {
        let hop = format!("198.51.100.{}", n + 10);
        statuses.push(six_guesses(&stack.api, &fresh_email(), &hop, None).await?[0]);
    }
    assert_eq!(statuses, [401, 429, 429, 429, 429, 429], "{statuses:?}");
    stack.stop().await
}
