//! The wellbeing score of one local day: screen time, breaks, focus quality, day/night balance
//! and notification load, each 0..=100, weighted into one figure.
//!
//! `balance` is ours to define (the contract leaves it open): the share of the day's screen-time
//! minutes that fall outside the late-night window 23:00-06:00 local.
//!
//! ```text
//!  hour  00 01 02 03 04 05 06 ............................ 22 23
//!        └──── late night ───┘└──────────── daytime ───────────┘└┘ late night
//!  balance = 100 · daytime minutes / all minutes   (100 when there is no screen time)
//! ```

use serde::{Deserialize, Serialize};

use crate::numbers::{finite_or_zero, round1};
use crate::summary::{DailySummary, HourlyMinutes};

/// Components below this get a recommendation.
const RECOMMEND_BELOW: f64 = 60.0;

/// Whether a local wall-clock hour is in the late-night window 23:00-06:00.
pub fn is_late_night(hour: u32) -> bool {
    !(6..23).contains(&hour)
}

/// Share (0..=100) of the screen-time minutes of an hourly breakdown that fall outside the
/// late-night window. A day without screen time is perfectly balanced (100).
pub fn balance_from_hourly(hourly: &[HourlyMinutes]) -> f64 {
    let total: f64 = hourly.iter().map(|slot| slot.minutes.max(0.0)).sum();
    if total <= 0.0 {
        return 100.0;
    }
    let late: f64 = hourly
        .iter()
        .filter(|slot| is_late_night(slot.hour))
        .map(|slot| slot.minutes.max(0.0))
        .sum();
    (100.0 * (total - late) / total).clamp(0.0, 100.0)
}

/// What the wellbeing score is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WellbeingInputs {
    pub screen_time_minutes: f64,
    pub breaks: u32,
    pub avg_focus_quality: f64,
    /// 0..=100, see [`balance_from_hourly`].
    pub balance: f64,
    pub notifications: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WellbeingLevel {
    Excellent,
    Good,
    Fair,
    NeedsAttention,
}

