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
//!
//! The statement holds only the parts a write needs (a phone's usual write is screen time
//! alone): every part costs PostgreSQL executor set-up on each call, measured at about a third
//! of a small write's time when all six event tables were always in (docs/PERFORMANCE.md).
//! Each shape's text is built once and prepared once per connection.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Mutex;

use chrono::NaiveDate;
use sqlx::postgres::PgArguments;
use sqlx::{PgConnection, Postgres};
use uuid::Uuid;
use wellbeing_domain::aggregate::DayAggregate;

use crate::StoreError;
use crate::aggregates::{DayColumns, day_upsert_set};
use crate::event_ids::NewEventId;
use crate::event_tables::{
    BreakRow, DistractionRow, FocusSessionRow, ID_COLUMNS, NotificationRow, ScreenTimeRow,
    SessionRow, TABLES,
};

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
    /// What it did to each writer's day aggregates.
    pub changes: HashMap<Uuid, DayChanges>,
}

/// What one write did to one user's day aggregates, decided as the statement decides it: a
/// process that holds the user's days as they were before the write can bring them up to date
/// without reading them again.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DayChanges {
    /// The deltas added to the stored days.
    pub added: BTreeMap<NaiveDate, DayAggregate>,
    /// Days marked in `dirty_days` (read from raw records until recomputed).
    pub dirty: Vec<NaiveDate>,
    /// Whether a focus session was stored (focus goals read them besides the days).
    pub focus_sessions: bool,
}

/// (user, zone, whether the user's aggregates are complete in that zone, claimed record).
type Returned = (Option<Uuid>, Option<String>, Option<bool>, Option<Uuid>);
type Query<'q> = sqlx::query::QueryAs<'q, Postgres, Returned, PgArguments>;

/// Which parts a write needs: the event tables it has rows for, and whether it adds to
/// per-app aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Shape {
    kinds: [bool; 6],
    apps: bool,
}

impl Shape {
    fn of(events: &NewEvents<'_>, apps: bool) -> Self {
        Self {
            kinds: [
                !events.screen_time.is_empty(),
                !events.sessions.is_empty(),
                !events.focus_sessions.is_empty(),
                !events.breaks.is_empty(),
                !events.notifications.is_empty(),
                !events.distractions.is_empty(),
            ],
            apps,
        }
    }
}

/// A column of `rows` as one array parameter.
fn column<'q, R, T>(rows: &[&'q R], field: impl Fn(&'q R) -> T) -> Vec<T> {
    rows.iter().map(|row| field(row)).collect()
}

