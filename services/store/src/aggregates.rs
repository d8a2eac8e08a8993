//! The day aggregates (`day_aggregates`, `day_app_aggregates`): the one-round-trip read every
//! view is composed from, and the replacement of days recomputed from raw records. Deltas are
//! added by the ingestion statement ([`crate::ingest`]). See the migration
//! `20261205000001_day_aggregates.sql` for the protocol.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;
use wellbeing_domain::aggregate::{AppDay, DayAggregate, Days};

use crate::StoreError;
use crate::goals::GoalRow;
use crate::ingest::DayChanges;
use crate::privacy_states::PrivacyStateRow;

/// Day aggregates as the columns of an `UNNEST`: one entry per (user, day), screen time
/// flattened 24 per day.
#[derive(Default)]
pub struct DayArrays {
    pub users: Vec<Uuid>,
    pub dates: Vec<NaiveDate>,
    pub screen_us: Vec<i64>,
    pub focus_us: Vec<i64>,
    pub focus_count: Vec<i32>,
    pub focus_quality_micros: Vec<i64>,
    pub break_us: Vec<i64>,
    pub break_count: Vec<i32>,
    pub sessions: Vec<i32>,
    pub notifications_received: Vec<i32>,
    pub notifications_interacted: Vec<i32>,
    pub distractions: Vec<i32>,
}

/// Per-app aggregates as `UNNEST` columns; categories as a JSON array each.
#[derive(Default)]
pub struct AppArrays {
    pub users: Vec<Uuid>,
    pub dates: Vec<NaiveDate>,
    pub names: Vec<String>,
    pub screen_us: Vec<i64>,
    pub uses: Vec<i32>,
    pub categories: Vec<String>,
}

pub struct DayColumns {
    pub days: DayArrays,
    pub apps: AppArrays,
}

fn count(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl DayColumns {
    pub fn of<'a>(aggregates: impl Iterator<Item = (Uuid, NaiveDate, &'a DayAggregate)>) -> Self {
        let mut days = DayArrays::default();
        let mut apps = AppArrays::default();
        for (user, date, aggregate) in aggregates {
            days.users.push(user);
            days.dates.push(date);
            days.screen_us.extend_from_slice(&aggregate.screen_us);
            days.focus_us.push(aggregate.focus_us);
            days.focus_count.push(count(aggregate.focus_count));
            days.focus_quality_micros
                .push(aggregate.focus_quality_micros);
            days.break_us.push(aggregate.break_us);
            days.break_count.push(count(aggregate.break_count));
            days.sessions.push(count(aggregate.sessions));
            days.notifications_received
                .push(count(aggregate.notifications_received));
            days.notifications_interacted
                .push(count(aggregate.notifications_interacted));
            days.distractions.push(count(aggregate.distractions));
            for (name, app) in aggregate.apps.iter() {
                apps.users.push(user);
                apps.dates.push(date);
                apps.names.push(name.clone());
                apps.screen_us.push(app.screen_us);
                apps.uses.push(count(app.uses));
                apps.categories
                    .push(serde_json::to_string(&app.categories).unwrap_or_else(|_| "[]".into()));
            }
        }
        Self { days, apps }
    }
}

/// The `SET` of a day row's upsert that adds the new values (`EXCLUDED`) to the stored ones
/// (`a`): each hour of the screen-time array element by element, then every sum.
pub fn day_upsert_set() -> String {
    let hours = (1..=24).map(|hour| {
        format!("screen_us[{hour}] = a.screen_us[{hour}] + EXCLUDED.screen_us[{hour}]")
    });
    let sums = [
        "focus_us",
        "focus_count",
        "focus_quality_micros",
        "break_us",
        "break_count",
        "sessions",
        "notifications_received",
        "notifications_interacted",
        "distractions",
    ]
    .into_iter()
    .map(|column| format!("{column} = a.{column} + EXCLUDED.{column}"));
    hours.chain(sums).collect::<Vec<_>>().join(", ")
}

/// What a view needs of one user besides its own parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// The user's goals (and, when they have a focus goal, the focus sessions of `focus`).
    pub goals: bool,
    /// The latest privacy report.
    pub privacy: bool,
    /// The instants focus sessions are read between, for focus goals' completion time.
    pub focus: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// One user's aggregates of a range of days, with what the view asked besides.