impl WellbeingLevel {
    /// ≥80 excellent, ≥60 good, ≥40 fair, else needs_attention.
    pub fn from_score(score: f64) -> Self {
        if score >= 80.0 {
            WellbeingLevel::Excellent
        } else if score >= 60.0 {
            WellbeingLevel::Good
        } else if score >= 40.0 {
            WellbeingLevel::Fair
        } else {
            WellbeingLevel::NeedsAttention
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WellbeingComponents {
    pub screen_time: f64,
    pub breaks: f64,
    pub focus_quality: f64,
    pub balance: f64,
    pub notifications: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WellbeingScore {
    pub score: f64,
    pub level: WellbeingLevel,
    pub components: WellbeingComponents,
    pub recommendations: Vec<String>,
}

/// ```text
/// 0.25·max(0, 100 − screen_hours/12·100) + 0.20·min(15·breaks, 100) + 0.20·avg_focus_quality
///   + 0.20·balance + 0.15·max(0, 100 − notifications)
/// ```
/// Components and score are rounded to one decimal; the level is read from the rounded score,
/// so the level always agrees with the number shown.
pub fn wellbeing_score(inputs: &WellbeingInputs) -> WellbeingScore {
    let screen_hours = finite_or_zero(inputs.screen_time_minutes).max(0.0) / 60.0;
    let screen_time = (100.0 - screen_hours / 12.0 * 100.0).max(0.0);
    let breaks = (15.0 * f64::from(inputs.breaks)).min(100.0);
    let focus_quality = finite_or_zero(inputs.avg_focus_quality).clamp(0.0, 100.0);
    let balance = finite_or_zero(inputs.balance).clamp(0.0, 100.0);
    let notifications = (100.0 - f64::from(inputs.notifications)).max(0.0);

    let score = round1(
        0.25 * screen_time
            + 0.20 * breaks
            + 0.20 * focus_quality
            + 0.20 * balance
            + 0.15 * notifications,
    );
    let components = WellbeingComponents {
        screen_time: round1(screen_time),
        breaks: round1(breaks),
        focus_quality: round1(focus_quality),
        balance: round1(balance),
        notifications: round1(notifications),
    };
    let recommendations = recommendations(&components);
    WellbeingScore {
        score,
        level: WellbeingLevel::from_score(score),
        components,
        recommendations,
    }
}

/// The wellbeing score of a daily summary: its screen time, break count, focus quality,
/// notifications received and the balance of its hourly breakdown.
pub fn wellbeing_from_summary(summary: &DailySummary) -> WellbeingScore {
    wellbeing_score(&WellbeingInputs {
        screen_time_minutes: summary.total_screen_time_minutes,
        breaks: summary.breaks_count,
        avg_focus_quality: summary.average_focus_quality,
        balance: balance_from_hourly(&summary.hourly_breakdown),
        notifications: summary.notifications_received,
    })
}

/// One line per component under 60, weakest first (ties in the order of the formula); a single
/// encouragement when none is.
fn recommendations(components: &WellbeingComponents) -> Vec<String> {
    let focus_advice = if components.focus_quality == 0.0 {
        "Schedule a focus session"
    } else {
        "Protect your focus sessions from interruptions"
    };
    let mut weak: Vec<(f64, &str)> = [
        (components.screen_time, "Reduce your daily screen time"),
        (components.breaks, "Take more breaks"),
        (components.focus_quality, focus_advice),
        (components.balance, "Avoid screens between 23:00 and 06:00"),
        (
            components.notifications,
            "Turn off non-essential notifications",
        ),
    ]
    .into_iter()
    .filter(|(value, _)| *value < RECOMMEND_BELOW)
    .collect();
    // A stable sort keeps the formula order among equal values.
    weak.sort_by(|a, b| a.0.total_cmp(&b.0));
    if weak.is_empty() {
        return vec!["Keep up your healthy habits".to_owned()];
    }
    weak.into_iter().map(|(_, text)| text.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hourly(minutes_by_hour: &[(u32, f64)]) -> Vec<HourlyMinutes> {
        (0..24)
            .map(|hour| HourlyMinutes {
                hour,
                time_label: crate::summary::hour_label(hour),
                minutes: minutes_by_hour
                    .iter()
                    .filter(|(h, _)| *h == hour)
                    .map(|(_, m)| *m)
                    .sum(),
            })
            .collect()
    }

    #[test]
    fn balance_is_the_share_outside_late_night() {
        // 210 min at 14:00 and 30 min at 23:00: 210/240 = 87.5 % outside 23:00-06:00.
        assert_eq!(
            balance_from_hourly(&hourly(&[(14, 210.0), (23, 30.0)])),
            87.5
        );
        // Hours 05 is late, 06 is not.
        assert_eq!(balance_from_hourly(&hourly(&[(5, 10.0), (6, 30.0)])), 75.0);
        assert_eq!(balance_from_hourly(&hourly(&[])), 100.0);
    }

    #[test]
    fn wellbeing_worked_example() {
        // screen 240 min = 4 h -> 100 − 4/12·100 = 66.67   ·0.25 = 16.67
        // 3 breaks          -> min(45, 100)       = 45      ·0.20 =  9.00
        // focus quality 80                                  ·0.20 = 16.00
        // balance 87.5                                      ·0.20 = 17.50
        // 40 notifications  -> 100 − 40           = 60      ·0.15 =  9.00
        // total 68.17 -> 68.2, good; only breaks (45) is under 60.
        let score = wellbeing_score(&WellbeingInputs {
            screen_time_minutes: 240.0,
            breaks: 3,
            avg_focus_quality: 80.0,
            balance: 87.5,
            notifications: 40,
        });
        assert_eq!(score.score, 68.2);
        assert_eq!(score.level, WellbeingLevel::Good);
        assert_eq!(
            score.components,
            WellbeingComponents {
                screen_time: 66.7,
                breaks: 45.0,
                focus_quality: 80.0,
                balance: 87.5,
                notifications: 60.0,
            }
        );
        assert_eq!(score.recommendations, vec!["Take more breaks"]);
    }

    #[test]
    fn an_empty_day_scores_60_and_names_the_weakest_first() {
        // screen 100·0.25 + breaks 0 + focus 0 + balance 100·0.2 + notifications 100·0.15 = 60
        let score = wellbeing_score(&WellbeingInputs {
            screen_time_minutes: 0.0,
            breaks: 0,
            avg_focus_quality: 0.0,
            balance: 100.0,
            notifications: 0,
        });
        assert_eq!(score.score, 60.0);
        assert_eq!(score.level, WellbeingLevel::Good);
        assert_eq!(
            score.recommendations,
            vec!["Take more breaks", "Schedule a focus session"]
        );

        // 14 h of screen, 150 notifications, all late: 0 + 0 + 0 + 0 + 0.
        let worst = wellbeing_score(&WellbeingInputs {
            screen_time_minutes: 840.0,
            breaks: 0,
            avg_focus_quality: 0.0,
            balance: 0.0,
            notifications: 150,
        });
        assert_eq!(worst.score, 0.0);
        assert_eq!(worst.level, WellbeingLevel::NeedsAttention);
        assert_eq!(worst.recommendations.len(), 5);
        assert_eq!(worst.recommendations[0], "Reduce your daily screen time");
    }

    #[test]
    fn a_daily_summary_feeds_the_score() {
        // 240 screen minutes, 30 of them at 23:00 (balance 87.5), 3 breaks, quality 80,
        // 40 notifications: the worked example above, 68.2.
        let mut summary = DailySummary::empty("2026-03-01".parse().unwrap());
        summary.total_screen_time_minutes = 240.0;
        summary.hourly_breakdown[14].minutes = 210.0;
        summary.hourly_breakdown[23].minutes = 30.0;
        summary.breaks_count = 3;
        summary.average_focus_quality = 80.0;
        summary.notifications_received = 40;
        assert_eq!(wellbeing_from_summary(&summary).score, 68.2);
    }

    #[test]
    fn levels_follow_the_thresholds() {
        assert_eq!(WellbeingLevel::from_score(80.0), WellbeingLevel::Excellent);
        assert_eq!(WellbeingLevel::from_score(79.9), WellbeingLevel::Good);
        assert_eq!(WellbeingLevel::from_score(40.0), WellbeingLevel::Fair);
        assert_eq!(
            WellbeingLevel::from_score(39.9),
            WellbeingLevel::NeedsAttention
        );
        assert_eq!(
            serde_json::to_string(&WellbeingLevel::NeedsAttention).unwrap(),
            "\"needs_attention\""
        );
    }
}
