//! The soak's traffic: what phones do, many users each asking rarely.
//!
//! A request comes from a user picked with the daily rhythm of their own local hour (users whose
//! night it is are quiet), then is one of: 88 % reads (the widget's quick stats, the home
//! screen's dashboard, daily and weekly summaries, app usage, insights, the wellbeing score, goals,
//! the privacy score) and 12 % writes (8 % a phone flushing 1 to 8 events of its last minutes in
//! one batch, 4 % a single screen-time record). Every event carries an `event_id` (as a phone
//! retrying would) and lies in the last half hour of the user's local day.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::driver::Call;
use crate::seed::User;

/// Relative activity per local hour (the seeding's rhythm): quiet nights, morning and evening
/// peaks.
const RHYTHM: [f64; 24] = [
    0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.35, 0.9, 1.3, 1.2, 1.0, 1.0, 1.3, 1.1, 1.0, 1.0, 1.1,
    1.3, 1.6, 1.8, 1.9, 1.6, 1.0, 0.5,
];

/// Apps written during the soak, most used first.
const APPS: [(&str, &str); 8] = [
    ("Instagram", "social"),
    ("WhatsApp", "communication"),
    ("YouTube", "entertainment"),
    ("Chrome", "productivity"),
    ("Gmail", "communication"),
    ("Spotify", "entertainment"),
    ("Maps", "navigation"),
    ("Kindle", "education"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Read(&'static str),
    Batch,
    Single,
}

/// Kinds of request and their weights (percent).
const MIX: [(Kind, u32); 11] = [
    (Kind::Read("/api/v1/analytics/quick-stats"), 28),
    (Kind::Read("/api/v1/analytics/dashboard"), 24),
    (Kind::Read("/api/v1/analytics/summary/daily"), 10),
    (Kind::Read("/api/v1/analytics/summary/weekly"), 7),
    (Kind::Read("/api/v1/analytics/apps/usage?days=7"), 5),
    (Kind::Read("/api/v1/analytics/insights"), 4),
    (Kind::Read("/api/v1/wellbeing/score"), 3),
    (Kind::Read("/api/v1/analytics/goals"), 4),
    (Kind::Read("/api/v1/privacy/score"), 3),
    (Kind::Batch, 8),
    (Kind::Single, 4),
];

/// The mix as text, for the report.
pub fn describe() -> Value {
    MIX.iter()
        .map(|(kind, weight)| {
            let name = match kind {
                Kind::Read(path) => format!("GET {path}"),
                Kind::Batch => "POST /api/v1/analytics/track/batch (1-8 recent events)".to_owned(),
                Kind::Single => "POST /api/v1/analytics/track/screen-time".to_owned(),
            };
            json!({"request": name, "percent": weight})
        })
        .collect()
}

pub struct Mix {
    users: Vec<User>,
    /// Users by zone: (zone, indexes into `users`).
    zones: Vec<(Tz, Vec<usize>)>,
}

impl Mix {
    pub fn new(users: Vec<User>) -> Arc<Self> {
        let mut zones: Vec<(Tz, Vec<usize>)> = Vec::new();
        for (index, user) in users.iter().enumerate() {
            match zones.iter_mut().find(|(zone, _)| *zone == user.zone) {
                Some((_, members)) => members.push(index),
                None => zones.push((user.zone, vec![index])),
            }
        }
        Arc::new(Self { users, zones })
    }

    /// A user, with the weight of their zone's local hour.
    fn user(&self, rng: &mut StdRng, now: DateTime<Utc>) -> &User {
        let weights: Vec<f64> = self
            .zones
            .iter()
            .map(|(zone, members)| {
                RHYTHM[now.with_timezone(zone).hour() as usize] * members.len() as f64
            })
            .collect();
        let mut target = rng.random::<f64>() * weights.iter().sum::<f64>();
        let mut chosen = self.zones.len() - 1;
        for (index, weight) in weights.iter().enumerate() {
            if target < *weight {
                chosen = index;
                break;
            }
            target -= weight;
        }
        let members = &self.zones[chosen].1;
        &self.users[members[rng.random_range(0..members.len())]]
    }

    /// The next request of the mix.
    pub fn call(&self, rng: &mut StdRng) -> Call {
        let now = Utc::now();
        let user = self.user(rng, now);
        let mut roll = rng.random_range(0..100u32);
        let mut kind = MIX[0].0;
        for (candidate, weight) in MIX {
            if roll < weight {
                kind = candidate;
                break;
            }
            roll -= weight;
        }
        match kind {
            Kind::Read(path) => Call::get(path, &user.token),
            Kind::Batch => {
                let count = rng.random_range(1..=8);
                let events: Vec<Value> = (0..count).map(|_| recent_event(rng, now)).collect();
                let body = serde_json::to_vec(&json!({ "events": events })).expect("JSON");
                Call::post(
                    "/api/v1/analytics/track/batch",
                    &user.token,
                    Bytes::from(body),
                    count,
                )
            }
            Kind::Single => {
                let (app, category) = app(rng);
                let minutes = screen_minutes(rng);
                let body = json!({"event_id": uuid::Uuid::new_v4(), "app_name": app,
                    "category": category, "duration_minutes": minutes,
                    "timestamp": ended_by(rng, now, minutes * 60.0)});
                Call::post(
                    "/api/v1/analytics/track/screen-time",
                    &user.token,
                    Bytes::from(serde_json::to_vec(&body).expect("JSON")),
                    1,
                )
            }
        }
    }
}

fn app(rng: &mut StdRng) -> (&'static str, &'static str) {
    // Skewed: the first apps are used most (about 1/rank).
    let weights: f64 = (1..=APPS.len()).map(|rank| 1.0 / rank as f64).sum();
    let mut target = rng.random::<f64>() * weights;
    for (rank, entry) in APPS.iter().enumerate() {
        let weight = 1.0 / (rank + 1) as f64;
        if target < weight {
            return *entry;
        }
        target -= weight;
    }
    APPS[0]
}

/// A screen-time duration in minutes (a few seconds to an hour, mostly short).
fn screen_minutes(rng: &mut StdRng) -> f64 {
    let minutes = rng.random_range(-1.0f64..4.0).exp().min(60.0);
    ((minutes * 10.0).round() / 10.0).max(0.1)
}

/// The start, as RFC 3339, of something lasting `seconds` that ended in the last 20 minutes.
fn ended_by(rng: &mut StdRng, now: DateTime<Utc>, seconds: f64) -> String {
    let ago = seconds as i64 + rng.random_range(30..1200);
    (now - chrono::Duration::seconds(ago)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One event of a phone's last minutes, in the proportions of a day (screen time, unlocks,
/// notifications, then a few breaks and distractions).
fn recent_event(rng: &mut StdRng, now: DateTime<Utc>) -> Value {
    let id = uuid::Uuid::new_v4();
    match rng.random_range(0..150) {
        0..60 => {
            let (app, category) = app(rng);
            let minutes = screen_minutes(rng);
            json!({"type": "screen-time", "event_id": id, "app_name": app, "category": category,
                "duration_minutes": minutes, "timestamp": ended_by(rng, now, minutes * 60.0)})
        }
        60..100 => {
            let seconds = rng.random_range(20..900);
            let start = ended_by(rng, now, f64::from(seconds));
            let end = chrono::DateTime::parse_from_rfc3339(&start).expect("RFC 3339")
                + chrono::Duration::seconds(i64::from(seconds));
            json!({"type": "session", "event_id": id, "start_time": start,
                "end_time": end.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Secs, true),
                "device_type": "mobile"})
        }
        100..140 => {
            let (app, _) = app(rng);
            json!({"type": "notification", "event_id": id, "app_name": app,
                "priority": rng.random_range(0..100), "was_interacted": rng.random_bool(0.3),
                "timestamp": ended_by(rng, now, 0.0)})
        }
        140..144 => {
            let minutes = rng.random_range(3..15);
            json!({"type": "break", "event_id": id, "duration_minutes": minutes,
                "break_type": "short", "timestamp": ended_by(rng, now, f64::from(minutes) * 60.0)})
        }
        _ => {
            let (app, _) = app(rng);
            json!({"type": "distraction", "event_id": id, "source": app,
                "severity": rng.random_range(1..=5), "duration_seconds": rng.random_range(0..300),
                "timestamp": ended_by(rng, now, 0.0)})
        }
    }
}
