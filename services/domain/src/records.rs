//! The records the domain computes from, one type per tracked event kind. They carry only what
//! the arithmetic needs (no ids, no user): storage and transport map their rows onto these.
//! Times are instants in UTC; local days and hours are derived with [`crate::time`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time::minutes_duration;

/// App use in the foreground: `start..start + duration_minutes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScreenTime {
    pub app_name: String,
    pub category: String,
    pub start: DateTime<Utc>,
    pub duration_minutes: f64,
}

impl ScreenTime {
    /// When the use ended.
    pub fn end(&self) -> DateTime<Utc> {
        end_after(self.start, self.duration_minutes)
    }
}

/// A device session, from unlock to lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub device_type: String,
}

/// A period of focused work with the user's own quality rating (0..=100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FocusSession {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub quality_score: f64,
    pub task_name: Option<String>,
}

/// A break: `start..start + duration_minutes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Break {
    pub start: DateTime<Utc>,
    pub duration_minutes: f64,
    pub break_type: String,
}

impl Break {
    /// When the break ended.
    pub fn end(&self) -> DateTime<Utc> {
        end_after(self.start, self.duration_minutes)
    }
}

/// A notification received (a point event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub at: DateTime<Utc>,
    pub app_name: String,
    /// 0..=100.
    pub priority: i32,
    pub was_interacted: bool,
}

/// Something that pulled the user away (a point event with a length).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distraction {
    pub at: DateTime<Utc>,
    pub source: String,
    /// 1..=5.
    pub severity: i32,
    pub duration_seconds: f64,
}

/// Every record that touches the local days being summarised. The caller fetches records that
/// overlap the range (intervals) or fall in it (point events); records outside it are ignored
/// by the functions that read this, so over-fetching is harmless.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DayEvents {
    pub screen_time: Vec<ScreenTime>,
    pub sessions: Vec<Session>,
    pub focus_sessions: Vec<FocusSession>,
    pub breaks: Vec<Break>,
    pub notifications: Vec<Notification>,
    pub distractions: Vec<Distraction>,
}

/// What the phone last reported about its privacy protections (`PUT /privacy/state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivacyState {
    pub vpn_connected: bool,
    pub kill_switch: bool,
    pub leak_detected: bool,
    pub caller_masking: bool,
    pub calls_total: i64,
    pub calls_blocked: i64,
    pub blocklist_size: i64,
    pub location_mode: LocationMode,
    pub network_threats: i64,
    pub critical_threats: i64,
    pub monitoring_enabled: bool,
}

/// How the phone reports its location to apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LocationMode {
    Real,
    Approximate,
    Spoofed,
    Random,
}

impl LocationMode {
    pub const ALL: [LocationMode; 4] = [
        LocationMode::Real,
        LocationMode::Approximate,
        LocationMode::Spoofed,
        LocationMode::Random,
    ];

    /// The wire name (`real`, `approximate`, `spoofed`, `random`).
    pub fn as_str(self) -> &'static str {
        match self {
            LocationMode::Real => "real",
            LocationMode::Approximate => "approximate",
            LocationMode::Spoofed => "spoofed",
            LocationMode::Random => "random",
        }
    }
}

impl fmt::Display for LocationMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A `location_mode` that is none of the four known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown location mode {}: expected real, approximate, spoofed or random",
    crate::validation::shown(.0)
)]
pub struct UnknownLocationMode(pub String);

impl FromStr for LocationMode {
    type Err = UnknownLocationMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        LocationMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| UnknownLocationMode(text.to_owned()))
    }
}

/// `start + minutes`, saturating instead of panicking on absurd durations (validation refuses
/// them, but a summary must never crash on a stored row).
fn end_after(start: DateTime<Utc>, minutes: f64) -> DateTime<Utc> {
    let minutes = if minutes.is_finite() { minutes } else { 0.0 };
    start
        .checked_add_signed(minutes_duration(minutes.clamp(-1.0e9, 1.0e9)))
        .unwrap_or(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn interval_ends_are_start_plus_duration() {
        let use_ = ScreenTime {
            app_name: "Mail".into(),
            category: "work".into(),
            start: utc("2026-03-01T10:00:00Z"),
            duration_minutes: 1.5,
        };
        assert_eq!(use_.end(), utc("2026-03-01T10:01:30Z"));
        let pause = Break {
            start: utc("2026-03-01T10:00:00Z"),
            duration_minutes: f64::NAN,
            break_type: "short".into(),
        };
        assert_eq!(pause.end(), pause.start);
    }

    #[test]
    fn location_modes_parse_and_serialize_lowercase() {
        assert_eq!("spoofed".parse::<LocationMode>(), Ok(LocationMode::Spoofed));
        assert!("Spoofed".parse::<LocationMode>().is_err());
        assert_eq!(
            serde_json::to_string(&LocationMode::Approximate).unwrap(),
            "\"approximate\""
        );
        let mode: LocationMode = serde_json::from_str("\"random\"").unwrap();
        assert_eq!(mode, LocationMode::Random);
        assert_eq!(LocationMode::Real.to_string(), "real");
    }
}
