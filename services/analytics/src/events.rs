//! The six event kinds between the wire and the tables: turning a received event into a
//! validated row (defaults filled, ids assigned), a stored row into the record the contract shows,
//! and rows into the domain's records.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use uuid::Uuid;
use wellbeing_domain::aggregate::{Contributes, Days};
use wellbeing_domain::answers::events::{EventFields, EventRecord};
use wellbeing_domain::validation::{self, FieldError};
use wellbeing_domain::{records, time};
use wellbeing_proto::Timestamp;
use wellbeing_proto::analytics::v1::track_event::Kind;

use wellbeing_store::event_tables::{
    BreakRow, DistractionRow, FocusSessionRow, NotificationRow, ScreenTimeRow, SessionRow,
};

/// One row of one of the event tables.
#[derive(Debug, Clone)]
pub enum EventRow {
    Session(SessionRow),
    ScreenTime(ScreenTimeRow),
    FocusSession(FocusSessionRow),
    Break(BreakRow),
    Notification(NotificationRow),
    Distraction(DistractionRow),
}

impl EventRow {
    pub fn event_id(&self) -> Uuid {
        match self {
            Self::Session(row) => row.event_id,
            Self::ScreenTime(row) => row.event_id,
            Self::FocusSession(row) => row.event_id,
            Self::Break(row) => row.event_id,
            Self::Notification(row) => row.event_id,
            Self::Distraction(row) => row.event_id,
        }
    }

    /// The record's own id.
    pub fn id(&self) -> Uuid {
        match self {
            Self::Session(row) => row.id,
            Self::ScreenTime(row) => row.id,
            Self::FocusSession(row) => row.id,
            Self::Break(row) => row.id,
            Self::Notification(row) => row.id,
            Self::Distraction(row) => row.id,
        }
    }

    pub fn user_id(&self) -> Uuid {
        match self {
            Self::Session(row) => row.user_id,
            Self::ScreenTime(row) => row.user_id,
            Self::FocusSession(row) => row.user_id,
            Self::Break(row) => row.user_id,
            Self::Notification(row) => row.user_id,
            Self::Distraction(row) => row.user_id,
        }
    }

    fn created_at(&self) -> DateTime<Utc> {
        match self {
            Self::Session(row) => row.created_at,
            Self::ScreenTime(row) => row.created_at,
            Self::FocusSession(row) => row.created_at,
            Self::Break(row) => row.created_at,
            Self::Notification(row) => row.created_at,
            Self::Distraction(row) => row.created_at,
        }
    }

    /// When the event began (a point event: when it happened): the event tables are
    /// partitioned by it, and retention counts from it.
    pub fn occurred_at(&self) -> DateTime<Utc> {
        match self {
            Self::Session(row) => row.started_at,
            Self::ScreenTime(row) => row.started_at,
            Self::FocusSession(row) => row.started_at,
            Self::Break(row) => row.started_at,
            Self::Notification(row) => row.occurred_at,
            Self::Distraction(row) => row.occurred_at,
        }
    }

