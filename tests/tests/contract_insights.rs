//! The insight reads through the REST gateway: wellbeing score, peak hours, benchmark comparison,
//! insights and recommendations, and patterns, with the numbers worked out by hand.

use chrono::Duration;
use serde_json::{Value, json};
use wellbeing_tests::fixtures::{
    at, data, local_at, local_today, minutes_ago, track_all, utc_today,
};
use wellbeing_tests::{TestStack, daytime_zone};

/// Three strings of an insight or a recommendation.
type Triple = (String, String, String);

/// `(type, category, title)` of each insight, and `(category, priority, action)` of each
/// recommendation, after checking every field is there.
fn advice(view: &Value) -> (Vec<Triple>, Vec<Triple>) {
    let field = |item: &Value, name: &str| -> String {
        let value = item[name].as_str().unwrap_or_default();
        assert!(!value.is_empty(), "{name} of {item}");
        value.to_owned()
    };
    let insights = view["insights"].as_array().expect("insights is a list");
    let recommendations = view["recommendations"].as_array().expect("a list");
    (
        insights
            .iter()
            .map(|item| {
                field(item, "message");
                (
                    field(item, "type"),
                    field(item, "category"),
                    field(item, "title"),
                )
            })
            .collect(),
        recommendations
            .iter()
            .map(|item| {
                field(item, "text");
                (
                    field(item, "category"),
                    field(item, "priority"),
                    field(item, "action"),
                )
            })
            .collect(),
    )
}

fn triples(items: &[(&str, &str, &str)]) -> Vec<Triple> {
    items
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

#[tokio::test]
async fn wellbeing_score_follows_the_worked_example() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = user.access_token.as_str();
    let day = utc_today() - Duration::days(2);
    // 240 screen minutes, 30 of them at 23:00; 3 breaks; focus quality 80; 40 notifications.
    let mut events = vec![
        json!({"type": "screen-time", "app_name": "Docs", "duration_minutes": 210, "timestamp": at(day, "12:00", "Z")}),
        json!({"type": "screen-time", "app_name": "Video", "duration_minutes": 30, "timestamp": at(day, "23:00", "Z")}),
        json!({"type": "focus-session", "start_time": at(day, "08:00", "Z"), "end_time": at(day, "08:30", "Z"), "quality_score": 80}),
    ];
    for time in ["09:00", "11:00", "17:00"] {
        events
            .push(json!({"type": "break", "duration_minutes": 5, "timestamp": at(day, time, "Z")}));
    }
    for minute in 0..40 {
        events.push(json!({"type": "notification", "app_name": "Chat", "priority": 10, "timestamp": format!("{day}T10:{minute:02}:00Z")}));
    }
    track_all(api, token, events).await?;

    let score = data(api, &format!("/api/v1/wellbeing/score?date={day}"), token).await?;
    // screen_time 100 − 4/12·100 = 66.67; breaks min(15·3, 100) = 45; focus_quality 80;
    // balance: 210 of 240 minutes outside 23:00-06:00 = 87.5; notifications 100 − 40 = 60.
    assert_eq!(
        score["components"],
        json!({"screen_time": 66.7, "breaks": 45.0, "focus_quality": 80.0, "balance": 87.5, "notifications": 60.0})
    );
    // 0.25·66.67 + 0.20·45 + 0.20·80 + 0.20·87.5 + 0.15·60 = 16.67 + 9 + 16 + 17.5 + 9 = 68.17
    assert_eq!(score["score"], 68.2);
    assert_eq!(score["level"], "good");
    // only breaks is under 60
    assert_eq!(score["recommendations"], json!(["Take more breaks"]));
    let alias = data(
        api,
        &format!("/api/v1/analytics/insights/wellbeing-score?date={day}"),
        token,
    )
    .await?;
    assert_eq!(alias, score);

    // An empty day: 0.25·100 + 0.20·0 + 0.20·0 + 0.20·100 (no screen time: balance 100)
    //   + 0.15·100 = 25 + 20 + 15 = 60 (good); breaks and focus_quality are 0, in formula order.
    let empty = data(
        api,
        &format!("/api/v1/wellbeing/score?date={}", day - Duration::days(1)),
        token,
    )
    .await?;
    assert_eq!(empty["score"], 60.0);
    assert_eq!(empty["level"], "good");
    assert_eq!(
        empty["recommendations"],
        json!(["Take more breaks", "Schedule a focus session"])
    );
    let bad = api
        .get("/api/v1/wellbeing/score?date=2026-02-30", Some(token))
        .await?;
    assert_eq!(
        (bad.status, bad.json["field"].as_str()),
        (422, Some("date"))
    );
    stack.stop().await
}

