//! Month partitions of the event tables (migration `..._partitioned_events.sql` holds the
//! functions): created ahead of time, and dropped once older than the retention period.

use sqlx::PgPool;

use crate::StoreError;

/// One thing maintenance did: `created` / `dropped` a partition, `deleted` rows of a table.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MaintenanceAction {
    pub action: String,
    pub target: String,
    pub rows_affected: i64,
}

/// Creates the partitions of the current month and the `ahead_months` after it (if missing)
/// and, when `retention_days` > 0, removes every event older than that (whole partitions where
/// it can), with the event ids, day aggregates, queued days and privacy snapshots of that time.
pub async fn maintain(
    pool: &PgPool,
    ahead_months: u32,
    retention_days: u32,
) -> Result<Vec<MaintenanceAction>, StoreError> {
    Ok(sqlx::query_as::<_, MaintenanceAction>(
        "SELECT action, target, rows_affected FROM wb_maintain_partitions($1, $2)",
    )
    .bind(i32::try_from(ahead_months).unwrap_or(i32::MAX))
    .bind(i32::try_from(retention_days).unwrap_or(i32::MAX))
    .fetch_all(pool)
    .await?)
}

/// The month partitions of `table` (e.g. `screen_time_p202611`), oldest first.
pub async fn of_table(pool: &PgPool, table: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT child.relname::text
         FROM pg_inherits
         JOIN pg_class child ON child.oid = pg_inherits.inhrelid
         JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
         WHERE parent.relname = $1
         ORDER BY child.relname",
    )
    .bind(table)
    .fetch_all(pool)
    .await?)
}
