//! The input rules of the tracking and account endpoints, as pure functions over the parsed
//! input and the caller's `now`. Each validator checks fields in the order the contract's table
//! lists them and returns the first failure, so `field` in a 422 is predictable.
//!
//! Intervals must end by `now + 5 min` (clock skew between phone and server); for screen time and
//! breaks, which end at `timestamp + duration`, the blame goes to `timestamp` when the start is
//! already too late and to `duration_minutes` when only the end is.

use chrono::{DateTime, Duration, Utc};

use crate::goals::GoalType;
use crate::records::{Break, Distraction, FocusSession, Notification, ScreenTime, Session};
use crate::time::{duration_minutes, parse_timezone};

/// How far in the future a client clock may be.
pub const MAX_CLOCK_SKEW_MINUTES: i64 = 5;
/// The longest interval (24 h).
pub const MAX_INTERVAL_MINUTES: f64 = 1440.0;
/// The longest distraction (24 h).
pub const MAX_DISTRACTION_SECONDS: f64 = 86_400.0;
/// app_name, source, task_name.
pub const MAX_NAME_CHARS: usize = 200;
/// category, break_type, device_type.
pub const MAX_LABEL_CHARS: usize = 50;
pub const MAX_USERNAME_CHARS: usize = 50;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 256;
/// The largest goal target (about two years of minutes).
pub const MAX_GOAL_VALUE: f64 = 1_000_000.0;

/// The first field of an input that breaks a rule, and why, for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct FieldError {
    pub field: &'static str,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field,
            detail: detail.into(),
        }
    }
}

type Checked = Result<(), FieldError>;

fn latest_allowed(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES)
}

/// How old an event may be when no retention period is set (`RETENTION_DAYS=0`): a phone sends
/// what it recorded, perhaps after weeks offline, not years of history (the contract's figure).
pub const MAX_EVENT_AGE_DAYS: u32 = 400;

