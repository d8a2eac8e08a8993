//! Day aggregates: everything a view shows of one local day, as a sum that can be added to.
//!
//! Each record contributes to the local days it touches ([`Contributes`]); a day's aggregate is
//! the sum of its records' contributions, in any order. Ingestion adds a write's contributions to
//! the stored aggregates in the write's own transaction; the aggregator recomputes a day from raw
//! records with the same functions; every view is composed from aggregates
//! ([`DayAggregate::summary`], [`crate::apps::apps_usage_from_days`]).
//!
//! Time is counted in whole microseconds (`i64`) and quality in millionths of a point, so sums
//! are exact and do not depend on order: deltas added one write at a time give the very same
//! aggregate as a recomputation from raw records.
//!
//! ```text
//!  record          minutes (per local hour)       counts (on the local day it starts)
//!  screen time     screen_us[hour], app.screen_us app.uses, app.categories
//!  focus session   focus_us                       focus_count, focus_quality_micros
//!  break           break_us                       break_count
//!  session         -                              sessions
//!  notification    -                              notifications_received / _interacted
//!  distraction     -                              distractions
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use litemap::LiteMap;

mod categories;

pub use categories::Categories;

use crate::records::Session;
use crate::records::{Break, DayEvents, Distraction, FocusSession, Notification, ScreenTime};
use crate::time::local_date;

/// Microseconds in a minute.
pub const MICROS_PER_MINUTE: i64 = 60_000_000;
/// Millionths of a quality point.
const QUALITY_SCALE: f64 = 1_000_000.0;

/// One app's use on one local day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppDay {
    /// Foreground time on that day (records split at local midnight).
    pub screen_us: i64,
    /// Records of the app that started that day.
    pub uses: u32,
    /// Categories of the app's records that touched the day.
    pub categories: Categories,
}

/// The aggregate of one user's local day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayAggregate {
    /// Screen time per wall-clock hour.
    pub screen_us: [i64; 24],
    pub focus_us: i64,
    pub focus_count: u32,
    /// Sum of the quality scores of the focus sessions that started that day, in millionths.
    pub focus_quality_micros: i64,
    pub break_us: i64,
    pub break_count: u32,
    pub sessions: u32,
    pub notifications_received: u32,
    pub notifications_interacted: u32,
    pub distractions: u32,
    /// Shared between copies of the day until one of them changes (`Arc::make_mut`): a week
    /// brought over a write is a copy of the week before it with one or two days changed, and
    /// copying every app of all seven days was the largest part of that (docs/PERFORMANCE.md).
    pub apps: DayApps,
}

/// A day's apps in name order, as a sorted vector: a B-tree allocates nodes of eleven entries and
/// leaves them about half full when filled in order, and the days of a week kept in analytics
/// are most of its memory (docs/PERFORMANCE.md).
pub type AppDays = LiteMap<String, AppDay>;

/// A day's apps, shared between copies of the day (see [`DayAggregate::apps`]).
pub type DayApps = Arc<AppDays>;

impl DayAggregate {
    /// Adds another aggregate of the same day.
    pub fn add(&mut self, other: &DayAggregate) {
        for (hour, micros) in self.screen_us.iter_mut().zip(other.screen_us) {
            *hour += micros;
        }
        self.focus_us += other.focus_us;
        self.focus_count += other.focus_count;
        self.focus_quality_micros += other.focus_quality_micros;
        self.break_us += other.break_us;
        self.break_count += other.break_count;
        self.sessions += other.sessions;
        self.notifications_received += other.notifications_received;
        self.notifications_interacted += other.notifications_interacted;
        self.distractions += other.distractions;
        if other.apps.is_empty() {
            return;
        }
        let apps = Arc::make_mut(&mut self.apps);
        for (name, app) in other.apps.iter() {
            let mine = app_entry(apps, name);
            mine.screen_us += app.screen_us;
            mine.uses += app.uses;
            mine.categories.extend(app.categories.iter().cloned());
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        *self == DayAggregate::default()
    }

    pub fn screen_total_us(&self) -> i64 {
        self.screen_us.iter().sum()
    }

    /// Average quality of the day's focus sessions (0 without any).
    pub fn average_focus_quality(&self) -> f64 {
        if self.focus_count == 0 {
            0.0
        } else {
            self.focus_quality_micros as f64 / QUALITY_SCALE / f64::from(self.focus_count)
        }
    }

    fn on(&mut self, app: &str) -> &mut AppDay {
        app_entry(Arc::make_mut(&mut self.apps), app)
    }
}

/// `name`'s entry in a day's apps, added if absent.
fn app_entry<'a>(apps: &'a mut AppDays, name: &str) -> &'a mut AppDay {
    if !apps.contains_key(name) {
        apps.insert(name.to_owned(), AppDay::default());
    }
    apps.get_mut(name).expect("inserted above")
}

/// Minutes per app of a day's `apps`, for apps with minutes on it.
pub fn minutes_by_app(apps: &AppDays) -> BTreeMap<String, f64> {
    apps.iter()
        .filter(|(_, app)| app.screen_us > 0)
        .map(|(name, app)| (name.clone(), minutes(app.screen_us)))
        .collect()
}

/// Microseconds as fractional minutes.
pub fn minutes(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_MINUTE as f64
}

/// The aggregates of several local days, by date.
pub type Days = BTreeMap<NaiveDate, DayAggregate>;

/// What a record adds to the local days it touches.
pub trait Contributes {
    /// Adds the record to `days`, creating the days it touches.
    fn contribute(&self, timezone: Tz, days: &mut Days);
}

