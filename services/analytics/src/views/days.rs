//! The days behind every view: a day whose rollup is clean (no write since the aggregator
//! computed it, in the user's current zone) comes from the rollup, today included; the rest
//! (days marked dirty, never rolled up or rolled up in another zone) are computed from raw events
//! with the very same domain functions. A day's summary depends only on its records, never on
//! the clock, and a write marks its days dirty in its own transaction, so a view costs the same
//! whatever the history size and equals the direct computation whether or not a rollup exists.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use wellbeing_domain::apps::{DayAppUsage, day_app_usage};
use wellbeing_domain::records::DayEvents;
use wellbeing_domain::summary::{DailySummary, daily_summary};
use wellbeing_store::{StoreError, rollups};

use super::{Viewer, Views};

/// The local days `first..=last` of one user, oldest first.
pub struct Days {
    pub summaries: Vec<DailySummary>,
    /// Per-app use of each day, aligned with `summaries`.
    pub apps: Vec<Vec<DayAppUsage>>,
}

impl Days {
    /// Minutes per app on the last day (today for the views that use it).
    pub fn last_day_app_minutes(&self) -> BTreeMap<String, f64> {
        self.apps
            .last()
            .map(|apps| {
                apps.iter()
                    .map(|app| (app.app_name.clone(), app.minutes))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Views {
    pub async fn days(
        &self,
        viewer: &Viewer,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Days, StoreError> {
        let timezone_name = viewer.timezone.name();
        let mut rolled_up = BTreeMap::new();
        if first <= last {
            for rollup in rollups::clean(
                self.read_pool(viewer.user_id),
                viewer.user_id,
                first,
                last,
                timezone_name,
            )
            .await?
            {
                let summary = serde_json::from_value::<DailySummary>(rollup.summary);
                let apps = serde_json::from_value::<Vec<DayAppUsage>>(rollup.apps);
                if let (Ok(summary), Ok(apps)) = (summary, apps) {
                    rolled_up.insert(rollup.day, (summary, apps));
                }
            }
        }
        let all_days: Vec<NaiveDate> = first.iter_days().take_while(|day| *day <= last).collect();
        let missing: Vec<NaiveDate> = all_days
            .iter()
            .copied()
            .filter(|day| !rolled_up.contains_key(day))
            .collect();
        let raw = match (missing.first(), missing.last()) {
            (Some(from), Some(to)) => self.events_of_days(viewer, *from, *to).await?,
            _ => DayEvents::default(),
        };
        let mut summaries = Vec::with_capacity(all_days.len());
        let mut apps = Vec::with_capacity(all_days.len());
        for day in all_days {
            match rolled_up.remove(&day) {
                Some((summary, day_apps)) => {
                    summaries.push(summary);
                    apps.push(day_apps);
                }
                None => {
                    summaries.push(daily_summary(day, viewer.timezone, &raw));
                    apps.push(day_app_usage(day, viewer.timezone, &raw.screen_time));
                }
            }
        }
        Ok(Days { summaries, apps })
    }
}
