//! Synthetic, realistic data: users in several timezones, each with a history of local days.
//! A day follows a daily rhythm (quiet nights, morning and evening peaks), apps are used with a
//! skewed (Zipf) popularity, and a day holds screen time, unlock sessions, notifications, focus
//! sessions, breaks and distractions (about 150 events on an average day). Everything goes
//! through `POST /api/v1/analytics/track/batch`, several batches at once, with a progress bar.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use wellbeing_tests::Api;

use crate::driver::{Call, Connection};

/// Zones of the synthetic users (several offsets, both hemispheres, with and without DST).
pub const ZONES: [&str; 7] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// Apps with a category; used with Zipf weights in this order.
const APPS: [(&str, &str); 24] = [
    ("Instagram", "social"),
    ("WhatsApp", "communication"),
    ("YouTube", "entertainment"),
    ("Chrome", "productivity"),
    ("TikTok", "entertainment"),
    ("Gmail", "communication"),
    ("Slack", "productivity"),
    ("Spotify", "entertainment"),
    ("Maps", "navigation"),
    ("Twitter", "social"),
    ("Reddit", "social"),
    ("Notion", "productivity"),
    ("Netflix", "entertainment"),
    ("Telegram", "communication"),
    ("Calendar", "productivity"),
    ("News", "news"),
    ("Duolingo", "education"),
    ("Candy Crush", "games"),
    ("Camera", "other"),
    ("Photos", "other"),
    ("Banking", "finance"),
    ("Weather", "other"),
    ("Kindle", "education"),
    ("Strava", "health"),
];

/// Relative activity per local hour: quiet nights, a morning and an evening peak.
const RHYTHM: [f64; 24] = [
    0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.35, 0.9, 1.3, 1.2, 1.0, 1.0, 1.3, 1.1, 1.0, 1.0, 1.1,
    1.3, 1.6, 1.8, 1.9, 1.6, 1.0, 0.5,
];

/// Average events of one user on one full day, by kind.
pub const EVENTS_PER_DAY: f64 = 150.0;

/// A registered user of the run.
#[derive(Clone)]
pub struct User {
    pub zone: Tz,
    pub token: Arc<str>,
    pub refresh_token: String,
}

/// Weighted choice from cumulative weights.
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|weight| {
                total += weight;
                total
            })
            .collect();
        Self { cumulative }
    }

    fn pick(&self, rng: &mut StdRng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let target = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&value| value < target)
            .min(self.cumulative.len() - 1)
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The generator of one user's days.
pub struct Generator {
    apps: Weighted,
    hours: Weighted,
}

impl Default for Generator {
    fn default() -> Self {
        Self {
            // Zipf, s = 1.1: the first app gets about a quarter of the use.
            apps: Weighted::new((1..=APPS.len()).map(|rank| 1.0 / (rank as f64).powf(1.1))),
            hours: Weighted::new(RHYTHM),
        }
    }
}

