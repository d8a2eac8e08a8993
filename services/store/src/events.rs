//! Stored rows as the domain's records, and the loading of every record that touches a range
//! of time (what a day's summary is computed from).

use chrono::{DateTime, Utc};
use uuid::Uuid;
use wellbeing_domain::records::{self, DayEvents};

use crate::StoreError;
use crate::event_tables::{
    BreakRow, DistractionRow, FocusSessionRow, NotificationRow, ScreenTimeRow, SessionRow,
};

/// Every record of the user that touches `[from, to)`, in one statement: the six tables' rows
/// come back as one JSON document shaped like [`DayEvents`]. One round trip and one pooled
/// connection per read, where six concurrent statements made reads queue for connections.
/// Interval records last at most 24 hours, so their index range on the start is bounded by
/// `from - 24h`.
pub async fn between(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<DayEvents, StoreError> {
    let document: String = sqlx::query_scalar(BETWEEN)
        .bind(user_id)
        .bind(from)
        .bind(to)
        .fetch_one(executor)
        .await?;
    serde_json::from_str(&document)
        .map_err(|error| StoreError::Other(sqlx::Error::Decode(Box::new(error))))
}

const BETWEEN: &str = "
SELECT json_build_object(
  'screen_time', COALESCE((
    SELECT json_agg(json_build_object('app_name', app_name, 'category', category,
                    'start', started_at, 'duration_minutes', duration_minutes)
                    ORDER BY started_at, id)
    FROM screen_time
    WHERE user_id = $1 AND started_at >= $2 - interval '24 hours' AND started_at < $3
      AND ended_at > $2), '[]'::json),
  'sessions', COALESCE((
    SELECT json_agg(json_build_object('start', started_at, 'end', ended_at,
                    'device_type', device_type) ORDER BY started_at, id)
    FROM sessions
    WHERE user_id = $1 AND started_at >= $2 - interval '24 hours' AND started_at < $3
      AND ended_at > $2), '[]'::json),
  'focus_sessions', COALESCE((
    SELECT json_agg(json_build_object('start', started_at, 'end', ended_at,
                    'quality_score', quality_score, 'task_name', task_name)
                    ORDER BY started_at, id)
    FROM focus_sessions
    WHERE user_id = $1 AND started_at >= $2 - interval '24 hours' AND started_at < $3
      AND ended_at > $2), '[]'::json),
  'breaks', COALESCE((
    SELECT json_agg(json_build_object('start', started_at, 'duration_minutes', duration_minutes,
                    'break_type', break_type) ORDER BY started_at, id)
    FROM breaks
    WHERE user_id = $1 AND started_at >= $2 - interval '24 hours' AND started_at < $3
      AND ended_at > $2), '[]'::json),
  'notifications', COALESCE((
    SELECT json_agg(json_build_object('at', occurred_at, 'app_name', app_name,
                    'priority', priority, 'was_interacted', was_interacted)
                    ORDER BY occurred_at, id)
    FROM notifications
    WHERE user_id = $1 AND occurred_at >= $2 AND occurred_at < $3), '[]'::json),
  'distractions', COALESCE((
    SELECT json_agg(json_build_object('at', occurred_at, 'source', source,
                    'severity', severity, 'duration_seconds', duration_seconds)
                    ORDER BY occurred_at, id)
    FROM distractions
    WHERE user_id = $1 AND occurred_at >= $2 AND occurred_at < $3), '[]'::json)
)::text";

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
