//! Apps usage over a range of local days (`/analytics/apps/usage`): minutes per app inside the
//! period, how many uses began in it, their categories and each app's share of the total.
//!
//! A record is clipped to the period: one that began the evening before the first day gives only
//! its minutes after local midnight, and is not counted as a session of the period.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::aggregate::{DayApps, aggregate, minutes};
use crate::numbers::{round1, round2};
use crate::records::{DayEvents, ScreenTime};

/// How many apps the view lists.
pub const TOP_APPS_USAGE: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppUsage {
    pub app_name: String,
    pub total_time_minutes: f64,
    /// Records of this app that began inside the period.
    pub sessions: u32,
    /// `total_time_minutes / max(sessions, 1)`.
    pub avg_session_minutes: f64,
    /// Distinct categories of this app's records in the period, sorted.
    pub categories: Vec<String>,
    /// Share of all apps' minutes, 0..=100, one decimal.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub percentage: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppsUsage {
    pub period_days: u32,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// All apps used in the period, also those beyond the top 20.
    pub total_apps: u32,
    /// All apps' minutes, also those beyond the top 20.
    pub total_time_minutes: f64,
    /// The top 20 by minutes; equal minutes in name order.
    #[cfg_attr(feature = "openapi", schema(max_items = 20))]
    pub apps: Vec<AppUsage>,
}

/// One app's sums over the period; its categories borrowed from the days (owned copies are
/// made only for the apps listed: copying each app's categories of each day was a quarter of
/// composing a dashboard, docs/PERFORMANCE.md).
#[derive(Default)]
struct Tally<'a> {
    minutes: f64,
    sessions: u32,
    categories: BTreeSet<&'a str>,
}

/// Apps usage of the local days `start_date..=end_date`, from raw screen-time records.
pub fn apps_usage(
    start_date: NaiveDate,
    end_date: NaiveDate,
    timezone: Tz,
    screen_time: &[ScreenTime],
) -> AppsUsage {
    let events = DayEvents {
        screen_time: screen_time.to_vec(),
        ..DayEvents::default()
    };
    let all = aggregate(timezone, &events);
    let days: Vec<DayApps> = start_date
        .iter_days()
        .take_while(|date| *date <= end_date)
        .map(|date| {
            all.get(&date)
                .map(|day| day.apps.clone())
                .unwrap_or_default()
        })
        .collect();
    apps_usage_from_days(start_date, end_date, &days)
}

/// Apps usage from the apps of each day's aggregate, oldest day first. The raw path goes through
/// here too, so both give the same numbers to the last bit.
pub fn apps_usage_from_days(
    start_date: NaiveDate,
    end_date: NaiveDate,
    days: &[DayApps],
) -> AppsUsage {
    let period_days = u32::try_from((end_date - start_date).num_days() + 1).unwrap_or(0);
    let mut by_app: BTreeMap<&str, Tally> = BTreeMap::new();
    for day in days {
        for (name, app) in day.iter() {
            let tally = by_app.entry(name.as_str()).or_default();
            tally.minutes += minutes(app.screen_us);
            tally.sessions += app.uses;
            tally
                .categories
                .extend(app.categories.iter().map(String::as_str));
        }
    }
    by_app.retain(|_, tally| tally.minutes > 0.0);

    let total: f64 = by_app.values().map(|tally| tally.minutes).sum();
    let total_apps = u32::try_from(by_app.len()).unwrap_or(u32::MAX);
    let mut ranked: Vec<(&str, Tally)> = by_app.into_iter().collect();
    ranked.sort_by(|a, b| b.1.minutes.total_cmp(&a.1.minutes));
    let apps = ranked
        .into_iter()
        .take(TOP_APPS_USAGE)
        .map(|(app_name, tally)| AppUsage {
            app_name: app_name.to_owned(),
            total_time_minutes: round2(tally.minutes),
            sessions: tally.sessions,
            avg_session_minutes: round2(tally.minutes / f64::from(tally.sessions.max(1))),
            categories: tally.categories.into_iter().map(str::to_owned).collect(),
            percentage: if total > 0.0 {
                round1(tally.minutes / total * 100.0)
            } else {
                0.0
            },
        })
        .collect();

    AppsUsage {
        period_days,
        start_date,
        end_date,
        total_apps,
        total_time_minutes: round2(total),
        apps,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::time::parse_timezone;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn screen(app: &str, category: &str, start: &str, minutes: f64) -> ScreenTime {
        ScreenTime {
            app_name: app.into(),
            category: category.into(),
            start: utc(start),
            duration_minutes: minutes,
        }
    }

    #[test]
    fn minutes_are_clipped_to_the_local_period() {
        // Kolkata, period 2026-03-02..=2026-03-03 = [2026-03-01T18:30Z, 2026-03-03T18:30Z).
        let kolkata = parse_timezone("Asia/Kolkata").unwrap();
        let records = vec![
            // 23:50-00:20 local across the start: 20 minutes inside, not a session of the period.
            screen("Reader", "books", "2026-03-01T18:20:00Z", 30.0),
            // Two uses inside: 30 + 60 minutes, two categories.
            screen("Chat", "social", "2026-03-02T04:00:00Z", 30.0),
            screen("Chat", "work", "2026-03-03T04:00:00Z", 60.0),
            // Entirely after the period.
            screen("Game", "games", "2026-03-03T19:00:00Z", 45.0),
        ];
        let usage = apps_usage(date("2026-03-02"), date("2026-03-03"), kolkata, &records);
        assert_eq!(usage.period_days, 2);
        assert_eq!(usage.total_apps, 2);
        // 20 + 90 = 110 minutes.
        assert_eq!(usage.total_time_minutes, 110.0);
        let chat = &usage.apps[0];
        assert_eq!(chat.app_name, "Chat");
        assert_eq!(chat.sessions, 2);
        assert_eq!(chat.avg_session_minutes, 45.0);
        assert_eq!(chat.categories, vec!["social", "work"]);
        // 90 / 110 = 81.82 % -> 81.8; 20 / 110 = 18.18 % -> 18.2
        assert_eq!(chat.percentage, 81.8);
        let reader = &usage.apps[1];
        assert_eq!((reader.total_time_minutes, reader.sessions), (20.0, 0));
        // No session began in the period: its minutes count as one partial session.
        assert_eq!(reader.avg_session_minutes, 20.0);
        assert_eq!(reader.percentage, 18.2);
    }

    #[test]
    fn only_the_top_twenty_are_listed_but_totals_cover_all() {
        // 25 apps, app k used k minutes: total 1 + ... + 25 = 325.
        let records: Vec<ScreenTime> = (1..=25)
            .map(|k| {
                screen(
                    &format!("app{k:02}"),
                    "other",
                    "2026-03-01T08:00:00Z",
                    f64::from(k),
                )
            })
            .collect();
        let usage = apps_usage(date("2026-03-01"), date("2026-03-01"), Tz::UTC, &records);
        assert_eq!(usage.total_apps, 25);
        assert_eq!(usage.total_time_minutes, 325.0);
        assert_eq!(usage.apps.len(), 20);
        assert_eq!(usage.apps[0].app_name, "app25");
        assert_eq!(usage.apps[19].app_name, "app06");
    }

    #[test]
    fn an_empty_period_has_no_apps() {
        let usage = apps_usage(date("2026-03-01"), date("2026-03-07"), Tz::UTC, &[]);
        assert_eq!(usage.period_days, 7);
        assert_eq!(usage.total_apps, 0);
        assert_eq!(usage.total_time_minutes, 0.0);
        assert!(usage.apps.is_empty());
    }
}
