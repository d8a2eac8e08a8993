//! The summary reads through the REST gateway with numbers worked out by hand: daily and weekly
//! summaries, apps usage, quick stats and the dashboard.

use chrono::Duration;
use serde_json::{Value, json};
use wellbeing_tests::fixtures::{
    at, busy_hours, data, local_today, minutes_ago, track, track_all, utc_today,
};
use wellbeing_tests::{TestStack, daytime_zone};

#[tokio::test]
async fn daily_summary_reports_every_field_of_a_worked_day() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("Asia/Tokyo").await?;
    let token = user.access_token.as_str();
    let day = utc_today() - Duration::days(3);
    let jst = |time: &str| at(day, time, "+09:00");
    let before = |time: &str| at(day - Duration::days(1), time, "+09:00");

    let mut events = vec![
        // Screen time, 7 apps: Video 60, Chat 50, Reader 45, Mail 20, Maps 20, Browser 12, Music 5.
        json!({"type": "screen-time", "app_name": "Chat", "duration_minutes": 50, "timestamp": jst("09:10")}),
        json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 45, "category": "books", "timestamp": jst("10:30")}),
        json!({"type": "screen-time", "app_name": "Mail", "duration_minutes": 20, "timestamp": jst("14:00")}),
        json!({"type": "screen-time", "app_name": "Maps", "duration_minutes": 20, "timestamp": jst("14:20")}),
        json!({"type": "screen-time", "app_name": "Video", "duration_minutes": 60, "timestamp": jst("20:00")}),
        json!({"type": "screen-time", "app_name": "Music", "duration_minutes": 5, "timestamp": jst("21:00")}),
        json!({"type": "screen-time", "app_name": "Browser", "duration_minutes": 12, "timestamp": jst("22:00")}),
        // Focus: 60 min at quality 70 and 60 min at quality 90.
        json!({"type": "focus-session", "start_time": jst("07:00"), "end_time": jst("08:00"), "quality_score": 70}),
        json!({"type": "focus-session", "start_time": jst("15:00"), "end_time": jst("16:00"), "quality_score": 90}),
        // Breaks: 10 + 5.5 minutes.
        json!({"type": "break", "duration_minutes": 10, "timestamp": jst("11:30")}),
        json!({"type": "break", "duration_minutes": 5.5, "break_type": "stretch", "timestamp": jst("16:00")}),
        // Sessions: two start on the day; one started the evening before (not counted).
        json!({"type": "session", "start_time": jst("08:00"), "end_time": jst("08:30")}),
        json!({"type": "session", "start_time": jst("12:00"), "end_time": jst("12:45"), "device_type": "tablet"}),
        json!({"type": "session", "start_time": before("23:50"), "end_time": jst("00:10")}),
        // Notifications: 3 received, 1 interacted.
        json!({"type": "notification", "app_name": "Chat", "priority": 50, "was_interacted": true, "timestamp": jst("09:00")}),
        json!({"type": "notification", "app_name": "Chat", "priority": 20, "timestamp": jst("13:00")}),
        json!({"type": "notification", "app_name": "Mail", "priority": 80, "timestamp": jst("18:00")}),
    ];
    // Distractions: 3.
    for time in ["09:30", "14:10", "20:30"] {
        events.push(json!({"type": "distraction", "source": "Social", "severity": 2, "duration_seconds": 30, "timestamp": jst(time)}));
    }
    track_all(api, token, events).await?;

    let summary = data(
        api,
        &format!("/api/v1/analytics/summary/daily?date={day}"),
        token,
    )
    .await?;
    assert_eq!(summary["date"], day.to_string());
    // 60 + 50 + 45 + 20 + 20 + 12 + 5 = 212
    assert_eq!(summary["total_screen_time_minutes"], 212.0);
    // 60 + 60 = 120
    assert_eq!(summary["total_focus_time_minutes"], 120.0);
    // 10 + 5.5 = 15.5
    assert_eq!(summary["total_break_time_minutes"], 15.5);
    // (70 + 90) / 2 = 80
    assert_eq!(summary["average_focus_quality"], 80.0);
    // SCORES.md's worked example: 0.4·min(120/240·100, 100) + 0.3·80 + 0.2·(100 − 2·3)
    //   + 0.1·min(5·2, 20) = 20 + 24 + 18.8 + 1 = 63.8
    assert_eq!(summary["productivity_score"], 63.8);
    assert_eq!(summary["sessions_count"], 2);
    assert_eq!(summary["focus_sessions_count"], 2);
    assert_eq!(summary["breaks_count"], 2);
    assert_eq!(summary["notifications_received"], 3);
    assert_eq!(summary["notifications_interacted"], 1);
    // 1 / 3 · 100 = 33.33… → 33.3
    assert_eq!(summary["notification_interaction_rate"], 33.3);
    assert_eq!(summary["distractions_count"], 3);
    // The top 5 by minutes; Mail and Maps tie at 20 and are listed by name.
    assert_eq!(
        summary["top_apps"],
        json!([
            {"app_name": "Video", "minutes": 60.0},
            {"app_name": "Chat", "minutes": 50.0},
            {"app_name": "Reader", "minutes": 45.0},
            {"app_name": "Mail", "minutes": 20.0},
            {"app_name": "Maps", "minutes": 20.0},
        ])
    );
    // Chat 09:10-10:00 → 9: 50; Reader 10:30-11:15 → 10: 30, 11: 15; Mail + Maps 14:00-14:40 → 14:
    // 40; Video → 20: 60; Music → 21: 5; Browser → 22: 12 (screen time only; focus adds nothing).
    assert_eq!(
        busy_hours(&summary),
        vec![
            (9, 50.0),
            (10, 30.0),
            (11, 15.0),
            (14, 40.0),
            (20, 60.0),
            (21, 5.0),
            (22, 12.0)
        ]
    );

    // The day before holds only the session that began at 23:50.
    let before_day = data(
        api,
        &format!(
            "/api/v1/analytics/summary/daily?date={}",
            day - Duration::days(1)
        ),
        token,
    )
    .await?;
    assert_eq!(before_day["sessions_count"], 1);
    assert_eq!(before_day["total_screen_time_minutes"], 0.0);
    // An empty day: 0.2·100 = 20
    assert_eq!(before_day["productivity_score"], 20.0);
    assert_eq!(before_day["notification_interaction_rate"], 0.0);
    assert_eq!(before_day["top_apps"], json!([]));

    // Without a date: the user's today. An impossible date: 422 naming it.
    let today = data(api, "/api/v1/analytics/summary/daily", token).await?;
    assert_eq!(today["date"], local_today("Asia/Tokyo").to_string());
    let bad = api
        .get(
            "/api/v1/analytics/summary/daily?date=2026-02-30",
            Some(token),
        )
        .await?;
    assert_eq!(
        (bad.status, bad.json["field"].as_str()),
        (422, Some("date"))
    );
    stack.stop().await
}

