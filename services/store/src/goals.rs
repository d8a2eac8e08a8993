//! The `goals` table. Every statement filters by `user_id`, so another user's goal id simply is
//! not found.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct GoalRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub goal_type: String,
    pub target_value: f64,
    pub app_name: Option<String>,
    pub deadline: Option<NaiveDate>,
    pub current_value: Option<f64>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert(
    executor: impl sqlx::PgExecutor<'_>,
    goal: &GoalRow,
) -> Result<GoalRow, StoreError> {
    Ok(sqlx::query_as::<_, GoalRow>(
        "INSERT INTO goals (id, user_id, goal_type, target_value, app_name, deadline, current_value, completed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, user_id, goal_type, target_value, app_name, deadline, current_value, completed_at, created_at, updated_at",
    )
    .bind(goal.id)
    .bind(goal.user_id)
    .bind(&goal.goal_type)
    .bind(goal.target_value)
    .bind(&goal.app_name)
    .bind(goal.deadline)
    .bind(goal.current_value)
    .bind(goal.completed_at)
    .fetch_one(executor)
    .await?)
}

/// What [`insert_capped`] did.
pub enum Capped {
    Stored(GoalRow),
    /// The user already has `max` goals.
    Full,
    /// The user does not exist (erased meanwhile).
    NoUser,
}

/// Inserts a goal unless its user already has `max`. The user's row is locked `FOR NO KEY
/// UPDATE` first (writes of events take `FOR KEY SHARE` and are not held up), so concurrent
/// creations are counted one after the other and the cap is exact.
pub async fn insert_capped(pool: &PgPool, goal: &GoalRow, max: i64) -> Result<Capped, StoreError> {
    let mut transaction = pool.begin().await?;
    let owner: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind(goal.user_id)
            .fetch_optional(&mut *transaction)
            .await?;
    if owner.is_none() {
        return Ok(Capped::NoUser);
    }
    let (held,): (i64,) = sqlx::query_as("SELECT count(*) FROM goals WHERE user_id = $1")
        .bind(goal.user_id)
        .fetch_one(&mut *transaction)
        .await?;
    if held >= max {
        return Ok(Capped::Full);
    }
    let stored = insert(&mut *transaction, goal).await?;
    transaction.commit().await?;
    Ok(Capped::Stored(stored))
}

pub async fn find(
    pool: &PgPool,
    user_id: Uuid,
    goal_id: Uuid,
) -> Result<Option<GoalRow>, StoreError> {
    Ok(sqlx::query_as::<_, GoalRow>(
        "SELECT id, user_id, goal_type, target_value, app_name, deadline, current_value, completed_at, created_at, updated_at
         FROM goals WHERE user_id = $1 AND id = $2",
    )
    .bind(user_id)
    .bind(goal_id)
    .fetch_optional(pool)
    .await?)
}

pub async fn list(pool: &PgPool, user_id: Uuid) -> Result<Vec<GoalRow>, StoreError> {
    Ok(sqlx::query_as::<_, GoalRow>(
        "SELECT id, user_id, goal_type, target_value, app_name, deadline, current_value, completed_at, created_at, updated_at
         FROM goals WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}

/// Writes the changeable fields of a goal; `None` when it is not the user's.
pub async fn update(pool: &PgPool, goal: &GoalRow) -> Result<Option<GoalRow>, StoreError> {
    Ok(sqlx::query_as::<_, GoalRow>(
        "UPDATE goals
         SET target_value = $3, app_name = $4, deadline = $5, current_value = $6, completed_at = $7, updated_at = now()
         WHERE user_id = $1 AND id = $2
         RETURNING id, user_id, goal_type, target_value, app_name, deadline, current_value, completed_at, created_at, updated_at",
    )
    .bind(goal.user_id)
    .bind(goal.id)
    .bind(goal.target_value)
    .bind(&goal.app_name)
    .bind(goal.deadline)
    .bind(goal.current_value)
    .bind(goal.completed_at)
    .fetch_optional(pool)
    .await?)
}

/// Deletes a goal of the user; false when there was none.
pub async fn delete(pool: &PgPool, user_id: Uuid, goal_id: Uuid) -> Result<bool, StoreError> {
    let result = sqlx::query("DELETE FROM goals WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(goal_id)
        .execute(pool)
        .await?;
    Ok(result.rows_affected() > 0)
}
