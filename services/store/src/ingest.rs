//! The ingestion statement: one statement (its own transaction) that stores new events of one
//! or many users and adds what they contribute to their day aggregates. One round trip and one
//! WAL flush per write, where a transaction of separate statements paid one round trip each.
//!
//! In that one statement:
//! 1. the writers' rows are read `FOR KEY SHARE` (an erasure waits; an erased user stores
//!    nothing) with their zone and the zone their aggregates are complete in;
//! 2. the event ids are claimed in `event_ids` (`ON CONFLICT DO NOTHING`): a repeat stores
//!    nothing;
//! 3. each event table receives the rows whose claim succeeded;
//! 4. each (user, local day) the events touch gets the caller's delta (the sum of what those
//!    events contribute, computed in the zone the caller assumed) only if every event behind it
//!    was new, the user's zone is the one assumed and their aggregates are complete in it.
//!    Otherwise, if any of its events was new, the day is marked in `dirty_days` and read from
//!    raw records until the aggregator has recomputed it: exact in every case, cheap in the
//!    usual one.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;
use wellbeing_domain::aggregate::DayAggregate;

use crate::StoreError;
use crate::aggregates::{DayColumns, day_upsert_set};
use crate::breaks::BreakRow;
use crate::distractions::DistractionRow;
use crate::event_ids::NewEventId;
use crate::focus_sessions::FocusSessionRow;
use crate::notifications::NotificationRow;
use crate::screen_time::ScreenTimeRow;
use crate::sessions::SessionRow;

/// Everything one write stores. Claims should be sorted by (user, event id) and deltas by
/// (user, day), so that concurrent writers take row locks in one order (no deadlock).
#[derive(Default)]
pub struct NewEvents<'a> {
    /// Each writer and the zone its deltas were computed in.
    pub zones: Vec<(Uuid, &'a str)>,
    pub claims: Vec<NewEventId<'a>>,
    pub screen_time: Vec<&'a ScreenTimeRow>,
    pub sessions: Vec<&'a SessionRow>,
    pub focus_sessions: Vec<&'a FocusSessionRow>,
    pub breaks: Vec<&'a BreakRow>,
    pub notifications: Vec<&'a NotificationRow>,
    pub distractions: Vec<&'a DistractionRow>,
    /// (record id, user, local day) for every day each record touches.
    pub touches: Vec<(Uuid, Uuid, NaiveDate)>,
    /// The sum of the records' contributions per (user, local day).
    pub deltas: BTreeMap<(Uuid, NaiveDate), DayAggregate>,
}

/// What the statement did.
#[derive(Debug, Default)]
pub struct Stored {
    /// The zone of each writer that exists.
    pub zones: HashMap<Uuid, String>,
    /// The record ids stored now.
    pub created: HashSet<Uuid>,
}

