//! Privacy through the REST gateway: nothing invented before the first report, the privacy
//! formula's worked example, history, trend and validation of the reported state.

use serde_json::{Value, json};
use wellbeing_tests::TestStack;
use wellbeing_tests::fixtures::{data, rows_in, utc_today};

/// SCORES.md's worked example.
fn protected_state() -> Value {
    json!({"vpn_connected": true, "kill_switch": true, "leak_detected": false, "caller_masking": true,
           "calls_total": 10, "calls_blocked": 4, "blocklist_size": 12, "location_mode": "spoofed",
           "network_threats": 3, "critical_threats": 1, "monitoring_enabled": true})
}

/// Nothing protected at all.
fn exposed_state() -> Value {
    json!({"vpn_connected": false, "kill_switch": false, "leak_detected": false, "caller_masking": false,
           "calls_total": 0, "calls_blocked": 0, "blocklist_size": 0, "location_mode": "real",
           "network_threats": 0, "critical_threats": 0, "monitoring_enabled": false})
}

#[tokio::test]
async fn privacy_score_says_so_before_a_report_then_follows_the_formula() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = user.access_token.as_str();

    // Before any report: no number anywhere.
    let score = data(api, "/api/v1/privacy/score", token).await?;
    assert_eq!(score["score"], Value::Null, "{score}");
    assert_eq!(score["level"], Value::Null);
    assert!(
        score["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{score}"
    );
    let history = data(api, "/api/v1/privacy/score/history", token).await?;
    assert_eq!(history["history"], json!([]));
    assert_eq!(history["count"], 0);
    let trend = data(api, "/api/v1/privacy/score/trend", token).await?;
    assert_eq!(trend["days"], json!([]));
    assert_eq!(trend["trend"], Value::Null);
    let stats = data(api, "/api/v1/analytics/quick-stats", token).await?;
    assert_eq!(stats["privacy_score"], Value::Null);

    let reported = api
        .put("/api/v1/privacy/state", &protected_state(), Some(token))
        .await?;
    assert_eq!(reported.status, 200, "{reported:?}");
    assert_eq!(reported.json["status"], "success");
    // vpn 70 + 15 + 15 = 100; caller 60 + min(40/2, 20) + 10 = 90; location spoofed 90;
    // network 100 − min(2·3, 30) − 10·1 = 84
    let components = json!({"vpn": 100.0, "caller": 90.0, "location": 90.0, "network": 84.0});
    assert_eq!(reported.json["data"]["components"], components);
    // 0.30·100 + 0.20·90 + 0.25·90 + 0.25·84 = 30 + 18 + 22.5 + 21 = 91.5
    assert_eq!(reported.json["data"]["score"], 91.5);
    assert_eq!(reported.json["data"]["level"], "excellent");
    let score = data(api, "/api/v1/privacy/score", token).await?;
    assert_eq!(score["score"], 91.5);
    assert_eq!(score["level"], "excellent"); // ≥ 90
    assert_eq!(score["components"], components);
    assert_eq!(
        score["recommendations"],
        json!(["Resolve the critical network threats"])
    );
    let stats = data(api, "/api/v1/analytics/quick-stats", token).await?;
    assert_eq!(stats["privacy_score"], 91.5);

    // A second report with nothing protected:
    // vpn 20; caller 20 + 0 (no calls) + 0 (empty blocklist) = 20; location real 0;
    // network 100 − 0 − 0 − 20 (monitoring off) = 80.
    // 0.30·20 + 0.20·20 + 0.25·0 + 0.25·80 = 6 + 4 + 0 + 20 = 30 → critical (< 40)
    let reported = api
        .put("/api/v1/privacy/state", &exposed_state(), Some(token))
        .await?;
    assert_eq!(reported.status, 200, "{reported:?}");
    let score = data(api, "/api/v1/privacy/score", token).await?;
    assert_eq!(score["score"], 30.0);
    assert_eq!(score["level"], "critical");
    assert_eq!(
        score["components"],
        json!({"vpn": 20.0, "caller": 20.0, "location": 0.0, "network": 80.0})
    );
    // Weakest component first (location 0; vpn and caller tie at 20, in that order; network 80).
    assert_eq!(
        score["recommendations"],
        json!([
            "Stop sharing your real location with apps",
            "Connect to a VPN",
            "Turn on caller ID masking",
            "Add unwanted numbers to your call blocklist",
            "Turn on network monitoring",
        ])
    );

    // History: newest first; limit bounds it.
    let history = data(api, "/api/v1/privacy/score/history", token).await?;
    assert_eq!(history["count"], 2);
    let scores: Vec<(f64, &str)> = history["history"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| {
            assert!(entry["reported_at"].is_string(), "{entry}");
            (
                entry["score"].as_f64().unwrap_or(-1.0),
                entry["level"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(scores, vec![(30.0, "critical"), (91.5, "excellent")]);
    let last = data(api, "/api/v1/privacy/score/history?limit=1", token).await?;
    assert_eq!(last["count"], 1);
    assert_eq!(last["history"][0]["score"], 30.0);
    for bad in ["0", "101", "ten"] {
        let answer = api
            .get(
                &format!("/api/v1/privacy/score/history?limit={bad}"),
                Some(token),
            )
            .await?;
        assert_eq!(
            (answer.status, answer.json["field"].as_str()),
            (422, Some("limit"))
        );
    }

    // Trend: both reports are today, so one day with the last score of the day.
    let today = utc_today().to_string();
    let trend = data(api, "/api/v1/privacy/score/trend", token).await?;
    assert_eq!(trend["days"], json!([{"date": today, "score": 30.0}]));
    assert_eq!(trend["trend"], Value::Null, "one day has no direction");

    // Move the first report two days back: two days, 91.5 then 30 → slope −61.5: declining.
    let mut db = stack.database.connect().await?;
    sqlx::query(
        "UPDATE privacy_states SET reported_at = reported_at - interval '2 days' WHERE score = 91.5",
    )
    .execute(&mut db)
    .await?;
    let dropped = api.delete("/api/v1/analytics/cache", Some(token)).await?;
    assert_eq!(dropped.status, 204);
    let trend = data(api, "/api/v1/privacy/score/trend", token).await?;
    let two_days_ago = (utc_today() - chrono::Duration::days(2)).to_string();
    assert_eq!(
        trend["days"],
        json!([{"date": two_days_ago, "score": 91.5}, {"date": today, "score": 30.0}])
    );
    assert_eq!(trend["trend"], "declining");
    // 30 − 91.5 = −61.5
    assert_eq!(trend["change"], -61.5);
    drop(db);
    stack.stop().await
}

#[tokio::test]
async fn a_reported_state_is_validated_field_by_field() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = Some(user.access_token.as_str());
    let with = |field: &str, value: Value| {
        let mut state = protected_state();
        state[field] = value;
        state
    };
    let mut missing_mode = protected_state();
    missing_mode
        .as_object_mut()
        .map(|state| state.remove("location_mode"));
    let cases = [
        (with("location_mode", json!("teleport")), "location_mode"),
        (with("location_mode", json!(3)), "location_mode"),
        (missing_mode, "location_mode"),
        (with("calls_total", json!(-1)), "calls_total"),
        (with("calls_blocked", json!(11)), "calls_blocked"),
        (with("network_threats", json!(-3)), "network_threats"),
        (with("vpn_connected", json!("yes")), "vpn_connected"),
        (with("colour", json!("red")), "colour"),
    ];
    for (body, field) in cases {
        let answer = api.put("/api/v1/privacy/state", &body, token).await?;
        assert_eq!(answer.status, 422, "{body} -> {answer:?}");
        assert_eq!(answer.json["field"], field, "{body} -> {answer:?}");
    }
    // Each location mode is scored: 0.30·100 + 0.20·90 + 0.25·location + 0.25·84 = 69 + 0.25·location
    for (mode, score) in [
        ("real", 69.0),
        ("approximate", 81.5),
        ("spoofed", 91.5),
        ("random", 94.0),
    ] {
        let answer = api
            .put(
                "/api/v1/privacy/state",
                &with("location_mode", json!(mode)),
                token,
            )
            .await?;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json["data"]["score"], score, "{mode}");
    }
    let mut db = stack.database.connect().await?;
    assert_eq!(
        rows_in(&mut db, "privacy_states").await?,
        4,
        "refusals store nothing"
    );
    drop(db);
    stack.stop().await
}
