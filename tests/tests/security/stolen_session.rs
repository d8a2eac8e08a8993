//! A stolen refresh token: the thief rotates it (and so holds the session's live pair), the
//! victim signs out everywhere, and the thief's refresh token and access token are refused,
//! also on another gateway replica (which learns of the ended session within its poll), also
//! for a read that replica had kept.

use std::time::{Duration, Instant};

use serde_json::json;
use wellbeing_tests::TestStack;
use wellbeing_tests::probe::Tally;

#[tokio::test]
async fn after_logout_all_a_thiefs_rotated_tokens_are_refused_on_every_replica()
-> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    let victims_gateway = stack.api.clone();
    let thiefs_gateway = stack.start_gateway().await?;
    let ready_by = Instant::now() + Duration::from_secs(10);
    while thiefs_gateway.get("/readyz", None).await?.status != 200 {
        anyhow::ensure!(
            Instant::now() < ready_by,
            "the second gateway never got ready"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut tally = Tally::default();
    let victim = victims_gateway.register_and_login("UTC").await?;

    // The thief rotates the stolen refresh token on its own replica: a working pair.
    let stolen = thiefs_gateway
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": victim.refresh_token}),
            None,
        )
        .await?;
    tally.count(stolen.status);
    assert_eq!(stolen.status, 200, "{stolen:?}");
    let thiefs_access = stolen.json["access_token"].as_str().unwrap_or_default();
    let thiefs_refresh = stolen.json["refresh_token"].as_str().unwrap_or_default();
    for _ in 0..2 {
        // The second read is answered from the replica's copy.
        let read = thiefs_gateway
            .get("/api/v1/analytics/quick-stats", Some(thiefs_access))
            .await?;
        tally.count(read.status);
        assert_eq!(read.status, 200, "{read:?}");
    }

    // The victim signs out everywhere, through the other replica.
    let signed_out = victims_gateway
        .post(
            "/api/v1/auth/logout-all",
            &json!({}),
            Some(&victim.access_token),
        )
        .await?;
    tally.count(signed_out.status);
    assert_eq!(signed_out.status, 204, "{signed_out:?}");

    // The thief's refresh token: refused at once (analytics holds the session's state).
    let refreshed = thiefs_gateway
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": thiefs_refresh}),
            None,
        )
        .await?;
    tally.count(refreshed.status);
    assert_eq!(refreshed.status, 401, "{refreshed:?}");
    // The thief's access token: refused on the victim's replica at once, on the thief's
    // within its poll of the ended sessions (1 s by default), the kept read included.
    let paths = ["/api/v1/analytics/quick-stats", "/api/v1/auth/me"];
    for path in paths {
        let answer = victims_gateway.get(path, Some(thiefs_access)).await?;
        tally.count(answer.status);
        assert_eq!(
            answer.status, 401,
            "{path} on the victim's replica: {answer:?}"
        );
    }
    let started = Instant::now();
    let mut statuses = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        statuses.clear();
        for path in paths {
            statuses.push(thiefs_gateway.get(path, Some(thiefs_access)).await?.status);
        }
        if statuses.iter().all(|status| *status == 401) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let learnt_in = started.elapsed();
    tally.count(401);
    assert_eq!(
        statuses,
        [401, 401],
        "on the thief's replica after {learnt_in:?}"
    );
    assert!(
        learnt_in < Duration::from_secs(3),
        "learnt in {learnt_in:?}"
    );
    tally.report(
        "security::after_logout_all_a_thiefs_rotated_tokens_are_refused_on_every_replica",
        &format!("other_replica_refused_after_ms={}", learnt_in.as_millis()),
    );
    stack.stop().await
}