#[derive(Debug, Default, Clone)]
pub struct Period {
    pub timezone: String,
    /// Whether the aggregates are complete in the user's zone (false while a rebuild after a
    /// timezone change has not finished: every day must then be computed from raw records).
    pub complete: bool,
    /// The stored days; a day absent had nothing recorded.
    pub days: Days,
    /// Days a write could not update by a delta: compute them from raw records.
    pub dirty: Vec<NaiveDate>,
    pub goals: Vec<GoalRow>,
    pub privacy: Option<PrivacyStateRow>,
    /// Focus sessions (start, end) of the `focus` range, read only when the user has a focus goal.
    pub focus: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Period {
    /// The period of days `first..=last` as a write that made `changes` left it, computed from
    /// this one (read before that write) the way the statement changed the stored rows; `None`
    /// when the write changed what a period holds besides the days (focus sessions).
    pub fn after_write(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        changes: &DayChanges,
    ) -> Option<Period> {
        if changes.focus_sessions {
            return None;
        }
        let mut period = self.clone();
        let within = |day: &NaiveDate| (first..=last).contains(day);
        for (day, delta) in changes.added.iter().filter(|(day, _)| within(day)) {
            period.days.entry(*day).or_default().add(delta);
        }
        for day in changes.dirty.iter().filter(|day| within(day)) {
            if !period.dirty.contains(day) {
                period.dirty.push(*day);
            }
        }
        Some(period)
    }
}

#[derive(sqlx::FromRow)]
struct PeriodRow {
    timezone: String,
    aggregates_timezone: Option<String>,
    days: String,
    apps: String,
    dirty: Vec<NaiveDate>,
    goals: Option<String>,
    privacy: Option<String>,
    focus: Option<String>,
}

type StoredDay = (
    NaiveDate,
    Vec<i64>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);
type StoredApp = (NaiveDate, String, i64, i64, Vec<String>);

/// The user's aggregates of `first..=last` and the extras, in one statement; `None` when the
/// user does not exist.
pub async fn read_period(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    first: NaiveDate,
    last: NaiveDate,
    extras: Extras,
) -> Result<Option<Period>, StoreError> {
    let (focus_from, focus_to) = extras.focus.unzip();
    let statement = sqlx::query_as::<_, PeriodRow>;
    let query = if extras.goals || extras.privacy {
        statement(READ_PERIOD)
            .bind(user_id)
            .bind(first)
            .bind(last)
            .bind(extras.goals)
            .bind(extras.privacy)
            .bind(focus_from)
            .bind(focus_to)
    } else {
        statement(READ_DAYS).bind(user_id).bind(first).bind(last)
    };
    let Some(row) = query.fetch_optional(executor).await? else {
        return Ok(None);
    };
    let decode = |error: serde_json::Error| StoreError::Other(sqlx::Error::Decode(Box::new(error)));
    let mut days = Days::new();
    for stored in serde_json::from_str::<Vec<StoredDay>>(&row.days).map_err(decode)? {
        days.insert(stored.0, day_of(&stored));
    }
    let mut apps_by_day: BTreeMap<NaiveDate, Vec<(String, AppDay)>> = BTreeMap::new();
    for (date, name, screen_us, uses, categories) in
        serde_json::from_str::<Vec<StoredApp>>(&row.apps).map_err(decode)?
    {
        let app = AppDay {
            screen_us,
            uses: u32::try_from(uses).unwrap_or(0),
            categories: categories.into_iter().collect(),
        };
        apps_by_day.entry(date).or_default().push((name, app));
    }
    for (date, apps) in apps_by_day {
        // Collected into a new vector of the exact size: a week is kept in memory.
        days.entry(date).or_default().apps = Arc::new(apps.into_iter().collect());
    }
    let goals = match &row.goals {
        Some(json) => serde_json::from_str(json).map_err(decode)?,
        None => Vec::new(),
    };
    let privacy = match &row.privacy {
        Some(json) => Some(serde_json::from_str(json).map_err(decode)?),
        None => None,
    };
    let focus = match &row.focus {
        Some(json) => serde_json::from_str(json).map_err(decode)?,
        None => Vec::new(),
    };
    Ok(Some(Period {
        complete: row.aggregates_timezone.as_deref() == Some(row.timezone.as_str()),
        timezone: row.timezone,
        days,
        dirty: row.dirty,
        goals,
        privacy,
        focus,
    }))
}

fn day_of(stored: &StoredDay) -> DayAggregate {
    let mut screen_us = [0i64; 24];
    for (hour, micros) in screen_us.iter_mut().zip(&stored.1) {
        *hour = *micros;
    }
    let count = |value: i64| u32::try_from(value).unwrap_or(0);
    DayAggregate {
        screen_us,
        focus_us: stored.2,
        focus_count: count(stored.3),
        focus_quality_micros: stored.4,
        break_us: stored.5,
        break_count: count(stored.6),
        sessions: count(stored.7),
        notifications_received: count(stored.8),
        notifications_interacted: count(stored.9),
        distractions: count(stored.10),
        apps: Arc::default(),
    }
}

/// The user's zones and the aggregates of the days `$2..=$3`, the part both reads share.
macro_rules! read_days_columns {
    () => {
        "
SELECT u.timezone, u.aggregates_timezone,
  COALESCE((SELECT json_agg(json_build_array(d.day, d.screen_us, d.focus_us, d.focus_count,
                   d.focus_quality_micros, d.break_us, d.break_count, d.sessions,
                   d.notifications_received, d.notifications_interacted, d.distractions))
            FROM day_aggregates AS d WHERE d.user_id = $1 AND d.day BETWEEN $2 AND $3), '[]')::text AS days,
  COALESCE((SELECT json_agg(json_build_array(x.day, x.app_name, x.screen_us, x.uses, x.categories))
            FROM day_app_aggregates AS x WHERE x.user_id = $1 AND x.day BETWEEN $2 AND $3), '[]')::text AS apps,
  ARRAY(SELECT dirty.day FROM dirty_days AS dirty
        WHERE dirty.user_id = $1 AND dirty.day BETWEEN $2 AND $3) AS dirty,"
    };
}

/// The days alone (no extras): a statement of its own, so that PostgreSQL settles on one
/// generic plan for it. Sharing the text below, whose extras its plan cannot leave out, kept it
/// planning each call anew (0.09 ms planned, 0.065 ms run; docs/PERFORMANCE.md).
const READ_DAYS: &str = concat!(
    read_days_columns!(),
    "
  NULL::text AS goals, NULL::text AS privacy, NULL::text AS focus
FROM users AS u WHERE u.id = $1"
);

const READ_PERIOD: &str = concat!(
    read_days_columns!(),
    "
  CASE WHEN $4 THEN COALESCE((SELECT json_agg(g ORDER BY g.created_at, g.id) FROM (
        SELECT id, user_id, goal_type, target_value, app_name, deadline, current_value, completed_at,
               created_at, updated_at FROM goals WHERE user_id = $1) AS g), '[]')::text END AS goals,
  CASE WHEN $5 THEN (SELECT row_to_json(p)::text FROM (
        SELECT id, user_id, reported_at, vpn_connected, kill_switch, leak_detected, caller_masking,
               calls_total, calls_blocked, blocklist_size, location_mode, network_threats,
               critical_threats, monitoring_enabled, score
        FROM privacy_states WHERE user_id = $1 ORDER BY reported_at DESC, id DESC LIMIT 1) AS p) END AS privacy,
  CASE WHEN $4 AND $6::timestamptz IS NOT NULL AND EXISTS (
        SELECT 1 FROM goals WHERE user_id = $1 AND goal_type IN ('daily_focus_minutes', 'weekly_focus_minutes'))
       THEN COALESCE((SELECT json_agg(json_build_array(f.started_at, f.ended_at) ORDER BY f.started_at, f.id)
            FROM focus_sessions AS f
            WHERE f.user_id = $1 AND f.started_at >= $6 - interval '24 hours' AND f.started_at < $7
              AND f.ended_at > $6), '[]')::text END AS focus
FROM users AS u WHERE u.id = $1"
);

/// Replaces the aggregates of the user's days `first..=last` by `days` (days recomputed from raw
/// records; a day absent is empty), inside the caller's transaction.
pub async fn replace(
    connection: &mut PgConnection,
    user_id: Uuid,
    first: NaiveDate,
    last: NaiveDate,
    days: &Days,
) -> Result<(), StoreError> {
    for statement in [
        "DELETE FROM day_aggregates WHERE user_id = $1 AND day BETWEEN $2 AND $3",
        "DELETE FROM day_app_aggregates WHERE user_id = $1 AND day BETWEEN $2 AND $3",
    ] {
        sqlx::query(statement)
            .bind(user_id)
            .bind(first)
            .bind(last)
            .execute(&mut *connection)
            .await?;
    }
    let kept = days
        .iter()
        .filter(|(date, day)| (first..=last).contains(*date) && !day.is_empty())
        .map(|(date, day)| (user_id, *date, day));
    let DayColumns { days, apps } = DayColumns::of(kept);
    if days.users.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO day_aggregates (user_id, day, screen_us, focus_us, focus_count, focus_quality_micros,
             break_us, break_count, sessions, notifications_received, notifications_interacted, distractions)
         SELECT d.user_id, d.day, ($3::int8[])[(d.n - 1) * 24 + 1 : d.n * 24], d.focus_us, d.focus_count,
                d.focus_quality_micros, d.break_us, d.break_count, d.sessions, d.notifications_received,
                d.notifications_interacted, d.distractions
         FROM UNNEST($1::uuid[], $2::date[], $4::int8[], $5::int4[], $6::int8[], $7::int8[], $8::int4[],
                     $9::int4[], $10::int4[], $11::int4[], $12::int4[])
              WITH ORDINALITY AS d (user_id, day, focus_us, focus_count, focus_quality_micros, break_us,
                                    break_count, sessions, notifications_received, notifications_interacted,
                                    distractions, n)",
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
    .bind(days.distractions)
    .execute(&mut *connection)
    .await?;
    sqlx::query(
        "INSERT INTO day_app_aggregates (user_id, day, app_name, screen_us, uses, categories)
         SELECT x.user_id, x.day, x.app_name, x.screen_us, x.uses,
                ARRAY(SELECT json_array_elements_text(x.categories::json))
         FROM UNNEST($1::uuid[], $2::date[], $3::text[], $4::int8[], $5::int4[], $6::text[])
              AS x (user_id, day, app_name, screen_us, uses, categories)",
    )
    .bind(apps.users)
    .bind(apps.dates)
    .bind(apps.names)
    .bind(apps.screen_us)
    .bind(apps.uses)
    .bind(apps.categories)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Deletes the user's aggregates of every day but `kept` (days a rebuild found empty, or
/// computed in the zone before).
pub async fn delete_except(
    connection: &mut PgConnection,
    user_id: Uuid,
    kept: &[NaiveDate],
) -> Result<(), StoreError> {
    for statement in [
        "DELETE FROM day_aggregates WHERE user_id = $1 AND NOT (day = ANY($2))",
        "DELETE FROM day_app_aggregates WHERE user_id = $1 AND NOT (day = ANY($2))",
    ] {
        sqlx::query(statement)
            .bind(user_id)
            .bind(kept)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// The zone of a user and the zone their aggregates are complete in.
#[derive(Debug, Clone, sqlx::FromRow, Deserialize)]
pub struct Zones {
    pub timezone: String,
    pub aggregates_timezone: Option<String>,
}

/// The user's zones, without a lock; `None` when the user does not exist.
pub async fn zones(pool: &PgPool, user_id: Uuid) -> Result<Option<Zones>, StoreError> {
    Ok(
        sqlx::query_as::<_, Zones>("SELECT timezone, aggregates_timezone FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(pool)
            .await?,
    )
}

/// Locks the user's row against writers (their `FOR KEY SHARE` waits) until the caller's
/// transaction ends, so days recomputed from raw records meanwhile miss no write; `None` when
/// the user does not exist.
pub async fn lock_writers(
    connection: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<Zones>, StoreError> {
    Ok(sqlx::query_as::<_, Zones>(
        "SELECT timezone, aggregates_timezone FROM users WHERE id = $1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_optional(connection)
    .await?)
}

/// Records that the user's aggregates are complete in `timezone` (inside the transaction that
/// holds [`lock_writers`]).
pub async fn mark_complete(
    connection: &mut PgConnection,
    user_id: Uuid,
    timezone: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET aggregates_timezone = $2 WHERE id = $1")
        .bind(user_id)
        .bind(timezone)
        .execute(connection)
        .await?;
    Ok(())
}

/// The first and last instants of the user's raw records (over every event table).
pub async fn raw_extent(
    pool: &PgPool,
    user_id: Uuid,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, StoreError> {
    let (first, last): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT LEAST((SELECT min(started_at) FROM screen_time WHERE user_id = $1),
                      (SELECT min(started_at) FROM sessions WHERE user_id = $1),
                      (SELECT min(started_at) FROM focus_sessions WHERE user_id = $1),
                      (SELECT min(started_at) FROM breaks WHERE user_id = $1),
                      (SELECT min(occurred_at) FROM notifications WHERE user_id = $1),
                      (SELECT min(occurred_at) FROM distractions WHERE user_id = $1)),
                GREATEST((SELECT max(ended_at) FROM screen_time WHERE user_id = $1),
                      (SELECT max(ended_at) FROM sessions WHERE user_id = $1),
                      (SELECT max(ended_at) FROM focus_sessions WHERE user_id = $1),
                      (SELECT max(ended_at) FROM breaks WHERE user_id = $1),
                      (SELECT max(occurred_at) FROM notifications WHERE user_id = $1),
                      (SELECT max(occurred_at) FROM distractions WHERE user_id = $1))",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?;
    Ok(first.zip(last))
}

/// Asks for a rebuild of the user's aggregates (after a timezone change).
pub async fn request_rebuild(pool: &PgPool, user_id: Uuid) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO aggregate_rebuilds (user_id) VALUES ($1)
         ON CONFLICT (user_id) DO UPDATE SET requested_at = now(), claimed_until = NULL",
    )
    .bind(user_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Takes up to `limit` rebuilds nobody holds (or whose lease ran out).
pub async fn claim_rebuilds(
    pool: &PgPool,
    limit: i64,
    lease: std::time::Duration,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, StoreError> {
    Ok(sqlx::query_as::<_, (Uuid, DateTime<Utc>)>(
        "UPDATE aggregate_rebuilds AS job
         SET claimed_until = now() + $2 * interval '1 millisecond', attempts = job.attempts + 1
         FROM (
             SELECT user_id FROM aggregate_rebuilds
             WHERE claimed_until IS NULL OR claimed_until < now()
             ORDER BY requested_at LIMIT $1 FOR UPDATE SKIP LOCKED
         ) AS free
         WHERE job.user_id = free.user_id
         RETURNING job.user_id, job.requested_at",
    )
    .bind(limit)
    .bind(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?)
}

/// Ends a rebuild, unless it was requested again since `requested_at` (then it stays queued).
pub async fn finish_rebuild(
    connection: &mut PgConnection,
    user_id: Uuid,
    requested_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM aggregate_rebuilds WHERE user_id = $1 AND requested_at = $2")
        .bind(user_id)
        .bind(requested_at)
        .execute(connection)
        .await?;
    Ok(())
}

/// Rebuilds waiting.
pub async fn rebuilds_waiting(pool: &PgPool) -> Result<i64, StoreError> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM aggregate_rebuilds")
            .fetch_one(pool)
            .await?,
    )
}

/// `count` (user, day) aggregates since `since`, picked at random, for the sweep
/// that checks them against raw records.
pub async fn sample(
    pool: &PgPool,
    since: NaiveDate,
    count: i64,
) -> Result<Vec<(Uuid, NaiveDate)>, StoreError> {
    Ok(sqlx::query_as::<_, (Uuid, NaiveDate)>(
        "SELECT user_id, day FROM day_aggregates WHERE day >= $1 ORDER BY random() LIMIT $2",
    )
    .bind(since)
    .bind(count)
    .fetch_all(pool)
    .await?)
}
