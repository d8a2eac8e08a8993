//! Rounding for output. Figures are kept as full `f64` while they are computed and rounded only
//! where they leave the domain, so that a total is never the sum of already-rounded parts.

/// Rounds to one decimal (scores, percentages, rates).
pub fn round1(value: f64) -> f64 {
    round_to(value, 10.0)
}

/// Rounds to two decimals (minutes, averages).
pub fn round2(value: f64) -> f64 {
    round_to(value, 100.0)
}

fn round_to(value: f64, scale: f64) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    let rounded = (value * scale).round() / scale;
    // Avoid "-0.0" in JSON.
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// A non-finite number (NaN, infinity) read as zero, so one bad value cannot poison a score.
pub fn finite_or_zero(value: f64) -> f64 {
    if value.is_finite() { value } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero_and_never_gives_negative_zero() {
        assert_eq!(round1(63.800000000000004), 63.8);
        assert_eq!(round2(10.006), 10.01);
        assert_eq!(round1(-0.04), 0.0);
        assert!(round1(-0.04).is_sign_positive());
        assert_eq!(round2(f64::NAN), 0.0);
    }
}