#[tokio::test]
async fn peak_hours_are_the_top_three_hours_and_the_best_period() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("Asia/Kolkata").await?;
    let token = user.access_token.as_str();
    let day = utc_today() - Duration::days(3);
    let ist = |time: &str| at(day, time, "+05:30");
    track_all(api, token, vec![
        json!({"type": "screen-time", "app_name": "A", "duration_minutes": 40, "timestamp": ist("09:00")}),
        json!({"type": "screen-time", "app_name": "B", "duration_minutes": 50, "timestamp": ist("14:00")}),
        json!({"type": "screen-time", "app_name": "C", "duration_minutes": 20, "timestamp": ist("15:00")}),
        json!({"type": "screen-time", "app_name": "D", "duration_minutes": 45, "timestamp": ist("20:00")}),
        json!({"type": "screen-time", "app_name": "E", "duration_minutes": 55, "timestamp": ist("02:00")}),
    ]).await?;

    let peaks = data(
        api,
        &format!("/api/v1/analytics/insights/peak-hours?date={day}"),
        token,
    )
    .await?;
    // 02:00 has 55, 14:00 50, 20:00 45 (09:00 with 40 is fourth)
    assert_eq!(
        peaks["peak_hours"],
        json!([
            {"hour": 2, "time": "02:00", "minutes": 55.0},
            {"hour": 14, "time": "14:00", "minutes": 50.0},
            {"hour": 20, "time": "20:00", "minutes": 45.0},
        ])
    );
    // morning 40, afternoon 50 + 20 = 70, evening 45 (02:00 is in no period)
    assert_eq!(peaks["best_period"], "afternoon");
    assert_eq!(peaks["best_period_minutes"], 70.0);
    // 06..21 with under a minute: all but 09, 14, 15 and 20
    let quiet: Vec<u64> = peaks["low_activity_hours"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|quiet| {
            assert_eq!(
                quiet["time"],
                format!("{:02}:00", quiet["hour"].as_u64().unwrap_or(99))
            );
            quiet["hour"].as_u64().unwrap_or(99)
        })
        .collect();
    assert_eq!(quiet, vec![6, 7, 8, 10, 11, 12, 13, 16, 17, 18, 19, 21]);
    let recommendation = peaks["recommendation"].as_str().unwrap_or_default();
    assert!(
        recommendation.contains("afternoon") && recommendation.contains("02:00"),
        "{recommendation}"
    );

    // A day without screen time: no peaks, no best period.
    let empty = data(
        api,
        &format!(
            "/api/v1/analytics/insights/peak-hours?date={}",
            day - Duration::days(1)
        ),
        token,
    )
    .await?;
    assert_eq!(empty["peak_hours"], json!([]));
    assert_eq!(empty["best_period"], Value::Null);
    assert_eq!(empty["best_period_minutes"], 0.0);
    assert_eq!(
        empty["low_activity_hours"].as_array().map(Vec::len),
        Some(16)
    );
    stack.stop().await
}

