//! Tokens that are expired, forged, unsigned, signed with another key or of the wrong kind,
//! and refresh tokens replayed concurrently.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wellbeing_tests::TestStack;
use wellbeing_tests::probe::{Tally, fingerprint};

use super::{PASSWORD, STACK_SECRET};

/// `{"alg":"none"}` with `claims` and an empty signature.
pub fn unsigned(claims: &Value) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
        engine.encode(claims.to_string())
    )
}

/// B's own valid token with its subject changed to `user_id`, the signature left as it was.
pub fn resigned_for(token: &str, user_id: &str) -> String {
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
    // A session id that never ended: each token below is refused for its own defect only.
    let sid = uuid::Uuid::new_v4();
    let claims = |exp: i64, typ: &str| json!({"sub": user.user_id, "sid": sid, "iat": now - 60, "exp": exp, "typ": typ});
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
                &json!({"sid": sid, "exp": now + 600, "typ": "access"}),
                STACK_SECRET,
            )?,
        ),
        (
            "no expiry",
            sign(
                Algorithm::HS256,
                &json!({"sub": user.user_id, "sid": sid, "typ": "access"}),
                STACK_SECRET,
            )?,
        ),
        (
            "subject not a UUID",
            sign(
                Algorithm::HS256,
                &json!({"sub": "admin", "sid": sid, "exp": now + 600, "typ": "access"}),
                STACK_SECRET,
            )?,
        ),
        (
            "no session",
            sign(
                Algorithm::HS256,
                &json!({"sub": user.user_id, "iat": now, "exp": now + 600, "typ": "access"}),
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
async fn a_refresh_token_replayed_concurrently_gives_one_pair() -> anyhow::Result<()> {
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
    let mut pairs = std::collections::BTreeSet::new();
    while let Some(answer) = replays.join_next().await {
        let answer = answer??;
        tally.count(answer.status);
        // Within the grace window every replay is the lost answer asked again: the same pair.
        assert_eq!(answer.status, 200, "a replay answered {answer:?}");
        pairs.insert((
            answer.json["access_token"].to_string(),
            answer.json["refresh_token"].to_string(),
        ));
    }
    assert_eq!(
        pairs.len(),
        1,
        "one refresh token gave {} pairs",
        pairs.len()
    );
    let mut db = stack.database.connect().await?;
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(user.user_id.parse::<uuid::Uuid>()?)
    .fetch_one(&mut db)
    .await?;
    assert_eq!(live, 1, "one successor stored");
    tally.report(
        "security::a_refresh_token_replayed_concurrently_gives_one_pair",
        &format!("pairs_issued={} live_tokens_after={live}", pairs.len()),
    );
    drop(db);
    stack.stop().await
}
