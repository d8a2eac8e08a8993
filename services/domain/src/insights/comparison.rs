//! How the user compares with fixed benchmarks (`/analytics/insights/comparison`): 6 h of screen
//! time a day (lower is better), 180 focus minutes (higher is better) and a productivity score
//! of 70 (higher is better). It reads the 7-day averages of a weekly summary, so one unusual day
//! does not swing the verdict.

use serde::{Deserialize, Serialize};

use super::{BENCHMARK_FOCUS_MINUTES, BENCHMARK_PRODUCTIVITY, BENCHMARK_SCREEN_MINUTES};
use crate::numbers::round2;
use crate::weekly::WeeklyAverages;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ComparisonStatus {
    Better,
    Worse,
    Equal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OverallStatus {
    /// Better on 2 or more metrics.
    Exceeding,
    /// Better on exactly one.
    Meeting,
    /// Better on none.
    Below,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricComparison {
    /// `screen_time`, `focus_time` or `productivity`.
    pub metric: String,
    pub user_value: f64,
    pub benchmark_value: f64,
    /// `user_value − benchmark_value` (negative means below the benchmark, whatever is better).
    pub difference: f64,
    pub status: ComparisonStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    pub overall_status: OverallStatus,
    pub metrics_better: u32,
    pub metrics_worse: u32,
    pub comparisons: Vec<MetricComparison>,
    pub summary: String,
}

struct Metric {
    name: &'static str,
    label: &'static str,
    benchmark: f64,
    lower_is_better: bool,
}

const METRICS: [Metric; 3] = [
    Metric {
        name: "screen_time",
        label: "screen time",
        benchmark: BENCHMARK_SCREEN_MINUTES,
        lower_is_better: true,
    },
    Metric {
        name: "focus_time",
        label: "focus time",
        benchmark: BENCHMARK_FOCUS_MINUTES,
        lower_is_better: false,
    },
    Metric {
        name: "productivity",
        label: "productivity",
        benchmark: BENCHMARK_PRODUCTIVITY,
        lower_is_better: false,
    },
];

/// Compares 7-day averages with the benchmarks.
pub fn comparison(averages: &WeeklyAverages) -> Comparison {
    let values = [
        averages.screen_time_minutes,
        averages.focus_time_minutes,
        averages.productivity_score,
    ];
    let comparisons: Vec<MetricComparison> = METRICS
        .iter()
        .zip(values)
        .map(|(metric, value)| {
            let user_value = round2(value);
            let difference = round2(user_value - metric.benchmark);
            let status = if difference == 0.0 {
                ComparisonStatus::Equal
            } else if (difference < 0.0) == metric.lower_is_better {
                ComparisonStatus::Better
            } else {
                ComparisonStatus::Worse
            };
            MetricComparison {
                metric: metric.name.to_owned(),
                user_value,
                benchmark_value: metric.benchmark,
                difference,
                status,
            }
        })
        .collect();

    let labels_with = |status: ComparisonStatus| -> Vec<&str> {
        METRICS
            .iter()
            .zip(&comparisons)
            .filter(|(_, compared)| compared.status == status)
            .map(|(metric, _)| metric.label)
            .collect()
    };
    let better = labels_with(ComparisonStatus::Better);
    let worse = labels_with(ComparisonStatus::Worse);
    let overall_status = match better.len() {
        0 => OverallStatus::Below,
        1 => OverallStatus::Meeting,
        _ => OverallStatus::Exceeding,
    };
    let summary = match (better.is_empty(), worse.is_empty()) {
        (true, true) => "You are level with the benchmark on every metric.".to_owned(),
        (false, true) => format!(
            "Better than the benchmark on {} of 3 metrics ({}).",
            better.len(),
            better.join(", ")
        ),
        (true, false) => format!(
            "Behind the benchmark on {} of 3 metrics ({}).",
            worse.len(),
            worse.join(", ")
        ),
        (false, false) => format!(
            "Better than the benchmark on {} of 3 metrics ({}); behind on {} ({}).",
            better.len(),
            better.join(", "),
            worse.len(),
            worse.join(", ")
        ),
    };

    Comparison {
        overall_status,
        metrics_better: u32::try_from(better.len()).unwrap_or(0),
        metrics_worse: u32::try_from(worse.len()).unwrap_or(0),
        comparisons,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn averages(screen: f64, focus: f64, productivity: f64) -> WeeklyAverages {
        WeeklyAverages {
            screen_time_minutes: screen,
            focus_time_minutes: focus,
            productivity_score: productivity,
            distractions_per_day: 0.0,
            notifications_per_day: 0.0,
        }
    }

    fn statuses(found: &Comparison) -> Vec<ComparisonStatus> {
        found
            .comparisons
            .iter()
            .map(|compared| compared.status)
            .collect()
    }

    #[test]
    fn two_better_metrics_are_exceeding() {
        // screen 300 < 360 better (difference −60); focus 120 < 180 worse (−60);
        // productivity 75 > 70 better (+5).
        let found = comparison(&averages(300.0, 120.0, 75.0));
        assert_eq!(
            statuses(&found),
            vec![
                ComparisonStatus::Better,
                ComparisonStatus::Worse,
                ComparisonStatus::Better
            ]
        );
        assert_eq!(found.overall_status, OverallStatus::Exceeding);
        assert_eq!((found.metrics_better, found.metrics_worse), (2, 1));
        let differences: Vec<f64> = found.comparisons.iter().map(|c| c.difference).collect();
        assert_eq!(differences, vec![-60.0, -60.0, 5.0]);
        assert_eq!(
            found.summary,
            "Better than the benchmark on 2 of 3 metrics (screen time, productivity); behind on 1 (focus time)."
        );
    }

    #[test]
    fn one_better_metric_is_meeting_and_none_is_below() {
        // Only focus (200 > 180) is better.
        let meeting = comparison(&averages(400.0, 200.0, 60.0));
        assert_eq!(meeting.overall_status, OverallStatus::Meeting);
        // All worse.
        let below = comparison(&averages(400.0, 100.0, 30.0));
        assert_eq!(below.overall_status, OverallStatus::Below);
        assert_eq!(below.metrics_worse, 3);
        assert_eq!(
            below.summary,
            "Behind the benchmark on 3 of 3 metrics (screen time, focus time, productivity)."
        );
    }

    #[test]
    fn exactly_the_benchmark_is_equal() {
        let found = comparison(&averages(360.0, 180.0, 70.0));
        assert_eq!(statuses(&found), vec![ComparisonStatus::Equal; 3]);
        // No metric better: below, as the contract words it.
        assert_eq!(found.overall_status, OverallStatus::Below);
        assert_eq!(
            found.summary,
            "You are level with the benchmark on every metric."
        );
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(json["overall_status"], "below");
        assert_eq!(json["comparisons"][0]["metric"], "screen_time");
    }
}
