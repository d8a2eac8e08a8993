//! The scheduled sweep. Nothing written is ever missed (marks are transactional and a dead
//! worker's claims come back when their lease ends), so what is left to sweep is the clock: when
//! local midnight passes in a timezone, yesterday's "today" views stop being read and the new
//! day's are cold. The sweep warms the dashboard and quick stats of that zone's recently active
//! users, so their first read of the day is a hit.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use wellbeing_domain::time;
use wellbeing_store::rollups;

use crate::worker::Worker;

/// Users active in the last this many days are warmed at their midnight.
const ACTIVE_DAYS: i64 = 7;

/// Runs forever: every `interval`, warms the users of every zone whose local date changed.
pub async fn run(worker: std::sync::Arc<Worker>, interval: Duration) {
    let mut last_dates: HashMap<String, NaiveDate> = HashMap::new();
    loop {
        if let Err(error) = sweep_once(&worker, &mut last_dates).await {
            tracing::warn!(%error, "sweep failed");
        }
        tokio::time::sleep(interval).await;
    }
}

async fn sweep_once(
    worker: &Worker,
    last_dates: &mut HashMap<String, NaiveDate>,
) -> Result<(), wellbeing_store::StoreError> {
    for zone_name in rollups::zones(&worker.pool).await? {
        let zone = time::parse_timezone(&zone_name).unwrap_or(chrono_tz::Tz::UTC);
        let today = time::local_date(Utc::now(), zone);
        let previous = last_dates.insert(zone_name.clone(), today);
        if previous.is_none_or(|date| date == today) {
            continue;
        }
        let since = today - chrono::Duration::days(ACTIVE_DAYS);
        let users: BTreeSet<_> = rollups::active_users_in_zone(&worker.pool, &zone_name, since)
            .await?
            .into_iter()
            .collect();
        tracing::info!(zone = %zone_name, users = users.len(), "new local day; warming views");
        worker.warm(users).await;
    }
    Ok(())
}
