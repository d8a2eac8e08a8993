//! Checks that day aggregates equal the aggregation of the raw records they summarise.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;
use wellbeing_domain::aggregate::{Days, aggregate};
use wellbeing_domain::time;
use wellbeing_store::aggregates::{self, Extras};

use crate::TestStack;

/// Polls until no day waits to be recomputed and no user waits for a rebuild.
pub async fn drain(stack: &TestStack) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut db = stack.database.connect().await?;
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM dirty_days) + (SELECT count(*) FROM aggregate_rebuilds)",
        )
        .fetch_one(&mut db)
        .await?;
        if pending == 0 {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{pending} items still pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn non_empty(days: Days, first: NaiveDate, last: NaiveDate) -> Days {
    days.into_iter()
        .filter(|(day, aggregate)| (first..=last).contains(day) && !aggregate.is_empty())
        .collect()
}

/// The stored and the raw-computed aggregates of the last `days_back` days and today, leaving
/// out days that are marked or awaiting a rebuild (reads compute those from raw records).
pub async fn stored_and_raw(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    timezone: Tz,
    days_back: i64,
) -> anyhow::Result<(Days, Days)> {
    let today = time::local_date(Utc::now(), timezone);
    let (first, last) = (today - chrono::Duration::days(days_back), today);
    let period = aggregates::read_period(pool, user_id, first, last, Extras::default())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user {user_id}"))?;
    let raw = wellbeing_store::events::between(
        pool,
        user_id,
        time::day_range(first, timezone).0,
        time::day_range(last, timezone).1,
    )
    .await?;
    let mut expected = non_empty(aggregate(timezone, &raw), first, last);
    if !period.complete {
        return Ok((Days::new(), Days::new()));
    }
    let mut stored = non_empty(period.days, first, last);
    for day in &period.dirty {
        expected.remove(day);
        stored.remove(day);
    }
    Ok((stored, expected))
}

/// The days on which the stored aggregates differ from the raw computation.
pub async fn wrong_days(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    timezone: Tz,
    days_back: i64,
) -> anyhow::Result<Vec<NaiveDate>> {
    let (stored, expected) = stored_and_raw(pool, user_id, timezone, days_back).await?;
    let days: std::collections::BTreeSet<NaiveDate> =
        stored.keys().chain(expected.keys()).copied().collect();
    Ok(days
        .into_iter()
        .filter(|day| stored.get(day) != expected.get(day))
        .collect())
}

/// Asserts the stored aggregates equal the raw computation (see [`stored_and_raw`]); returns how
/// many days were compared.
pub async fn assert_aggregates_exact(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    timezone: Tz,
    days_back: i64,
) -> anyhow::Result<usize> {
    let (stored, expected) = stored_and_raw(pool, user_id, timezone, days_back).await?;
    assert_eq!(stored, expected, "aggregates of {user_id} in {timezone}");
    Ok(expected.len())
}
