//! User B against every path and id of user A: 0 leaks, 0 changes.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use wellbeing_tests::fixtures::{at, track_all, utc_today};
use wellbeing_tests::probe::{Tally, fingerprint};
use wellbeing_tests::{Api, Session, TestStack};

use super::tokens::{resigned_for, unsigned};

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
