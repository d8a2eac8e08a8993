//! Peak hours of one day (`/analytics/insights/peak-hours`), read from the hourly screen-time
//! breakdown of its daily summary.
//!
//! ```text
//!  hour   00 ... 05 │06 ......... 11│12 ........ 17│18 ........ 23│
//!                   │    morning    │  afternoon   │   evening    │
//!                   └── low-activity hours are looked for in 06-21 ──┘ (06:00-22:00)
//! ```
//!
//! - `peak_hours`: the 3 hours with most minutes (only hours with minutes > 0), most first,
//!   equal minutes by earlier hour.
//! - `low_activity_hours`: the hours from 06 to 21 (06:00-22:00, when people are usually awake)
//!   with less than one minute of screen time.
//! - `best_period`: the period with most minutes, equal minutes by earlier period; `null` (with
//!   `best_period_minutes` 0) when no screen time falls between 06:00 and 24:00.

use serde::{Deserialize, Serialize};

use super::format_minutes;
use crate::numbers::round2;
use crate::summary::{DailySummary, hour_label};

const PEAK_HOURS: usize = 3;
const AWAKE_HOURS: std::ops::Range<u32> = 6..22;
const LOW_ACTIVITY_BELOW_MINUTES: f64 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DayPeriod {
    Morning,
    Afternoon,
    Evening,
}

impl DayPeriod {
    const ALL: [DayPeriod; 3] = [DayPeriod::Morning, DayPeriod::Afternoon, DayPeriod::Evening];

