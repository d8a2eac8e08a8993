//! The aggregator's upkeep of sessions under a soak of sign-ins: dead sessions go with their
//! whole refresh-token family, live families keep every row (so a reused old token is still
//! recognised), and the tables stay bounded by the sessions alive.

use serde_json::json;
use uuid::Uuid;
use wellbeing_tests::TestStack;

use super::PASSWORD;

const ROUNDS: usize = 3;
const SIGN_INS_PER_ROUND: usize = 4;

#[tokio::test]
async fn dead_sessions_are_removed_whole_and_the_tables_stay_bounded() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let pool = sqlx::PgPool::connect(&stack.database.url).await?;
    let user = api.register_and_login("UTC").await?;
    let user_id: Uuid = user.user_id.parse()?;
    // The session that stays: refreshed twice, so its family holds three tokens.
    let mut keeper_tokens = vec![user.refresh_token.clone()];
    for _ in 0..2 {
        let last = keeper_tokens.last().cloned().unwrap_or_default();
        let answer = api
            .post(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": last}),
                None,
            )
            .await?;
        anyhow::ensure!(answer.status == 200, "refresh answered {answer:?}");
        keeper_tokens.push(
            answer.json["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let keeper: Uuid = sqlx::query_scalar("SELECT id FROM auth_sessions WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&pool)
        .await?;

    let mut after_each_round = Vec::new();
    let mut removed_total = 0;
    for _ in 0..ROUNDS {
        // One after another: concurrent sign-ins of a loaded test machine could outwait the
        // upstream deadline queued for a hashing slot.
        let mut answers = Vec::new();
        for _ in 0..SIGN_INS_PER_ROUND {
            let body = json!({"email": user.email, "password": PASSWORD});
            let answer = api.post("/api/v1/auth/login", &body, None).await?;
            anyhow::ensure!(answer.status == 200, "login answered {answer:?}");
            answers.push(answer);
        }
        // Half of them sign out again.
        for answer in answers.iter().step_by(2) {
            let logout = api
                .post(
                    "/api/v1/auth/logout",
                    &json!({"refresh_token": answer.json["refresh_token"]}),
                    answer.json["access_token"].as_str(),
                )
                .await?;
            anyhow::ensure!(logout.status == 204, "logout answered {logout:?}");
        }
        let before = counts(&pool, user_id).await?;
        assert_eq!(
            before.0,
            1 + SIGN_INS_PER_ROUND as i64,
            "the keeper and this round's"
        );
        // Time passes: the ended sessions outlive any access token, the others their lifetime.
        sqlx::query(
            "UPDATE auth_sessions SET revoked_at = revoked_at - interval '3 days'
             WHERE user_id = $1 AND revoked_at IS NOT NULL",
        )
        .bind(user_id)
        .execute(&pool)
        .await?;
        sqlx::query(
            "UPDATE auth_sessions SET expires_at = now() - interval '1 second'
             WHERE user_id = $1 AND revoked_at IS NULL AND id <> $2",
        )
        .bind(user_id)
        .bind(keeper)
        .execute(&pool)
        .await?;
        removed_total += wellbeing_aggregator::sessions::remove_dead(&pool).await;
        after_each_round.push(counts(&pool, user_id).await?);
    }
    // Bounded: after each upkeep, the keeper alone, its family whole.
    assert!(
        after_each_round.iter().all(|after| *after == (1, 3)),
        "(sessions, refresh tokens) after each round: {after_each_round:?}"
    );
    assert_eq!(removed_total, (ROUNDS * SIGN_INS_PER_ROUND) as u64);

    // The keeper's oldest token, presented after the grace window, is still recognised as a
    // reuse: the session ends.
    sqlx::query(
        "UPDATE refresh_tokens SET used_at = used_at - interval '1 minute' WHERE family_id = $1",
    )
    .bind(keeper)
    .execute(&pool)
    .await?;
    for token in [&keeper_tokens[0], &keeper_tokens[2]] {
        let answer = api
            .post(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": token}),
                None,
            )
            .await?;
        assert_eq!(answer.status, 401, "{answer:?}");
    }
    let ended: bool =
        sqlx::query_scalar("SELECT revoked_at IS NOT NULL FROM auth_sessions WHERE id = $1")
            .bind(keeper)
            .fetch_one(&pool)
            .await?;
    assert!(ended, "the reuse ended the session");
    eprintln!(
        "RELIABILITY contract_accounts::dead_sessions_are_removed_whole_and_the_tables_stay_bounded: \
         sign_ins={} removed={removed_total} rows_after_each_round={after_each_round:?}",
        ROUNDS * SIGN_INS_PER_ROUND
    );
    pool.close().await;
    stack.stop().await
}

/// (sessions, refresh tokens) of the user.
async fn counts(pool: &sqlx::PgPool, user_id: Uuid) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM auth_sessions WHERE user_id = $1),
                (SELECT count(*) FROM refresh_tokens WHERE user_id = $1)",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?)
}
