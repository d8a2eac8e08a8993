//! The six event tables, described once: each kind's row type, its table, the name `event_ids`
//! knows it by, its time column (the partition key; with the id it finds a record in its
//! month's partition) and its columns with their SQL types. The ingestion statement
//! (`ingest.rs`), the lookup of a record named by its event id and the export are built from
//! these descriptions; a seventh kind is a row type and a [`Table`] here (plus its migration).

use chrono::{DateTime, Utc};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sqlx::PgPool;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::StoreError;

/// One event table.
pub struct Table {
    pub name: &'static str,
    /// The kind as `event_ids.kind` and the API name it.
    pub kind: &'static str,
    /// The column the table is partitioned by.
    pub time_column: &'static str,
    /// The columns after `id, user_id, event_id`, with their SQL types, in the order of the
    /// row type's fields.
    pub columns: &'static [(&'static str, &'static str)],
}

/// The columns every event table starts with.
pub const ID_COLUMNS: [(&str, &str); 3] =
    [("id", "uuid"), ("user_id", "uuid"), ("event_id", "uuid")];

/// A row type of an event table.
pub trait EventTable: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static {
    const TABLE: Table;
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ScreenTimeRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub app_name: String,
    pub category: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub duration_minutes: f64,
    pub created_at: DateTime<Utc>,
}

impl EventTable for ScreenTimeRow {
    const TABLE: Table = Table {
        name: "screen_time",
        kind: "screen-time",
        time_column: "started_at",
        columns: &[
            ("app_name", "text"),
            ("category", "text"),
            ("started_at", "timestamptz"),
            ("ended_at", "timestamptz"),
            ("duration_minutes", "float8"),
            ("created_at", "timestamptz"),
        ],
    };
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub device_type: String,
    pub created_at: DateTime<Utc>,
}

impl EventTable for SessionRow {
    const TABLE: Table = Table {
        name: "sessions",
        kind: "session",
        time_column: "started_at",
        columns: &[
            ("started_at", "timestamptz"),
            ("ended_at", "timestamptz"),
            ("device_type", "text"),
            ("created_at", "timestamptz"),
        ],
    };
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct FocusSessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub quality_score: f64,
    pub task_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl EventTable for FocusSessionRow {
    const TABLE: Table = Table {
        name: "focus_sessions",
        kind: "focus-session",
        time_column: "started_at",
        columns: &[
            ("started_at", "timestamptz"),
            ("ended_at", "timestamptz"),
            ("quality_score", "float8"),
            ("task_name", "text"),
            ("created_at", "timestamptz"),
        ],
    };
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct BreakRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub duration_minutes: f64,
    pub break_type: String,
    pub created_at: DateTime<Utc>,
}

impl EventTable for BreakRow {
    const TABLE: Table = Table {
        name: "breaks",
        kind: "break",
        time_column: "started_at",
        columns: &[
            ("started_at", "timestamptz"),
            ("ended_at", "timestamptz"),
            ("duration_minutes", "float8"),
            ("break_type", "text"),
            ("created_at", "timestamptz"),
        ],
    };
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct NotificationRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub app_name: String,
    pub priority: i32,
    pub was_interacted: bool,
    pub created_at: DateTime<Utc>,
}

impl EventTable for NotificationRow {
    const TABLE: Table = Table {
        name: "notifications",
        kind: "notification",
        time_column: "occurred_at",
        columns: &[
            ("occurred_at", "timestamptz"),
            ("app_name", "text"),
            ("priority", "int4"),
            ("was_interacted", "bool"),
            ("created_at", "timestamptz"),
        ],
    };
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct DistractionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub source: String,
    pub severity: i32,
    pub duration_seconds: f64,
    pub created_at: DateTime<Utc>,
}

impl EventTable for DistractionRow {
    const TABLE: Table = Table {
        name: "distractions",
        kind: "distraction",
        time_column: "occurred_at",
        columns: &[
            ("occurred_at", "timestamptz"),
            ("source", "text"),
            ("severity", "int4"),
            ("duration_seconds", "float8"),
            ("created_at", "timestamptz"),
        ],
    };
}

/// The six tables, in the order the ingestion statement takes them.
pub const TABLES: [&Table; 6] = [
    &ScreenTimeRow::TABLE,
    &SessionRow::TABLE,
    &FocusSessionRow::TABLE,
    &BreakRow::TABLE,
    &NotificationRow::TABLE,
    &DistractionRow::TABLE,
];

/// `id, user_id, event_id, <columns>` of a table.
fn select_list(table: &Table) -> String {
    ID_COLUMNS
        .iter()
        .chain(table.columns)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The user's record `id`, whose time is `at` (as `event_ids` names it): the primary key finds
/// it in its month's partition.
pub async fn find<R: EventTable>(
    pool: &PgPool,
    user_id: Uuid,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Option<R>, StoreError> {
    let table = &R::TABLE;
    let sql = format!(
        "SELECT {} FROM {} WHERE id = $1 AND {} = $2 AND user_id = $3",
        select_list(table),
        table.name,
        table.time_column
    );
    Ok(sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(at)
        .bind(user_id)
        .fetch_optional(pool)
        .await?)
}

/// Every record of the user in one table (for the export), oldest first, as they are read:
/// a heavy user's records are never all held at once.
pub fn stream_of_user<R: EventTable>(
    connection: &mut sqlx::PgConnection,
    user_id: Uuid,
) -> BoxStream<'_, Result<R, StoreError>> {
    let table = &R::TABLE;
    let sql = format!(
        "SELECT {} FROM {} WHERE user_id = $1 ORDER BY {}, id",
        select_list(table),
        table.name,
        table.time_column
    );
    sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch(connection)
        .map_err(StoreError::from)
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_table_name_and_a_time_column_among_its_columns() {
        let mut names: Vec<&str> = TABLES.iter().map(|table| table.name).collect();
        let mut kinds: Vec<&str> = TABLES.iter().map(|table| table.kind).collect();
        names.sort_unstable();
        names.dedup();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!((names.len(), kinds.len()), (6, 6));
        for table in TABLES {
            assert!(
                table
                    .columns
                    .iter()
                    .any(|(name, _)| *name == table.time_column),
                "{}",
                table.name
            );
        }
        assert_eq!(
            select_list(&BreakRow::TABLE),
            "id, user_id, event_id, started_at, ended_at, duration_minutes, break_type, created_at"
        );
    }
}