    /// The wall-clock hours of the period: 06-12, 12-18, 18-24.
    pub fn hours(self) -> std::ops::Range<u32> {
        match self {
            DayPeriod::Morning => 6..12,
            DayPeriod::Afternoon => 12..18,
            DayPeriod::Evening => 18..24,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DayPeriod::Morning => "morning",
            DayPeriod::Afternoon => "afternoon",
            DayPeriod::Evening => "evening",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeakHour {
    #[cfg_attr(feature = "openapi", schema(maximum = 23))]
    pub hour: u32,
    /// `"HH:00"`.
    pub time: String,
    pub minutes: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QuietHour {
    #[cfg_attr(feature = "openapi", schema(maximum = 23))]
    pub hour: u32,
    pub time: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeakHours {
    /// The day's top 3 hours by screen-time minutes.
    #[cfg_attr(feature = "openapi", schema(max_items = 3))]
    pub peak_hours: Vec<PeakHour>,
    pub low_activity_hours: Vec<QuietHour>,
    pub best_period: Option<DayPeriod>,
    pub best_period_minutes: f64,
    pub recommendation: String,
}

/// The peak hours of the day summarised by `summary`.
pub fn peak_hours(summary: &DailySummary) -> PeakHours {
    let mut minutes = [0.0_f64; 24];
    for slot in &summary.hourly_breakdown {
        if let Some(total) = minutes.get_mut(slot.hour as usize) {
            *total += slot.minutes.max(0.0);
        }
    }

    let mut ranked: Vec<u32> = (0..24)
        .filter(|hour| minutes[*hour as usize] > 0.0)
        .collect();
    // Stable sort over hours in ascending order: equal minutes keep the earlier hour first.
    ranked.sort_by(|a, b| minutes[*b as usize].total_cmp(&minutes[*a as usize]));
    let peaks: Vec<PeakHour> = ranked
        .into_iter()
        .take(PEAK_HOURS)
        .map(|hour| PeakHour {
            hour,
            time: hour_label(hour).into_owned(),
            minutes: round2(minutes[hour as usize]),
        })
        .collect();

    let low_activity_hours = AWAKE_HOURS
        .filter(|hour| minutes[*hour as usize] < LOW_ACTIVITY_BELOW_MINUTES)
        .map(|hour| QuietHour {
            hour,
            time: hour_label(hour).into_owned(),
        })
        .collect();

    let period_minutes =
        |period: DayPeriod| -> f64 { period.hours().map(|hour| minutes[hour as usize]).sum() };
    let best = DayPeriod::ALL
        .into_iter()
        .map(|period| (period, period_minutes(period)))
        .filter(|(_, total)| *total > 0.0)
        .reduce(|kept, next| if next.1 > kept.1 { next } else { kept });

    let recommendation = match (peaks.first(), best) {
        (None, _) => "No screen time was recorded on this day.".to_owned(),
        (Some(peak), None) => format!(
            "Your screen time was all late at night, peaking at {}; try to put the phone away by 23:00.",
            peak.time
        ),
        (Some(peak), Some((period, total))) => format!(
            "Your screen time is highest in the {} ({}) and peaks at {}; plan a screen-free break around then.",
            period.as_str(),
            format_minutes(total),
            peak.time
        ),
    };

    PeakHours {
        peak_hours: peaks,
        low_activity_hours,
        best_period: best.map(|(period, _)| period),
        best_period_minutes: best.map_or(0.0, |(_, total)| round2(total)),
        recommendation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(minutes_by_hour: &[(u32, f64)]) -> DailySummary {
        let mut summary = DailySummary::empty("2026-03-01".parse().unwrap());
        for (hour, minutes) in minutes_by_hour {
            summary.hourly_breakdown[*hour as usize].minutes = *minutes;
        }
        summary
    }

    fn hours_of(found: &PeakHours) -> Vec<(u32, f64)> {
        found
            .peak_hours
            .iter()
            .map(|peak| (peak.hour, peak.minutes))
            .collect()
    }

    #[test]
    fn the_top_three_hours_with_ties_by_earlier_hour() {
        // 21:00 has 50, 09:00 and 14:00 tie at 30 (09 first), 16:00 with 30 is fourth.
        let found = peak_hours(&day(&[
            (14, 30.0),
            (21, 50.0),
            (9, 30.0),
            (16, 30.0),
            (7, 0.5),
        ]));
        assert_eq!(hours_of(&found), vec![(21, 50.0), (9, 30.0), (14, 30.0)]);
        assert_eq!(found.peak_hours[0].time, "21:00");
        // morning 30.5, afternoon 60, evening 50: afternoon.
        assert_eq!(found.best_period, Some(DayPeriod::Afternoon));
        assert_eq!(found.best_period_minutes, 60.0);
        // 06..=21 under one minute: all but 09, 14, 16 and 21 (07 has only half a minute).
        let quiet: Vec<u32> = found
            .low_activity_hours
            .iter()
            .map(|quiet| quiet.hour)
            .collect();
        assert_eq!(quiet, vec![6, 7, 8, 10, 11, 12, 13, 15, 17, 18, 19, 20]);
        assert_eq!(
            found.recommendation,
            "Your screen time is highest in the afternoon (1 h) and peaks at 21:00; plan a screen-free break around then."
        );
    }

    #[test]
    fn equal_periods_go_to_the_earlier_one() {
        let found = peak_hours(&day(&[(8, 40.0), (19, 40.0)]));
        assert_eq!(found.best_period, Some(DayPeriod::Morning));
        assert_eq!(hours_of(&found), vec![(8, 40.0), (19, 40.0)]);
    }

    #[test]
    fn an_empty_day_has_no_peaks_and_no_best_period() {
        let found = peak_hours(&day(&[]));
        assert!(found.peak_hours.is_empty());
        assert_eq!(found.low_activity_hours.len(), 16);
        assert_eq!(found.best_period, None);
        assert_eq!(found.best_period_minutes, 0.0);
        let json = serde_json::to_value(&found).unwrap();
        assert!(json["best_period"].is_null());
        assert_eq!(
            found.recommendation,
            "No screen time was recorded on this day."
        );
    }

    #[test]
    fn night_only_use_has_peaks_but_no_best_period() {
        let found = peak_hours(&day(&[(2, 25.0)]));
        assert_eq!(hours_of(&found), vec![(2, 25.0)]);
        assert_eq!(found.best_period, None);
        assert!(found.recommendation.contains("late at night"));
    }
}
