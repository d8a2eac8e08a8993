//! Local days and hours per user: records split at each user's local midnight and hours,
//! the same instants on different dates for different zones, and DST days with 24 wall-clock
//! hours.

use chrono::{Duration, NaiveDate};
use serde_json::json;
use wellbeing_tests::TestStack;
use wellbeing_tests::fixtures::{at, busy_hours, data, offset_of, track, utc_today};

#[tokio::test]
async fn cross_midnight_records_split_at_each_users_local_midnight() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let kolkata = api.register_and_login("Asia/Kolkata").await?;
    let los_angeles = api.register_and_login("America/Los_Angeles").await?;
    let (k, la) = (
        kolkata.access_token.as_str(),
        los_angeles.access_token.as_str(),
    );
    let day1 = utc_today() - Duration::days(4);
    let day2 = day1 + Duration::days(1);
    // Los Angeles is UTC-7 (PDT) or UTC-8 (PST) depending on the date.
    let la_offset = offset_of("America/Los_Angeles", day1, "23:50");
    let la_hours: i64 = if la_offset == "-07:00" { -7 } else { -8 };
    assert!(
        la_offset == "-07:00" || la_offset == "-08:00",
        "{la_offset}"
    );

    // R_K: 23:50-00:20 in Kolkata (18:20Z-18:50Z on day 1).
    let r_k = json!({"app_name": "Reader", "duration_minutes": 30, "timestamp": at(day1, "23:50", "+05:30")});
    // R_L: 23:50-00:20 in Los Angeles (06:50Z or 07:50Z on day 2).
    let r_l = json!({"app_name": "Maps", "duration_minutes": 30, "timestamp": at(day1, "23:50", &la_offset)});
    let k_r_k = track(api, k, "screen-time", r_k.clone()).await?;
    let k_r_l = track(api, k, "screen-time", r_l.clone()).await?;
    let la_r_k = track(api, la, "screen-time", r_k).await?;
    let la_r_l = track(api, la, "screen-time", r_l).await?;
    // Each record answers the local date and hour where it starts, for its owner.
    assert_eq!(
        (k_r_k["date"].as_str(), k_r_k["hour"].as_i64()),
        (Some(day1.to_string().as_str()), Some(23))
    );
    assert_eq!(
        (la_r_l["date"].as_str(), la_r_l["hour"].as_i64()),
        (Some(day1.to_string().as_str()), Some(23))
    );
    // The same instants land elsewhere for the other user:
    // R_L starts 06:50Z (PDT) / 07:50Z (PST) = 12:20 / 13:20 in Kolkata on day 2: hour 5 - la_hours.
    let kolkata_hour_of_r_l = 5 - la_hours;
    assert_eq!(
        (k_r_l["date"].as_str(), k_r_l["hour"].as_i64()),
        (Some(day2.to_string().as_str()), Some(kolkata_hour_of_r_l))
    );
    // R_K starts 18:20Z = 11:20 (PDT) / 10:20 (PST) in Los Angeles on day 1: hour 18 + la_hours.
    let la_hour_of_r_k = 18 + la_hours;
    assert_eq!(
        (la_r_k["date"].as_str(), la_r_k["hour"].as_i64()),
        (Some(day1.to_string().as_str()), Some(la_hour_of_r_k))
    );

    // Kolkata also focuses 23:30-00:30 (quality 80) and breaks 23:55-00:05.
    track(api, k, "focus-session", json!({"start_time": at(day1, "23:30", "+05:30"), "end_time": at(day2, "00:30", "+05:30"), "quality_score": 80})).await?;
    track(
        api,
        k,
        "break",
        json!({"duration_minutes": 10, "timestamp": at(day1, "23:55", "+05:30")}),
    )
    .await?;

    let k1 = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day1}"),
        k,
    )
    .await?;
    assert_eq!(k1["date"], day1.to_string());
    // Only R_K's 10 minutes (23:50-24:00) are on Kolkata's day 1.
    assert_eq!(k1["total_screen_time_minutes"], 10.0);
    assert_eq!(busy_hours(&k1), vec![(23, 10.0)]);
    assert_eq!(
        k1["top_apps"],
        json!([{"app_name": "Reader", "minutes": 10.0}])
    );
    // Focus 23:30-24:00 = 30 minutes; break 23:55-24:00 = 5 minutes; both counted here (start day).
    assert_eq!(k1["total_focus_time_minutes"], 30.0);
    assert_eq!(k1["total_break_time_minutes"], 5.0);
    assert_eq!(k1["focus_sessions_count"], 1);
    assert_eq!(k1["breaks_count"], 1);
    assert_eq!(k1["average_focus_quality"], 80.0);
    // 0.4·(30/240·100 = 12.5) + 0.3·80 + 0.2·100 + 0.1·min(5·1, 20) = 5 + 24 + 20 + 0.5 = 49.5
    assert_eq!(k1["productivity_score"], 49.5);

    let k2 = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day2}"),
        k,
    )
    .await?;
    // R_K's 20 minutes after midnight (hour 0) + all 30 of R_L (hour 12 or 13): 20 + 30 = 50
    assert_eq!(k2["total_screen_time_minutes"], 50.0);
    assert_eq!(
        busy_hours(&k2),
        vec![(0, 20.0), (kolkata_hour_of_r_l as u64, 30.0)]
    );
    assert_eq!(
        k2["top_apps"],
        json!([{"app_name": "Maps", "minutes": 30.0}, {"app_name": "Reader", "minutes": 20.0}])
    );
    // Focus 00:00-00:30 and break 00:00-00:05 give minutes, but no count and no quality.
    assert_eq!(k2["total_focus_time_minutes"], 30.0);
    assert_eq!(k2["total_break_time_minutes"], 5.0);
    assert_eq!(
        (&k2["focus_sessions_count"], &k2["breaks_count"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(k2["average_focus_quality"], 0.0);
    // 0.4·12.5 + 0.3·0 + 0.2·100 + 0.1·0 = 5 + 0 + 20 + 0 = 25
    assert_eq!(k2["productivity_score"], 25.0);

    let la1 = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day1}"),
        la,
    )
    .await?;
    // R_K whole (30, hour 10 or 11) + R_L's first 10 minutes (hour 23): 30 + 10 = 40
    assert_eq!(la1["total_screen_time_minutes"], 40.0);
    assert_eq!(
        busy_hours(&la1),
        vec![(la_hour_of_r_k as u64, 30.0), (23, 10.0)]
    );
    assert_eq!(
        la1["top_apps"],
        json!([{"app_name": "Reader", "minutes": 30.0}, {"app_name": "Maps", "minutes": 10.0}])
    );
    // Nothing but screen time: 0.2·100 = 20
    assert_eq!(la1["productivity_score"], 20.0);
    let la2 = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day2}"),
        la,
    )
    .await?;
    // R_L's 20 minutes after local midnight.
    assert_eq!(la2["total_screen_time_minutes"], 20.0);
    assert_eq!(busy_hours(&la2), vec![(0, 20.0)]);
    assert_eq!(
        la2["top_apps"],
        json!([{"app_name": "Maps", "minutes": 20.0}])
    );
    assert_eq!(la2["total_focus_time_minutes"], 0.0);

    stack.stop().await
}

