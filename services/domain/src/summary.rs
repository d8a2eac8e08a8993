//! The daily summary (`/analytics/summary/daily`): one local day's totals, counts, top apps and
//! hourly breakdown, computed from the records that touch it.
//!
//! Minutes and counts are attributed differently, as the contract says:
//!
//! ```text
//!  local   23:00      23:50 │00:00          00:20
//!  record        ├──────────┼───────────────┤    focus session, quality 90
//!  day 1         10 min     │                    count 1, quality 90 counted here
//!  day 2                    │ 20 min (hour 0)    minutes only
//! ```
//!
//! Minutes are kept as `f64` while summing and rounded to two decimals in the result; scores
//! and rates to one decimal. `top_apps` ties are broken by app name so the output is stable.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::numbers::{round1, round2};
use crate::records::{DayEvents, ScreenTime};
use crate::scores::productivity_score;
use crate::time::{local_date, split_by_local_hour};

/// How many apps `top_apps` lists.
pub const TOP_APPS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppMinutes {
    pub app_name: String,
    pub minutes: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HourlyMinutes {
    /// Wall-clock hour 0..=23.
    #[cfg_attr(feature = "openapi", schema(maximum = 23))]
    pub hour: u32,
    /// `"HH:00"`.
    pub time_label: String,
    pub minutes: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailySummary {
    /// Serialised as `YYYY-MM-DD`.
    pub date: NaiveDate,
    pub total_screen_time_minutes: f64,
    pub total_focus_time_minutes: f64,
    pub total_break_time_minutes: f64,
    pub average_focus_quality: f64,
    pub productivity_score: f64,
    pub sessions_count: u32,
    pub focus_sessions_count: u32,
    pub breaks_count: u32,
    pub notifications_received: u32,
    pub notifications_interacted: u32,
    pub notification_interaction_rate: f64,
    pub distractions_count: u32,
    /// The day's most used apps by screen-time minutes (at most 5).
    #[cfg_attr(feature = "openapi", schema(max_items = 5))]
    pub top_apps: Vec<AppMinutes>,
    /// Always 24 entries, hours 0..=23.
    #[cfg_attr(feature = "openapi", schema(min_items = 24, max_items = 24))]
    pub hourly_breakdown: Vec<HourlyMinutes>,
}

impl DailySummary {
    /// The summary of a day with nothing recorded.
    pub fn empty(date: NaiveDate) -> Self {
        daily_summary(date, Tz::UTC, &DayEvents::default())
    }
}

/// `"HH:00"` for a wall-clock hour.
pub fn hour_label(hour: u32) -> String {
    format!("{hour:02}:00")
}

/// Minutes of `[start, end)` on local `date`, per wall-clock hour.
fn add_minutes_on(
    hours: &mut [f64; 24],
    date: NaiveDate,
    timezone: Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> f64 {
    let mut on_date = 0.0;
    for slice in split_by_local_hour(start, end, timezone) {
        if slice.date == date {
            hours[slice.hour as usize] += slice.minutes;
            on_date += slice.minutes;
        }
    }
    on_date
}

/// Minutes of `[start, end)` on local `date`.
fn minutes_on(date: NaiveDate, timezone: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    add_minutes_on(&mut [0.0; 24], date, timezone, start, end)
}

fn count(iter: impl Iterator<Item = bool>) -> u32 {
    u32::try_from(iter.filter(|hit| *hit).count()).unwrap_or(u32::MAX)
}

/// The summary of local `date` in `timezone`. `events` may hold records of other days too:
/// only the minutes that fall on `date`, and the records that start on it, are counted.
pub fn daily_summary(date: NaiveDate, timezone: Tz, events: &DayEvents) -> DailySummary {
    let starts_on_date = |instant: DateTime<Utc>| local_date(instant, timezone) == date;

    // Screen time: the only source of total screen minutes, top apps and the hourly breakdown.
    let mut hours = [0.0_f64; 24];
    let mut by_app: BTreeMap<&str, f64> = BTreeMap::new();
    for use_ in &events.screen_time {
        let minutes = add_minutes_on(&mut hours, date, timezone, use_.start, use_.end());
        if minutes > 0.0 {
            *by_app.entry(use_.app_name.as_str()).or_default() += minutes;
        }
    }
    let total_screen: f64 = hours.iter().sum();

    let total_focus: f64 = events
        .focus_sessions
        .iter()
        .map(|focus| minutes_on(date, timezone, focus.start, focus.end))
        .sum();
    let qualities: Vec<f64> = events
        .focus_sessions
        .iter()
        .filter(|focus| starts_on_date(focus.start))
        .map(|focus| focus.quality_score)
        .collect();
    let average_quality = if qualities.is_empty() {
        0.0
    } else {
        qualities.iter().sum::<f64>() / qualities.len() as f64
    };

    let total_break: f64 = events
        .breaks
        .iter()
        .map(|pause| minutes_on(date, timezone, pause.start, pause.end()))
        .sum();
    let breaks_count = count(
        events
            .breaks
            .iter()
            .map(|pause| starts_on_date(pause.start)),
    );
    let distractions_count = count(
        events
            .distractions
            .iter()
            .map(|distraction| starts_on_date(distraction.at)),
    );
    let received = count(
        events
            .notifications
            .iter()
            .map(|note| starts_on_date(note.at)),
    );
    let interacted = count(
        events
            .notifications
            .iter()
            .map(|note| starts_on_date(note.at) && note.was_interacted),
    );
    let interaction_rate = if received == 0 {
        0.0
    } else {
        f64::from(interacted) / f64::from(received) * 100.0
    };

    DailySummary {
        date,
        total_screen_time_minutes: round2(total_screen),
        total_focus_time_minutes: round2(total_focus),
        total_break_time_minutes: round2(total_break),
        average_focus_quality: round2(average_quality),
        productivity_score: productivity_score(
            total_focus,
            average_quality,
            distractions_count,
            breaks_count,
        ),
        sessions_count: count(
            events
                .sessions
                .iter()
                .map(|session| starts_on_date(session.start)),
        ),
        focus_sessions_count: u32::try_from(qualities.len()).unwrap_or(u32::MAX),
        breaks_count,
        notifications_received: received,
        notifications_interacted: interacted,
        notification_interaction_rate: round1(interaction_rate),
        distractions_count,
        top_apps: top_apps(by_app, TOP_APPS),
        hourly_breakdown: (0..24)
            .map(|hour| HourlyMinutes {
                hour,
                time_label: hour_label(hour),
                minutes: round2(hours[hour as usize]),
            })
            .collect(),
    }
}

/// Minutes per app on local `date`, for every app used that day (not only the top 5); unrounded.
pub fn app_minutes(
    date: NaiveDate,
    timezone: Tz,
    screen_time: &[ScreenTime],
) -> BTreeMap<String, f64> {
    let mut by_app = BTreeMap::new();
    for use_ in screen_time {
        let minutes = minutes_on(date, timezone, use_.start, use_.end());
        if minutes > 0.0 {
            *by_app.entry(use_.app_name.clone()).or_default() += minutes;
        }
    }
    by_app
}

/// The `limit` apps with most minutes; equal minutes in app-name order.
fn top_apps(by_app: BTreeMap<&str, f64>, limit: usize) -> Vec<AppMinutes> {
    // BTreeMap iterates by name, and the sort is stable: ties stay in name order.
    let mut apps: Vec<(&str, f64)> = by_app.into_iter().collect();
    apps.sort_by(|a, b| b.1.total_cmp(&a.1));
    apps.into_iter()
        .take(limit)
        .map(|(app_name, minutes)| AppMinutes {
            app_name: app_name.to_owned(),
            minutes: round2(minutes),
        })
        .collect()
}

#[cfg(test)]
mod tests;
