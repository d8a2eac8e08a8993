//! A burst of sign-ins cannot take analytics' memory with it: password hashes (argon2id, 19 MiB
//! each while it runs) are computed one per core, a sign-in whose deadline passes while it
//! waits is dropped before its hash starts, and other users' reads keep working meanwhile.
//! Its own test binary: the stack runs in this process, whose resident memory is measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;
use wellbeing_tests::memory::memory_of;
use wellbeing_tests::{StackOptions, TestStack};

const LOGINS: usize = 300;

/// This process's resident memory, in whole MiB.
fn resident_mib() -> u64 {
    let rss = memory_of(std::process::id()).rss;
    if rss.is_finite() { rss as u64 } else { 0 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_keeps_memory_bounded_and_reads_working() -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        gateway_env: vec![
            ("RATE_LIMIT_PER_MINUTE".into(), "1000000".into()),
            ("RATE_LIMIT_BURST".into(), "1000000".into()),
        ],
        ..Default::default()
    })
    .await?;
    let api = &stack.api;
    let reader = api.register_and_login("Europe/Paris").await?;
    let warm = api
        .get("/api/v1/analytics/dashboard", Some(&reader.access_token))
        .await?;
    assert_eq!(warm.status, 200);

    let before = resident_mib();
    let peak = Arc::new(AtomicU64::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(resident_mib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Wrong passwords for an account that does not exist: each still costs a full hash.
    let bodies: Vec<_> = (0..LOGINS)
        .map(
            |n| json!({"email": format!("nobody-{n}@example.com"), "password": "not the password"}),
        )
        .collect();
    let logins = join_all(
        bodies
            .iter()
            .map(|body| api.post("/api/v1/auth/login", body, None)),
    );
    let reads = async {
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let read = api
                .get("/api/v1/analytics/dashboard", Some(&reader.access_token))
                .await?;
            statuses.push(read.status);
        }
        anyhow::Ok(statuses)
    };
    let (logins, reads) = tokio::join!(logins, reads);
    sampler.abort();
    let peak = peak.load(Ordering::Relaxed).max(resident_mib());
    let statuses: Vec<u16> = logins
        .into_iter()
        .map(|login| login.map(|answer| answer.status))
        .collect::<anyhow::Result<_>>()?;
    let count = |status: u16| statuses.iter().filter(|s| **s == status).count();
    println!(
        "{LOGINS} logins at once: {} x 401, {} x 503, others {}; resident {before} MiB before, \
         {peak} MiB at most",
        count(401),
        count(503),
        LOGINS - count(401) - count(503),
    );
    assert!(
        statuses.iter().all(|status| matches!(status, 401 | 503)),
        "only refusals and 'try again': {statuses:?}"
    );
    assert!(count(401) > 0, "some logins were checked");
    // Unbounded, this burst took the process from 67 MiB to 5,844 MiB (19 MiB per login at
    // once) and answered none in time; bounded, 470-540 MiB (this test binary uses glibc's
    // malloc, whose arenas keep freed 19 MiB blocks).
    assert!(
        peak < before + 1024,
        "resident memory grew from {before} to {peak} MiB"
    );
    let reads = reads?;
    assert!(reads.iter().all(|status| *status == 200), "{reads:?}");

    // The logins that gave up were dropped before hashing: the next one is answered in time.
    let again = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": reader.email, "password": "correct horse battery staple"}),
            None,
        )
        .await?;
    assert_eq!(again.status, 200, "{again:?}");
    stack.stop().await
}
