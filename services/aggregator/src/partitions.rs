//! Partition upkeep of the event tables: every `PARTITION_MAINTENANCE_SECS` (and at start), the
//! month partitions up to `PARTITIONS_AHEAD_MONTHS` ahead are created, so inserts never wait on
//! DDL, and with `RETENTION_DAYS` set everything older is removed: whole months are dropped, which
//! is how data minimisation stays cheap. Several workers may run it at once; the SQL functions
//! serialise per table. The same upkeep forgets old failed sign-ins (`sign_in_failures`) and
//! removes dead sessions ([`crate::sessions`]).

use std::time::Duration;

use sqlx::PgPool;
use wellbeing_store::{partitions, sign_in_failures};

/// What the upkeep is told to do.
#[derive(Debug, Clone, Copy)]
pub struct Upkeep {
    pub ahead_months: u32,
    pub retention_days: u32,
    pub interval: Duration,
}

/// Runs forever (the task is aborted at shutdown).
pub async fn run(pool: PgPool, upkeep: Upkeep) {
    loop {
        match partitions::maintain(&pool, upkeep.ahead_months, upkeep.retention_days).await {
            Ok(actions) => {
                for action in actions
                    .iter()
                    .filter(|action| action.rows_affected > 0 || action.action != "deleted")
                {
                    // Table and partition names only: nothing about any user.
                    tracing::info!(
                        action = %action.action,
                        target = %action.target,
                        rows = action.rows_affected,
                        "partition upkeep"
                    );
                }
            }
            Err(error) => tracing::warn!(%error, "partition upkeep failed; retrying later"),
        }
        // Failed sign-ins no longer counted (the login throttle's table stays small).
        match sign_in_failures::forget_old(&pool).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, "old failed sign-ins forgotten"),
            Err(error) => tracing::warn!(%error, "forgetting old failed sign-ins failed"),
        }
        crate::sessions::remove_dead(&pool).await;
        tokio::time::sleep(upkeep.interval).await;
    }
}
