//! Goals: created and changed by the user, measured from tracked data (custom goals excepted),
//! and answered with their progress in the current period (local today, or the 7 local days
//! ending today). Every query is scoped to the caller, so another user's goal is simply not found.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;
use wellbeing_common::{ErrorCode, ServiceError};
use wellbeing_domain::answers::goals::{Goal, GoalList};
use wellbeing_domain::goals::{
    GoalMeasurements, GoalStatus, GoalType, goal_progress, measured_value, target_reached_at,
};
use wellbeing_domain::{time, validation};

use crate::accounts::{account_gone, field_error};
use crate::view_cache::ViewCache;
use crate::views::days::Needs;
use crate::views::summaries::WeekData;
use crate::views::{View, Viewer, Views, date_param};
use wellbeing_store::goals::{self, GoalRow};

/// Which goals a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoalStatusFilter {
    All,
    Only(GoalStatus),
}

/// The changes a `PUT` asks for.
pub struct GoalChanges {
    pub target_value: Option<f64>,
    pub app_name: Option<String>,
    pub deadline: Option<String>,
    pub current_value: Option<f64>,
}

/// Goals one user may keep: each is evaluated on every home-screen view.
pub const MAX_GOALS_PER_USER: i64 = 100;

/// What goal views read besides the days.
const GOALS: Needs = Needs {
    goals: true,
    privacy: false,
};

#[derive(Clone)]
pub struct Goals {
    views: Views,
    cache: ViewCache,
}

impl Goals {
    pub fn new(views: Views, cache: ViewCache) -> Self {
        Self { views, cache }
    }

    fn pool(&self) -> &PgPool {
        self.views.pool()
    }