#[tokio::test]
async fn weekly_summary_averages_seven_days_and_names_best_and_worst() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = user.access_token.as_str();
    let end = utc_today() - Duration::days(2);
    let day = |index: i64| end - Duration::days(6 - index);

    let mut events = vec![
        // Day 1: 60 focus minutes at quality 100 → 0.4·25 + 0.3·100 + 0.2·100 + 0 = 10 + 30 + 20 = 60
        json!({"type": "focus-session", "start_time": at(day(1), "09:00", "Z"), "end_time": at(day(1), "10:00", "Z"), "quality_score": 100}),
        // Day 2: 3 notifications (productivity stays 20).
        json!({"type": "notification", "app_name": "Chat", "priority": 1, "timestamp": at(day(2), "09:00", "Z")}),
        json!({"type": "notification", "app_name": "Chat", "priority": 1, "timestamp": at(day(2), "10:00", "Z")}),
        json!({"type": "notification", "app_name": "Chat", "priority": 1, "timestamp": at(day(2), "11:00", "Z")}),
        // Day 3: 140 screen minutes.
        json!({"type": "screen-time", "app_name": "Video", "duration_minutes": 140, "timestamp": at(day(3), "18:00", "Z")}),
        // Day 5: 240 focus minutes at quality 50 and one 5-minute break
        //   → 0.4·100 + 0.3·50 + 0.2·100 + 0.1·5 = 40 + 15 + 20 + 0.5 = 75.5
        json!({"type": "focus-session", "start_time": at(day(5), "08:00", "Z"), "end_time": at(day(5), "12:00", "Z"), "quality_score": 50}),
        json!({"type": "break", "duration_minutes": 5, "timestamp": at(day(5), "12:00", "Z")}),
    ];
    // Day 6 (end_date): 7 distractions → 0.2·(100 − 14) = 17.2
    for hour in 10..17 {
        events.push(json!({"type": "distraction", "source": "Social", "severity": 1, "timestamp": format!("{}T{hour}:00:00Z", day(6))}));
    }
    // Outside the week (the day before it and the day after): ignored.
    events.push(json!({"type": "screen-time", "app_name": "Video", "duration_minutes": 30, "timestamp": at(day(-1), "12:00", "Z")}));
    events.push(json!({"type": "screen-time", "app_name": "Video", "duration_minutes": 30, "timestamp": at(day(7), "12:00", "Z")}));
    track_all(api, token, events).await?;

    let week = data(
        api,
        &format!("/api/v1/analytics/summary/weekly?end_date={end}"),
        token,
    )
    .await?;
    assert_eq!(
        week["period"],
        json!({"start": day(0).to_string(), "end": end.to_string()})
    );
    let days = week["daily_summaries"].as_array().expect("a list");
    let dates: Vec<&str> = days.iter().filter_map(|d| d["date"].as_str()).collect();
    let expected: Vec<String> = (0..7).map(|i| day(i).to_string()).collect();
    assert_eq!(dates, expected, "oldest first");
    let scores: Vec<f64> = days
        .iter()
        .filter_map(|d| d["productivity_score"].as_f64())
        .collect();
    assert_eq!(scores, vec![20.0, 60.0, 20.0, 20.0, 20.0, 75.5, 17.2]);

    let averages = &week["weekly_averages"];
    // 140 / 7 = 20
    assert_eq!(averages["screen_time_minutes"], 20.0);
    // (60 + 240) / 7 = 42.857… → 42.86
    assert_eq!(averages["focus_time_minutes"], 42.86);
    // (20 + 60 + 20 + 20 + 20 + 75.5 + 17.2) / 7 = 232.7 / 7 = 33.24… → 33.2
    assert_eq!(averages["productivity_score"], 33.2);
    // 7 / 7 = 1
    assert_eq!(averages["distractions_per_day"], 1.0);
    // 3 / 7 = 0.428… → 0.43
    assert_eq!(averages["notifications_per_day"], 0.43);
    assert_eq!(
        week["best_day"],
        json!({"date": day(5).to_string(), "productivity_score": 75.5, "focus_time": 240.0})
    );
    assert_eq!(
        week["worst_day"],
        json!({"date": end.to_string(), "productivity_score": 17.2, "focus_time": 0.0})
    );
    // Productivity: Σ(x − 3)·y = −3·20 − 2·60 − 1·20 + 0 + 1·20 + 2·75.5 + 3·17.2 = 22.6;
    //   slope 22.6 / 28 = 0.81 → stable.
    // Focus: Σ(x − 3)·y = −2·60 + 2·240 = 360; slope 360 / 28 = 12.9 → improving.
    assert_eq!(
        week["trends"],
        json!({"productivity": "stable", "focus_time": "improving"})
    );

    // An empty week: every day 20, averages 0 and 20, the earliest day is both best and worst.
    let empty_end = end - Duration::days(20);
    let empty = data(
        api,
        &format!("/api/v1/analytics/summary/weekly?end_date={empty_end}"),
        token,
    )
    .await?;
    assert_eq!(empty["weekly_averages"]["productivity_score"], 20.0);
    assert_eq!(empty["weekly_averages"]["screen_time_minutes"], 0.0);
    let earliest = (empty_end - Duration::days(6)).to_string();
    assert_eq!(empty["best_day"]["date"], earliest.as_str());
    assert_eq!(empty["worst_day"]["date"], earliest.as_str());
    let bad = api
        .get(
            "/api/v1/analytics/summary/weekly?end_date=2026-13-01",
            Some(token),
        )
        .await?;
    assert_eq!(
        (bad.status, bad.json["field"].as_str()),
        (422, Some("end_date"))
    );
    stack.stop().await
}

