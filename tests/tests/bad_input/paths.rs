//! The write paths, the hostile bodies, and the sweep that sends one to the other and checks
//! the answer.

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use wellbeing_tests::fixtures::{at, utc_today};
use wellbeing_tests::probe::{Tally, send_bytes};
use wellbeing_tests::{Answer, Api};

use super::PASSWORD;

/// One write path and a body it accepts.
pub struct WritePath {
    pub method: Method,
    pub path: String,
    pub valid: Value,
    /// Sent without a token (sign-in routes).
    pub anonymous: bool,
}

pub fn write_paths(goal_id: &str, email: &str, refresh_token: &str) -> Vec<WritePath> {
    let day = utc_today() - Duration::days(1);
    let track = |kind: &str, valid: Value| WritePath {
        method: Method::POST,
        path: format!("/api/v1/analytics/track/{kind}"),
        valid,
        anonymous: false,
    };
    vec![
        WritePath {
            method: Method::POST,
            path: "/api/v1/auth/register".into(),
            valid: json!({"username": "Someone", "email": "someone.new@example.com", "password": PASSWORD, "timezone": "Europe/Paris"}),
            anonymous: true,
        },
        WritePath {
            method: Method::POST,
            path: "/api/v1/auth/login".into(),
            valid: json!({"email": email, "password": PASSWORD, "device_name": "Phone"}),
            anonymous: true,
        },
        WritePath {
            method: Method::POST,
            path: "/api/v1/auth/refresh".into(),
            valid: json!({"refresh_token": refresh_token}),
            anonymous: true,
        },
        WritePath {
            method: Method::POST,
            path: "/api/v1/auth/logout".into(),
            valid: json!({"refresh_token": refresh_token}),
            anonymous: false,
        },
        WritePath {
            method: Method::POST,
            path: "/api/v1/auth/password".into(),
            valid: json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
            anonymous: false,
        },
        WritePath {
            method: Method::PATCH,
            path: "/api/v1/auth/me".into(),
            valid: json!({"username": "Renamed", "timezone": "Asia/Tokyo"}),
            anonymous: false,
        },
        track(
            "session",
            json!({"start_time": at(day, "08:00", "Z"), "end_time": at(day, "08:30", "Z"), "device_type": "mobile"}),
        ),
        track(
            "screen-time",
            json!({"app_name": "Reader", "duration_minutes": 12.5, "category": "productivity", "timestamp": at(day, "09:00", "Z")}),
        ),
        track(
            "focus-session",
            json!({"start_time": at(day, "10:00", "Z"), "end_time": at(day, "10:45", "Z"), "quality_score": 80, "task_name": "Write"}),
        ),
        track(
            "break",
            json!({"duration_minutes": 5, "break_type": "walk", "timestamp": at(day, "11:00", "Z")}),
        ),
        track(
            "notification",
            json!({"app_name": "Chat", "priority": 40, "was_interacted": true, "timestamp": at(day, "12:00", "Z")}),
        ),
        track(
            "distraction",
            json!({"source": "Social", "severity": 3, "duration_seconds": 90, "timestamp": at(day, "13:00", "Z")}),
        ),
        track(
            "batch",
            json!({"events": [{"type": "screen-time", "app_name": "Reader", "duration_minutes": 3, "timestamp": at(day, "14:00", "Z")}]}),
        ),
        WritePath {
            method: Method::POST,
            path: "/api/v1/analytics/goals".into(),
            valid: json!({"goal_type": "app_daily_limit", "target_value": 30, "app_name": "Reader", "deadline": (utc_today() + Duration::days(30)).to_string()}),
            anonymous: false,
        },
        WritePath {
            method: Method::PUT,
            path: format!("/api/v1/analytics/goals/{goal_id}"),
            valid: json!({"target_value": 20, "current_value": 5}),
            anonymous: false,
        },
        WritePath {
            method: Method::PUT,
            path: "/api/v1/privacy/state".into(),
            valid: json!({"vpn_connected": true, "kill_switch": true, "leak_detected": false, "caller_masking": true,
                          "calls_total": 10, "calls_blocked": 2, "blocklist_size": 5, "location_mode": "approximate",
                          "network_threats": 1, "critical_threats": 0, "monitoring_enabled": true}),
            anonymous: false,
        },
        WritePath {
            method: Method::POST,
            path: "/api/v1/batch".into(),
            valid: json!({"requests": [{"method": "GET", "path": "/api/v1/analytics/quick-stats"}]}),
            anonymous: false,
        },
    ]
}

