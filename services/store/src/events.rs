//! Stored rows as the domain's records, and the loading of every record that touches a range
//! of time (what a day's summary is computed from).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_domain::records::{self, DayEvents};

use crate::breaks::BreakRow;
use crate::distractions::DistractionRow;
use crate::focus_sessions::FocusSessionRow;
use crate::notifications::NotificationRow;
use crate::screen_time::ScreenTimeRow;
use crate::sessions::SessionRow;
use crate::{
    StoreError, breaks, distractions, focus_sessions, notifications, screen_time, sessions,
};

/// Every record of the user that touches `[from, to)`, the six tables read concurrently.
pub async fn between(
    pool: &PgPool,
    user_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<DayEvents, StoreError> {
    let (screen_time, sessions, focus_sessions, breaks, notifications, distractions) = tokio::try_join!(
        screen_time::overlapping(pool, user_id, from, to),
        sessions::overlapping(pool, user_id, from, to),
        focus_sessions::overlapping(pool, user_id, from, to),
        breaks::overlapping(pool, user_id, from, to),
        notifications::overlapping(pool, user_id, from, to),
        distractions::overlapping(pool, user_id, from, to),
    )?;
    Ok(DayEvents {
        screen_time: screen_time.iter().map(Into::into).collect(),
        sessions: sessions.iter().map(Into::into).collect(),
        focus_sessions: focus_sessions.iter().map(Into::into).collect(),
        breaks: breaks.iter().map(Into::into).collect(),
        notifications: notifications.iter().map(Into::into).collect(),
        distractions: distractions.iter().map(Into::into).collect(),
    })
}

/// How many records `events` holds (for throughput figures).
pub fn count(events: &DayEvents) -> usize {
    events.screen_time.len()
        + events.sessions.len()
        + events.focus_sessions.len()
        + events.breaks.len()
        + events.notifications.len()
        + events.distractions.len()
}

impl From<&ScreenTimeRow> for records::ScreenTime {
    fn from(row: &ScreenTimeRow) -> Self {
        Self {
            app_name: row.app_name.clone(),
            category: row.category.clone(),
            start: row.started_at,
            duration_minutes: row.duration_minutes,
        }
    }
}

impl From<&SessionRow> for records::Session {
    fn from(row: &SessionRow) -> Self {
        Self {
            start: row.started_at,
            end: row.ended_at,
            device_type: row.device_type.clone(),
        }
    }
}

impl From<&FocusSessionRow> for records::FocusSession {
    fn from(row: &FocusSessionRow) -> Self {
        Self {
            start: row.started_at,
            end: row.ended_at,
            quality_score: row.quality_score,
            task_name: row.task_name.clone(),
        }
    }
}

impl From<&BreakRow> for records::Break {
    fn from(row: &BreakRow) -> Self {
        Self {
            start: row.started_at,
            duration_minutes: row.duration_minutes,
            break_type: row.break_type.clone(),
        }
    }
}

impl From<&NotificationRow> for records::Notification {
    fn from(row: &NotificationRow) -> Self {
        Self {
            at: row.occurred_at,
            app_name: row.app_name.clone(),
            priority: row.priority,
            was_interacted: row.was_interacted,
        }
    }
}

impl From<&DistractionRow> for records::Distraction {
    fn from(row: &DistractionRow) -> Self {
        Self {
            at: row.occurred_at,
            source: row.source.clone(),
            severity: row.severity,
            duration_seconds: row.duration_seconds,
        }
    }
}