#[tokio::test]
async fn comparison_judges_the_seven_day_averages() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let today = utc_today();
    let past_days = || (1..=6).map(move |ago| today - Duration::days(ago));
    let comparison = |token: String| async move {
        let view = data(api, "/api/v1/analytics/insights/comparison", &token).await?;
        let rows: Vec<Value> = view["comparisons"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|row| {
                assert_eq!(
                    row["benchmark_value"],
                    match row["metric"].as_str() {
                        Some("screen_time") => 360.0,
                        Some("focus_time") => 180.0,
                        _ => 70.0,
                    }
                );
                json!([
                    row["metric"],
                    row["user_value"],
                    row["difference"],
                    row["status"]
                ])
            })
            .collect();
        assert!(view["summary"].as_str().is_some_and(|s| !s.is_empty()));
        anyhow::Ok((
            view["overall_status"].clone(),
            view["metrics_better"].clone(),
            view["metrics_worse"].clone(),
            rows,
        ))
    };

    // A: nothing yet. Screen 0 is better; focus 0 and productivity 20 are worse: 1 better → meeting.
    let a = api.register_and_login("UTC").await?;
    assert_eq!(
        comparison(a.access_token.clone()).await?,
        (
            json!("meeting"),
            json!(1),
            json!(2),
            vec![
                json!(["screen_time", 0.0, -360.0, "better"]),
                json!(["focus_time", 0.0, -180.0, "worse"]),
                json!(["productivity", 20.0, -50.0, "worse"]),
            ]
        )
    );
    // Then 6 past days of 240 focus minutes at quality 100 with 4 breaks each:
    // 0.4·100 + 0.3·100 + 0.2·100 + 0.1·min(20, 20) = 92 a day; today is empty (20).
    let mut events = Vec::new();
    for day in past_days() {
        events.push(json!({"type": "focus-session", "start_time": at(day, "08:00", "Z"), "end_time": at(day, "12:00", "Z"), "quality_score": 100}));
        for time in ["12:00", "12:10", "12:20", "12:30"] {
            events.push(
                json!({"type": "break", "duration_minutes": 5, "timestamp": at(day, time, "Z")}),
            );
        }
    }
    track_all(api, &a.access_token, events).await?;
    assert_eq!(
        comparison(a.access_token.clone()).await?,
        (
            json!("exceeding"),
            json!(3),
            json!(0),
            vec![
                json!(["screen_time", 0.0, -360.0, "better"]),
                // 6·240 / 7 = 205.71
                json!(["focus_time", 205.71, 25.71, "better"]),
                // (6·92 + 20) / 7 = 572 / 7 = 81.7
                json!(["productivity", 81.7, 11.7, "better"]),
            ]
        )
    );

    // A's insights: no screen time, 205.71 focus minutes a day ≥ 180, 24 breaks / 7 = 3.4 a day;
    // productivity 92, 92, 92, 92, 92, 92, 20: Σ(x − 3)·y = −3·92 + 3·20 = −216, slope −7.7 →
    // declining, the only recommendation.
    let view = data(api, "/api/v1/analytics/insights", &a.access_token).await?;
    let (insights, recommendations) = advice(&view);
    assert_eq!(
        insights,
        triples(&[
            ("positive", "screen_time", "Screen time under control"),
            ("positive", "focus", "Strong focus"),
            ("warning", "productivity", "Productivity is declining"),
        ])
    );
    assert_eq!(
        recommendations,
        triples(&[("productivity", "medium", "review_week")])
    );

    // B: 6 days of 490 screen minutes: 6·490 / 7 = 420 a day, worse on all three → below.
    let b = api.register_and_login("UTC").await?;
    let events = past_days()
        .map(|day| json!({"type": "screen-time", "app_name": "Video", "duration_minutes": 490, "timestamp": at(day, "06:00", "Z")}))
        .collect();
    track_all(api, &b.access_token, events).await?;
    assert_eq!(
        comparison(b.access_token.clone()).await?,
        (
            json!("below"),
            json!(0),
            json!(3),
            vec![
                json!(["screen_time", 420.0, 60.0, "worse"]),
                json!(["focus_time", 0.0, -180.0, "worse"]),
                json!(["productivity", 20.0, -50.0, "worse"]),
            ]
        )
    );

    // C: 6 days of 210 focus minutes at quality 0: focus 6·210 / 7 = 180, exactly the benchmark.
    // Productivity 0.4·87.5 + 0 + 20 = 55 a day: (6·55 + 20) / 7 = 350 / 7 = 50.
    let c = api.register_and_login("UTC").await?;
    let events = past_days()
        .map(|day| json!({"type": "focus-session", "start_time": at(day, "08:00", "Z"), "end_time": at(day, "11:30", "Z"), "quality_score": 0}))
        .collect();
    track_all(api, &c.access_token, events).await?;
    assert_eq!(
        comparison(c.access_token.clone()).await?,
        (
            json!("meeting"),
            json!(1),
            json!(1),
            vec![
                json!(["screen_time", 0.0, -360.0, "better"]),
                json!(["focus_time", 180.0, 0.0, "equal"]),
                json!(["productivity", 50.0, -20.0, "worse"]),
            ]
        )
    );
    stack.stop().await
}