#[tokio::test]
async fn apps_usage_covers_the_last_n_local_days() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login("UTC").await?;
    let token = user.access_token.as_str();
    let today = utc_today();
    let ago = |days: i64| today - Duration::days(days);
    track_all(api, token, vec![
        json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 40, "category": "books", "timestamp": at(ago(1), "10:00", "Z")}),
        json!({"type": "screen-time", "app_name": "Reader", "duration_minutes": 20, "category": "productivity", "timestamp": at(ago(2), "10:00", "Z")}),
        // Began 3 days ago at 23:30: only its last 30 minutes fall in a 3-day period.
        json!({"type": "screen-time", "app_name": "Chat", "duration_minutes": 60, "category": "social", "timestamp": at(ago(3), "23:30", "Z")}),
        json!({"type": "screen-time", "app_name": "Video", "duration_minutes": 90, "category": "entertainment", "timestamp": at(ago(1), "20:00", "Z")}),
        json!({"type": "screen-time", "app_name": "Old", "duration_minutes": 15, "timestamp": at(ago(10), "12:00", "Z")}),
    ]).await?;

    let usage = data(api, "/api/v1/analytics/apps/usage?days=3", token).await?;
    assert_eq!(usage["period_days"], 3);
    // 3 days ending today: today − 2 … today
    assert_eq!(usage["start_date"], ago(2).to_string());
    assert_eq!(usage["end_date"], today.to_string());
    assert_eq!(usage["total_apps"], 3);
    // Video 90 + Reader (40 + 20) + Chat 30 = 180
    assert_eq!(usage["total_time_minutes"], 180.0);
    assert_eq!(
        usage["apps"],
        json!([
            // 90 / 180 = 50 %
            {"app_name": "Video", "total_time_minutes": 90.0, "sessions": 1, "avg_session_minutes": 90.0, "categories": ["entertainment"], "percentage": 50.0},
            // 60 / 2 sessions = 30; 60 / 180 = 33.3 %
            {"app_name": "Reader", "total_time_minutes": 60.0, "sessions": 2, "avg_session_minutes": 30.0, "categories": ["books", "productivity"], "percentage": 33.3},
            // began before the period: 0 sessions, 30 / max(0, 1) = 30; 30 / 180 = 16.7 %
            {"app_name": "Chat", "total_time_minutes": 30.0, "sessions": 0, "avg_session_minutes": 30.0, "categories": ["social"], "percentage": 16.7},
        ])
    );

    // 30 days: Chat whole (60, one session) and Old (15): 90 + 60 + 60 + 15 = 225
    let month = data(api, "/api/v1/analytics/apps/usage?days=30", token).await?;
    assert_eq!(month["total_apps"], 4);
    assert_eq!(month["total_time_minutes"], 225.0);
    assert_eq!(month["start_date"], ago(29).to_string());
    // 90 / 225 = 40 %
    assert_eq!(month["apps"][0]["percentage"], 40.0);
    // Reader and Chat tie at 60: by name
    assert_eq!(month["apps"][1]["app_name"], "Chat");
    assert_eq!(month["apps"][1]["sessions"], 1);
    assert_eq!(month["apps"][2]["app_name"], "Reader");
    // 15 / 225 = 6.67 % → 6.7
    assert_eq!(month["apps"][3]["percentage"], 6.7);

    // The default is 7 days.
    let week = data(api, "/api/v1/analytics/apps/usage", token).await?;
    assert_eq!(week["period_days"], 7);
    assert_eq!(week["total_time_minutes"], 210.0); // 90 + 60 + 60 (Chat whole)
    for bad in ["0", "91", "seven"] {
        let answer = api
            .get(
                &format!("/api/v1/analytics/apps/usage?days={bad}"),
                Some(token),
            )
            .await?;
        assert_eq!(
            (answer.status, answer.json["field"].as_str()),
            (422, Some("days"))
        );
    }
    stack.stop().await
}