pub async fn store(
    connection: &mut PgConnection,
    events: &NewEvents<'_>,
) -> Result<Stored, StoreError> {
    let DayColumns { days, apps } = DayColumns::of(
        events
            .deltas
            .iter()
            .map(|((user, day), aggregate)| (*user, *day, aggregate)),
    );
    let rows: Vec<(Option<Uuid>, Option<String>, Option<Uuid>)> = sqlx::query_as(statement())
        .bind(events.zones.iter().map(|zone| zone.0).collect::<Vec<_>>())
        .bind(events.zones.iter().map(|zone| zone.1).collect::<Vec<_>>())
        // event ids
        .bind(
            events
                .claims
                .iter()
                .map(|claim| claim.user_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .claims
                .iter()
                .map(|claim| claim.event_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .claims
                .iter()
                .map(|claim| claim.kind)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .claims
                .iter()
                .map(|claim| claim.record_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .claims
                .iter()
                .map(|claim| claim.occurred_at)
                .collect::<Vec<_>>(),
        )
        // screen_time
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.user_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.event_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.app_name.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.category.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.started_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.ended_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.duration_minutes)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .screen_time
                .iter()
                .map(|row| row.created_at)
                .collect::<Vec<_>>(),
        )
        // sessions
        .bind(events.sessions.iter().map(|row| row.id).collect::<Vec<_>>())
        .bind(
            events
                .sessions
                .iter()
                .map(|row| row.user_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .sessions
                .iter()
                .map(|row| row.event_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .sessions
                .iter()
                .map(|row| row.started_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .sessions
                .iter()
                .map(|row| row.ended_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .sessions
                .iter()
                .map(|row| row.device_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .sessions
                .iter()
                .map(|row| row.created_at)
                .collect::<Vec<_>>(),
        )
        // focus_sessions
        .bind(
            events
                .focus_sessions
                .iter()
                .map(|row| row.id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .focus_sessions
                .iter()
                .map(|row| row.user_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .focus_sessions
                .iter()
                .map(|row| row.event_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .focus_sessions
                .iter()
                .map(|row| row.started_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .focus_sessions
                .iter()
                .map(|row| row.ended_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .focus_sessions
                .iter()
                .map(|row| row.quality_score)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .focus_sessions
                .iter()
                .map(|row| row.task_name.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .focus_sessions
                .iter()
                .map(|row| row.created_at)
                .collect::<Vec<_>>(),
        )
        // breaks
        .bind(events.breaks.iter().map(|row| row.id).collect::<Vec<_>>())
        .bind(
            events
                .breaks
                .iter()
                .map(|row| row.user_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .breaks
                .iter()
                .map(|row| row.event_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .breaks
                .iter()
                .map(|row| row.started_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .breaks
                .iter()
                .map(|row| row.ended_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .breaks
                .iter()
                .map(|row| row.duration_minutes)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .breaks
                .iter()
                .map(|row| row.break_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .breaks
                .iter()
                .map(|row| row.created_at)
                .collect::<Vec<_>>(),
        )
        // notifications
        .bind(
            events
                .notifications
                .iter()
                .map(|row| row.id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .notifications
                .iter()
                .map(|row| row.user_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .notifications
                .iter()
                .map(|row| row.event_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .notifications
                .iter()
                .map(|row| row.occurred_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .notifications
                .iter()
                .map(|row| row.app_name.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .notifications
                .iter()
                .map(|row| row.priority)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .notifications
                .iter()
                .map(|row| row.was_interacted)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .notifications
                .iter()
                .map(|row| row.created_at)
                .collect::<Vec<_>>(),
        )
        // distractions
        .bind(
            events
                .distractions
                .iter()
                .map(|row| row.id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .distractions
                .iter()
                .map(|row| row.user_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .distractions
                .iter()
                .map(|row| row.event_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .distractions
                .iter()
                .map(|row| row.occurred_at)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .distractions
                .iter()
                .map(|row| row.source.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .distractions
                .iter()
                .map(|row| row.severity)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .distractions
                .iter()
                .map(|row| row.duration_seconds)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .distractions
                .iter()
                .map(|row| row.created_at)
                .collect::<Vec<_>>(),
        )
        // touches
        .bind(
            events
                .touches
                .iter()
                .map(|touch| touch.0)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .touches
                .iter()
                .map(|touch| touch.1)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .touches
                .iter()
                .map(|touch| touch.2)
                .collect::<Vec<_>>(),
        )
        // day deltas ($59..$70) and app deltas ($71..$76)
        .bind(days.users)
        .bind(days.dates)
        .bind(days.screen_us)
        .bind(days.focus_us)
        .bind(days.focus_count)
        .bind(days.focus_quality_micros)
        .bind(days.break_us)
        .bind(days.break_count)
        .bind(days.sessions)
        .bind(days.notifications_received)
        .bind(days.notifications_interacted)
        .bind(days.distractions)
        .bind(apps.users)
        .bind(apps.dates)
        .bind(apps.names)
        .bind(apps.screen_us)
        .bind(apps.uses)
        .bind(apps.categories)
        .fetch_all(connection)
        .await?;
    let mut stored = Stored::default();
    for row in rows {
        match row {
            (Some(user), Some(zone), _) => {
                stored.zones.insert(user, zone);
            }
            (_, _, Some(record)) => {
                stored.created.insert(record);
            }
            _ => {}
        }
    }
    Ok(stored)
}

/// The statement's text, built once.
fn statement() -> &'static str {
    static STATEMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STATEMENT.get_or_init(|| INGEST.replace("{DAY_UPSERT_SET}", &day_upsert_set()))
}

const INGEST: &str = "
WITH writers AS (
    SELECT id, timezone, aggregates_timezone FROM users
    WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE
),
claimed AS (
    INSERT INTO event_ids (user_id, event_id, kind, record_id, occurred_at)
    SELECT c.user_id, c.event_id, c.kind, c.record_id, c.occurred_at
    FROM UNNEST($3::uuid[], $4::uuid[], $5::text[], $6::uuid[], $7::timestamptz[])
         WITH ORDINALITY AS c (user_id, event_id, kind, record_id, occurred_at, n)
    WHERE c.user_id IN (SELECT id FROM writers)
    ORDER BY c.n
    ON CONFLICT (user_id, event_id) DO NOTHING
    RETURNING record_id
),
screen_time_rows AS (
    INSERT INTO screen_time (id, user_id, event_id, app_name, category, started_at, ended_at, duration_minutes, created_at)
    SELECT * FROM UNNEST($8::uuid[], $9::uuid[], $10::uuid[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::float8[], $16::timestamptz[]) AS r (id)
    WHERE r.id IN (SELECT record_id FROM claimed)
),
session_rows AS (
    INSERT INTO sessions (id, user_id, event_id, started_at, ended_at, device_type, created_at)
    SELECT * FROM UNNEST($17::uuid[], $18::uuid[], $19::uuid[], $20::timestamptz[], $21::timestamptz[], $22::text[], $23::timestamptz[]) AS r (id)
    WHERE r.id IN (SELECT record_id FROM claimed)
),
focus_session_rows AS (
    INSERT INTO focus_sessions (id, user_id, event_id, started_at, ended_at, quality_score, task_name, created_at)
    SELECT * FROM UNNEST($24::uuid[], $25::uuid[], $26::uuid[], $27::timestamptz[], $28::timestamptz[], $29::float8[], $30::text[], $31::timestamptz[]) AS r (id)
    WHERE r.id IN (SELECT record_id FROM claimed)
),
break_rows AS (
    INSERT INTO breaks (id, user_id, event_id, started_at, ended_at, duration_minutes, break_type, created_at)
    SELECT * FROM UNNEST($32::uuid[], $33::uuid[], $34::uuid[], $35::timestamptz[], $36::timestamptz[], $37::float8[], $38::text[], $39::timestamptz[]) AS r (id)
    WHERE r.id IN (SELECT record_id FROM claimed)
),
notification_rows AS (
    INSERT INTO notifications (id, user_id, event_id, occurred_at, app_name, priority, was_interacted, created_at)
    SELECT * FROM UNNEST($40::uuid[], $41::uuid[], $42::uuid[], $43::timestamptz[], $44::text[], $45::int4[], $46::bool[], $47::timestamptz[]) AS r (id)
    WHERE r.id IN (SELECT record_id FROM claimed)
),
distraction_rows AS (
    INSERT INTO distractions (id, user_id, event_id, occurred_at, source, severity, duration_seconds, created_at)
    SELECT * FROM UNNEST($48::uuid[], $49::uuid[], $50::uuid[], $51::timestamptz[], $52::text[], $53::int4[], $54::float8[], $55::timestamptz[]) AS r (id)
    WHERE r.id IN (SELECT record_id FROM claimed)
),
touched AS (
    SELECT t.user_id, t.day,
           bool_and(claimed.record_id IS NOT NULL) AS all_new,
           bool_or(claimed.record_id IS NOT NULL) AS any_new
    FROM UNNEST($56::uuid[], $57::uuid[], $58::date[]) AS t (record_id, user_id, day)
    LEFT JOIN claimed ON claimed.record_id = t.record_id
    GROUP BY t.user_id, t.day
),
verdicts AS (
    SELECT touched.user_id, touched.day, touched.any_new,
           touched.all_new AND writers.timezone = assumed.zone
               AND writers.aggregates_timezone IS NOT DISTINCT FROM writers.timezone AS applies
    FROM touched
    JOIN writers ON writers.id = touched.user_id
    JOIN UNNEST($1::uuid[], $2::text[]) AS assumed (user_id, zone) ON assumed.user_id = touched.user_id
),
days_added AS (
    INSERT INTO day_aggregates AS a (user_id, day, screen_us, focus_us, focus_count, focus_quality_micros,
        break_us, break_count, sessions, notifications_received, notifications_interacted, distractions)
    SELECT d.user_id, d.day, ($61::int8[])[(d.n - 1) * 24 + 1 : d.n * 24], d.focus_us, d.focus_count,
           d.focus_quality_micros, d.break_us, d.break_count, d.sessions, d.notifications_received,
           d.notifications_interacted, d.distractions
    FROM UNNEST($59::uuid[], $60::date[], $62::int8[], $63::int4[], $64::int8[], $65::int8[], $66::int4[],
                $67::int4[], $68::int4[], $69::int4[], $70::int4[])
         WITH ORDINALITY AS d (user_id, day, focus_us, focus_count, focus_quality_micros, break_us, break_count,
                               sessions, notifications_received, notifications_interacted, distractions, n)
    JOIN verdicts ON verdicts.user_id = d.user_id AND verdicts.day = d.day AND verdicts.applies
    ORDER BY d.n
    ON CONFLICT (user_id, day) DO UPDATE SET {DAY_UPSERT_SET}
),
apps_added AS (
    INSERT INTO day_app_aggregates AS a (user_id, day, app_name, screen_us, uses, categories)
    SELECT x.user_id, x.day, x.app_name, x.screen_us, x.uses,
           ARRAY(SELECT json_array_elements_text(x.categories::json))
    FROM UNNEST($71::uuid[], $72::date[], $73::text[], $74::int8[], $75::int4[], $76::text[])
         WITH ORDINALITY AS x (user_id, day, app_name, screen_us, uses, categories, n)
    JOIN verdicts ON verdicts.user_id = x.user_id AND verdicts.day = x.day AND verdicts.applies
    ORDER BY x.n
    ON CONFLICT (user_id, day, app_name) DO UPDATE
    SET screen_us = a.screen_us + EXCLUDED.screen_us,
        uses = a.uses + EXCLUDED.uses,
        categories = CASE WHEN EXCLUDED.categories <@ a.categories THEN a.categories
                          ELSE ARRAY(SELECT DISTINCT c FROM unnest(a.categories || EXCLUDED.categories) AS c) END
),
marked AS (
    INSERT INTO dirty_days (user_id, day)
    SELECT user_id, day FROM verdicts WHERE any_new AND NOT applies
    ORDER BY user_id, day
    ON CONFLICT (user_id, day) DO UPDATE SET version = dirty_days.version + 1, marked_at = now()
)
SELECT id AS user_id, timezone, NULL::uuid AS record_id FROM writers
UNION ALL
SELECT NULL, NULL, record_id FROM claimed";