/// Bodies no write path may accept, with the status each must get.
pub fn hostile_bodies() -> Vec<(&'static str, Vec<u8>, Option<u16>)> {
    let deep_array = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    let two_mib = format!("{{\"pad\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    vec![
        ("empty body", Vec::new(), Some(400)),
        ("truncated JSON", b"{\"app_name\": ".to_vec(), Some(400)),
        (
            "not JSON",
            b"app_name=Reader&duration=5".to_vec(),
            Some(400),
        ),
        ("trailing garbage", b"{} {}".to_vec(), Some(400)),
        (
            "NaN literal",
            b"{\"duration_minutes\": NaN}".to_vec(),
            Some(400),
        ),
        (
            "Infinity literal",
            b"{\"duration_minutes\": Infinity}".to_vec(),
            Some(400),
        ),
        (
            "-Infinity literal",
            b"{\"target_value\": -Infinity}".to_vec(),
            Some(400),
        ),
        (
            "invalid UTF-8",
            b"{\"app_name\": \"\xff\xfe\xfd\", \"username\": \"\xc3\x28\"}".to_vec(),
            Some(400),
        ),
        ("2 MiB body", two_mib.into_bytes(), Some(413)),
        ("a JSON array", b"[]".to_vec(), Some(422)),
        ("a JSON number", b"42".to_vec(), Some(422)),
        ("a JSON string", b"\"text\"".to_vec(), Some(422)),
        ("JSON null", b"null".to_vec(), Some(422)),
        // Valid JSON syntax that no Rust value can hold: 400 or a 422 naming where (both 4xx).
        (
            "number beyond f64",
            b"{\"duration_minutes\": 1e400}".to_vec(),
            None,
        ),
        (
            "lone surrogate escape",
            br#"{"app_name": "\ud800"}"#.to_vec(),
            None,
        ),
        ("deeply nested arrays", deep_array.into_bytes(), None),
        ("deeply nested objects", deep_object.into_bytes(), None),
    ]
}

/// A value of the wrong JSON type for a field holding `value`.
pub fn wrong_type(value: &Value) -> Value {
    match value {
        Value::String(_) => json!(12345),
        Value::Number(_) => json!("ten"),
        Value::Bool(_) => json!("yes"),
        Value::Array(_) | Value::Object(_) | Value::Null => json!("x"),
    }
}

/// A JSON error of the contract: `detail` a person can read, a machine `code`.
pub fn check_error(answer: &Answer, what: &str) -> Result<(), String> {
    let detail = answer.json["detail"].as_str().unwrap_or_default();
    let code = answer.json["code"].as_str().unwrap_or_default();
    if detail.is_empty() || code.is_empty() {
        return Err(format!("{what}: not a JSON error: {answer:?}"));
    }
    let lower = detail.to_lowercase();
    for internal in [
        "sqlx",
        "panick",
        "postgres",
        "stack backtrace",
        "tonic",
        "internal error",
    ] {
        if lower.contains(internal) {
            return Err(format!("{what}: the detail leaks internals: {detail}"));
        }
    }
    if detail.len() > 400 {
        return Err(format!("{what}: an unreadably long detail: {detail}"));
    }
    Ok(())
}

pub struct Sweep<'a> {
    pub api: &'a Api,
    pub token: &'a str,
    pub tally: Tally,
    pub failures: Vec<String>,
}

impl Sweep<'_> {
    pub async fn send(&mut self, target: &WritePath, body: Vec<u8>) -> anyhow::Result<Answer> {
        let token = (!target.anonymous).then_some(self.token);
        let answer = send_bytes(self.api, target.method.clone(), &target.path, body, token).await?;
        self.tally.count(answer.status);
        Ok(answer)
    }

    /// `body` must be refused with `status` (any 4xx when `None`), naming `field` when given.
    pub async fn refused(
        &mut self,
        target: &WritePath,
        what: &str,
        body: Vec<u8>,
        status: Option<u16>,
        field: Option<&str>,
    ) -> anyhow::Result<()> {
        let answer = self.send(target, body).await?;
        let what = format!("{} {} {what}", target.method, target.path);
        let mut problem = None;
        if !(400..500).contains(&answer.status) || status.is_some_and(|s| s != answer.status) {
            problem = Some(format!(
                "{what}: expected {status:?}, got {}: {}",
                answer.status, answer.json
            ));
        } else if let Err(message) = check_error(&answer, &what) {
            problem = Some(message);
        } else if let Some(field) = field {
            // A batch names the culprit in `errors[]`.
            let named = answer.json["field"]
                .as_str()
                .or_else(|| answer.json["errors"][0]["field"].as_str())
                .unwrap_or_default();
            if named != field && !named.ends_with(&format!(".{field}")) {
                problem = Some(format!(
                    "{what}: expected field {field}, got {}",
                    answer.json
                ));
            }
        }
        if let Some(problem) = problem {
            self.tally.errors += 1;
            self.failures.push(problem);
        }
        Ok(())
    }
}