/// Binds the id columns every event table starts with.
fn bind_ids<'q, R>(query: Query<'q>, rows: &[&'q R], ids: impl Fn(&R) -> [Uuid; 3]) -> Query<'q> {
    let ids: Vec<[Uuid; 3]> = rows.iter().map(|row| ids(row)).collect();
    (0..3).fold(query, |query, index| {
        query.bind(ids.iter().map(|row| row[index]).collect::<Vec<_>>())
    })
}

/// Binds the rows of the kinds present, in [`TABLES`] order.
fn bind_rows<'q>(mut query: Query<'q>, events: &NewEvents<'q>) -> Query<'q> {
    if let rows @ [_, ..] = events.screen_time.as_slice() {
        query = bind_ids(query, rows, |row| [row.id, row.user_id, row.event_id])
            .bind(column(rows, |row| row.app_name.as_str()))
            .bind(column(rows, |row| row.category.as_str()))
            .bind(column(rows, |row| row.started_at))
            .bind(column(rows, |row| row.ended_at))
            .bind(column(rows, |row| row.duration_minutes))
            .bind(column(rows, |row| row.created_at));
    }
    if let rows @ [_, ..] = events.sessions.as_slice() {
        query = bind_ids(query, rows, |row| [row.id, row.user_id, row.event_id])
            .bind(column(rows, |row| row.started_at))
            .bind(column(rows, |row| row.ended_at))
            .bind(column(rows, |row| row.device_type.as_str()))
            .bind(column(rows, |row| row.created_at));
    }
    if let rows @ [_, ..] = events.focus_sessions.as_slice() {
        query = bind_ids(query, rows, |row| [row.id, row.user_id, row.event_id])
            .bind(column(rows, |row| row.started_at))
            .bind(column(rows, |row| row.ended_at))
            .bind(column(rows, |row| row.quality_score))
            .bind(column(rows, |row| row.task_name.as_deref()))
            .bind(column(rows, |row| row.created_at));
    }
    if let rows @ [_, ..] = events.breaks.as_slice() {
        query = bind_ids(query, rows, |row| [row.id, row.user_id, row.event_id])
            .bind(column(rows, |row| row.started_at))
            .bind(column(rows, |row| row.ended_at))
            .bind(column(rows, |row| row.duration_minutes))
            .bind(column(rows, |row| row.break_type.as_str()))
            .bind(column(rows, |row| row.created_at));
    }
    if let rows @ [_, ..] = events.notifications.as_slice() {
        query = bind_ids(query, rows, |row| [row.id, row.user_id, row.event_id])
            .bind(column(rows, |row| row.occurred_at))
            .bind(column(rows, |row| row.app_name.as_str()))
            .bind(column(rows, |row| row.priority))
            .bind(column(rows, |row| row.was_interacted))
            .bind(column(rows, |row| row.created_at));
    }
    if let rows @ [_, ..] = events.distractions.as_slice() {
        query = bind_ids(query, rows, |row| [row.id, row.user_id, row.event_id])
            .bind(column(rows, |row| row.occurred_at))
            .bind(column(rows, |row| row.source.as_str()))
            .bind(column(rows, |row| row.severity))
            .bind(column(rows, |row| row.duration_seconds))
            .bind(column(rows, |row| row.created_at));
    }
    query
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
    let shape = Shape::of(events, !apps.users.is_empty());
    let claims = events.claims.as_slice();
    let mut query: Query<'_> = sqlx::query_as(statement(shape))
        .bind(events.zones.iter().map(|zone| zone.0).collect::<Vec<_>>())
        .bind(events.zones.iter().map(|zone| zone.1).collect::<Vec<_>>())
        .bind(claims.iter().map(|claim| claim.user_id).collect::<Vec<_>>())
        .bind(
            claims
                .iter()
                .map(|claim| claim.event_id)
                .collect::<Vec<_>>(),
        )
        .bind(claims.iter().map(|claim| claim.kind).collect::<Vec<_>>())
        .bind(
            claims
                .iter()
                .map(|claim| claim.record_id)
                .collect::<Vec<_>>(),
        )
        .bind(
            claims
                .iter()
                .map(|claim| claim.occurred_at)
                .collect::<Vec<_>>(),
        );
    query = bind_rows(query, events)
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
        .bind(days.distractions);
    if shape.apps {
        query = query
            .bind(apps.users)
            .bind(apps.dates)
            .bind(apps.names)
            .bind(apps.screen_us)
            .bind(apps.uses)
            .bind(apps.categories);
    }
    let rows = query.fetch_all(connection).await?;
    let mut stored = Stored::default();
    let mut complete = HashSet::new();
    for row in rows {
        match row {
            (Some(user), Some(zone), aggregates_complete, _) => {
                stored.zones.insert(user, zone);
                if aggregates_complete == Some(true) {
                    complete.insert(user);
                }
            }
            (_, _, _, Some(record)) => {
                stored.created.insert(record);
            }
            _ => {}
        }
    }
    stored.changes = changes(events, &stored, &complete);
    Ok(stored)
}

/// Each writer's [`DayChanges`], by the statement's own rule: a day's delta is added when every
/// event behind it was new, the user's zone is the one assumed and their aggregates are complete
/// in it; otherwise, if any of its events was new, the day is marked.
fn changes(
    events: &NewEvents<'_>,
    stored: &Stored,
    complete: &HashSet<Uuid>,
) -> HashMap<Uuid, DayChanges> {
    // (user, day) -> (all new, any new)
    let mut verdicts: BTreeMap<(Uuid, NaiveDate), (bool, bool)> = BTreeMap::new();
    for (record, user, day) in &events.touches {
        let new = stored.created.contains(record);
        let verdict = verdicts.entry((*user, *day)).or_insert((true, false));
        *verdict = (verdict.0 && new, verdict.1 || new);
    }
    let mut changes: HashMap<Uuid, DayChanges> = HashMap::new();
    for ((user, day), (all_new, any_new)) in verdicts {
        let Some(zone) = stored.zones.get(&user) else {
            continue;
        };
        let assumed = events.zones.iter().find(|(writer, _)| *writer == user);
        let applies = all_new
            && assumed.is_some_and(|(_, assumed)| assumed == zone)
            && complete.contains(&user);
        let delta = events.deltas.get(&(user, day));
        match delta {
            Some(delta) if applies => {
                changes
                    .entry(user)
                    .or_default()
                    .added
                    .insert(day, delta.clone());
            }
            _ if any_new => changes.entry(user).or_default().dirty.push(day),
            _ => {}
        }
    }
    for row in &events.focus_sessions {
        if stored.created.contains(&row.id) {
            changes.entry(row.user_id).or_default().focus_sessions = true;
        }
    }
    changes
}

/// The statement's text for a shape, built on first use (at most 2^7 shapes).
fn statement(shape: Shape) -> &'static str {
    static TEXTS: Mutex<Option<HashMap<Shape, &'static str>>> = Mutex::new(None);
    let mut texts = TEXTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    texts
        .get_or_insert_with(HashMap::new)
        .entry(shape)
        .or_insert_with(|| Box::leak(build(shape).into_boxed_str()))
}