#[tokio::test]
async fn quick_stats_and_dashboard_show_today_goals_and_privacy() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let zone = daytime_zone();
    let user = api.register_and_login(&zone).await?;
    let token = user.access_token.as_str();
    // Local now is 08:00-20:00; everything below happened in the last 100 minutes, so today
    // and after 06:00 (no late-night minutes).
    track(
        api,
        token,
        "screen-time",
        json!({"app_name": "Reader", "duration_minutes": 60, "timestamp": minutes_ago(100)}),
    )
    .await?;
    track(
        api,
        token,
        "focus-session",
        json!({"start_time": minutes_ago(90), "end_time": minutes_ago(45), "quality_score": 80}),
    )
    .await?;
    track(
        api,
        token,
        "break",
        json!({"duration_minutes": 10, "timestamp": minutes_ago(20)}),
    )
    .await?;
    track(api, token, "notification", json!({"app_name": "Chat", "priority": 5, "was_interacted": true, "timestamp": minutes_ago(30)})).await?;
    track(
        api,
        token,
        "notification",
        json!({"app_name": "Chat", "priority": 5, "timestamp": minutes_ago(29)}),
    )
    .await?;

    let stats = data(api, "/api/v1/analytics/quick-stats", token).await?;
    assert_eq!(stats["today_screen_time"], 60.0);
    // 90 − 45 = 45 minutes ago
    assert_eq!(stats["today_focus_time"], 45.0);
    assert_eq!(stats["privacy_score"], Value::Null, "no state reported yet");
    assert_eq!(stats["notifications_today"], 2);
    assert_eq!(stats["goals_on_track"], 0);
    // Wellbeing: 0.25·(100 − 1/12·100 = 91.67) + 0.20·min(15·1, 100) + 0.20·80 + 0.20·100
    //   (balance: no minutes 23:00-06:00) + 0.15·(100 − 2) = 22.92 + 3 + 16 + 20 + 14.7 = 76.6
    assert_eq!(stats["wellbeing_score"], 76.6);
    let dashboard = data(api, "/api/v1/analytics/dashboard", token).await?;
    assert_eq!(dashboard["privacy"]["score"], Value::Null);
    assert_eq!(dashboard["goals"], json!([]));

    // A focus target (45 of 60: on track) and a screen limit (60 of 30: exceeded).
    for (goal_type, target) in [("daily_focus_minutes", 60), ("daily_screen_time_limit", 30)] {
        let created = api
            .post(
                "/api/v1/analytics/goals",
                &json!({"goal_type": goal_type, "target_value": target}),
                Some(token),
            )
            .await?;
        assert_eq!(created.status, 201, "{created:?}");
    }
    let privacy = api
        .put(
            "/api/v1/privacy/state",
            &json!({"vpn_connected": true, "kill_switch": true, "leak_detected": false, "caller_masking": true,
                    "calls_total": 10, "calls_blocked": 4, "blocklist_size": 12, "location_mode": "spoofed",
                    "network_threats": 3, "critical_threats": 1, "monitoring_enabled": true}),
            Some(token),
        )
        .await?;
    assert_eq!(privacy.status, 200, "{privacy:?}");
    let stats = data(api, "/api/v1/analytics/quick-stats", token).await?;
    // 0.30·100 + 0.20·90 + 0.25·90 + 0.25·84 = 30 + 18 + 22.5 + 21 = 91.5
    assert_eq!(stats["privacy_score"], 91.5);
    // the focus goal is active, the screen limit exceeded: 1 on track
    assert_eq!(stats["goals_on_track"], 1);

    let dashboard = data(api, "/api/v1/analytics/dashboard", token).await?;
    let today = &dashboard["today"];
    assert_eq!(today["date"], local_today(&zone).to_string());
    assert_eq!(today["total_screen_time_minutes"], 60.0);
    assert_eq!(today["total_focus_time_minutes"], 45.0);
    assert_eq!(today["total_break_time_minutes"], 10.0);
    assert_eq!(today["notification_interaction_rate"], 50.0); // 1 / 2
    // 0.4·(45/240·100 = 18.75) + 0.3·80 + 0.2·100 + 0.1·5 = 7.5 + 24 + 20 + 0.5 = 52
    assert_eq!(today["productivity_score"], 52.0);
    let week = &dashboard["week"];
    assert_eq!(week["averages"]["screen_time_minutes"], 8.57); // 60 / 7
    assert_eq!(week["averages"]["focus_time_minutes"], 6.43); // 45 / 7
    // (6·20 + 52) / 7 = 172 / 7 = 24.57 → 24.6
    assert_eq!(week["averages"]["productivity_score"], 24.6);
    assert_eq!(week["best_day"]["date"], today["date"]);
    assert_eq!(week["best_day"]["productivity_score"], 52.0);
    // Σ(x − 3)·y = 3·52 + (−3 −2 −1 + 0 + 1 + 2)·20 = 156 − 60 = 96; 96 / 28 = 3.4 → improving
    // Focus: 3·45 / 28 = 4.8 → improving
    assert_eq!(
        week["trends"],
        json!({"productivity": "improving", "focus_time": "improving"})
    );
    assert_eq!(
        dashboard["top_apps"],
        json!([{"app_name": "Reader", "minutes": 60.0}])
    );
    assert!(dashboard["insights"]["insights"].is_array());
    assert!(dashboard["insights"]["recommendations"].is_array());
    assert_eq!(dashboard["wellbeing"]["score"], 76.6);
    assert_eq!(dashboard["wellbeing"]["level"], "good");
    assert_eq!(dashboard["privacy"]["score"], 91.5);
    assert_eq!(dashboard["privacy"]["level"], "excellent");
    let goals = dashboard["goals"].as_array().expect("a list");
    let mut statuses: Vec<(&str, &str)> = goals
        .iter()
        .map(|goal| {
            (
                goal["goal_type"].as_str().unwrap_or("?"),
                goal["status"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        vec![
            ("daily_focus_minutes", "active"),
            ("daily_screen_time_limit", "exceeded")
        ]
    );
    assert!(dashboard.get("tips").is_none(), "insights, not tips");
    stack.stop().await
}
