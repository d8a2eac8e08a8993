//! Insight views: insights and recommendations, patterns, peak hours, the benchmark comparison
//! and the wellbeing score. All arithmetic is the domain crate's.

use chrono::Duration;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::insights::{comparison, insights, patterns, peak_hours};
use wellbeing_domain::scores::wellbeing_from_summary;

use super::days::Needs;
use super::{View, Views, count_param, date_param};

impl Views {
    /// Insights and recommendations from the 7 days ending today.
    pub async fn insights(&self, user_id: Uuid) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        self.cached(&viewer, "insights", "", || async move {
            Ok(insights(
                &self
                    .week_ending(&viewer, viewer.today, Needs::default())
                    .await?
                    .week,
            ))
        })
        .await
    }

    /// Patterns over the `days` local days ending today.
    pub async fn patterns(&self, user_id: Uuid, days: u32) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        let days = count_param("days", days, 7, 3..=30)?;
        self.cached(
            &viewer,
            "patterns",
            &format!("days={days}"),
            || async move {
                let start = viewer.today - Duration::days(i64::from(days) - 1);
                let days = self.days(&viewer, start, viewer.today).await?;
                Ok(patterns(&days.summaries))
            },
        )
        .await
    }

    pub async fn peak_hours(
        &self,
        user_id: Uuid,
        date: Option<&str>,
    ) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        let date = date_param("date", date, viewer.today)?;
        self.cached(
            &viewer,
            "peak-hours",
            &format!("date={date}"),
            || async move {
                let days = self.days(&viewer, date, date).await?;
                Ok(peak_hours(&days.summaries[0]))
            },
        )
        .await
    }

    /// The 7-day averages against the benchmarks.
    pub async fn comparison(&self, user_id: Uuid) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        self.cached(&viewer, "comparison", "", || async move {
            let data = self
                .week_ending(&viewer, viewer.today, Needs::default())
                .await?;
            Ok(comparison(&data.week.weekly_averages))
        })
        .await
    }

    pub async fn wellbeing_score(
        &self,
        user_id: Uuid,
        date: Option<&str>,
    ) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        let date = date_param("date", date, viewer.today)?;
        self.cached(
            &viewer,
            "wellbeing",
            &format!("date={date}"),
            || async move {
                let days = self.days(&viewer, date, date).await?;
                Ok(wellbeing_from_summary(&days.summaries[0]))
            },
        )
        .await
    }
}
