//! Local days and hours. Every number a person sees is counted in their own timezone: an interval
//! is cut at each local hour boundary (and so at local midnight), and each piece goes to the local
//! date and hour it falls in.
//!
//! ```text
//!   UTC      18:20          18:30                       18:50
//!   Kolkata  23:50 ───────── 00:00 ───────────────────── 00:20
//!            │ 10 min, day 1 │ 20 min, day 2, hour 0     │
//! ```
//!
//! On a day when clocks go back, the repeated wall-clock hour receives both of its real hours; on
//! a day when they go forward, the skipped hour receives nothing. The hourly breakdown therefore
//! always has 24 wall-clock hours.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The part of an interval that falls in one local hour of one local date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourSlice {
    pub date: NaiveDate,
    /// Wall-clock hour, 0..=23.
    pub hour: u32,
    pub minutes: f64,
}

/// Parses an IANA timezone name (`Asia/Kolkata`, `UTC`).
pub fn parse_timezone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// The local date of an instant.
pub fn local_date(instant: DateTime<Utc>, timezone: Tz) -> NaiveDate {
    instant.with_timezone(&timezone).date_naive()
}

/// The local wall-clock hour of an instant.
pub fn local_hour(instant: DateTime<Utc>, timezone: Tz) -> u32 {
    instant.with_timezone(&timezone).hour()
}

