//! The weekly summary (`/analytics/summary/weekly`): the seven local days ending with `end_date`,
//! oldest first, with averages, the best and worst day and trends.
//!
//! Averages always divide by 7: an empty day, or today still in progress, counts as a day, so a
//! week with one active day shows a seventh of it rather than pretending every day was that one.

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::aggregate::aggregate;
use crate::numbers::{round1, round2};
use crate::records::DayEvents;
use crate::scores::{Trend, trend};
use crate::summary::DailySummary;

/// Days in a week view.
pub const WEEK_DAYS: u64 = 7;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeeklyAverages {
    pub screen_time_minutes: f64,
    pub focus_time_minutes: f64,
    pub productivity_score: f64,
    pub distractions_per_day: f64,
    pub notifications_per_day: f64,
}

/// The best or worst day of a week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayHighlight {
    pub date: NaiveDate,
    pub productivity_score: f64,
    /// Focus minutes of that day.
    pub focus_time: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeeklyTrends {
    pub productivity: Trend,
    pub focus_time: Trend,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeeklySummary {
    pub period: Period,
    /// Exactly 7, oldest first.
    #[cfg_attr(feature = "openapi", schema(min_items = 7, max_items = 7))]
    pub daily_summaries: Vec<DailySummary>,
    pub weekly_averages: WeeklyAverages,
    pub best_day: DayHighlight,
    pub worst_day: DayHighlight,
    pub trends: WeeklyTrends,
}

/// The 7 local dates ending with `end_date`, oldest first.
pub fn week_dates(end_date: NaiveDate) -> Vec<NaiveDate> {
    (0..WEEK_DAYS)
        .rev()
        .map(|back| {
            end_date
                .checked_sub_days(Days::new(back))
                .unwrap_or(NaiveDate::MIN)
        })
        .collect()
}

/// The weekly summary from already computed daily summaries. Days of the week missing from
/// `days` are filled with empty summaries; days outside the week are ignored.
pub fn weekly_summary(end_date: NaiveDate, days: Vec<DailySummary>) -> WeeklySummary {
    let daily_summaries: Vec<DailySummary> = week_dates(end_date)
        .into_iter()
        .map(|date| {
            days.iter()
                .find(|day| day.date == date)
                .cloned()
                .unwrap_or_else(|| DailySummary::empty(date))
        })
        .collect();
    summarise_week(daily_summaries)
}

/// The weekly summary straight from the records touching the week.
pub fn weekly_summary_from_events(
    end_date: NaiveDate,
    timezone: Tz,
    events: &DayEvents,
) -> WeeklySummary {
    let days = aggregate(timezone, events);
    let daily_summaries = week_dates(end_date)
        .into_iter()
        .map(|date| days.get(&date).cloned().unwrap_or_default().summary(date))
        .collect();
    summarise_week(daily_summaries)
}

/// `days` holds exactly the 7 days of the week, oldest first.
fn summarise_week(days: Vec<DailySummary>) -> WeeklySummary {
    let per_day = |value: fn(&DailySummary) -> f64| -> f64 {
        days.iter().map(value).sum::<f64>() / WEEK_DAYS as f64
    };
    let weekly_averages = WeeklyAverages {
        screen_time_minutes: round2(per_day(|day| day.total_screen_time_minutes)),
        focus_time_minutes: round2(per_day(|day| day.total_focus_time_minutes)),
        productivity_score: round1(per_day(|day| day.productivity_score)),
        distractions_per_day: round2(per_day(|day| f64::from(day.distractions_count))),
        notifications_per_day: round2(per_day(|day| f64::from(day.notifications_received))),
    };
    let productivity: Vec<f64> = days.iter().map(|day| day.productivity_score).collect();
    let focus: Vec<f64> = days
        .iter()
        .map(|day| day.total_focus_time_minutes)
        .collect();
    WeeklySummary {
        period: Period {
            start: days.first().map_or(NaiveDate::MIN, |day| day.date),
            end: days.last().map_or(NaiveDate::MIN, |day| day.date),
        },
        best_day: highlight(&days, |a, b| a > b),
        worst_day: highlight(&days, |a, b| a < b),
        trends: WeeklyTrends {
            productivity: trend(&productivity),
            focus_time: trend(&focus),
        },
        weekly_averages,
        daily_summaries: days,
    }
}

/// The day whose productivity wins under `beats` (strictly); on a tie the earlier day stays.
fn highlight(days: &[DailySummary], beats: fn(f64, f64) -> bool) -> DayHighlight {
    let chosen = days.iter().reduce(|kept, day| {
        if beats(day.productivity_score, kept.productivity_score) {
            day
        } else {
            kept
        }
    });
    match chosen {
        Some(day) => DayHighlight {
            date: day.date,
            productivity_score: day.productivity_score,
            focus_time: day.total_focus_time_minutes,
        },
        None => DayHighlight {
            date: NaiveDate::MIN,
            productivity_score: 0.0,
            focus_time: 0.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn day(text: &str, focus: f64, productivity: f64, screen: f64) -> DailySummary {
        DailySummary {
            total_focus_time_minutes: focus,
            productivity_score: productivity,
            total_screen_time_minutes: screen,
            distractions_count: 7,
            notifications_received: 14,
            ..DailySummary::empty(date(text))
        }
    }

    #[test]
    fn averages_divide_by_seven_including_empty_days() {
        // Two active days; the five others are filled in as empty (productivity 20).
        let days = vec![
            day("2026-03-03", 140.0, 50.0, 300.0),
            day("2026-03-07", 70.0, 41.0, 120.0),
        ];
        let week = weekly_summary(date("2026-03-07"), days);
        assert_eq!(
            week.period,
            Period {
                start: date("2026-03-01"),
                end: date("2026-03-07")
            }
        );
        assert_eq!(week.daily_summaries.len(), 7);
        assert_eq!(week.daily_summaries[0].date, date("2026-03-01"));
        assert_eq!(week.daily_summaries[6].date, date("2026-03-07"));
        let averages = &week.weekly_averages;
        // screen (300 + 120) / 7 = 60; focus (140 + 70) / 7 = 30
        assert_eq!(averages.screen_time_minutes, 60.0);
        assert_eq!(averages.focus_time_minutes, 30.0);
        // productivity (50 + 41 + 5·20) / 7 = 191 / 7 = 27.29 -> 27.3
        assert_eq!(averages.productivity_score, 27.3);
        // 7 distractions and 14 notifications on each of two days: 14/7 = 2, 28/7 = 4
        assert_eq!(averages.distractions_per_day, 2.0);
        assert_eq!(averages.notifications_per_day, 4.0);
        assert_eq!(
            week.best_day,
            DayHighlight {
                date: date("2026-03-03"),
                productivity_score: 50.0,
                focus_time: 140.0
            }
        );
        // Five empty days tie at 20: the earliest, the 1st, is the worst.
        assert_eq!(week.worst_day.date, date("2026-03-01"));
        assert_eq!(week.worst_day.productivity_score, 20.0);
    }

    #[test]
    fn trends_read_the_seven_days_in_order() {
        // Productivity 20, 25, ..., 50: slope 5, improving. Focus 60 every day: stable.
        let days: Vec<DailySummary> = (1..=7)
            .map(|n| {
                day(
                    &format!("2026-03-0{n}"),
                    60.0,
                    15.0 + 5.0 * f64::from(n),
                    0.0,
                )
            })
            .collect();
        let week = weekly_summary(date("2026-03-07"), days);
        assert_eq!(week.trends.productivity, Trend::Improving);
        assert_eq!(week.trends.focus_time, Trend::Stable);
        assert_eq!(week.best_day.date, date("2026-03-07"));
        assert_eq!(week.worst_day.date, date("2026-03-01"));
        let json = serde_json::to_value(&week).unwrap();
        assert_eq!(json["trends"]["productivity"], "improving");
        assert_eq!(json["period"]["start"], "2026-03-01");
    }

    #[test]
    fn days_outside_the_week_are_ignored() {
        let days = vec![day("2026-02-28", 500.0, 90.0, 0.0)];
        let week = weekly_summary(date("2026-03-07"), days);
        assert_eq!(week.weekly_averages.focus_time_minutes, 0.0);
        assert_eq!(week.weekly_averages.productivity_score, 20.0);
    }

    #[test]
    fn from_events_splits_records_over_the_days() {
        use crate::records::ScreenTime;
        // 23:00Z on the 6th for 120 min: 60 on the 6th, 60 on the 7th. Average 120/7 = 17.14.
        let events = DayEvents {
            screen_time: vec![ScreenTime {
                app_name: "Video".into(),
                category: "entertainment".into(),
                start: "2026-03-06T23:00:00Z".parse().unwrap(),
                duration_minutes: 120.0,
            }],
            ..DayEvents::default()
        };
        let week = weekly_summary_from_events(date("2026-03-07"), Tz::UTC, &events);
        assert_eq!(week.daily_summaries[5].total_screen_time_minutes, 60.0);
        assert_eq!(week.daily_summaries[6].total_screen_time_minutes, 60.0);
        assert_eq!(week.weekly_averages.screen_time_minutes, 17.14);
    }
}
