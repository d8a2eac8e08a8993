//! The scores of the REST contract ("Scores" in API.md), kept to the earlier backend's formulas
//! so numbers stay comparable across the migration. Every function is pure: the caller gathers
//! the inputs (usually from a [`crate::summary::DailySummary`]) and gets a rounded figure back.
//! docs/SCORES.md states each formula with a worked example.

mod privacy;
mod wellbeing;

pub use privacy::{PrivacyComponents, PrivacyLevel, PrivacyScore, privacy_score};
pub use wellbeing::{
    WellbeingComponents, WellbeingInputs, WellbeingLevel, WellbeingScore, balance_from_hourly,
    is_late_night, wellbeing_from_summary, wellbeing_score,
};

use serde::{Deserialize, Serialize};

use crate::numbers::{finite_or_zero, round1};

/// Focus minutes that earn the full focus component of productivity (4 h).
pub const FULL_FOCUS_MINUTES: f64 = 240.0;

/// Productivity of one day, 0..=100 with one decimal:
///
/// ```text
/// 0.4·min(focus_min/240·100, 100) + 0.3·avg_focus_quality
///   + 0.2·max(0, 100 − 2·distractions) + 0.1·min(5·breaks, 20)
/// ```
///
/// An empty day scores 20.0: only the "no distractions" part is earned (0.2·100).
pub fn productivity_score(
    focus_minutes: f64,
    avg_focus_quality: f64,
    distractions: u32,
    breaks: u32,
) -> f64 {
    let focus = (finite_or_zero(focus_minutes).max(0.0) / FULL_FOCUS_MINUTES * 100.0).min(100.0);
    let quality = finite_or_zero(avg_focus_quality).clamp(0.0, 100.0);
    let calm = (100.0 - 2.0 * f64::from(distractions)).max(0.0);
    let rest = (5.0 * f64::from(breaks)).min(20.0);
    round1((0.4 * focus + 0.3 * quality + 0.2 * calm + 0.1 * rest).clamp(0.0, 100.0))
}

/// The direction of a series of daily values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    Improving,
    Stable,
    Declining,
}

impl Trend {
    pub fn as_str(self) -> &'static str {
        match self {
            Trend::Improving => "improving",
            Trend::Stable => "stable",
            Trend::Declining => "declining",
        }
    }
}

/// The least-squares slope of `values` against their index (0, 1, 2, ...): how much the value
/// changes per day. Fewer than two values have no slope (0).
pub fn trend_slope(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let count = values.len() as f64;
    let mean_x = (count - 1.0) / 2.0;
    let mean_y = values.iter().copied().map(finite_or_zero).sum::<f64>() / count;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (index, value) in values.iter().copied().map(finite_or_zero).enumerate() {
        let dx = index as f64 - mean_x;
        covariance += dx * (value - mean_y);
        variance += dx * dx;
    }
    covariance / variance
}

/// A slope above 2 per day is improving, below −2 declining, anything between stable.
pub fn trend(values: &[f64]) -> Trend {
    let slope = trend_slope(values);
    if slope > 2.0 {
        Trend::Improving
    } else if slope < -2.0 {
        Trend::Declining
    } else {
        Trend::Stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn productivity_worked_example() {
        // focus 120 min, quality 80, 3 distractions, 2 breaks:
        //   0.4·min(120/240·100, 100) = 0.4·50 = 20
        //   0.3·80                    = 24
        //   0.2·max(0, 100 − 6)       = 18.8
        //   0.1·min(10, 20)           = 1.0
        //   total                     = 63.8
        assert_eq!(productivity_score(120.0, 80.0, 3, 2), 63.8);
    }

    #[test]
    fn an_empty_day_scores_20() {
        // Only the distraction part is earned: 0.2·100 = 20.
        assert_eq!(productivity_score(0.0, 0.0, 0, 0), 20.0);
    }

    #[test]
    fn productivity_components_saturate() {
        // 0.4·100 (focus capped) + 0.3·100 + 0.2·0 (60 distractions) + 0.1·20 (breaks capped) = 72
        assert_eq!(productivity_score(600.0, 100.0, 60, 9), 72.0);
        // Everything maxed: 40 + 30 + 20 + 2 = 92, the highest score a day can reach.
        assert_eq!(productivity_score(240.0, 100.0, 0, 4), 92.0);
        assert_eq!(productivity_score(f64::NAN, f64::INFINITY, 0, 0), 20.0);
    }

    #[test]
    fn slope_of_a_straight_line_is_its_step() {
        // 10, 13, 16, ..., 28: each day 3 higher, so the slope is exactly 3.
        let rising: Vec<f64> = (0..7).map(|day| 10.0 + 3.0 * f64::from(day)).collect();
        assert!((trend_slope(&rising) - 3.0).abs() < 1e-12);
        assert_eq!(trend(&rising), Trend::Improving);
    }

    #[test]
    fn trend_worked_example() {
        // x = 0..6 (mean 3), y = 50, 50, 50, 50, 50, 50, 71 (mean 53).
        // Σ(x−3)(y−53) = (−3)(−3)+(−2)(−3)+(−1)(−3)+0+(1)(−3)+(2)(−3)+(3)(18) = 9+6+3−3−6+54 = 63
        // Σ(x−3)² = 9+4+1+0+1+4+9 = 28; slope = 63/28 = 2.25 > 2: improving.
        let values = [50.0, 50.0, 50.0, 50.0, 50.0, 50.0, 71.0];
        assert!((trend_slope(&values) - 2.25).abs() < 1e-12);
        assert_eq!(trend(&values), Trend::Improving);
        // The same jump on the first day: slope −2.25, declining.
        let falling = [71.0, 50.0, 50.0, 50.0, 50.0, 50.0, 50.0];
        assert_eq!(trend(&falling), Trend::Declining);
    }

    #[test]
    fn small_or_short_series_are_stable() {
        // Slope exactly 2 is not "> 2".
        assert_eq!(trend(&[0.0, 2.0, 4.0]), Trend::Stable);
        assert_eq!(trend(&[5.0]), Trend::Stable);
        assert_eq!(trend(&[]), Trend::Stable);
        assert_eq!(
            serde_json::to_string(&Trend::Declining).unwrap(),
            "\"declining\""
        );
    }
}
