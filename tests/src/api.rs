//! A small REST client for tests: every call returns the status, headers and parsed JSON body.

use anyhow::Context;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

#[derive(Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// `Null` when the body is empty.
    pub json: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// A registered, logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Api {
    pub fn new(base: String) -> Self {
        Self {
            base,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("request to {path} failed"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{path} answered non-JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })?
        };
        Ok(Answer {
            status,
            headers,
            json,
        })
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<Answer> {
        self.send(reqwest::Method::GET, path, None, token, &[])
            .await
    }

    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<Answer> {
        self.send(reqwest::Method::POST, path, Some(body), token, &[])
            .await
    }

    pub async fn put(
        &self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<Answer> {
        self.send(reqwest::Method::PUT, path, Some(body), token, &[])
            .await
    }

    pub async fn patch(
        &self,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> anyhow::Result<Answer> {
        self.send(reqwest::Method::PATCH, path, Some(body), token, &[])
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> anyhow::Result<Answer> {
        self.send(reqwest::Method::DELETE, path, None, token, &[])
            .await
    }

    /// Sends raw bytes as a JSON body (for malformed-input tests).
    pub async fn post_raw(
        &self,
        path: &str,
        body: &'static str,
        token: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok(Answer {
            status,
            headers,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// Registers a new user in `timezone` and logs in.
    pub async fn register_and_login(&self, timezone: &str) -> anyhow::Result<Session> {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        let password = "correct horse battery staple";
        let registered = self
            .post(
                "/api/v1/auth/register",
                &json!({"username": "Test User", "email": email, "password": password, "timezone": timezone}),
                None,
            )
            .await?;
        anyhow::ensure!(registered.status == 201, "register answered {registered:?}");
        let login = self
            .post(
                "/api/v1/auth/login",
                &json!({"email": email, "password": password}),
                None,
            )
            .await?;
        anyhow::ensure!(login.status == 200, "login answered {login:?}");
        Ok(Session {
            user_id: registered.json["user_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            email,
            access_token: login.json["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh_token: login.json["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

impl Api {
    /// Records `minutes` of screen time in "Reader" now, then reads today's summary: its total
    /// screen minutes (both requests must succeed). The shortest write-then-read through every
    /// service, for tests that change how they are connected.
    pub async fn write_and_read_screen_time(
        &self,
        user: &Session,
        minutes: f64,
    ) -> anyhow::Result<f64> {
        let event = json!({"app_name": "Reader", "duration_minutes": minutes});
        let token = Some(user.access_token.as_str());
        let tracked = self
            .post("/api/v1/analytics/track/screen-time", &event, token)
            .await?;
        anyhow::ensure!(tracked.status == 201, "the write answered {tracked:?}");
        let daily = self.get("/api/v1/analytics/summary/daily", token).await?;
        anyhow::ensure!(daily.status == 200, "the read answered {daily:?}");
        daily.json["data"]["total_screen_time_minutes"]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("no total in {daily:?}"))
    }

    /// Sends `events` through `POST /track/batch`; fails unless they were taken (201 or 200).
    pub async fn track_batch(&self, token: &str, events: &[Value]) -> anyhow::Result<Answer> {
        let body = json!({"events": events});
        let answer = self
            .post("/api/v1/analytics/track/batch", &body, Some(token))
            .await?;
        anyhow::ensure!(
            matches!(answer.status, 200 | 201),
            "batch refused: {answer:?}"
        );
        Ok(answer)
    }
}

/// An IANA zone in which the local time is now between 08:00 and 20:00, so that a test can put
/// events "earlier today" without crossing local midnight. `Etc/GMT-5` is UTC+5.
pub fn daytime_zone() -> String {
    use chrono::Timelike;
    let utc_hour = i64::from(chrono::Utc::now().hour());
    for offset in -10i64..=12 {
        let local = (utc_hour + offset).rem_euclid(24);
        if (8..20).contains(&local) {
            return match offset {
                0 => "Etc/UTC".to_owned(),
                // The Etc/GMT names have inverted signs, by POSIX convention.
                positive if positive > 0 => format!("Etc/GMT-{positive}"),
                negative => format!("Etc/GMT+{}", -negative),
            };
        }
    }
    "Etc/UTC".to_owned()
}
