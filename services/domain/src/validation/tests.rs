use chrono::{DateTime, Utc};

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn now() -> DateTime<Utc> {
    utc("2026-03-01T12:00:00Z")
}

fn field(result: Checked) -> Option<&'static str> {
    result.err().map(|error| error.field)
}

fn screen(app: &str, minutes: f64, category: &str, start: &str) -> ScreenTime {
    ScreenTime {
        app_name: app.into(),
        category: category.into(),
        start: utc(start),
        duration_minutes: minutes,
    }
}

#[test]
fn screen_time_fields_are_checked_in_table_order() {
    let ok = screen("Mail", 30.0, "work", "2026-03-01T11:00:00Z");
    assert_eq!(validate_screen_time(&ok, now()), Ok(()));
    // Everything wrong: app_name is named first.
    let all_wrong = screen("  ", -1.0, "", "2026-03-02T00:00:00Z");
    assert_eq!(
        field(validate_screen_time(&all_wrong, now())),
        Some("app_name")
    );
    // Then duration_minutes, then category, then timestamp.
    let bad_rest = screen("Mail", 0.0, "", "2026-03-02T00:00:00Z");
    assert_eq!(
        field(validate_screen_time(&bad_rest, now())),
        Some("duration_minutes")
    );
    let bad_category = screen("Mail", 10.0, "", "2026-03-02T00:00:00Z");
    assert_eq!(
        field(validate_screen_time(&bad_category, now())),
        Some("category")
    );
    let late = screen("Mail", 10.0, "work", "2026-03-02T00:00:00Z");
    assert_eq!(field(validate_screen_time(&late, now())), Some("timestamp"));
}

#[test]
fn a_screen_time_ending_in_the_future_blames_the_duration() {
    // Began 11:50, 20 minutes: ends 12:10, beyond now + 5 = 12:05.
    let overlong = screen("Mail", 20.0, "work", "2026-03-01T11:50:00Z");
    assert_eq!(
        field(validate_screen_time(&overlong, now())),
        Some("duration_minutes")
    );
    // Ending at 12:05 exactly is within the skew.
    let edge = screen("Mail", 15.0, "work", "2026-03-01T11:50:00Z");
    assert_eq!(validate_screen_time(&edge, now()), Ok(()));
    // Starting at 12:04 with 10 minutes also ends too late: duration again.
    let soon = screen("Mail", 10.0, "work", "2026-03-01T12:04:00Z");
    assert_eq!(
        field(validate_screen_time(&soon, now())),
        Some("duration_minutes")
    );
}

#[test]
fn durations_must_be_positive_finite_and_at_most_a_day() {
    for minutes in [0.0, -5.0, f64::NAN, f64::INFINITY, 1440.5] {
        let record = screen("Mail", minutes, "work", "2026-02-27T00:00:00Z");
        assert_eq!(
            field(validate_screen_time(&record, now())),
            Some("duration_minutes"),
            "{minutes}"
        );
    }
    let day = screen("Mail", 1440.0, "work", "2026-02-27T00:00:00Z");
    assert_eq!(validate_screen_time(&day, now()), Ok(()));
    let long_name = screen(&"x".repeat(201), 10.0, "work", "2026-03-01T10:00:00Z");
    assert_eq!(
        field(validate_screen_time(&long_name, now())),
        Some("app_name")
    );
    let long_category = screen("Mail", 10.0, &"é".repeat(51), "2026-03-01T10:00:00Z");
    assert_eq!(
        field(validate_screen_time(&long_category, now())),
        Some("category")
    );
}

