//! What the data says, in words: insights and recommendations over a week, recurring patterns
//! over a span of days, the peak hours of a day, and a comparison against fixed benchmarks.
//! Every threshold is a named constant here or in its module, and docs/SCORES.md lists them.

mod advice;
mod comparison;
mod patterns;
mod peak_hours;

pub use advice::{
    Insight, InsightCategory, InsightKind, Insights, Priority, Recommendation, insights,
};
pub use comparison::{Comparison, ComparisonStatus, MetricComparison, OverallStatus, comparison};
pub use patterns::{Pattern, PatternKind, Patterns, patterns};
pub use peak_hours::{DayPeriod, PeakHour, PeakHours, QuietHour, peak_hours};

/// Benchmark: at most 6 h of screen time a day (lower is better).
pub const BENCHMARK_SCREEN_MINUTES: f64 = 360.0;
/// Benchmark: at least 180 focus minutes a day (higher is better).
pub const BENCHMARK_FOCUS_MINUTES: f64 = 180.0;
/// Benchmark: a productivity score of 70 (higher is better).
pub const BENCHMARK_PRODUCTIVITY: f64 = 70.0;

/// `"5 h 12 min"`, `"45 min"`, `"2 h"`: whole minutes for people.
fn format_minutes(minutes: f64) -> String {
    let whole = minutes.max(0.0).round() as u64;
    match (whole / 60, whole % 60) {
        (0, rest) => format!("{rest} min"),
        (hours, 0) => format!("{hours} h"),
        (hours, rest) => format!("{hours} h {rest} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::format_minutes;

    #[test]
    fn minutes_read_as_hours_and_minutes() {
        assert_eq!(format_minutes(45.4), "45 min");
        assert_eq!(format_minutes(120.0), "2 h");
        assert_eq!(format_minutes(312.0), "5 h 12 min");
        assert_eq!(format_minutes(-3.0), "0 min");
    }
}