#[tokio::test]
async fn insights_warn_a_heavy_user_and_welcome_a_new_one() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let newcomer = api.register_and_login("UTC").await?;
    let view = data(api, "/api/v1/analytics/insights", &newcomer.access_token).await?;
    let (insights, recommendations) = advice(&view);
    assert_eq!(
        insights,
        triples(&[("info", "general", "Not enough data yet")])
    );
    assert_eq!(
        recommendations,
        triples(&[("general", "low", "start_focus_session")])
    );

    // Six past days of 600 daytime minutes, 80 late-night minutes (00:30-01:50) and 60
    // notifications each; no focus.
    let heavy = api.register_and_login("UTC").await?;
    let token = heavy.access_token.as_str();
    let mut events = Vec::new();
    for ago in 1..=6 {
        let day = utc_today() - Duration::days(ago);
        events.push(json!({"type": "screen-time", "app_name": "Video", "duration_minutes": 600, "timestamp": at(day, "09:00", "Z")}));
        events.push(json!({"type": "screen-time", "app_name": "Chat", "duration_minutes": 80, "timestamp": at(day, "00:30", "Z")}));
        for minute in 0..60 {
            events.push(json!({"type": "notification", "app_name": "Chat", "priority": 50, "timestamp": format!("{day}T20:{minute:02}:00Z")}));
        }
    }
    track_all(api, token, events).await?;
    let view = data(api, "/api/v1/analytics/insights", token).await?;
    let (insights, recommendations) = advice(&view);
    assert_eq!(
        insights,
        triples(&[
            // 6·680 / 7 = 582.9 min a day > 360
            ("warning", "screen_time", "High screen time"),
            // 0 focus minutes < 180
            ("warning", "focus", "Low focus time"),
            // every day 20: slope 0
            ("info", "productivity", "Productivity is steady"),
            // 6·60 / 7 = 51.4 notifications a day ≥ 50
            ("warning", "notifications", "Heavy notification load"),
            // 6·80 / 7 = 68.6 late-night minutes a day ≥ 15
            ("warning", "balance", "Late-night screen use"),
        ])
    );
    assert_eq!(
        recommendations,
        triples(&[
            ("screen_time", "high", "set_screen_time_limit"), // 582.9 > 480
            ("focus", "high", "schedule_focus_session"),      // 0 < 60
            ("balance", "high", "set_bedtime_reminder"),      // 68.6 ≥ 60
            ("notifications", "medium", "review_notifications"),
        ])
    );
    let alias = data(api, "/api/v1/analytics/insights/productivity", token).await?;
    assert_eq!(alias, view);
    let dashboard = data(api, "/api/v1/analytics/dashboard", token).await?;
    assert_eq!(dashboard["insights"], view);

    // Patterns over 7 days: high engagement, strength min(582.86 / 720, 1) = 0.81.
    let patterns = data(api, "/api/v1/analytics/insights/patterns", token).await?;
    assert_eq!(patterns["analysis_period_days"], 7);
    let found = patterns["patterns"].as_array().expect("a list");
    assert_eq!(patterns["pattern_count"], found.len());
    let engagement: Vec<&Value> = found
        .iter()
        .filter(|p| p["type"] == "high_engagement")
        .collect();
    assert_eq!(engagement.len(), 1, "{patterns}");
    assert_eq!(engagement[0]["strength"], 0.81);
    assert!(
        engagement[0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    stack.stop().await
}

#[tokio::test]
async fn patterns_measure_focus_consistency_over_the_asked_days() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let zone = daytime_zone();
    let user = api.register_and_login(&zone).await?;
    let token = user.access_token.as_str();
    let today = local_today(&zone);
    // 100 focus minutes on each of the last 3 local days; today's ended 5 minutes ago (local
    // now is 08:00-20:00, so it began today).
    let mut events = vec![
        json!({"type": "focus-session", "start_time": minutes_ago(105), "end_time": minutes_ago(5), "quality_score": 70}),
    ];
    for ago in [1, 2] {
        let day = today - Duration::days(ago);
        events.push(json!({"type": "focus-session", "start_time": local_at(&zone, day, "12:00"), "end_time": local_at(&zone, day, "13:40"), "quality_score": 70}));
    }
    track_all(api, token, events).await?;

    // 3 days of 100: CV 0 → consistent_focus with strength 1 − 0 = 1.
    let three = data(api, "/api/v1/analytics/insights/patterns?days=3", token).await?;
    assert_eq!(three["analysis_period_days"], 3);
    assert_eq!(three["pattern_count"], 1);
    assert_eq!(three["patterns"][0]["type"], "consistent_focus");
    assert_eq!(three["patterns"][0]["strength"], 1.0);

    // 30 days: 27 empty days and 3 of 100. Mean 10, variance (3·100² / 30 − 10²) = 900, σ = 30,
    // CV 3 → inconsistent_focus with strength min(3, 1) = 1.
    let thirty = data(api, "/api/v1/analytics/insights/patterns?days=30", token).await?;
    assert_eq!(thirty["analysis_period_days"], 30);
    assert_eq!(thirty["pattern_count"], 1);
    assert_eq!(thirty["patterns"][0]["type"], "inconsistent_focus");
    assert_eq!(thirty["patterns"][0]["strength"], 1.0);

    // 4 days: 0, 100, 100, 100. Mean 75, variance (3·25² + 75²) / 4 = 1875, σ = 43.3, CV 0.58:
    // between 0.3 and 0.6, no focus pattern (and no screen time: no other pattern).
    let four = data(api, "/api/v1/analytics/insights/patterns?days=4", token).await?;
    assert_eq!(four["pattern_count"], 0);
    assert_eq!(four["patterns"], json!([]));

    for bad in ["2", "31", "x"] {
        let answer = api
            .get(
                &format!("/api/v1/analytics/insights/patterns?days={bad}"),
                Some(token),
            )
            .await?;
        assert_eq!(
            (answer.status, answer.json["field"].as_str()),
            (422, Some("days")),
            "{bad}"
        );
    }
    stack.stop().await
}