#[test]
fn sessions_and_focus_sessions_check_end_time_then_the_rest() {
    let session = |start: &str, end: &str, device: &str| Session {
        start: utc(start),
        end: utc(end),
        device_type: device.into(),
    };
    assert_eq!(
        validate_session(
            &session("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "mobile"),
            now()
        ),
        Ok(())
    );
    // Reversed, and a bad device: end_time first.
    assert_eq!(
        field(validate_session(
            &session("2026-03-01T11:00:00Z", "2026-03-01T10:00:00Z", ""),
            now()
        )),
        Some("end_time")
    );
    assert_eq!(
        field(validate_session(
            &session("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z", "mobile"),
            now()
        )),
        Some("end_time")
    );
    // Over 24 h, and in the future.
    assert_eq!(
        field(validate_session(
            &session("2026-02-27T10:00:00Z", "2026-02-28T10:00:01Z", "mobile"),
            now()
        )),
        Some("end_time")
    );
    assert_eq!(
        field(validate_session(
            &session("2026-03-01T11:00:00Z", "2026-03-01T12:06:00Z", "mobile"),
            now()
        )),
        Some("end_time")
    );
    assert_eq!(
        field(validate_session(
            &session("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", " "),
            now()
        )),
        Some("device_type")
    );

    let focus = |quality: f64, task: Option<String>| FocusSession {
        start: utc("2026-03-01T10:00:00Z"),
        end: utc("2026-03-01T11:00:00Z"),
        quality_score: quality,
        task_name: task,
    };
    assert_eq!(validate_focus_session(&focus(0.0, None), now()), Ok(()));
    assert_eq!(
        validate_focus_session(&focus(100.0, Some("report".into())), now()),
        Ok(())
    );
    assert_eq!(
        field(validate_focus_session(&focus(100.5, None), now())),
        Some("quality_score")
    );
    assert_eq!(
        field(validate_focus_session(&focus(f64::NAN, None), now())),
        Some("quality_score")
    );
    assert_eq!(
        field(validate_focus_session(
            &focus(50.0, Some("t".repeat(201))),
            now()
        )),
        Some("task_name")
    );
}

#[test]
fn breaks_check_duration_type_then_timestamp() {
    let pause = |minutes: f64, kind: &str, start: &str| Break {
        start: utc(start),
        duration_minutes: minutes,
        break_type: kind.into(),
    };
    assert_eq!(
        validate_break(&pause(15.0, "short", "2026-03-01T11:00:00Z"), now()),
        Ok(())
    );
    assert_eq!(
        field(validate_break(
            &pause(0.0, "", "2026-03-02T00:00:00Z"),
            now()
        )),
        Some("duration_minutes")
    );
    assert_eq!(
        field(validate_break(
            &pause(5.0, "", "2026-03-02T00:00:00Z"),
            now()
        )),
        Some("break_type")
    );
    assert_eq!(
        field(validate_break(
            &pause(5.0, "long", "2026-03-02T00:00:00Z"),
            now()
        )),
        Some("timestamp")
    );
    assert_eq!(
        field(validate_break(
            &pause(30.0, "long", "2026-03-01T11:50:00Z"),
            now()
        )),
        Some("duration_minutes")
    );
}

#[test]
fn point_events_check_their_ranges_and_time() {
    let note = |app: &str, priority: i32, at: &str| Notification {
        at: utc(at),
        app_name: app.into(),
        priority,
        was_interacted: false,
    };
    assert_eq!(
        validate_notification(&note("Chat", 0, "2026-03-01T12:05:00Z"), now()),
        Ok(())
    );
    assert_eq!(
        field(validate_notification(
            &note("", 101, "2026-03-02T00:00:00Z"),
            now()
        )),
        Some("app_name")
    );
    assert_eq!(
        field(validate_notification(
            &note("Chat", 101, "2026-03-02T00:00:00Z"),
            now()
        )),
        Some("priority")
    );
    assert_eq!(
        field(validate_notification(
            &note("Chat", -1, "2026-03-01T10:00:00Z"),
            now()
        )),
        Some("priority")
    );
    assert_eq!(
        field(validate_notification(
            &note("Chat", 100, "2026-03-01T12:05:01Z"),
            now()
        )),
        Some("timestamp")
    );

    let distraction = |source: &str, severity: i32, seconds: f64| Distraction {
        at: utc("2026-03-01T11:00:00Z"),
        source: source.into(),
        severity,
        duration_seconds: seconds,
    };
    assert_eq!(
        validate_distraction(&distraction("phone", 1, 0.0), now()),
        Ok(())
    );
    assert_eq!(
        validate_distraction(&distraction("phone", 5, 86_400.0), now()),
        Ok(())
    );
    assert_eq!(
        field(validate_distraction(&distraction("", 0, -1.0), now())),
        Some("source")
    );
    assert_eq!(
        field(validate_distraction(&distraction("phone", 0, -1.0), now())),
        Some("severity")
    );
    assert_eq!(
        field(validate_distraction(&distraction("phone", 6, 0.0), now())),
        Some("severity")
    );
    assert_eq!(
        field(validate_distraction(&distraction("phone", 3, -1.0), now())),
        Some("duration_seconds")
    );
    assert_eq!(
        field(validate_distraction(
            &distraction("phone", 3, 86_401.0),
            now()
        )),
        Some("duration_seconds")
    );
    assert_eq!(
        field(validate_distraction(
            &distraction("phone", 3, f64::NAN),
            now()
        )),
        Some("duration_seconds")
    );
}

#[test]
fn account_fields() {
    assert_eq!(validate_timezone("Asia/Kolkata"), Ok(()));
    assert_eq!(field(validate_timezone("Mars/Olympus")), Some("timezone"));

    assert_eq!(validate_username("ada"), Ok(()));
    assert_eq!(validate_username(&"a".repeat(50)), Ok(()));
    assert_eq!(field(validate_username("   ")), Some("username"));
    assert_eq!(field(validate_username(&"a".repeat(51))), Some("username"));

    assert_eq!(validate_email("Ada.Lovelace@Example.COM"), Ok(()));
    assert_eq!(validate_email("  ada@example.com "), Ok(()));
    for bad in [
        "",
        "ada",
        "@example.com",
        "ada@",
        "ada@example",
        "a@b@example.com",
        "ada@.com",
        "ada@example.",
        "a da@example.com",
    ] {
        assert_eq!(field(validate_email(bad)), Some("email"), "{bad:?}");
    }
    let long = format!("{}@example.com", "a".repeat(243));
    assert_eq!(field(validate_email(&long)), Some("email"));
    assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");

    let email = "ada@example.com";
    assert_eq!(
        validate_new_password("password", "1234567890", email),
        Ok(())
    );
    assert_eq!(
        field(validate_new_password("password", "123456789", email)),
        Some("password")
    );
    assert_eq!(
        validate_new_password("password", &"p".repeat(256), email),
        Ok(())
    );
    assert_eq!(
        field(validate_new_password(
            "new_password",
            &"p".repeat(257),
            email
        )),
        Some("new_password")
    );
    assert_eq!(
        field(validate_new_password("password", "Ada@Example.com", email)),
        Some("password"),
        "the email, in any case"
    );
}

#[test]
fn goals_need_a_sensible_target_and_an_app_for_app_limits() {
    assert_eq!(
        validate_goal(GoalType::DailyFocusMinutes, 120.0, None),
        Ok(())
    );
    assert_eq!(
        field(validate_goal(GoalType::DailyFocusMinutes, 0.0, None)),
        Some("target_value")
    );
    assert_eq!(
        validate_goal(GoalType::DailyNotificationsLimit, 0.0, None),
        Ok(())
    );
    assert_eq!(
        field(validate_goal(GoalType::DailyScreenTimeLimit, -1.0, None)),
        Some("target_value")
    );
    assert_eq!(
        field(validate_goal(GoalType::Custom, f64::NAN, None)),
        Some("target_value")
    );
    assert_eq!(
        field(validate_goal(GoalType::Custom, 2.0e6, None)),
        Some("target_value")
    );
    assert_eq!(
        field(validate_goal(GoalType::AppDailyLimit, 30.0, None)),
        Some("app_name")
    );
    assert_eq!(
        validate_goal(GoalType::AppDailyLimit, 30.0, Some("Chat")),
        Ok(())
    );
    assert_eq!(validate_goal_current_value(3.0), Ok(()));
    assert_eq!(
        field(validate_goal_current_value(-3.0)),
        Some("current_value")
    );
}

#[test]
fn nul_characters_are_refused_where_text_is_stored() {
    assert_eq!(validate_username("a\0b").unwrap_err().field, "username");
    assert_eq!(
        validate_new_password("password", "long enough\0", "ada@example.com")
            .unwrap_err()
            .field,
        "password"
    );
    assert_eq!(
        validate_email("a\0@example.com").unwrap_err().field,
        "email"
    );
    assert_eq!(validate_timezone("UTC\0").unwrap_err().field, "timezone");
}

#[test]
fn errors_quote_at_most_forty_characters_of_the_input() {
    let long = "x".repeat(10_000);
    let error = validate_timezone(&long).unwrap_err();
    assert!(error.detail.len() < 120, "{}", error.detail);
    assert!(error.detail.contains("xxxx\"…"), "{}", error.detail);
    assert_eq!(shown("UTC+99"), "\"UTC+99\"");
    let mode = long.parse::<crate::records::LocationMode>().unwrap_err();
    assert!(mode.to_string().len() < 120);
    let goal = long.parse::<crate::goals::GoalType>().unwrap_err();
    assert!(goal.to_string().len() < 200);
}

#[test]
fn nothing_before_2000_and_goal_app_names_are_bounded_on_every_type() {
    let year_one = screen("Mail", 30.0, "work", "0001-01-01T00:00:00Z");
    assert_eq!(
        field(validate_screen_time(&year_one, now())),
        Some("timestamp")
    );
    let last_century = screen("Mail", 30.0, "work", "1999-12-31T23:00:00Z");
    assert_eq!(
        field(validate_screen_time(&last_century, now())),
        Some("timestamp")
    );
    let first_day = screen("Mail", 30.0, "work", "2000-01-01T00:00:00Z");
    assert_eq!(validate_screen_time(&first_day, now()), Ok(()));
    let old_session = Session {
        start: utc("0001-01-01T10:00:00Z"),
        end: utc("0001-01-01T11:00:00Z"),
        device_type: "mobile".into(),
    };
    assert_eq!(
        field(validate_session(&old_session, now())),
        Some("start_time")
    );
    let long_name = "x".repeat(MAX_NAME_CHARS + 1);
    assert_eq!(
        field(validate_goal(
            GoalType::DailyFocusMinutes,
            60.0,
            Some(&long_name)
        )),
        Some("app_name")
    );
}

#[test]
fn a_device_label_is_the_apps_name_else_the_user_agent() {
    assert_eq!(
        device_label(Some("  Ada's phone "), Some("okhttp/4")).unwrap(),
        "Ada's phone"
    );
    assert_eq!(
        device_label(None, Some("okhttp/4.12\u{7}")).unwrap(),
        "okhttp/4.12"
    );
    assert_eq!(device_label(None, Some("  ")).unwrap(), "unknown device");
    assert_eq!(device_label(None, None).unwrap(), "unknown device");
    let long_agent = "a".repeat(500);
    assert_eq!(
        device_label(None, Some(&long_agent)).unwrap().len(),
        MAX_DEVICE_NAME_CHARS
    );
    for wrong in ["", "   ", "\0", &"x".repeat(101)] {
        let error = device_label(Some(wrong), None).unwrap_err();
        assert_eq!(error.field, "device_name", "{wrong:?}");
    }
}

#[test]
fn events_are_at_most_400_days_old_unless_a_retention_period_says_otherwise() {
    let days_ago = |days: i64| now() - Duration::days(days);
    assert_eq!(
        validate_event_age("timestamp", days_ago(399), now(), 0),
        Ok(())
    );
    assert_eq!(
        field(validate_event_age("timestamp", days_ago(401), now(), 0)),
        Some("timestamp")
    );
    // A retention period replaces the bound, longer or shorter.
    assert_eq!(
        validate_event_age("start_time", days_ago(700), now(), 730),
        Ok(())
    );
    assert_eq!(
        field(validate_event_age("start_time", days_ago(61), now(), 60)),
        Some("start_time")
    );
    // A period reaching past the calendar's start bounds nothing, without overflowing.
    assert_eq!(
        validate_event_age("timestamp", earliest_allowed(), now(), u32::MAX),
        Ok(())
    );
}
