//! The gateway's own answers, driven through the router without a socket. Every upstream points
//! at a loopback port where nothing listens, so whatever needs analytics or the cache is a 503;
//! everything else (auth, shapes, limits, routing) must be answered before any upstream call.

mod batch_get;
mod cli;
mod committed_document;
mod cors;
mod docs;
mod harness;
mod limits;
mod openapi;
mod operations;

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use uuid::Uuid;

use harness::harness;

#[tokio::test]
async fn protected_routes_need_a_token() {
    let harness = harness();
    for (method, uri) in [
        (Method::GET, "/api/v1/analytics/summary/daily"),
        (Method::POST, "/api/v1/analytics/track/session"),
        (Method::POST, "/api/v1/analytics/track/batch"),
        (Method::PATCH, "/api/v1/auth/me"),
        (Method::GET, "/api/v1/me/export"),
        (Method::DELETE, "/api/v1/me"),
        (Method::DELETE, "/api/v1/analytics/cache"),
        (Method::GET, "/api/v1/analytics/goals"),
        (Method::PUT, "/api/v1/privacy/state"),
        (Method::GET, "/api/v1/wellbeing/score"),
    ] {
        let answer = harness
            .send_as(None, method.clone(), uri, Some(b"{}".to_vec()))
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(answer.body["code"], "unauthenticated");
    }
    let forged = harness
        .send_as(
            Some("not.a.jwt"),
            Method::GET,
            "/api/v1/analytics/dashboard",
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_foreign_user_id_is_forbidden() {
    let harness = harness();
    let other = Uuid::new_v4();
    let query = harness
        .send(
            Method::GET,
            &format!("/api/v1/analytics/summary/daily?user_id={other}"),
            None,
        )
        .await;
    assert_eq!(query.status, StatusCode::FORBIDDEN);
    let body = harness
        .send_json(
            Method::POST,
            "/api/v1/analytics/track/break",
            json!({"user_id": other, "duration_minutes": 5}),
        )
        .await;
    assert_eq!(body.status, StatusCode::FORBIDDEN);
    let in_batch = harness
        .send_json(
            Method::POST,
            "/api/v1/analytics/track/batch",
            json!({"events": [{"type": "break", "duration_minutes": 5, "user_id": other}]}),
        )
        .await;
    assert_eq!(in_batch.status, StatusCode::FORBIDDEN);
    let deleting = harness
        .send(Method::DELETE, &format!("/api/v1/me?user_id={other}"), None)
        .await;
    assert_eq!(deleting.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_query_parameters_are_422_naming_them() {
    let harness = harness();
    for (uri, field) in [
        ("/api/v1/analytics/summary/daily?date=2026-02-30", "date"),
        (
            "/api/v1/analytics/summary/daily-optimized?date=2026-2-3",
            "date",
        ),
        (
            "/api/v1/analytics/summary/weekly?end_date=tomorrow",
            "end_date",
        ),
        (
            "/api/v1/analytics/insights/peak-hours?date=2026-13-01",
            "date",
        ),
        ("/api/v1/wellbeing/score?date=2026-02-30", "date"),
        ("/api/v1/analytics/apps/usage?days=0", "days"),
        ("/api/v1/analytics/apps/usage?days=91", "days"),
        ("/api/v1/analytics/apps/usage?days=abc", "days"),
        ("/api/v1/analytics/insights/patterns?days=2", "days"),
        ("/api/v1/analytics/insights/patterns?days=7.5", "days"),
        ("/api/v1/privacy/score/history?limit=101", "limit"),
        ("/api/v1/privacy/score/history?limit=0", "limit"),
        ("/api/v1/analytics/goals?status=paused", "status"),
    ] {
        let answer = harness.send(Method::GET, uri, None).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert_eq!(answer.field(), Some(field), "{uri}");
        assert_eq!(answer.body["code"], "validation_failed");
    }
}

#[tokio::test]
async fn bad_bodies_are_422_naming_the_field() {
    let harness = harness();
    let now = "2026-11-24T08:30:00+01:00";
    for (uri, body, field) in [
        (
            "/api/v1/analytics/track/screen-time",
            json!({"app_name": "x", "duration_minutes": 5, "colour": "red"}),
            "colour",
        ),
        (
            "/api/v1/analytics/track/screen-time",
            json!({"app_name": "x", "duration_minutes": "five"}),
            "duration_minutes",
        ),
        (
            "/api/v1/analytics/track/notification",
            json!({"app_name": "x", "priority": 2.5}),
            "priority",
        ),
        (
            "/api/v1/analytics/track/distraction",
            json!({"source": "x", "severity": 2.5}),
            "severity",
        ),
        (
            "/api/v1/analytics/track/session",
            json!({"start_time": now, "end_time": "2026-11-24T09:00:00"}),
            "end_time",
        ),
        (
            "/api/v1/analytics/track/focus-session",
            json!({"start_time": now, "end_time": now}),
            "quality_score",
        ),
        (
            "/api/v1/analytics/track/break",
            json!({"duration_minutes": 5, "timestamp": "08:30"}),
            "timestamp",
        ),
        ("/api/v1/analytics/track/batch", json!({}), "events"),
        (
            "/api/v1/analytics/goals",
            json!({"goal_type": "daily_focus_minutes", "target_value": 60, "deadline": "2026-02-30"}),
            "deadline",
        ),
        (
            "/api/v1/analytics/goals",
            json!({"goal_type": "custom", "target_value": 1, "owner": "me"}),
            "owner",
        ),
    ] {
        let answer = harness.send_json(Method::POST, uri, body).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert_eq!(answer.field(), Some(field), "{uri}");
    }
    let privacy = harness
        .send_json(
            Method::PUT,
            "/api/v1/privacy/state",
            json!({"vpn_connected": true}),
        )
        .await;
    assert_eq!(privacy.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(privacy.field(), Some("location_mode"));
    let profile = harness
        .send_json(Method::PATCH, "/api/v1/auth/me", json!({"email": "a@b.c"}))
        .await;
    assert_eq!(profile.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(profile.field(), Some("email"));
}

#[tokio::test]
async fn unparseable_json_is_400() {
    let harness = harness();
    let answer = harness
        .send(
            Method::POST,
            "/api/v1/analytics/track/session",
            Some(b"{\"start_time\":".to_vec()),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["code"], "invalid_json");
}

#[tokio::test]
async fn a_batch_over_1000_events_is_refused() {
    let harness = harness();
    let events = vec![json!({"type": "break", "duration_minutes": 1}); 1001];
    let answer = harness
        .send_json(
            Method::POST,
            "/api/v1/analytics/track/batch",
            json!({"events": events}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.field(), Some("events"));
}

#[tokio::test]
async fn a_batch_lists_every_invalid_event() {
    let harness = harness();
    let events = json!([
        {"type": "break", "duration_minutes": 1},
        {"type": "notification", "app_name": "x", "priority": 2.5},
        {"type": "screen-time", "app_name": "x", "duration_minutes": 1},
        {"type": "yoga"},
        {"type": "distraction", "source": "x", "severity": 1, "loud": true},
        {"duration_minutes": 1},
    ]);
    let answer = harness
        .send_json(
            Method::POST,
            "/api/v1/analytics/track/batch",
            json!({"events": events, "user_id": harness.user}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.body["code"], "validation_failed");
    let listed: Vec<(u64, String)> = answer.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|item| {
            assert!(item["detail"].is_string());
            (
                item["index"].as_u64().expect("index"),
                item["field"].as_str().expect("field").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (1, "priority".to_owned()),
            (3, "type".to_owned()),
            (4, "loud".to_owned()),
            (5, "type".to_owned()),
        ]
    );
}

#[tokio::test]
async fn unknown_routes_and_foreign_goal_ids_are_404() {
    let harness = harness();
    for (method, uri) in [
        (Method::GET, "/api/v1/nothing-here"),
        (Method::GET, "/nothing-here"),
        (Method::GET, "/api/v1/analytics/insights/optimal-schedule"),
    ] {
        let answer = harness.send(method, uri, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(answer.body["code"], "not_found");
    }
    let deleting = harness
        .send(Method::DELETE, "/api/v1/analytics/goals/42", None)
        .await;
    assert_eq!(deleting.status, StatusCode::NOT_FOUND);
    // The id is judged before the body: it cannot be the caller's goal whatever the body says.
    let updating = harness
        .send(
            Method::PUT,
            "/api/v1/analytics/goals/not-a-uuid",
            Some(b"{nope".to_vec()),
        )
        .await;
    assert_eq!(updating.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413() {
    let harness = harness();
    let padding = "x".repeat(wellbeing_gateway::BODY_LIMIT_BYTES + 1);
    let answer = harness
        .send_json(
            Method::POST,
            "/api/v1/analytics/track/screen-time",
            json!({"app_name": padding, "duration_minutes": 1}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["code"], "payload_too_large");
}

#[tokio::test]
async fn valid_requests_meet_an_unreachable_upstream_with_503() {
    let harness = harness();
    let goal = Uuid::new_v4();
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            "/api/v1/analytics/summary/daily?date=2026-02-28&unknown=1".to_owned(),
            None,
        ),
        (
            Method::GET,
            format!(
                "/api/v1/analytics/apps/usage?days=90&user_id={}",
                harness.user
            ),
            None,
        ),
        (
            Method::GET,
            "/api/v1/analytics/insights-optimized".to_owned(),
            None,
        ),
        (
            Method::POST,
            "/api/v1/analytics/track/notification".to_owned(),
            Some(json!({"app_name": "x", "priority": 3, "timestamp": "2026-11-24T08:30:00Z"})),
        ),
        (
            Method::POST,
            "/api/v1/analytics/track/batch".to_owned(),
            Some(json!({"events": [{"type": "break", "duration_minutes": 1, "event_id": goal}]})),
        ),
        (
            Method::PUT,
            format!("/api/v1/analytics/goals/{goal}"),
            Some(json!({"target_value": 30, "deadline": "2026-12-31"})),
        ),
        (
            Method::PUT,
            "/api/v1/privacy/state".to_owned(),
            Some(json!({"location_mode": "spoofed", "vpn_connected": true})),
        ),
        (Method::DELETE, "/api/v1/analytics/cache".to_owned(), None),
        (
            Method::PATCH,
            "/api/v1/auth/me".to_owned(),
            Some(json!({"timezone": "Europe/Paris"})),
        ),
    ];
    for (method, uri, body) in calls {
        let answer = match body {
            Some(body) => harness.send_json(method.clone(), &uri, body).await,
            None => harness.send(method.clone(), &uri, None).await,
        };
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{method} {uri}: {}",
            answer.body
        );
        assert_eq!(answer.headers[header::RETRY_AFTER], "1");
        assert_eq!(answer.body["code"], "unavailable");
        assert!(answer.headers.contains_key("x-response-time"));
    }
}
