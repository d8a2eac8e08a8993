//! Privacy views: the score of the latest reported state, the history of scores, and their
//! trend over the last 7 local days. With no state reported yet, they say so instead of
//! inventing a number.

use std::collections::BTreeMap;

use chrono::Duration;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::answers::privacy::{
    NOTHING_REPORTED, PrivacyDayScore, PrivacyHistory, PrivacyHistoryEntry, PrivacyScoreView,
    PrivacyTrend,
};
use wellbeing_domain::scores::{PrivacyLevel, PrivacyScore, privacy_score, trend, trend_slope};
use wellbeing_domain::{round1, time};

use super::{View, Views, count_param};
use crate::privacy::domain_state;
use wellbeing_store::privacy_states::{self, PrivacyStateRow};

impl Views {
    pub async fn privacy_score(&self, user_id: Uuid) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        self.cached(&viewer, "privacy", "", || async move {
            let mut reader = self.read_connection(user_id).await?;
            let latest = privacy_states::latest(reader.connection(), user_id, 1).await;
            let latest = reader.keep_if_ok(latest)?;
            Ok(privacy_score_view(latest.first()))
        })
        .await
    }

    pub async fn privacy_history(&self, user_id: Uuid, limit: u32) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        let limit = count_param("limit", limit, 10, 1..=100)?;
        self.cached(
            &viewer,
            "privacy-history",
            &format!("limit={limit}"),
            || async move {
                let mut reader = self.read_connection(user_id).await?;
                let rows =
                    privacy_states::latest(reader.connection(), user_id, i64::from(limit)).await;
                let rows = reader.keep_if_ok(rows)?;
                let history = rows
                    .iter()
                    .map(|row| PrivacyHistoryEntry {
                        score: row.score,
                        level: PrivacyLevel::from_score(row.score),
                        reported_at: row.reported_at,
                    })
                    .collect();
                Ok(PrivacyHistory::new(history))
            },
        )
        .await
    }

    /// The last score of each of the 7 local days ending today, and their direction.
    pub async fn privacy_trend(&self, user_id: Uuid) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        self.cached(&viewer, "privacy-trend", "", || async move {
            let first = viewer.today - Duration::days(6);
            let (from, _) = time::day_range(first, viewer.timezone);
            let mut reader = self.read_connection(user_id).await?;
            let rows = privacy_states::since(reader.connection(), user_id, from).await;
            let rows = reader.keep_if_ok(rows)?;
            let mut last_of_day = BTreeMap::new();
            for row in &rows {
                last_of_day.insert(
                    time::local_date(row.reported_at, viewer.timezone),
                    row.score,
                );
            }
            let days = last_of_day
                .iter()
                .map(|(&date, &score)| PrivacyDayScore { date, score })
                .collect();
            let scores: Vec<f64> = last_of_day.values().copied().collect();
            let change = match (scores.first(), scores.last()) {
                (Some(first), Some(last)) => Some(round1(last - first)),
                _ => None,
            };
            let two_days = scores.len() >= 2;
            Ok(PrivacyTrend {
                trend: two_days.then(|| trend(&scores)),
                slope: two_days.then(|| round1(trend_slope(&scores))),
                change,
                days,
                period_days: 7,
                message: scores.is_empty().then_some(NOTHING_REPORTED),
            })
        })
        .await
    }
}

/// The score of the latest report, or `None` before the first.
pub fn latest_privacy_score(latest: Option<&PrivacyStateRow>) -> Option<PrivacyScore> {
    latest
        .and_then(|row| domain_state(row).ok())
        .map(|state| privacy_score(&state))
}

/// The privacy score view of the latest report: the score with its components, or a plain
/// "nothing yet".
pub fn privacy_score_view(latest: Option<&PrivacyStateRow>) -> PrivacyScoreView {
    match latest {
        Some(row) => PrivacyScoreView::reported(latest_privacy_score(latest), row.reported_at),
        None => PrivacyScoreView::nothing_reported(),
    }
}
