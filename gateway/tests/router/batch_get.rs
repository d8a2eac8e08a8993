//! `POST /api/v1/batch`: up to 20 GETs of the caller's own data, each answered as it would be
//! alone, in order.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::harness;

fn gets(paths: &[&str]) -> Value {
    let requests: Vec<Value> = paths
        .iter()
        .map(|path| json!({"method": "GET", "path": path}))
        .collect();
    json!({ "requests": requests })
}

#[tokio::test]
async fn each_request_is_answered_in_order() {
    let harness = harness();
    let answer = harness
        .send_json(
            Method::POST,
            "/api/v1/batch",
            gets(&[
                "/api/v1/analytics/goals?status=paused",
                "/api/v1/analytics/summary/daily",
                "/api/v1/nothing-here",
                "/api/v1/analytics/track/session",
                &format!(
                    "/api/v1/analytics/quick-stats?user_id={}",
                    uuid::Uuid::new_v4()
                ),
            ]),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["status"], "success");
    let responses = answer.body["data"]["responses"]
        .as_array()
        .expect("responses");
    let statuses: Vec<u64> = responses
        .iter()
        .map(|response| response["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![422, 503, 404, 405, 403]);
    assert_eq!(responses[0]["body"]["field"], "status");
    assert_eq!(responses[1]["body"]["code"], "unavailable");
    assert_eq!(responses[3]["body"]["code"], "method_not_allowed");

    let empty = harness
        .send_json(Method::POST, "/api/v1/batch", gets(&[]))
        .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["data"]["responses"], json!([]));
}

#[tokio::test]
async fn a_batch_needs_a_token() {
    let harness = harness();
    let body = gets(&["/api/v1/analytics/dashboard"]).to_string();
    let answer = harness
        .send_as(None, Method::POST, "/api/v1/batch", Some(body.into_bytes()))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn invalid_batches_are_422_naming_the_field() {
    let harness = harness();
    let daily = "/api/v1/analytics/summary/daily";
    let too_many = gets(&[daily; 21]);
    let mut posting = gets(&[daily; 4]);
    posting["requests"][3]["method"] = json!("POST");
    let mut lowercase = gets(&[daily]);
    lowercase["requests"][0]["method"] = json!("get");
    let mut unknown = gets(&[daily, daily]);
    unknown["requests"][1]["body"] = json!({});
    for (body, field) in [
        (too_many, "requests"),
        (posting, "requests[3].method"),
        (lowercase, "requests[0].method"),
        (gets(&[daily, "/health"]), "requests[1].path"),
        (gets(&["/api/v1x/analytics/dashboard"]), "requests[0].path"),
        (gets(&["/api/v1/batch"]), "requests[0].path"),
        (gets(&["/api/v1/batch/?x=1"]), "requests[0].path"),
        (
            gets(&["/api/v1/analytics/summary daily"]),
            "requests[0].path",
        ),
        (unknown, "requests[1].body"),
        (json!({"requests": "all"}), "requests"),
        (json!({}), "requests"),
    ] {
        let answer = harness
            .send_json(Method::POST, "/api/v1/batch", body.clone())
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            answer.body
        );
        assert_eq!(answer.field(), Some(field), "{body}");
    }
}
