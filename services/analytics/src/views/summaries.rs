//! Daily, weekly and apps-usage views, quick stats and the dashboard.

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::answers::summaries::{Dashboard, DashboardWeek, QuickStats};
use wellbeing_domain::apps;
use wellbeing_domain::goals::GoalStatus;
use wellbeing_domain::insights::insights;
use wellbeing_domain::scores::wellbeing_from_summary;
use wellbeing_domain::summary::{AppMinutes, DailySummary};
use wellbeing_domain::weekly::{WeeklySummary, weekly_summary};

use super::days::{Days, EVERYTHING, Needs};
use super::privacy::{latest_privacy_score, privacy_score_view};
use super::{View, Viewer, Views, count_param, date_param};
use crate::goals::{self, GoalStatusFilter};

/// The 7 days ending with a date, as a weekly summary and as days.
pub struct WeekData {
    /// The days' apps, goals, privacy report and focus sessions. Their summaries are kept once,
    /// in `week` (`days.summaries` is empty): a kept week is held in memory per user.
    pub days: Days,
    pub week: WeeklySummary,
}

impl WeekData {
    /// The week ending `end`, from its seven days.
    pub fn new(end: NaiveDate, mut days: Days) -> Self {
        let week = weekly_summary(end, std::mem::take(&mut days.summaries));
        Self { days, week }
    }

    /// The days `first..=last` of this week, which begins on `start`.
    pub fn slice(&self, start: NaiveDate, first: NaiveDate, last: NaiveDate) -> Days {
        let index = |day: NaiveDate| usize::try_from((day - start).num_days()).unwrap_or(0);
        let range = index(first)..index(last) + 1;
        Days {
            summaries: self.week.daily_summaries[range.clone()].to_vec(),
            apps: self.days.apps[range].to_vec(),
            goals: self.days.goals.clone(),
            privacy: self.days.privacy.clone(),
            focus: self.days.focus.clone(),
        }
    }

    pub fn today(&self) -> &DailySummary {
        self.week
            .daily_summaries
            .last()
            .expect("a week has seven days")
    }
}

impl Views {
    pub async fn daily_summary(
        &self,
        user_id: Uuid,
        date: Option<&str>,
    ) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        let date = date_param("date", date, viewer.today)?;
        let params = format!("date={date}");
        self.cached(&viewer, "daily", &params, || async move {
            let mut days = self.days(&viewer, date, date).await?;
            Ok(days.summaries.pop())
        })
        .await
    }

    pub async fn weekly_summary(
        &self,
        user_id: Uuid,
        end_date: Option<&str>,
    ) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        let end = date_param("end_date", end_date, viewer.today)?;
        let params = format!("end={end}");
        self.cached(&viewer, "weekly", &params, || async move {
            Ok(self
                .week_ending(&viewer, end, Needs::default())
                .await?
                .week
                .clone())
        })
        .await
    }

    pub async fn apps_usage(&self, user_id: Uuid, days: u32) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        let days = count_param("days", days, 7, 1..=90)?;
        self.cached(&viewer, "apps", &format!("days={days}"), || async move {
            let start = viewer.today - Duration::days(i64::from(days) - 1);
            let days = self.days(&viewer, start, viewer.today).await?;
            Ok(apps::apps_usage_from_days(start, viewer.today, &days.apps))
        })
        .await
    }

    pub async fn quick_stats(&self, user_id: Uuid) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        self.cached(&viewer, "quick-stats", "", || async move {
            let data = self.week_ending(&viewer, viewer.today, EVERYTHING).await?;
            let today = data.today();
            let goals = goals::render_all(&viewer, &data, GoalStatusFilter::All);
            let privacy = latest_privacy_score(data.days.privacy.as_ref());
            Ok(QuickStats {
                today_screen_time: today.total_screen_time_minutes,
                today_focus_time: today.total_focus_time_minutes,
                privacy_score: privacy.map(|score| score.score),
                wellbeing_score: wellbeing_from_summary(today).score,
                notifications_today: today.notifications_received,
                goals_on_track: goals
                    .iter()
                    .filter(|goal| goal.status != GoalStatus::Exceeded)
                    .count()
                    .try_into()
                    .unwrap_or(u32::MAX),
            })
        })
        .await
    }

    pub async fn dashboard(&self, user_id: Uuid) -> Result<View, ServiceError> {
        let viewer = self.viewer(user_id).await?;
        self.cached(&viewer, "dashboard", "", || async move {
            let data = self.week_ending(&viewer, viewer.today, EVERYTHING).await?;
            let start = viewer.today - Duration::days(6);
            let week_apps = apps::apps_usage_from_days(start, viewer.today, &data.days.apps);
            let goals = goals::render_all(&viewer, &data, GoalStatusFilter::All);
            let privacy = privacy_score_view(data.days.privacy.as_ref());
            let today = data.today().clone();
            Ok(Dashboard {
                wellbeing: wellbeing_from_summary(&today),
                insights: insights(&data.week),
                top_apps: week_apps
                    .apps
                    .iter()
                    .take(5)
                    .map(|app| AppMinutes {
                        app_name: app.app_name.clone(),
                        minutes: app.total_time_minutes,
                    })
                    .collect(),
                week: DashboardWeek {
                    averages: data.week.weekly_averages.clone(),
                    best_day: data.week.best_day.clone(),
                    trends: data.week.trends.clone(),
                },
                today,
                privacy,
                goals,
            })
        })
        .await
    }

    /// The week ending `end`, with what else the view needs (one statement); the week ending
    /// today is the one composed once per generation of the user, where this process keeps it.
    pub async fn week_ending(
        &self,
        viewer: &Viewer,
        end: NaiveDate,
        needs: Needs,
    ) -> Result<Arc<WeekData>, ServiceError> {
        if end == viewer.today && self.cache.keeps_recent_days() {
            return self.recent_week(viewer).await;
        }
        let start = end - Duration::days(6);
        let days = self.period(viewer, start, end, needs).await?;
        Ok(Arc::new(WeekData::new(end, days)))
    }
}
