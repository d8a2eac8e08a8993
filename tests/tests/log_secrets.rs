//! Nothing secret reaches the logs: the whole stack runs with every wellbeing crate at `trace`
//! (everything else at `debug`), its logs captured in human and JSON form, while a user signs up,
//! signs in (also with a wrong password), refreshes, tracks, exports and erases with a distinctive
//! password, email and app name. The captured text must hold none of them, nor the access or
//! refresh tokens, nor the JWT signing key.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use wellbeing_tests::TestStack;

/// The key the test stack's gateway signs with (tests/src/lib.rs).
const STACK_SECRET: &str = "test-secret-test-secret-test-secret-0123";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs the capturing subscriber once, before the stack installs its own (which then yields).
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let filter = tracing_subscriber::EnvFilter::new(
            "debug,wellbeing_gateway=trace,wellbeing_analytics=trace,wellbeing_cache=trace,\
             wellbeing_aggregator=trace,wellbeing_common=trace,wellbeing_store=trace,\
             wellbeing_domain=trace,tests=trace",
        );
        let human = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(captured.clone());
        let json = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(captured.clone());
        tracing_subscriber::registry()
            .with(filter)
            .with(human)
            .with(json)
            .try_init()
            .expect("no subscriber was installed before");
        captured
    })
}

#[tokio::test]
async fn no_password_token_email_app_name_or_key_appears_in_the_logs() -> anyhow::Result<()> {
    let captured = captured();
    // No grace for a rotated refresh token: presenting it again below is a reuse at once, so
    // that the reuse's log lines are among those searched.
    let stack = TestStack::start_with(wellbeing_tests::StackOptions {
        analytics_env: vec![("REFRESH_REUSE_GRACE_SECS".into(), "0".into())],
        ..Default::default()
    })
    .await?;
    let api = &stack.api;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let password = format!("Zebra-Pa55-{unique}");
    let email = format!("hidden.person.{unique}@secret.example");
    let app = format!("HiddenApp{unique}");
    let mut requests = 0;

    let registered = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Hidden", "email": email, "password": password, "timezone": "Europe/Oslo"}),
            None,
        )
        .await?;
    requests += 1;
    assert_eq!(registered.status, 201, "{registered:?}");
    // A second registration with the same email (409) and a wrong password (401): the failures
    // that are most tempting to log with their input.
    let taken = api
        .post(
            "/api/v1/auth/register",
            &json!({"username": "Hidden", "email": email, "password": password}),
            None,
        )
        .await?;
    let wrong = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": format!("{password}-wrong")}),
            None,
        )
        .await?;
    requests += 2;
    assert_eq!((taken.status, wrong.status), (409, 401));
    let login = api
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": password}),
            None,
        )
        .await?;
    requests += 1;
    assert_eq!(login.status, 200);
    let first_refresh = login.json["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let first_access = login.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refreshed = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first_refresh}),
            None,
        )
        .await?;
    requests += 1;
    assert_eq!(refreshed.status, 200);
    let access = refreshed.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let refresh = refreshed.json["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let token = Some(access.as_str());
    for path in [
        "/api/v1/analytics/track/screen-time",
        "/api/v1/analytics/track/notification",
    ] {
        let answer = api
            .post(
                path,
                &json!({"app_name": app, "duration_minutes": 12, "priority": 5}),
                token,
            )
            .await?;
        requests += 1;
        // The notification has no duration: a 422 whose detail names the field, not the value.
        assert!(answer.status == 201 || answer.status == 422, "{answer:?}");
    }
    let batch = api
        .post(
            "/api/v1/analytics/track/batch",
            &json!({"events": [{"type": "screen-time", "app_name": app, "duration_minutes": 3},
                               {"type": "notification", "app_name": app, "priority": 5}]}),
            token,
        )
        .await?;
    requests += 1;
    assert_eq!(batch.status, 201, "{batch:?}");
    let goal = api
        .post(
            "/api/v1/analytics/goals",
            &json!({"goal_type": "app_daily_limit", "target_value": 30, "app_name": app}),
            token,
        )
        .await?;
    requests += 1;
    assert_eq!(goal.status, 201);
    for path in [
        "/api/v1/analytics/dashboard",
        "/api/v1/analytics/apps/usage?days=7",
        "/api/v1/auth/me",
        "/api/v1/me/export",
    ] {
        let answer = api.get(path, token).await?;
        requests += 1;
        assert_eq!(answer.status, 200, "{path}");
    }
    // The old refresh token again (reuse: the family is revoked), and a bad access token.
    let reused = api
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": first_refresh}),
            None,
        )
        .await?;
    let bad = api
        .get("/api/v1/auth/me", Some(&format!("{access}x")))
        .await?;
    requests += 2;
    assert_eq!((reused.status, bad.status), (401, 401));
    let erased = api.delete("/api/v1/me", token).await?;
    requests += 1;
    assert_eq!(erased.status, 204);
    stack.stop().await?;

    let logs = String::from_utf8_lossy(&captured.0.lock().expect("not poisoned")).into_owned();
    let secrets = [
        ("password", password.as_str()),
        ("email", email.as_str()),
        (
            "email's local part",
            email.split('@').next().unwrap_or_default(),
        ),
        ("app name", app.as_str()),
        ("first access token", first_access.as_str()),
        ("access token", access.as_str()),
        (
            "access token signature",
            access.rsplit('.').next().unwrap_or_default(),
        ),
        ("first refresh token", first_refresh.as_str()),
        ("refresh token", refresh.as_str()),
        ("JWT secret", STACK_SECRET),
    ];
    let found: Vec<&str> = secrets
        .iter()
        .filter(|(_, secret)| !secret.is_empty() && logs.contains(secret))
        .map(|(name, _)| *name)
        .collect();
    println!(
        "RELIABILITY log_secrets::no_password_token_email_app_name_or_key_appears_in_the_logs: requests={requests} errors={} log_lines={} log_bytes={} secrets_checked={} secrets_found={found:?}",
        found.len(),
        logs.lines().count(),
        logs.len(),
        secrets.len()
    );
    assert!(
        logs.lines().count() > 100,
        "the logs were captured at trace level"
    );
    // A control: what may be logged (the user's id) was captured, so the search was real.
    let user_id = registered.json["user_id"].as_str().unwrap_or("?");
    assert!(logs.contains(user_id), "the requests' logs were captured");
    assert!(found.is_empty(), "found in the logs: {found:?}");
    Ok(())
}
