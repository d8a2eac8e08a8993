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

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::aggregate::{DayAggregate, aggregate_day, minutes, minutes_by_app};
use crate::numbers::{round1, round2};
use crate::records::{DayEvents, ScreenTime};
use crate::scores::productivity_score;

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
    // One of 24 constant labels, not a string allocated for every hour of every summary.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub time_label: Cow<'static, str>,
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
        DayAggregate::default().summary(date)
    }
}

/// `"HH:00"` for a wall-clock hour (0..=23; any other hour is written out).
pub fn hour_label(hour: u32) -> Cow<'static, str> {
    const LABELS: [&str; 24] = [
        "00:00", "01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00", "08:00", "09:00",
        "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00", "17:00", "18:00", "19:00",
        "20:00", "21:00", "22:00", "23:00",
    ];
    match LABELS.get(hour as usize) {
        Some(label) => Cow::Borrowed(label),
        None => Cow::Owned(format!("{hour:02}:00")),
    }
}

/// The summary of local `date` in `timezone`. `events` may hold records of other days too:
/// only the minutes that fall on `date`, and the records that start on it, are counted.
pub fn daily_summary(date: NaiveDate, timezone: Tz, events: &DayEvents) -> DailySummary {
    aggregate_day(date, timezone, events).summary(date)
}

impl DayAggregate {
    /// The daily summary of `date`, whose aggregate this is.
    pub fn summary(&self, date: NaiveDate) -> DailySummary {
        let total_focus = minutes(self.focus_us);
        let average_quality = self.average_focus_quality();
        let received = self.notifications_received;
        let interacted = self.notifications_interacted;
        let interaction_rate = if received == 0 {
            0.0
        } else {
            f64::from(interacted) / f64::from(received) * 100.0
        };
        let by_app: BTreeMap<&str, f64> = self
            .apps
            .iter()
            .filter(|(_, app)| app.screen_us > 0)
            .map(|(name, app)| (name.as_str(), minutes(app.screen_us)))
            .collect();
        DailySummary {
            date,
            total_screen_time_minutes: round2(minutes(self.screen_total_us())),
            total_focus_time_minutes: round2(total_focus),
            total_break_time_minutes: round2(minutes(self.break_us)),
            average_focus_quality: round2(average_quality),
            productivity_score: productivity_score(
                total_focus,
                average_quality,
                self.distractions,
                self.break_count,
            ),
            sessions_count: self.sessions,
            focus_sessions_count: self.focus_count,
            breaks_count: self.break_count,
            notifications_received: received,
            notifications_interacted: interacted,
            notification_interaction_rate: round1(interaction_rate),
            distractions_count: self.distractions,
            top_apps: top_apps(by_app, TOP_APPS),
            hourly_breakdown: (0..24)
                .map(|hour| HourlyMinutes {
                    hour,
                    time_label: hour_label(hour),
                    minutes: round2(minutes(self.screen_us[hour as usize])),
                })
                .collect(),
        }
    }
}

/// Minutes per app on local `date`, for every app used that day (not only the top 5); unrounded.
pub fn app_minutes(
    date: NaiveDate,
    timezone: Tz,
    screen_time: &[ScreenTime],
) -> BTreeMap<String, f64> {
    let events = DayEvents {
        screen_time: screen_time.to_vec(),
        ..DayEvents::default()
    };
    minutes_by_app(&aggregate_day(date, timezone, &events).apps)
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