    /// The request field [`Self::occurred_at`] comes from.
    pub fn time_field(&self) -> &'static str {
        match self {
            Self::Session(_) | Self::FocusSession(_) => "start_time",
            _ => "timestamp",
        }
    }

    /// The kind's name, as the contract's `type` says it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Session(_) => "session",
            Self::ScreenTime(_) => "screen-time",
            Self::FocusSession(_) => "focus-session",
            Self::Break(_) => "break",
            Self::Notification(_) => "notification",
            Self::Distraction(_) => "distraction",
        }
    }

    /// Adds what the record contributes to the aggregates of the local days it touches
    /// (`wellbeing_domain::aggregate`), exactly as the same row read back from its table would.
    pub fn contribute(&self, timezone: Tz, days: &mut Days) {
        match self {
            Self::Session(row) => records::Session {
                start: row.started_at,
                end: row.ended_at,
                device_type: String::new(),
            }
            .contribute(timezone, days),
            Self::ScreenTime(row) => records::ScreenTime {
                app_name: row.app_name.clone(),
                category: row.category.clone(),
                start: row.started_at,
                duration_minutes: row.duration_minutes,
            }
            .contribute(timezone, days),
            Self::FocusSession(row) => records::FocusSession {
                start: row.started_at,
                end: row.ended_at,
                quality_score: row.quality_score,
                task_name: None,
            }
            .contribute(timezone, days),
            Self::Break(row) => records::Break {
                start: row.started_at,
                duration_minutes: row.duration_minutes,
                break_type: String::new(),
            }
            .contribute(timezone, days),
            Self::Notification(row) => records::Notification {
                at: row.occurred_at,
                app_name: String::new(),
                priority: row.priority,
                was_interacted: row.was_interacted,
            }
            .contribute(timezone, days),
            Self::Distraction(row) => records::Distraction {
                at: row.occurred_at,
                source: String::new(),
                severity: row.severity,
                duration_seconds: row.duration_seconds,
            }
            .contribute(timezone, days),
        }
    }

    /// The record as answered; `date` and `hour` are where it starts in the user's zone.
    pub fn to_record(&self, timezone: Tz) -> EventRecord {
        let (start, duration_minutes, fields) = match self {
            Self::Session(row) => (
                row.started_at,
                time::duration_minutes(row.ended_at - row.started_at),
                EventFields::Session {
                    start_time: row.started_at,
                    end_time: row.ended_at,
                    device_type: row.device_type.clone(),
                },
            ),
            Self::ScreenTime(row) => (
                row.started_at,
                row.duration_minutes,
                EventFields::ScreenTime {
                    app_name: row.app_name.clone(),
                    category: row.category.clone(),
                    timestamp: row.started_at,
                },
            ),
            Self::FocusSession(row) => (
                row.started_at,
                time::duration_minutes(row.ended_at - row.started_at),
                EventFields::FocusSession {
                    start_time: row.started_at,
                    end_time: row.ended_at,
                    quality_score: row.quality_score,
                    task_name: row.task_name.clone(),
                },
            ),
            Self::Break(row) => (
                row.started_at,
                row.duration_minutes,
                EventFields::Break {
                    break_type: row.break_type.clone(),
                    timestamp: row.started_at,
                },
            ),
            Self::Notification(row) => (
                row.occurred_at,
                0.0,
                EventFields::Notification {
                    app_name: row.app_name.clone(),
                    priority: row.priority,
                    was_interacted: row.was_interacted,
                    timestamp: row.occurred_at,
                },
            ),
            Self::Distraction(row) => (
                row.occurred_at,
                row.duration_seconds / 60.0,
                EventFields::Distraction {
                    source: row.source.clone(),
                    severity: row.severity,
                    duration_seconds: row.duration_seconds,
                    timestamp: row.occurred_at,
                },
            ),
        };
        EventRecord {
            id: self.id(),
            event_id: self.event_id(),
            user_id: self.user_id(),
            date: time::local_date(start, timezone),
            hour: time::local_hour(start, timezone),
            duration_minutes,
            created_at: self.created_at(),
            fields,
        }
    }
}