/// An event's time `at` (from `field`) is within the retention period when one is set
/// (`retention_days` > 0), else within [`MAX_EVENT_AGE_DAYS`] of `now`.
pub fn validate_event_age(
    field: &'static str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    retention_days: u32,
) -> Checked {
    let days = if retention_days > 0 {
        retention_days
    } else {
        MAX_EVENT_AGE_DAYS
    };
    // A retention of millions of days reaches past chrono's first date: then nothing is too old.
    let oldest = now
        .checked_sub_signed(Duration::days(i64::from(days)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if at >= oldest {
        return Ok(());
    }
    let detail = if retention_days > 0 {
        format!("{field} is older than the retention period ({days} days): such data is not kept")
    } else {
        format!("{field} must not be more than {days} days ago")
    };
    Err(FieldError::new(field, detail))
}

/// A floor under every event time whatever the retention: a year-1 timestamp would only make the
/// user's history, export and partitions reach back 2,000 years.
pub fn earliest_allowed() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn not_too_early(field: &'static str, at: DateTime<Utc>) -> Checked {
    if at < earliest_allowed() {
        return Err(FieldError::new(
            field,
            format!("{field} must not be before 2000-01-01T00:00:00Z"),
        ));
    }
    Ok(())
}

/// Non-empty after trimming, at most `max` characters (trimmed).
fn text(field: &'static str, value: &str, max: usize) -> Checked {
    no_nul(field, value)?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, format!("{field} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// PostgreSQL text cannot hold U+0000; refuse it rather than fail at the database.
fn no_nul(field: &'static str, value: &str) -> Checked {
    if value.contains('\0') {
        return Err(FieldError::new(
            field,
            format!("{field} must not contain the NUL character"),
        ));
    }
    Ok(())
}

fn within(field: &'static str, value: f64, min: f64, max: f64) -> Checked {
    if !value.is_finite() {
        return Err(FieldError::new(
            field,
            format!("{field} must be a finite number"),
        ));
    }
    if value < min || value > max {
        return Err(FieldError::new(
            field,
            format!("{field} must be between {min} and {max}"),
        ));
    }
    Ok(())
}

fn integer_within(field: &'static str, value: i32, min: i32, max: i32) -> Checked {
    if value < min || value > max {
        return Err(FieldError::new(
            field,
            format!("{field} must be between {min} and {max}"),
        ));
    }
    Ok(())
}

/// `duration_minutes` of an interval starting at `start`: finite, > 0, ≤ 24 h, and ending by
/// now + skew unless the start itself is too late (then `timestamp` is to blame).
fn duration_from(
    start: DateTime<Utc>,
    minutes: f64,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Checked {
    const FIELD: &str = "duration_minutes";
    if !minutes.is_finite() {
        return Err(FieldError::new(
            FIELD,
            "duration_minutes must be a finite number",
        ));
    }
    if minutes <= 0.0 {
        return Err(FieldError::new(
            FIELD,
            "duration_minutes must be greater than 0",
        ));
    }
    if minutes > MAX_INTERVAL_MINUTES {
        return Err(FieldError::new(
            FIELD,
            "duration_minutes must be at most 1440 (24 hours)",
        ));
    }
    if start <= latest_allowed(now) && end > latest_allowed(now) {
        return Err(FieldError::new(
            FIELD,
            "timestamp + duration_minutes ends in the future; the use must have ended by now",
        ));
    }
    Ok(())
}

fn timestamp(at: DateTime<Utc>, now: DateTime<Utc>) -> Checked {
    not_too_early("timestamp", at)?;
    if at > latest_allowed(now) {
        return Err(FieldError::new("timestamp", "timestamp is in the future"));
    }
    Ok(())
}

/// `end_time` of a `start_time..end_time` interval: after the start, at most 24 h later, and by
/// now + skew.
fn end_time(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> Checked {
    const FIELD: &str = "end_time";
    not_too_early("start_time", start)?;
    if end <= start {
        return Err(FieldError::new(FIELD, "end_time must be after start_time"));
    }
    if duration_minutes(end - start) > MAX_INTERVAL_MINUTES {
        return Err(FieldError::new(
            FIELD,
            "end_time must be at most 24 hours after start_time",
        ));
    }
    if end > latest_allowed(now) {
        return Err(FieldError::new(FIELD, "end_time is in the future"));
    }
    Ok(())
}

/// `{app_name, duration_minutes, category, timestamp}`.
pub fn validate_screen_time(record: &ScreenTime, now: DateTime<Utc>) -> Checked {
    text("app_name", &record.app_name, MAX_NAME_CHARS)?;
    duration_from(record.start, record.duration_minutes, record.end(), now)?;
    text("category", &record.category, MAX_LABEL_CHARS)?;
    timestamp(record.start, now)
}

/// `{start_time, end_time, device_type}`.
pub fn validate_session(record: &Session, now: DateTime<Utc>) -> Checked {
    end_time(record.start, record.end, now)?;
    text("device_type", &record.device_type, MAX_LABEL_CHARS)
}

/// `{start_time, end_time, quality_score, task_name?}`.
pub fn validate_focus_session(record: &FocusSession, now: DateTime<Utc>) -> Checked {
    end_time(record.start, record.end, now)?;
    within("quality_score", record.quality_score, 0.0, 100.0)?;
    if let Some(task) = &record.task_name {
        no_nul("task_name", task)?;
    }
    match &record.task_name {
        Some(task) if task.chars().count() > MAX_NAME_CHARS => Err(FieldError::new(
            "task_name",
            format!("task_name must be at most {MAX_NAME_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

/// `{duration_minutes, break_type, timestamp}`.
pub fn validate_break(record: &Break, now: DateTime<Utc>) -> Checked {
    duration_from(record.start, record.duration_minutes, record.end(), now)?;
    text("break_type", &record.break_type, MAX_LABEL_CHARS)?;
    timestamp(record.start, now)
}

/// `{app_name, priority, was_interacted, timestamp}`.
pub fn validate_notification(record: &Notification, now: DateTime<Utc>) -> Checked {
    text("app_name", &record.app_name, MAX_NAME_CHARS)?;
    integer_within("priority", record.priority, 0, 100)?;
    timestamp(record.at, now)
}

/// `{source, severity, duration_seconds, timestamp}`.
pub fn validate_distraction(record: &Distraction, now: DateTime<Utc>) -> Checked {
    text("source", &record.source, MAX_NAME_CHARS)?;
    integer_within("severity", record.severity, 1, 5)?;
    within(
        "duration_seconds",
        record.duration_seconds,
        0.0,
        MAX_DISTRACTION_SECONDS,
    )?;
    timestamp(record.at, now)
}

/// How an error message quotes what a client sent: debug-quoted, at most 40 characters (an
/// error must stay small whatever the input: it travels in gRPC headers and into logs).
pub fn shown(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

/// An IANA zone name (`Europe/Paris`, `UTC`).
pub fn validate_timezone(name: &str) -> Checked {
    no_nul("timezone", name)?;
    match parse_timezone(name) {
        Some(_) => Ok(()),
        None => Err(FieldError::new(
            "timezone",
            format!(
                "unknown timezone {}: use an IANA name such as Europe/Paris",
                shown(name)
            ),
        )),
    }
}

/// 1..=50 characters once trimmed.
pub fn validate_username(username: &str) -> Checked {
    text("username", username, MAX_USERNAME_CHARS)
}

/// A plausible address: one `@`, a non-empty local part, a domain with a dot inside it, no
/// spaces, at most 254 characters (surrounding spaces ignored). Deliverability is not checked.
pub fn validate_email(email: &str) -> Checked {
    const FIELD: &str = "email";
    no_nul(FIELD, email)?;
    let email = email.trim();
    let invalid = || FieldError::new(FIELD, "email must be an address like name@example.com");
    if email.is_empty() {
        return Err(FieldError::new(FIELD, "email must not be empty"));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(FieldError::new(
            FIELD,
            "email must be at most 254 characters",
        ));
    }
    if email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(invalid());
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || domain.contains('@') || !domain_ok {
        return Err(invalid());
    }
    Ok(())
}

/// The longest device name an app may send at sign-in.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;

/// The label of a new session in the sessions list: the app's name for the device (1..=100
/// characters once trimmed; a wrong one is refused naming `device_name`), else the client's
/// User-Agent cut to the same length, without control characters, else `unknown device`.
pub fn device_label(
    device_name: Option<&str>,
    user_agent: Option<&str>,
) -> Result<String, FieldError> {
    if let Some(name) = device_name {
        text("device_name", name, MAX_DEVICE_NAME_CHARS)?;
        return Ok(without_controls(name.trim()));
    }
    let agent = without_controls(user_agent.unwrap_or_default().trim());
    let agent: String = agent.trim().chars().take(MAX_DEVICE_NAME_CHARS).collect();
    Ok(if agent.is_empty() {
        "unknown device".to_owned()
    } else {
        agent
    })
}

fn without_controls(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// The form an email is stored and looked up in: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A password chosen now (registration, change; never checked at sign-in, so an older, shorter
/// one still signs in): 10..=256 characters taken as typed (no trimming), and not the account's
/// email (compared as stored: trimmed, lower-cased). `field` names it in the error.
pub fn validate_new_password(field: &'static str, password: &str, email: &str) -> Checked {
    no_nul(field, password)?;
    let length = password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            field,
            format!("{field} must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(FieldError::new(
            field,
            format!("{field} must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    if normalize_email(password) == normalize_email(email) {
        return Err(FieldError::new(
            field,
            format!("{field} must not be the email"),
        ));
    }
    Ok(())
}

/// `{goal_type, target_value, app_name}` of a goal (the type already parsed): a finite target,
/// above 0 for target goals and at least 0 for limits, at most 1 000 000; an `app_name` for
/// `app_daily_limit`.
pub fn validate_goal(goal_type: GoalType, target_value: f64, app_name: Option<&str>) -> Checked {
    let min_detail = if goal_type.is_limit() {
        "at least 0"
    } else {
        "greater than 0"
    };
    if !target_value.is_finite()
        || target_value < 0.0
        || (!goal_type.is_limit() && target_value == 0.0)
    {
        return Err(FieldError::new(
            "target_value",
            format!("target_value must be a number {min_detail}"),
        ));
    }
    if target_value > MAX_GOAL_VALUE {
        return Err(FieldError::new(
            "target_value",
            "target_value must be at most 1000000",
        ));
    }
    if let Some(app_name) = app_name {
        no_nul("app_name", app_name)?;
        if app_name.trim().chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::new(
                "app_name",
                format!("app_name must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
    }
    if goal_type.needs_app_name() {
        text("app_name", app_name.unwrap_or(""), MAX_NAME_CHARS)?;
    }
    Ok(())
}

/// The client-set `current_value` of a `custom` goal: finite and at least 0.
pub fn validate_goal_current_value(current_value: f64) -> Checked {
    within("current_value", current_value, 0.0, MAX_GOAL_VALUE)
}

#[cfg(test)]
mod tests;

/// The counts of a reported privacy state: none negative, blocked calls at most all calls.
pub fn validate_privacy_state(state: &crate::records::PrivacyState) -> Checked {
    let counts = [
        ("calls_total", state.calls_total),
        ("calls_blocked", state.calls_blocked),
        ("blocklist_size", state.blocklist_size),
        ("network_threats", state.network_threats),
        ("critical_threats", state.critical_threats),
    ];
    for (field, value) in counts {
        if value < 0 {
            return Err(FieldError::new(
                field,
                format!("{field} must not be negative"),
            ));
        }
    }
    if state.calls_blocked > state.calls_total {
        return Err(FieldError::new(
            "calls_blocked",
            "calls_blocked cannot exceed calls_total",
        ));
    }
    Ok(())
}