/// The instant a local date begins. Where midnight does not exist (a zone that springs forward
/// at 00:00), the day begins at the first wall-clock time that does.
pub fn day_start(date: NaiveDate, timezone: Tz) -> DateTime<Utc> {
    let mut wall = date.and_time(NaiveTime::MIN);
    // Gaps are at most a few hours; step by 15 minutes until a wall time exists.
    for _ in 0..=4 * 24 {
        match timezone.from_local_datetime(&wall) {
            LocalResult::Single(local) => return local.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            LocalResult::None => wall += Duration::minutes(15),
        }
    }
    // Unreachable for real zones; fall back to reading the date as UTC.
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The half-open instant range `[start, end)` of a local date.
pub fn day_range(date: NaiveDate, timezone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = date.succ_opt().unwrap_or(date);
    (day_start(date, timezone), day_start(next, timezone))
}

/// Cuts `[start, end)` at every local hour boundary. Empty or reversed intervals give nothing.
pub fn split_by_local_hour(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    timezone: Tz,
) -> Vec<HourSlice> {
    let mut slices = Vec::new();
    let mut cursor = start;
    while cursor < end {
        let local = cursor.with_timezone(&timezone);
        // Offsets change only at hour boundaries of wall time, so the rest of this wall hour
        // lasts exactly as long as the wall clock says.
        let into_hour = Duration::seconds(i64::from(local.minute() * 60 + local.second()))
            + Duration::nanoseconds(i64::from(local.nanosecond()));
        let boundary = cursor + (Duration::hours(1) - into_hour);
        let piece_end = boundary.min(end);
        let minutes = duration_minutes(piece_end - cursor);
        match slices.last_mut() {
            Some(HourSlice {
                date,
                hour,
                minutes: total,
            }) if *date == local.date_naive() && *hour == local.hour() => {
                *total += minutes;
            }
            _ => slices.push(HourSlice {
                date: local.date_naive(),
                hour: local.hour(),
                minutes,
            }),
        }
        cursor = piece_end;
    }
    slices
}

/// Minutes in `[start, end)` that fall inside `[range_start, range_end)`.
pub fn overlap_minutes(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    range_start: DateTime<Utc>,
    range_end: DateTime<Utc>,
) -> f64 {
    let from = start.max(range_start);
    let to = end.min(range_end);
    if to <= from {
        0.0
    } else {
        duration_minutes(to - from)
    }
}

/// A duration in fractional minutes (microsecond precision).
pub fn duration_minutes(duration: Duration) -> f64 {
    duration.num_microseconds().unwrap_or(i64::MAX) as f64 / 60_000_000.0
}

/// A fractional number of minutes as a duration (microsecond precision).
pub fn minutes_duration(minutes: f64) -> Duration {
    Duration::microseconds((minutes * 60_000_000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_session_across_local_midnight_in_kolkata_splits_10_and_20() {
        // 18:20Z-18:50Z is 23:50-00:20 in Kolkata (+05:30): 10 minutes on the 1st, 20 on the 2nd.
        let tz = parse_timezone("Asia/Kolkata").unwrap();
        let slices =
            split_by_local_hour(utc("2026-03-01T18:20:00Z"), utc("2026-03-01T18:50:00Z"), tz);
        assert_eq!(
            slices,
            vec![
                HourSlice {
                    date: date("2026-03-01"),
                    hour: 23,
                    minutes: 10.0
                },
                HourSlice {
                    date: date("2026-03-02"),
                    hour: 0,
                    minutes: 20.0
                },
            ]
        );
    }

    #[test]
    fn hours_are_cut_at_local_not_utc_boundaries() {
        // 10:10Z-11:40Z in Kolkata is 15:40-17:10: 20 min in hour 15, 60 in 16, 10 in 17.
        let tz = parse_timezone("Asia/Kolkata").unwrap();
        let slices =
            split_by_local_hour(utc("2026-03-01T10:10:00Z"), utc("2026-03-01T11:40:00Z"), tz);
        let hours: Vec<(u32, f64)> = slices.iter().map(|s| (s.hour, s.minutes)).collect();
        assert_eq!(hours, vec![(15, 20.0), (16, 60.0), (17, 10.0)]);
    }

    #[test]
    fn the_repeated_hour_of_a_fall_back_day_sums_both() {
        // Los Angeles falls back on 2026-11-01 at 02:00 PDT -> 01:00 PST. 08:30Z is 01:30 PDT,
        // 09:30Z is 01:30 PST: the hour between is 30 + 30 minutes of wall hour 1.
        let tz = parse_timezone("America/Los_Angeles").unwrap();
        let slices =
            split_by_local_hour(utc("2026-11-01T08:30:00Z"), utc("2026-11-01T09:30:00Z"), tz);
        assert_eq!(
            slices,
            vec![HourSlice {
                date: date("2026-11-01"),
                hour: 1,
                minutes: 60.0
            }]
        );
    }

    #[test]
    fn the_skipped_hour_of_a_spring_forward_day_gets_nothing() {
        // Los Angeles springs forward on 2026-03-08 at 02:00 PST -> 03:00 PDT.
        // 09:30Z is 01:30 PST, 10:30Z is 03:30 PDT: 30 minutes in hour 1, 30 in hour 3.
        let tz = parse_timezone("America/Los_Angeles").unwrap();
        let slices =
            split_by_local_hour(utc("2026-03-08T09:30:00Z"), utc("2026-03-08T10:30:00Z"), tz);
        let hours: Vec<(u32, f64)> = slices.iter().map(|s| (s.hour, s.minutes)).collect();
        assert_eq!(hours, vec![(1, 30.0), (3, 30.0)]);
    }

    #[test]
    fn day_range_follows_the_offset_of_each_midnight() {
        let tz = parse_timezone("America/Los_Angeles").unwrap();
        // The fall-back day lasts 25 hours.
        let (start, end) = day_range(date("2026-11-01"), tz);
        assert_eq!(start, utc("2026-11-01T07:00:00Z"));
        assert_eq!(end, utc("2026-11-02T08:00:00Z"));
        let kolkata = parse_timezone("Asia/Kolkata").unwrap();
        assert_eq!(
            day_start(date("2026-03-02"), kolkata),
            utc("2026-03-01T18:30:00Z")
        );
    }

    #[test]
    fn overlap_counts_only_the_part_inside_the_range() {
        let (start, end) = (utc("2026-03-01T23:50:00Z"), utc("2026-03-02T00:20:00Z"));
        let (day_start, day_end) = day_range(date("2026-03-02"), Tz::UTC);
        assert_eq!(overlap_minutes(start, end, day_start, day_end), 20.0);
        assert_eq!(overlap_minutes(start, start, day_start, day_end), 0.0);
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(parse_timezone("Mars/Olympus").is_none());
        assert!(parse_timezone("UTC").is_some());
    }
}