/// Hands out numbered array parameters (`$n::type[]`).
struct Parameters(usize);

impl Parameters {
    fn take(&mut self, types: &[&str]) -> String {
        let list: Vec<String> = types
            .iter()
            .map(|kind| {
                self.0 += 1;
                format!("${}::{kind}[]", self.0)
            })
            .collect();
        list.join(", ")
    }
}

/// Builds the statement for a shape; parameters are numbered in the order [`store`] binds them.
fn build(shape: Shape) -> String {
    let mut parameters = Parameters(0);
    let writers = parameters.take(&["uuid", "text"]);
    let claims = parameters.take(&["uuid", "uuid", "text", "uuid", "timestamptz"]);
    let mut sql = String::new();
    let _ = write!(
        sql,
        "WITH writers AS (
    SELECT id, timezone, aggregates_timezone FROM users
    WHERE id = ANY($1::uuid[]) ORDER BY id FOR KEY SHARE
),
claimed AS (
    INSERT INTO event_ids (user_id, event_id, kind, record_id, occurred_at)
    SELECT c.user_id, c.event_id, c.kind, c.record_id, c.occurred_at
    FROM UNNEST({claims}) WITH ORDINALITY AS c (user_id, event_id, kind, record_id, occurred_at, n)
    WHERE c.user_id IN (SELECT id FROM writers)
    ORDER BY c.n
    ON CONFLICT (user_id, event_id) DO NOTHING
    RETURNING record_id
),"
    );
    debug_assert!(writers.starts_with("$1::uuid[]"));
    for (table, present) in TABLES.iter().zip(shape.kinds) {
        if !present {
            continue;
        }
        let columns: Vec<(&str, &str)> = ID_COLUMNS.iter().chain(table.columns).copied().collect();
        let names: Vec<&str> = columns.iter().map(|column| column.0).collect();
        let types: Vec<&str> = columns.iter().map(|column| column.1).collect();
        let _ = write!(
            sql,
            "
{name}_rows AS (
    INSERT INTO {name} ({names})
    SELECT * FROM UNNEST({values}) AS r (id)
    WHERE r.id IN (SELECT record_id FROM claimed)
),",
            name = table.name,
            names = names.join(", "),
            values = parameters.take(&types),
        );
    }
    let touches = parameters.take(&["uuid", "uuid", "date"]);
    let day_keys = parameters.take(&["uuid", "date"]);
    let hours = parameters.take(&["int8"]);
    let day_sums = parameters.take(&[
        "int8", "int4", "int8", "int8", "int4", "int4", "int4", "int4", "int4",
    ]);
    let _ = write!(
        sql,
        "
touched AS (
    SELECT t.user_id, t.day,
           bool_and(claimed.record_id IS NOT NULL) AS all_new,
           bool_or(claimed.record_id IS NOT NULL) AS any_new
    FROM UNNEST({touches}) AS t (record_id, user_id, day)
    LEFT JOIN claimed ON claimed.record_id = t.record_id
    GROUP BY t.user_id, t.day
),
verdicts AS (
    SELECT touched.user_id, touched.day, touched.any_new,
           touched.all_new AND writers.timezone = assumed.zone
               AND writers.aggregates_timezone IS NOT DISTINCT FROM writers.timezone AS applies
    FROM touched
    JOIN writers ON writers.id = touched.user_id
    JOIN UNNEST({writers}) AS assumed (user_id, zone) ON assumed.user_id = touched.user_id
),
days_added AS (
    INSERT INTO day_aggregates AS a (user_id, day, screen_us, focus_us, focus_count, focus_quality_micros,
        break_us, break_count, sessions, notifications_received, notifications_interacted, distractions)
    SELECT d.user_id, d.day, ({hour_array})[(d.n - 1) * 24 + 1 : d.n * 24], d.focus_us, d.focus_count,
           d.focus_quality_micros, d.break_us, d.break_count, d.sessions, d.notifications_received,
           d.notifications_interacted, d.distractions
    FROM UNNEST({day_keys}, {day_sums})
         WITH ORDINALITY AS d (user_id, day, focus_us, focus_count, focus_quality_micros, break_us, break_count,
                               sessions, notifications_received, notifications_interacted, distractions, n)
    JOIN verdicts ON verdicts.user_id = d.user_id AND verdicts.day = d.day AND verdicts.applies
    ORDER BY d.n
    ON CONFLICT (user_id, day) DO UPDATE SET {day_set}
),",
        hour_array = hours,
        day_set = day_upsert_set(),
    );
    if shape.apps {
        let apps = parameters.take(&["uuid", "date", "text", "int8", "int4", "text"]);
        let _ = write!(
            sql,
            "
apps_added AS (
    INSERT INTO day_app_aggregates AS a (user_id, day, app_name, screen_us, uses, categories)
    SELECT x.user_id, x.day, x.app_name, x.screen_us, x.uses,
           ARRAY(SELECT json_array_elements_text(x.categories::json))
    FROM UNNEST({apps}) WITH ORDINALITY AS x (user_id, day, app_name, screen_us, uses, categories, n)
    JOIN verdicts ON verdicts.user_id = x.user_id AND verdicts.day = x.day AND verdicts.applies
    ORDER BY x.n
    ON CONFLICT (user_id, day, app_name) DO UPDATE
    SET screen_us = a.screen_us + EXCLUDED.screen_us,
        uses = a.uses + EXCLUDED.uses,
        categories = CASE WHEN EXCLUDED.categories <@ a.categories THEN a.categories
                          ELSE ARRAY(SELECT DISTINCT c FROM unnest(a.categories || EXCLUDED.categories) AS c) END
),"
        );
    }
    sql.push_str(
        "
marked AS (
    INSERT INTO dirty_days (user_id, day)
    SELECT user_id, day FROM verdicts WHERE any_new AND NOT applies
    ORDER BY user_id, day
    ON CONFLICT (user_id, day) DO UPDATE SET version = dirty_days.version + 1, marked_at = now()
)
SELECT id AS user_id, timezone,
       aggregates_timezone IS NOT DISTINCT FROM timezone AS aggregates_complete,
       NULL::uuid AS record_id FROM writers
UNION ALL
SELECT NULL, NULL, NULL, record_id FROM claimed",
    );
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_binding_order() {
        let only_screen_time = build(Shape {
            kinds: [true, false, false, false, false, false],
            apps: true,
        });
        // 2 writer + 5 claim + 9 screen-time + 3 touch + 2 + 1 + 9 day + 6 app parameters.
        assert!(only_screen_time.contains("$37::text[]"));
        assert!(!only_screen_time.contains("$38::"));
        assert!(!only_screen_time.contains("INSERT INTO sessions"));
        let everything = build(Shape {
            kinds: [true; 6],
            apps: true,
        });
        assert!(everything.contains("$76::text[]"));
        assert!(!everything.contains("$77::"));
        let no_apps = build(Shape {
            kinds: [false, false, false, false, true, false],
            apps: false,
        });
        assert!(!no_apps.contains("apps_added"));
    }
}
