//! The `privacy_states` table: one row per report of the phone, with the score at that time.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct PrivacyStateRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub reported_at: DateTime<Utc>,
    pub vpn_connected: bool,
    pub kill_switch: bool,
    pub leak_detected: bool,
    pub caller_masking: bool,
    pub calls_total: i64,
    pub calls_blocked: i64,
    pub blocklist_size: i64,
    pub location_mode: String,
    pub network_threats: i64,
    pub critical_threats: i64,
    pub monitoring_enabled: bool,
    pub score: f64,
}

pub async fn insert(pool: &PgPool, row: &PrivacyStateRow) -> Result<PrivacyStateRow, StoreError> {
    Ok(sqlx::query_as::<_, PrivacyStateRow>(
        "INSERT INTO privacy_states (id, user_id, reported_at, vpn_connected, kill_switch, leak_detected, caller_masking,
             calls_total, calls_blocked, blocklist_size, location_mode, network_threats, critical_threats, monitoring_enabled, score)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         RETURNING id, user_id, reported_at, vpn_connected, kill_switch, leak_detected, caller_masking, calls_total,
             calls_blocked, blocklist_size, location_mode, network_threats, critical_threats, monitoring_enabled, score",
    )
    .bind(row.id)
    .bind(row.user_id)
    .bind(row.reported_at)
    .bind(row.vpn_connected)
    .bind(row.kill_switch)
    .bind(row.leak_detected)
    .bind(row.caller_masking)
    .bind(row.calls_total)
    .bind(row.calls_blocked)
    .bind(row.blocklist_size)
    .bind(&row.location_mode)
    .bind(row.network_threats)
    .bind(row.critical_threats)
    .bind(row.monitoring_enabled)
    .bind(row.score)
    .fetch_one(pool)
    .await?)
}

/// The newest reports first, at most `limit`.
pub async fn latest(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<PrivacyStateRow>, StoreError> {
    Ok(sqlx::query_as::<_, PrivacyStateRow>(
        "SELECT id, user_id, reported_at, vpn_connected, kill_switch, leak_detected, caller_masking, calls_total,
             calls_blocked, blocklist_size, location_mode, network_threats, critical_threats, monitoring_enabled, score
         FROM privacy_states WHERE user_id = $1 ORDER BY reported_at DESC, id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(executor)
    .await?)
}

/// Reports since `from`, oldest first.
pub async fn since(
    executor: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    from: DateTime<Utc>,
) -> Result<Vec<PrivacyStateRow>, StoreError> {
    Ok(sqlx::query_as::<_, PrivacyStateRow>(
        "SELECT id, user_id, reported_at, vpn_connected, kill_switch, leak_detected, caller_masking, calls_total,
             calls_blocked, blocklist_size, location_mode, network_threats, critical_threats, monitoring_enabled, score
         FROM privacy_states WHERE user_id = $1 AND reported_at >= $2 ORDER BY reported_at, id",
    )
    .bind(user_id)
    .bind(from)
    .fetch_all(executor)
    .await?)
}