impl Generator {
    /// A random instant of local `day` in `zone` following the daily rhythm; `None` when it is
    /// later than `latest` (today) or falls into a DST gap.
    fn instant(
        &self,
        rng: &mut StdRng,
        zone: Tz,
        day: NaiveDate,
        latest: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let hour = self.hours.pick(rng) as u32;
        let naive = day.and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))?;
        let at = zone
            .from_local_datetime(&naive)
            .earliest()?
            .with_timezone(&Utc);
        (at <= latest).then_some(at)
    }

    /// An app and its category, with the apps' Zipf popularity.
    pub fn app(&self, rng: &mut StdRng) -> (&'static str, &'static str) {
        APPS[self.apps.pick(rng)]
    }

    /// The events of one local day (`activity` scales the day's volume, about 1.0).
    pub fn day(
        &self,
        rng: &mut StdRng,
        zone: Tz,
        day: NaiveDate,
        activity: f64,
        now: DateTime<Utc>,
    ) -> Vec<Value> {
        let mut events = Vec::new();
        let count = |rng: &mut StdRng, mean: f64| -> usize {
            let mean = mean * activity;
            (mean * rng.random_range(0.7..1.3)).round() as usize
        };
        for _ in 0..count(rng, 60.0) {
            let minutes: f64 = (rng.random_range(0.3f64..4.0)).exp().min(90.0);
            let minutes = (minutes * 10.0).round() / 10.0;
            let Some(at) = self.instant(
                rng,
                zone,
                day,
                now - chrono::Duration::seconds((minutes * 60.0) as i64 + 60),
            ) else {
                continue;
            };
            let (app, category) = self.app(rng);
            events.push(
                json!({"type": "screen-time", "app_name": app, "category": category,
                "duration_minutes": minutes.max(0.1), "timestamp": rfc3339(at)}),
            );
        }
        for _ in 0..count(rng, 40.0) {
            let seconds = rng.random_range(20..1800);
            let Some(start) = self.instant(
                rng,
                zone,
                day,
                now - chrono::Duration::seconds(seconds + 60),
            ) else {
                continue;
            };
            let end = start + chrono::Duration::seconds(seconds);
            events.push(json!({"type": "session", "start_time": rfc3339(start),
                "end_time": rfc3339(end), "device_type": "mobile"}));
        }
        for _ in 0..count(rng, 40.0) {
            let Some(at) = self.instant(rng, zone, day, now) else {
                continue;
            };
            let (app, _) = self.app(rng);
            events.push(json!({"type": "notification", "app_name": app,
                "priority": rng.random_range(0..100), "was_interacted": rng.random_bool(0.3),
                "timestamp": rfc3339(at)}));
        }
        for _ in 0..count(rng, 2.0) {
            let minutes = rng.random_range(15..120);
            let Some(start) =
                self.instant(rng, zone, day, now - chrono::Duration::minutes(minutes + 1))
            else {
                continue;
            };
            events.push(
                json!({"type": "focus-session", "start_time": rfc3339(start),
                "end_time": rfc3339(start + chrono::Duration::minutes(minutes)),
                "quality_score": rng.random_range(30..100), "task_name": "work"}),
            );
        }
        for _ in 0..count(rng, 3.0) {
            let minutes = rng.random_range(3..20);
            let Some(at) =
                self.instant(rng, zone, day, now - chrono::Duration::minutes(minutes + 1))
            else {
                continue;
            };
            events.push(json!({"type": "break", "duration_minutes": minutes,
                "break_type": "short", "timestamp": rfc3339(at)}));
        }
        for _ in 0..count(rng, 5.0) {
            let Some(at) = self.instant(rng, zone, day, now) else {
                continue;
            };
            let (app, _) = self.app(rng);
            events.push(json!({"type": "distraction", "source": app,
                "severity": rng.random_range(1..=5), "duration_seconds": rng.random_range(0..600),
                "timestamp": rfc3339(at)}));
        }
        events
    }
}

/// Registers and logs in `count` users, spread over [`ZONES`].
pub async fn register(api: &Api, count: usize, first_index: usize) -> anyhow::Result<Vec<User>> {
    let bar = bar(count as u64, "users");
    let limit = Arc::new(Semaphore::new(4));
    let mut tasks = Vec::new();
    for index in first_index..first_index + count {
        let api = api.clone();
        let limit = limit.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await?;
            let zone = ZONES[index % ZONES.len()];
            let session = api.register_and_login(zone).await?;
            bar.inc(1);
            anyhow::Ok(User {
                zone: zone.parse().expect("a known zone"),
                token: session.access_token.into(),
                refresh_token: session.refresh_token,
            })
        }));
    }
    let mut users = Vec::with_capacity(count);
    for task in tasks {
        users.push(task.await??);
    }
    bar.finish();
    Ok(users)
}

/// Fresh access tokens for everyone (`POST /auth/refresh`, no password hashing).
pub async fn refresh(api: &Api, users: &mut [User]) -> anyhow::Result<()> {
    for user in users.iter_mut() {
        let answer = api
            .post(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": user.refresh_token}),
                None,
            )
            .await?;
        anyhow::ensure!(answer.status == 200, "refresh answered {answer:?}");
        user.token = answer.json["access_token"]
            .as_str()
            .context("no access_token")?
            .into();
        user.refresh_token = answer.json["refresh_token"]
            .as_str()
            .context("no refresh_token")?
            .to_owned();
    }
    Ok(())
}

