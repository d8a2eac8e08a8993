//! Recurring patterns over a span of days (`/analytics/insights/patterns`).
//!
//! - focus consistency: the coefficient of variation (population standard deviation / mean) of
//!   the daily focus minutes. CV ≤ 0.3 is `consistent_focus` (strength 1 − CV), CV ≥ 0.6 is
//!   `inconsistent_focus` (strength min(CV, 1)); in between, or with fewer than 3 days or no
//!   focus at all, nothing is said.
//! - `weekend_difference`: average weekend (Saturday, Sunday) screen time differs from the
//!   weekday average by more than 25 % of the weekday average; strength min(|difference|, 1).
//! - `high_engagement`: average screen time above 6 h a day; strength min(average / 12 h, 1).

use chrono::{Datelike, Weekday};
use serde::{Deserialize, Serialize};

use super::{BENCHMARK_SCREEN_MINUTES, format_minutes};
use crate::numbers::round2;
use crate::summary::DailySummary;

const MIN_DAYS_FOR_CONSISTENCY: usize = 3;
const CONSISTENT_MAX_CV: f64 = 0.3;
const INCONSISTENT_MIN_CV: f64 = 0.6;
const WEEKEND_DIFFERENCE_MIN: f64 = 0.25;
const FULL_ENGAGEMENT_MINUTES: f64 = 720.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    ConsistentFocus,
    InconsistentFocus,
    WeekendDifference,
    HighEngagement,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pattern {
    #[serde(rename = "type")]
    pub kind: PatternKind,
    /// 0..=1, two decimals.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1))]
    pub strength: f64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Patterns {
    pub patterns: Vec<Pattern>,
    pub pattern_count: u32,
    pub analysis_period_days: u32,
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The patterns of `days` (every day of the analysed period, empty days included).
pub fn patterns(days: &[DailySummary]) -> Patterns {
    let mut found = Vec::new();
    found.extend(focus_consistency(days));
    found.extend(weekend_difference(days));
    found.extend(high_engagement(days));
    Patterns {
        pattern_count: u32::try_from(found.len()).unwrap_or(u32::MAX),
        analysis_period_days: u32::try_from(days.len()).unwrap_or(u32::MAX),
        patterns: found,
    }
}

fn focus_consistency(days: &[DailySummary]) -> Option<Pattern> {
    let focus: Vec<f64> = days
        .iter()
        .map(|day| day.total_focus_time_minutes)
        .collect();
    let average = mean(&focus);
    if days.len() < MIN_DAYS_FOR_CONSISTENCY || average <= 0.0 {
        return None;
    }
    let variance = mean(
        &focus
            .iter()
            .map(|value| (value - average).powi(2))
            .collect::<Vec<_>>(),
    );
    let cv = variance.sqrt() / average;
    if cv <= CONSISTENT_MAX_CV {
        Some(Pattern {
            kind: PatternKind::ConsistentFocus,
            strength: round2(1.0 - cv),
            message: format!(
                "Your focus time is steady from day to day, about {} a day.",
                format_minutes(average)
            ),
        })
    } else if cv >= INCONSISTENT_MIN_CV {
        let low = focus.iter().copied().fold(f64::INFINITY, f64::min);
        let high = focus.iter().copied().fold(0.0, f64::max);
        Some(Pattern {
            kind: PatternKind::InconsistentFocus,
            strength: round2(cv.min(1.0)),
            message: format!(
                "Your focus time varies a lot, from {} to {} a day.",
                format_minutes(low),
                format_minutes(high)
            ),
        })
    } else {
        None
    }
}

fn weekend_difference(days: &[DailySummary]) -> Option<Pattern> {
    let is_weekend =
        |day: &&DailySummary| matches!(day.date.weekday(), Weekday::Sat | Weekday::Sun);
    let screen = |day: &DailySummary| day.total_screen_time_minutes;
    let weekend: Vec<f64> = days.iter().filter(is_weekend).map(screen).collect();
    let weekdays: Vec<f64> = days
        .iter()
        .filter(|day| !is_weekend(day))
        .map(screen)
        .collect();
    if weekend.is_empty() || weekdays.is_empty() {
        return None;
    }
    let (weekend, weekdays) = (mean(&weekend), mean(&weekdays));
    if weekdays <= 0.0 {
        return (weekend > 0.0).then(|| Pattern {
            kind: PatternKind::WeekendDifference,
            strength: 1.0,
            message: "You use screens on weekends only.".to_owned(),
        });
    }
    let difference = (weekend - weekdays) / weekdays;
    if difference.abs() <= WEEKEND_DIFFERENCE_MIN {
        return None;
    }
    let percent = (difference.abs() * 100.0).round();
    let direction = if difference > 0.0 { "more" } else { "less" };
    Some(Pattern {
        kind: PatternKind::WeekendDifference,
        strength: round2(difference.abs().min(1.0)),
        message: format!(
            "You spend {percent}% {direction} screen time on weekends than on weekdays."
        ),
    })
}

fn high_engagement(days: &[DailySummary]) -> Option<Pattern> {
    let average = mean(
        &days
            .iter()
            .map(|day| day.total_screen_time_minutes)
            .collect::<Vec<_>>(),
    );
    (average > BENCHMARK_SCREEN_MINUTES).then(|| Pattern {
        kind: PatternKind::HighEngagement,
        strength: round2((average / FULL_ENGAGEMENT_MINUTES).min(1.0)),
        message: format!(
            "You average {} of screen time a day, above 6 hours.",
            format_minutes(average)
        ),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Days, NaiveDate};

    use super::*;

    /// Days from Monday 2026-03-02 with the given (focus, screen) minutes.
    fn days(values: &[(f64, f64)]) -> Vec<DailySummary> {
        let monday: NaiveDate = "2026-03-02".parse().unwrap();
        values
            .iter()
            .enumerate()
            .map(|(index, (focus, screen))| DailySummary {
                total_focus_time_minutes: *focus,
                total_screen_time_minutes: *screen,
                ..DailySummary::empty(monday + Days::new(index as u64))
            })
            .collect()
    }

    fn kinds(found: &Patterns) -> Vec<(PatternKind, f64)> {
        found
            .patterns
            .iter()
            .map(|pattern| (pattern.kind, pattern.strength))
            .collect()
    }

    #[test]
    fn steady_focus_is_consistent() {
        // Focus 90, 110, 100, 100: mean 100, deviations −10, 10, 0, 0 -> variance 50,
        // sd 7.07, CV 0.0707 ≤ 0.3 -> consistent, strength 1 − 0.07 = 0.93.
        let found = patterns(&days(&[
            (90.0, 0.0),
            (110.0, 0.0),
            (100.0, 0.0),
            (100.0, 0.0),
        ]));
        assert_eq!(kinds(&found), vec![(PatternKind::ConsistentFocus, 0.93)]);
        assert_eq!(found.pattern_count, 1);
        assert_eq!(found.analysis_period_days, 4);
        assert_eq!(
            found.patterns[0].message,
            "Your focus time is steady from day to day, about 1 h 40 min a day."
        );
    }

    #[test]
    fn erratic_focus_is_inconsistent() {
        // Focus 0, 0, 240: mean 80, variance (6400 + 6400 + 25600)/3 = 12800, sd 113.1,
        // CV 1.41 ≥ 0.6 -> inconsistent, strength capped at 1.
        let found = patterns(&days(&[(0.0, 0.0), (0.0, 0.0), (240.0, 0.0)]));
        assert_eq!(kinds(&found), vec![(PatternKind::InconsistentFocus, 1.0)]);
        assert_eq!(
            found.patterns[0].message,
            "Your focus time varies a lot, from 0 min to 4 h a day."
        );
        // Between the thresholds (60, 140: CV 0.4) nothing is said; two days are too few anyway.
        assert!(
            patterns(&days(&[
                (60.0, 0.0),
                (140.0, 0.0),
                (60.0, 0.0),
                (140.0, 0.0)
            ]))
            .patterns
            .is_empty()
        );
        assert!(
            patterns(&days(&[(10.0, 0.0), (10.0, 0.0)]))
                .patterns
                .is_empty()
        );
    }

    #[test]
    fn weekends_differing_by_more_than_a_quarter_are_a_pattern() {
        // Mon-Fri 200 screen minutes, Sat-Sun 300: (300 − 200)/200 = 50 % more.
        let week: Vec<(f64, f64)> = [200.0, 200.0, 200.0, 200.0, 200.0, 300.0, 300.0]
            .iter()
            .map(|screen| (0.0, *screen))
            .collect();
        let found = patterns(&days(&week));
        assert_eq!(kinds(&found), vec![(PatternKind::WeekendDifference, 0.5)]);
        assert_eq!(
            found.patterns[0].message,
            "You spend 50% more screen time on weekends than on weekdays."
        );
        // 240 on weekends is only 20 % more: no pattern.
        let close: Vec<(f64, f64)> = [200.0, 200.0, 200.0, 200.0, 200.0, 240.0, 240.0]
            .iter()
            .map(|screen| (0.0, *screen))
            .collect();
        assert!(patterns(&days(&close)).patterns.is_empty());
    }

    #[test]
    fn more_than_six_hours_a_day_is_high_engagement() {
        // 480 minutes every day: no weekend difference; 480/720 = 0.67.
        let found = patterns(&days(&[(0.0, 480.0); 7]));
        assert_eq!(kinds(&found), vec![(PatternKind::HighEngagement, 0.67)]);
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(json["patterns"][0]["type"], "high_engagement");
    }
}
