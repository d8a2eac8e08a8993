//! The person's rights over their own data: a complete export, and erasure of every row and
//! every cached view.

use chrono::Utc;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::ServiceError;

use crate::accounts::account_gone;
use crate::ingest::rfc3339;
use crate::view_cache::ViewCache;
use wellbeing_store::event_tables::{
    BreakRow, DistractionRow, FocusSessionRow, NotificationRow, ScreenTimeRow, SessionRow,
    all_of_user,
};
use wellbeing_store::{self as store, users};

#[derive(Clone)]
pub struct PrivacyRights {
    pool: PgPool,
    cache: ViewCache,
}

impl PrivacyRights {
    pub fn new(pool: PgPool, cache: ViewCache) -> Self {
        Self { pool, cache }
    }

    /// Every record held about the user, as one JSON document. The password hash and refresh
    /// token hashes are secrets derived from the user's credentials and are not included.
    pub async fn export(&self, user_id: Uuid) -> Result<Vec<u8>, ServiceError> {
        let pool = &self.pool;
        let user = users::find_by_id(pool, user_id)
            .await?
            .ok_or_else(account_gone)?;
        let (screen_time, sessions, focus_sessions, breaks, notifications, distractions) = tokio::try_join!(
            all_of_user::<ScreenTimeRow>(pool, user_id),
            all_of_user::<SessionRow>(pool, user_id),
            all_of_user::<FocusSessionRow>(pool, user_id),
            all_of_user::<BreakRow>(pool, user_id),
            all_of_user::<NotificationRow>(pool, user_id),
            all_of_user::<DistractionRow>(pool, user_id),
        )?;
        let (goals, privacy_states, sign_ins) = tokio::try_join!(
            store::goals::list(pool, user_id),
            store::privacy_states::latest(pool, user_id, i64::MAX),
            store::refresh_tokens::of_user(pool, user_id),
        )?;
        let document = json!({
            "exported_at": rfc3339(Utc::now()),
            "user": {
                "user_id": user.id,
                "username": user.username,
                "email": user.email,
                "timezone": user.timezone,
                "created_at": rfc3339(user.created_at),
            },
            "screen_time": screen_time,
            "sessions": sessions,
            "focus_sessions": focus_sessions,
            "breaks": breaks,
            "notifications": notifications,
            "distractions": distractions,
            "goals": goals,
            "privacy_states": privacy_states,
            "sign_in_sessions": sign_ins,
        });
        serde_json::to_vec(&document).map_err(|error| ServiceError::internal(&error))
    }

    /// Deletes the user and, through the foreign keys, every row of theirs; then their views.
    pub async fn erase(&self, user_id: Uuid) -> Result<(), ServiceError> {
        if !users::delete(&self.pool, user_id).await? {
            return Err(account_gone());
        }
        self.cache.erase_user(&user_id.to_string()).await;
        tracing::info!(%user_id, "user erased");
        Ok(())
    }
}
