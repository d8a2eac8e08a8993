//! The per-account login throttle: after 5 failed sign-ins in a row for one email, from any
//! number of addresses, further attempts are refused with 429 and `Retry-After` (the wait
//! doubling with each failure) before any password is checked, the same whether or not the
//! account exists; a success clears it; other accounts are not affected.

use std::time::Duration;

use serde_json::json;
use wellbeing_tests::api::Api;
use wellbeing_tests::{StackOptions, TestStack};

use crate::PASSWORD;

/// A login from `client` (a distinct address each time, as a botnet would spread them): the
/// status and `Retry-After`. A refusal is the contract's JSON error.
async fn login(
    api: &Api,
    email: &str,
    password: &str,
    client: u32,
) -> anyhow::Result<(u16, Option<u64>)> {
    let address = format!("198.51.{}.{}", client / 250, client % 250 + 1);
    let answer = api
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            Some(&json!({"email": email, "password": password})),
            None,
            &[("x-forwarded-for", address.as_str())],
        )
        .await?;
    if answer.status == 429 {
        assert_eq!(answer.json["code"], "rate_limited", "{answer:?}");
        assert!(answer.json["detail"].is_string(), "{answer:?}");
    }
    let retry_after = answer
        .headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok()?.parse().ok());
    Ok((answer.status, retry_after))
}

/// Six wrong passwords for `email`, from clients `first + 1` to `first + 6`.
async fn six_wrong(api: &Api, email: &str, first: u32) -> anyhow::Result<Vec<(u16, Option<u64>)>> {
    let mut answers = Vec::new();
    for client in first + 1..=first + 6 {
        answers.push(login(api, email, "a wrong guess", client).await?);
    }
    Ok(answers)
}

#[tokio::test]
async fn failed_sign_ins_lock_the_account_name_not_the_address() -> anyhow::Result<()> {
    // The test client is the trusted proxy, so each attempt comes from its own address and the
    // per-address limit never applies.
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![("TRUSTED_PROXIES".into(), "127.0.0.1/32".into())],
        ..Default::default()
    })
    .await?;
    let api = &stack.api;
    let victim = api.register_and_login("Europe/London").await?;
    let bystander = api.register_and_login("Europe/London").await?;
    let nobody = format!("nobody-{}@example.com", uuid::Uuid::new_v4().simple());

    let against_victim = six_wrong(api, &victim.email, 0).await?;
    // While locked, even the right password is refused, unchecked (refusals take no time, so
    // this is within the first lock's second).
    let (status, wait) = login(api, &victim.email, PASSWORD, 100).await?;
    assert_eq!(status, 429);
    let against_nobody = six_wrong(api, &nobody, 10).await?;
    for statuses in [&against_victim, &against_nobody] {
        let codes: Vec<u16> = statuses.iter().map(|(status, _)| *status).collect();
        assert_eq!(codes, [401, 401, 401, 401, 401, 429], "{statuses:?}");
        let (_, wait) = statuses[5];
        assert!(matches!(wait, Some(1..=2)), "Retry-After {wait:?}");
    }

    // Other accounts sign in as usual.
    let (status, _) = login(api, &bystander.email, PASSWORD, 101).await?;
    assert_eq!(status, 200);

    // Once the wait is over, the right password works and clears the count.
    tokio::time::sleep(Duration::from_secs(wait.unwrap_or(1))).await;
    let (status, _) = login(api, &victim.email, PASSWORD, 102).await?;
    assert_eq!(status, 200);
    let (status, _) = login(api, &victim.email, "a wrong guess", 103).await?;
    assert_eq!(status, 401, "a success starts the count again");
    stack.stop().await
}
