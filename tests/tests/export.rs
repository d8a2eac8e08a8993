//! `GET /me/export` of a heavy user: the document is streamed, so 100k records arrive whole
//! (an answer over the gRPC message limit, about 4 MiB, used to be a 500), and one user runs at
//! most one export at a time.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use futures_util::future::try_join_all;
use serde_json::{Value, json};
use wellbeing_tests::TestStack;

const EVENTS: usize = 100_000;
const PER_BATCH: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_users_export_is_complete_and_one_runs_at_a_time() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("Europe/Paris").await?;

    // 100k screen-time records, one a minute back from now (about 69 days), each with its id.
    let now = Utc::now();
    let event_ids: Vec<String> = (0..EVENTS)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let batches: Vec<Vec<Value>> = event_ids
        .chunks(PER_BATCH)
        .enumerate()
        .map(|(batch, ids)| {
            ids.iter()
                .enumerate()
                .map(|(index, event_id)| {
                    let minutes = i64::try_from(batch * PER_BATCH + index + 1).unwrap_or(0);
                    json!({
                        "type": "screen-time",
                        "event_id": event_id,
                        "app_name": format!("App{}", index % 17),
                        "duration_minutes": 0.5,
                        "timestamp": (now - Duration::minutes(minutes)).to_rfc3339(),
                    })
                })
                .collect()
        })
        .collect();
    for group in batches.chunks(4) {
        try_join_all(
            group
                .iter()
                .map(|events| api.track_batch(&user.access_token, events)),
        )
        .await?;
    }

    // An export in progress (its headers read, its body not yet): a second one is refused.
    let client = reqwest::Client::new();
    let export = || {
        client
            .get(api.url("/api/v1/me/export"))
            .bearer_auth(&user.access_token)
            .send()
    };
    let first = export().await?;
    assert_eq!(first.status(), 200);
    let second = export().await?;
    assert_eq!(second.status(), 429, "one export per user at a time");
    assert!(second.headers().contains_key("retry-after"));
    let refused: Value = second.json().await?;
    assert_eq!(refused["code"], "rate_limited", "{refused}");

    // The whole document, every record once.
    let bytes = first.bytes().await?;
    println!("export of {EVENTS} records: {} bytes", bytes.len());
    let document: Value = serde_json::from_slice(&bytes)?;
    assert_eq!(document["status"], "success");
    let data = &document["data"];
    assert_eq!(data["user"]["user_id"], user.user_id.as_str());
    let rows = data["screen_time"]
        .as_array()
        .expect("screen_time is a list");
    let exported: HashSet<&str> = rows
        .iter()
        .filter_map(|row| row["event_id"].as_str())
        .collect();
    assert_eq!(rows.len(), EVENTS);
    assert_eq!(exported.len(), EVENTS);
    assert!(event_ids.iter().all(|id| exported.contains(id.as_str())));
    for name in [
        "sessions",
        "focus_sessions",
        "breaks",
        "notifications",
        "distractions",
        "goals",
        "privacy_states",
        "sign_in_sessions",
    ] {
        assert!(data[name].is_array(), "{name} is a list");
    }

    // Once the first is done, the next export runs.
    let third = export().await?;
    assert_eq!(third.status(), 200);
    let again: Value = serde_json::from_slice(&third.bytes().await?)?;
    assert_eq!(
        again["data"]["screen_time"].as_array().map(Vec::len),
        Some(EVENTS)
    );
    stack.stop().await
}