/// The aggregates of every local day `events` touch.
pub fn aggregate(timezone: Tz, events: &DayEvents) -> Days {
    let mut days = Days::new();
    let DayEvents {
        screen_time,
        sessions,
        focus_sessions,
        breaks,
        notifications,
        distractions,
    } = events;
    let records = screen_time
        .iter()
        .map(|record| record as &dyn Contributes)
        .chain(sessions.iter().map(|record| record as &dyn Contributes))
        .chain(
            focus_sessions
                .iter()
                .map(|record| record as &dyn Contributes),
        )
        .chain(breaks.iter().map(|record| record as &dyn Contributes))
        .chain(
            notifications
                .iter()
                .map(|record| record as &dyn Contributes),
        )
        .chain(distractions.iter().map(|record| record as &dyn Contributes));
    for record in records {
        record.contribute(timezone, &mut days);
    }
    days
}

/// The aggregate of one local day from records that may touch other days too.
pub fn aggregate_day(date: NaiveDate, timezone: Tz, events: &DayEvents) -> DayAggregate {
    aggregate(timezone, events)
        .remove(&date)
        .unwrap_or_default()
}

impl Contributes for ScreenTime {
    fn contribute(&self, timezone: Tz, days: &mut Days) {
        let start = micros_of(self.start);
        let end = start.saturating_add(duration_micros(self.duration_minutes));
        for slice in split_micros(start, end, timezone) {
            let day = days.entry(slice.date).or_default();
            day.screen_us[slice.hour as usize] += slice.micros;
            let app = day.on(&self.app_name);
            app.screen_us += slice.micros;
            app.categories.insert(self.category.clone());
        }
        let app = days
            .entry(local_date(self.start, timezone))
            .or_default()
            .on(&self.app_name);
        app.uses += 1;
        app.categories.insert(self.category.clone());
    }
}

impl Contributes for Session {
    fn contribute(&self, timezone: Tz, days: &mut Days) {
        days.entry(local_date(self.start, timezone))
            .or_default()
            .sessions += 1;
    }
}

impl Contributes for FocusSession {
    fn contribute(&self, timezone: Tz, days: &mut Days) {
        for slice in split_micros(micros_of(self.start), micros_of(self.end), timezone) {
            days.entry(slice.date).or_default().focus_us += slice.micros;
        }
        let day = days.entry(local_date(self.start, timezone)).or_default();
        day.focus_count += 1;
        day.focus_quality_micros += quality_micros(self.quality_score);
    }
}

impl Contributes for Break {
    fn contribute(&self, timezone: Tz, days: &mut Days) {
        let start = micros_of(self.start);
        let end = start.saturating_add(duration_micros(self.duration_minutes));
        for slice in split_micros(start, end, timezone) {
            days.entry(slice.date).or_default().break_us += slice.micros;
        }
        days.entry(local_date(self.start, timezone))
            .or_default()
            .break_count += 1;
    }
}

impl Contributes for Notification {
    fn contribute(&self, timezone: Tz, days: &mut Days) {
        let day = days.entry(local_date(self.at, timezone)).or_default();
        day.notifications_received += 1;
        day.notifications_interacted += u32::from(self.was_interacted);
    }
}

impl Contributes for Distraction {
    fn contribute(&self, timezone: Tz, days: &mut Days) {
        days.entry(local_date(self.at, timezone))
            .or_default()
            .distractions += 1;
    }
}

/// An instant in whole microseconds since the epoch (what PostgreSQL stores).
pub fn micros_of(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_micros()
}

/// A duration in fractional minutes as whole microseconds; absurd values give 0 (validation
/// refuses them, but an aggregate must never overflow on a stored row).
fn duration_micros(minutes: f64) -> i64 {
    let micros = (minutes * MICROS_PER_MINUTE as f64).round();
    if micros.is_finite() && micros > 0.0 && micros < 1.0e15 {
        micros as i64
    } else {
        0
    }
}

fn quality_micros(quality: f64) -> i64 {
    let scaled = (quality * QUALITY_SCALE).round();
    if scaled.is_finite() {
        scaled.clamp(-1.0e15, 1.0e15) as i64
    } else {
        0
    }
}

/// The part of an interval in one wall-clock hour of one local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MicroSlice {
    date: NaiveDate,
    hour: u32,
    micros: i64,
}

/// Cuts `[start, end)` (microseconds since the epoch) at every local hour boundary, as
/// [`crate::time::split_by_local_hour`] does, in whole microseconds.
fn split_micros(start: i64, end: i64, timezone: Tz) -> Vec<MicroSlice> {
    let mut slices: Vec<MicroSlice> = Vec::new();
    let mut cursor = start;
    while cursor < end {
        let Some(instant) = DateTime::from_timestamp_micros(cursor) else {
            break;
        };
        let local = instant.with_timezone(&timezone);
        // Offsets change only at hour boundaries of wall time, so the rest of this wall hour
        // lasts exactly as long as the wall clock says.
        let into_hour = i64::from(local.minute() * 60 + local.second()) * 1_000_000
            + i64::from(local.nanosecond() / 1_000);
        let boundary = cursor + Duration::hours(1).num_microseconds().unwrap_or(0) - into_hour;
        let piece_end = boundary.min(end);
        let (date, hour) = (local.date_naive(), local.hour());
        match slices.last_mut() {
            Some(last) if last.date == date && last.hour == hour => {
                last.micros += piece_end - cursor
            }
            _ => slices.push(MicroSlice {
                date,
                hour,
                micros: piece_end - cursor,
            }),
        }
        cursor = piece_end;
    }
    slices
}

#[cfg(test)]
mod tests;