/// How seeding went.
pub struct Seeded {
    pub events: u64,
    pub seconds: f64,
}

impl Seeded {
    /// `N events in S s (R events/s)`, as the tools print it.
    pub fn describe(&self) -> String {
        format!(
            "{} events in {:.1} s ({:.0} events/s)",
            self.events,
            self.seconds,
            self.events as f64 / self.seconds
        )
    }
}

/// Seeds `days` local days ending today for each user, `batch_size` events a request,
/// `parallel` requests at once. Returns the events stored.
pub async fn seed(
    base: &str,
    users: &[User],
    days: u32,
    batch_size: usize,
    parallel: usize,
    seed: u64,
) -> anyhow::Result<Seeded> {
    let expected = (users.len() as f64 * f64::from(days) * EVENTS_PER_DAY) as u64;
    let bar = bar(expected, "events");
    let started = Instant::now();
    let (sender, receiver) = async_channel(parallel * 2);
    let mut workers = Vec::new();
    for _ in 0..parallel {
        let receiver = receiver.clone();
        let base = base.to_owned();
        let bar = bar.clone();
        workers.push(tokio::spawn(async move {
            let mut connection = Connection::open(&base).await?;
            let mut stored = 0u64;
            loop {
                let next = receiver.lock().await.recv().await;
                let Some(call) = next else { break };
                let (status, body) = connection.send(&call).await?;
                anyhow::ensure!(
                    status == 201 || status == 200,
                    "seeding batch answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                );
                stored += call.units;
                bar.inc(call.units);
            }
            anyhow::Ok(stored)
        }));
    }
    drop(receiver);
    let generator = Generator::default();
    let now = Utc::now();
    for (index, user) in users.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9));
        let activity = rng.random_range(0.6..1.4);
        let today = now.with_timezone(&user.zone).date_naive();
        let mut pending: Vec<Value> = Vec::with_capacity(batch_size);
        for back in (0..days).rev() {
            let day = today - chrono::Duration::days(i64::from(back));
            // Weekends are a little heavier.
            let weekend = matches!(
                chrono::Datelike::weekday(&day),
                chrono::Weekday::Sat | chrono::Weekday::Sun
            );
            let factor = activity * if weekend { 1.2 } else { 0.92 };
            pending.extend(generator.day(&mut rng, user.zone, day, factor, now));
            while pending.len() >= batch_size {
                let rest = pending.split_off(batch_size);
                send_batch(&sender, user, std::mem::replace(&mut pending, rest)).await?;
            }
        }
        if !pending.is_empty() {
            send_batch(&sender, user, pending).await?;
        }
    }
    drop(sender);
    let mut events = 0;
    for worker in workers {
        events += worker.await??;
    }
    bar.set_length(events);
    bar.finish();
    Ok(Seeded {
        events,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A batch body ready to send.
pub fn batch_call(user: &User, events: Vec<Value>) -> Call {
    let units = events.len() as u64;
    let body = serde_json::to_vec(&json!({ "events": events })).expect("JSON");
    Call::post(
        "/api/v1/analytics/track/batch",
        &user.token,
        Bytes::from(body),
        units,
    )
}

async fn send_batch(
    sender: &tokio::sync::mpsc::Sender<Call>,
    user: &User,
    events: Vec<Value>,
) -> anyhow::Result<()> {
    sender
        .send(batch_call(user, events))
        .await
        .map_err(|_| anyhow::anyhow!("every seeding connection failed"))
}

type SharedReceiver = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Call>>>;

/// A bounded channel whose receiver several workers share.
fn async_channel(capacity: usize) -> (tokio::sync::mpsc::Sender<Call>, SharedReceiver) {
    let (sender, receiver) = tokio::sync::mpsc::channel(capacity);
    (sender, Arc::new(tokio::sync::Mutex::new(receiver)))
}

pub fn bar(length: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(length);
    let template = format!(
        "{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