    pub async fn create(
        &self,
        user_id: Uuid,
        goal_type: &str,
        target_value: f64,
        app_name: Option<String>,
        deadline: Option<&str>,
    ) -> Result<Vec<u8>, ServiceError> {
        let viewer = self.views.viewer(user_id).await?;
        let goal_type = parse_goal_type(goal_type)?;
        let app_name = app_name.filter(|name| !name.trim().is_empty());
        validation::validate_goal(goal_type, target_value, app_name.as_deref())
            .map_err(field_error)?;
        let deadline = parse_deadline(deadline)?;
        let row = GoalRow {
            id: Uuid::new_v4(),
            user_id,
            goal_type: goal_type.as_str().to_owned(),
            target_value,
            app_name,
            deadline,
            current_value: (goal_type == GoalType::Custom).then_some(0.0),
            completed_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let stored = match goals::insert_capped(self.pool(), &row, MAX_GOALS_PER_USER).await? {
            goals::Capped::Stored(stored) => stored,
            goals::Capped::Full => {
                return Err(ServiceError::new(
                    ErrorCode::Conflict,
                    format!(
                        "a user keeps at most {MAX_GOALS_PER_USER} goals; delete one to add another"
                    ),
                ));
            }
            goals::Capped::NoUser => return Err(account_gone()),
        };
        self.answer(&viewer, &stored).await
    }

    pub async fn update(
        &self,
        user_id: Uuid,
        goal_id: &str,
        changes: GoalChanges,
    ) -> Result<Vec<u8>, ServiceError> {
        let viewer = self.views.viewer(user_id).await?;
        let goal_id = parse_goal_id(goal_id)?;
        let mut row = goals::find(self.pool(), user_id, goal_id)
            .await?
            .ok_or_else(goal_not_found)?;
        let goal_type = parse_goal_type(&row.goal_type)?;
        if let Some(target_value) = changes.target_value {
            row.target_value = target_value;
        }
        if let Some(app_name) = changes.app_name {
            row.app_name = Some(app_name).filter(|name| !name.trim().is_empty());
        }
        validation::validate_goal(goal_type, row.target_value, row.app_name.as_deref())
            .map_err(field_error)?;
        if changes.deadline.is_some() {
            row.deadline = parse_deadline(changes.deadline.as_deref())?;
        }
        // A current value is the client's only for custom goals; measured ones ignore it.
        if goal_type == GoalType::Custom {
            if let Some(current) = changes.current_value {
                validation::validate_goal_current_value(current).map_err(field_error)?;
                row.current_value = Some(current);
            }
            let reached = row.current_value.unwrap_or(0.0) >= row.target_value;
            row.completed_at = match (reached, row.completed_at) {
                (true, Some(at)) => Some(at),
                (true, None) => Some(Utc::now()),
                (false, _) => None,
            };
        }
        let stored = goals::update(self.pool(), &row)
            .await?
            .ok_or_else(goal_not_found)?;
        self.answer(&viewer, &stored).await
    }

    pub async fn delete(&self, user_id: Uuid, goal_id: &str) -> Result<(), ServiceError> {
        self.views.viewer(user_id).await?;
        let goal_id = parse_goal_id(goal_id)?;
        if !goals::delete(self.pool(), user_id, goal_id).await? {
            return Err(goal_not_found());
        }
        self.cache.invalidate_user(&user_id.to_string()).await;
        Ok(())
    }

    /// `{goals: [...], count}`, optionally only those with one status.
    pub async fn list(&self, user_id: Uuid, status: Option<&str>) -> Result<View, ServiceError> {
        let viewer = self.views.viewer(user_id).await?;
        let filter = match status.map(str::trim) {
            None | Some("") => GoalStatusFilter::All,
            Some(text) => GoalStatusFilter::Only(text.parse().map_err(|_| {
                ServiceError::invalid("status", "status must be active, completed or exceeded")
            })?),
        };
        let params = format!("status={}", status.unwrap_or(""));
        self.views
            .cached(&viewer, "goals", &params, || async move {
                let data = self.views.week_ending(&viewer, viewer.today, GOALS).await?;
                Ok(GoalList::new(render_all(&viewer, &data, filter)))
            })
            .await
    }

    /// A changed goal: the user's views are invalidated, and the goal is answered with progress.
    async fn answer(&self, viewer: &Viewer, row: &GoalRow) -> Result<Vec<u8>, ServiceError> {
        self.cache
            .invalidate_user(&viewer.user_id.to_string())
            .await;
        let data = self.views.week_ending(viewer, viewer.today, GOALS).await?;
        let goal = render(
            row,
            viewer,
            &data,
            &data.days.last_day_app_minutes(),
            &data.days.focus,
        );
        serde_json::to_vec(&goal).map_err(|error| ServiceError::internal(&error))
    }
}

/// Every goal of the viewer with its progress in the current period (`data` read with the goals).
pub fn render_all(viewer: &Viewer, data: &WeekData, filter: GoalStatusFilter) -> Vec<Goal> {
    let app_minutes = data.days.last_day_app_minutes();
    data.days
        .goals
        .iter()
        .map(|row| render(row, viewer, data, &app_minutes, &data.days.focus))
        .filter(|goal| match filter {
            GoalStatusFilter::All => true,
            GoalStatusFilter::Only(status) => goal.status == status,
        })
        .collect()
}

fn render(
    row: &GoalRow,
    viewer: &Viewer,
    data: &WeekData,
    app_minutes: &BTreeMap<String, f64>,
    focus: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Goal {
    // Stored rows always hold a known type; an unknown one would be a custom goal at worst.
    let goal_type = row.goal_type.parse().unwrap_or(GoalType::Custom);
    let week_focus_minutes = data
        .week
        .daily_summaries
        .iter()
        .map(|day| day.total_focus_time_minutes)
        .sum();
    let measurements = GoalMeasurements {
        today: data.today(),
        week_focus_minutes,
        today_app_minutes: app_minutes,
    };
    let current = measured_value(goal_type, row.app_name.as_deref(), &measurements)
        .unwrap_or(row.current_value.unwrap_or(0.0));
    let progress = goal_progress(goal_type, row.target_value, current);
    let completed_at = match (progress.status, goal_type) {
        (GoalStatus::Completed, GoalType::Custom) => row.completed_at,
        (GoalStatus::Completed, _) => {
            focus_target_reached_at(goal_type, row.target_value, viewer, focus)
        }
        _ => None,
    };
    Goal {
        id: row.id,
        goal_type,
        target_value: row.target_value,
        app_name: row.app_name.clone(),
        deadline: row.deadline,
        current_value: progress.current_value,
        progress_percent: progress.progress_percent,
        status: progress.status,
        completed_at,
        period: goal_type.period(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// When a focus target of the current period was reached, from the focus sessions themselves.
fn focus_target_reached_at(
    goal_type: GoalType,
    target: f64,
    viewer: &Viewer,
    focus: &[(DateTime<Utc>, DateTime<Utc>)],
) -> Option<DateTime<Utc>> {
    let first_day = match goal_type {
        GoalType::DailyFocusMinutes => viewer.today,
        GoalType::WeeklyFocusMinutes => viewer.today - Duration::days(6),
        _ => return None,
    };
    let (from, _) = time::day_range(first_day, viewer.timezone);
    let (_, to) = time::day_range(viewer.today, viewer.timezone);
    target_reached_at(focus, from, to, target)
}

fn parse_goal_type(text: &str) -> Result<GoalType, ServiceError> {
    text.trim().parse().map_err(|_| {
        ServiceError::invalid(
            "goal_type",
            "goal_type must be one of daily_screen_time_limit, daily_focus_minutes, app_daily_limit, \
             daily_notifications_limit, weekly_focus_minutes, custom",
        )
    })
}

fn parse_deadline(text: Option<&str>) -> Result<Option<NaiveDate>, ServiceError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => date_param("deadline", Some(text), NaiveDate::MIN).map(Some),
    }
}

/// A goal id that is not a UUID cannot be one of the caller's goals.
fn parse_goal_id(text: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(text.trim()).map_err(|_| goal_not_found())
}

fn goal_not_found() -> ServiceError {
    ServiceError::not_found("no such goal")
}