/// Fills defaults, assigns ids, checks the domain rules, and gives the row to store.
pub fn prepare(user_id: Uuid, event: Kind, now: DateTime<Utc>) -> Result<EventRow, FieldError> {
    let id = new_id(now);
    match event {
        Kind::Session(event) => {
            let event_id = event_id(event.event_id.as_deref())?;
            let record = records::Session {
                start: required_instant("start_time", event.start_time)?,
                end: required_instant("end_time", event.end_time)?,
                device_type: or_default(event.device_type, "mobile"),
            };
            validation::validate_session(&record, now)?;
            Ok(EventRow::Session(SessionRow {
                id,
                user_id,
                event_id,
                started_at: record.start,
                ended_at: record.end,
                device_type: record.device_type,
                created_at: now,
            }))
        }
        Kind::ScreenTime(event) => {
            let event_id = event_id(event.event_id.as_deref())?;
            let duration = event.duration_minutes;
            let record = records::ScreenTime {
                app_name: event.app_name,
                category: or_default(event.category, "other"),
                start: optional_instant("timestamp", event.timestamp)?
                    .unwrap_or_else(|| now - time::minutes_duration(duration.clamp(0.0, 1440.0))),
                duration_minutes: duration,
            };
            validation::validate_screen_time(&record, now)?;
            Ok(EventRow::ScreenTime(ScreenTimeRow {
                id,
                user_id,
                event_id,
                ended_at: record.end(),
                app_name: record.app_name,
                category: record.category,
                started_at: record.start,
                duration_minutes: record.duration_minutes,
                created_at: now,
            }))
        }
        Kind::FocusSession(event) => {
            let event_id = event_id(event.event_id.as_deref())?;
            let record = records::FocusSession {
                start: required_instant("start_time", event.start_time)?,
                end: required_instant("end_time", event.end_time)?,
                quality_score: event.quality_score,
                task_name: event.task_name,
            };
            validation::validate_focus_session(&record, now)?;
            Ok(EventRow::FocusSession(FocusSessionRow {
                id,
                user_id,
                event_id,
                started_at: record.start,
                ended_at: record.end,
                quality_score: record.quality_score,
                task_name: record.task_name,
                created_at: now,
            }))
        }
        Kind::BreakEvent(event) => {
            let event_id = event_id(event.event_id.as_deref())?;
            let duration = event.duration_minutes;
            let record = records::Break {
                start: optional_instant("timestamp", event.timestamp)?
                    .unwrap_or_else(|| now - time::minutes_duration(duration.clamp(0.0, 1440.0))),
                duration_minutes: duration,
                break_type: or_default(event.break_type, "short"),
            };
            validation::validate_break(&record, now)?;
            Ok(EventRow::Break(BreakRow {
                id,
                user_id,
                event_id,
                started_at: record.start,
                ended_at: record.end(),
                duration_minutes: record.duration_minutes,
                break_type: record.break_type,
                created_at: now,
            }))
        }
        Kind::Notification(event) => {
            let event_id = event_id(event.event_id.as_deref())?;
            let record = records::Notification {
                at: optional_instant("timestamp", event.timestamp)?.unwrap_or(now),
                app_name: event.app_name,
                priority: saturating_i32(event.priority),
                was_interacted: event.was_interacted,
            };
            validation::validate_notification(&record, now)?;
            Ok(EventRow::Notification(NotificationRow {
                id,
                user_id,
                event_id,
                occurred_at: record.at,
                app_name: record.app_name,
                priority: record.priority,
                was_interacted: record.was_interacted,
                created_at: now,
            }))
        }
        Kind::Distraction(event) => {
            let event_id = event_id(event.event_id.as_deref())?;
            let record = records::Distraction {
                at: optional_instant("timestamp", event.timestamp)?.unwrap_or(now),
                source: event.source,
                severity: saturating_i32(event.severity),
                duration_seconds: event.duration_seconds,
            };
            validation::validate_distraction(&record, now)?;
            Ok(EventRow::Distraction(DistractionRow {
                id,
                user_id,
                event_id,
                occurred_at: record.at,
                source: record.source,
                severity: record.severity,
                duration_seconds: record.duration_seconds,
                created_at: now,
            }))
        }
    }
}

/// A time-ordered id (UUIDv7: milliseconds, then 74 random bits): new rows go to the end of
/// the primary-key index instead of a random page of it, which makes ingestion cheaper; the
/// random bits come from the thread's generator, not a system call per id.
fn new_id(now: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let random: [u8; 10] = rand::random();
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

/// The client's event id, or a fresh one when none was sent.
fn event_id(raw: Option<&str>) -> Result<Uuid, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(new_id(Utc::now())),
        Some(text) => Uuid::parse_str(text)
            .map_err(|_| FieldError::new("event_id", "event_id must be a UUID")),
    }
}

fn or_default(value: String, default: &str) -> String {
    if value.trim().is_empty() {
        default.to_owned()
    } else {
        value
    }
}

/// Out-of-range integers keep their sign so the range check names them.
fn saturating_i32(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(if value > 0 { i32::MAX } else { i32::MIN })
}

fn optional_instant(
    field: &'static str,
    timestamp: Option<Timestamp>,
) -> Result<Option<DateTime<Utc>>, FieldError> {
    timestamp
        .map(|timestamp| {
            u32::try_from(timestamp.nanos)
                .ok()
                .and_then(|nanos| DateTime::from_timestamp(timestamp.seconds, nanos))
                .ok_or_else(|| FieldError::new(field, format!("{field} is out of range")))
        })
        .transpose()
}

fn required_instant(
    field: &'static str,
    timestamp: Option<Timestamp>,
) -> Result<DateTime<Utc>, FieldError> {
    optional_instant(field, timestamp)?
        .ok_or_else(|| FieldError::new(field, format!("{field} is required")))
}
