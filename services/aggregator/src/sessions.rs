//! Sessions upkeep, with the partitions' (same interval): dead sessions are removed with their
//! whole refresh-token family, so the `sessions` and `refresh_tokens` tables stay bounded by
//! the sessions alive (docs/OPERATIONS.md, "Sessions"). A family is removed whole or not at all:
//! removing a live family's used tokens would let a stolen old token pass for an unknown one
//! instead of ending the session.

use std::time::Duration;

use sqlx::PgPool;

/// How long an ended session is kept: longer than any access token lives (at most a day,
/// `ACCESS_TOKEN_TTL_SECS`), since the gateways refuse those tokens by the ended session's row.
pub const ENDED_KEPT: Duration = Duration::from_secs(2 * 86_400);

/// Removes the dead sessions; answers how many (0 when the database could not be reached:
/// the next upkeep tries again).
pub async fn remove_dead(pool: &PgPool) -> u64 {
    match wellbeing_store::sessions::remove_dead(pool, ENDED_KEPT).await {
        Ok(0) => 0,
        Ok(removed) => {
            tracing::info!(removed, "dead sessions removed");
            removed
        }
        Err(error) => {
            tracing::warn!(%error, "removing dead sessions failed; retrying later");
            0
        }
    }
}