#[tokio::test]
async fn dst_days_keep_twenty_four_wall_clock_hours() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("America/Los_Angeles").await?;
    let token = user.access_token.as_str();
    // The last fall-back day: clocks go back at 02:00 PDT to 01:00 PST, so 01:00-02:00 happens
    // twice.
    let fall_back = last_los_angeles_day_of(25);
    // 01:30 PDT (08:30Z) + 60 min = 09:30Z = 01:30 PST: all 60 minutes in wall-clock hour 1.
    track(api, token, "screen-time", json!({"app_name": "Video", "duration_minutes": 60, "timestamp": at(fall_back, "01:30", "-07:00")})).await?;
    // 23:30-23:50 PST: 20 minutes in hour 23.
    track(api, token, "screen-time", json!({"app_name": "Video", "duration_minutes": 20, "timestamp": at(fall_back, "23:30", "-08:00")})).await?;
    let day = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={fall_back}"),
        token,
    )
    .await?;
    // 60 + 20 = 80, in 24 hours, the repeated hour summing both
    assert_eq!(day["total_screen_time_minutes"], 80.0);
    assert_eq!(busy_hours(&day), vec![(1, 60.0), (23, 20.0)]);

    // The last spring-forward day: clocks go forward at 02:00 PST to 03:00 PDT; hour 2 does
    // not exist.
    let spring_forward = last_los_angeles_day_of(23);
    // 01:30 PST (09:30Z) + 60 min = 10:30Z = 03:30 PDT: 30 minutes in hour 1, 0 in 2, 30 in 3.
    track(api, token, "screen-time", json!({"app_name": "Video", "duration_minutes": 60, "timestamp": at(spring_forward, "01:30", "-08:00")})).await?;
    let day = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={spring_forward}"),
        token,
    )
    .await?;
    assert_eq!(day["total_screen_time_minutes"], 60.0);
    assert_eq!(busy_hours(&day), vec![(1, 30.0), (3, 30.0)]);
    stack.stop().await
}

/// The latest day before today in Los Angeles that lasts `hours` hours (25: clocks go back, 23:
/// forward). Both happen every year, so the day is within the last year: events on it stay inside
/// the contract's 400-day bound whenever the test runs.
fn last_los_angeles_day_of(hours: i64) -> NaiveDate {
    let zone: chrono_tz::Tz = "America/Los_Angeles".parse().expect("a zone");
    let today = wellbeing_domain::time::local_date(chrono::Utc::now(), zone);
    (1..=366)
        .map(|back| today - Duration::days(back))
        .find(|day| {
            let (start, end) = wellbeing_domain::time::day_range(*day, zone);
            (end - start).num_hours() == hours
        })
        .expect("a DST change within a year")
}
