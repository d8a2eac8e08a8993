//! `GET /me/export`: every record held about the caller. Analytics streams the document in
//! chunks, so only its head is one value: the account and the small tables, then the event
//! tables follow as arrays of rows. The rows are the store's, generic here so this crate stays
//! free of SQL.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::timestamp;

/// The account, as the export states it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedUser {
    pub user_id: Uuid,
    pub username: String,
    pub email: String,
    /// IANA zone name.
    pub timezone: String,
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// The export's first members; the event arrays are appended after them.
#[derive(Debug, Serialize)]
pub struct ExportHead<'a, Goal, PrivacyState, SignIn> {
    #[serde(serialize_with = "timestamp::serialize")]
    pub exported_at: DateTime<Utc>,
    pub user: ExportedUser,
    pub goals: &'a [Goal],
    pub privacy_states: &'a [PrivacyState],
    /// Refresh-token sessions (never the tokens themselves).
    pub sign_in_sessions: &'a [SignIn],
}
