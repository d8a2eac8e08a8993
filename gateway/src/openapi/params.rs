//! Query and path parameters, for the document only: the handlers read them by hand
//! (`routes::query::ApiQuery`, `routes::goals::GoalId`), so a bad value is a 422 or 404 of ours.
#![allow(dead_code)]

use chrono::NaiveDate;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wellbeing_domain::goals::GoalStatus;

/// The `user_id` older clients send.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimedUser {
    /// Accepted only when it is the caller's own id; another is a 403.
    user_id: Option<Uuid>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DayParam {
    /// The local day, `YYYY-MM-DD`, a real date (`2026-02-30` is a 422); empty or absent: the
    /// user's today.
    date: Option<NaiveDate>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WeekParam {
    /// The last local day of the 7, `YYYY-MM-DD`; empty or absent: the user's today.
    end_date: Option<NaiveDate>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppsDaysParam {
    /// How many local days, ending today, the view covers.
    #[param(minimum = 1, maximum = 90, default = 7)]
    days: Option<u32>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatternDaysParam {
    /// How many local days, ending today, are analysed.
    #[param(minimum = 3, maximum = 30, default = 7)]
    days: Option<u32>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GoalStatusParam {
    /// Only the goals with this status.
    status: Option<GoalStatus>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryLimitParam {
    /// How many of the latest reports.
    #[param(minimum = 1, maximum = 100, default = 10)]
    limit: Option<u32>,
}

/// The formats of `GET /metrics`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum MetricsFormat {
    Prometheus,
    Json,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsFormatParam {
    /// `prometheus` (the text exposition format, the default) or `json` (a summary).
    #[param(inline)]
    format: Option<MetricsFormat>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GoalIdParam {
    /// The goal's id. Anything that is not one of the caller's goals (another user's, or not a
    /// UUID at all) is a 404.
    id: Uuid,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SessionIdParam {
    /// The session's id (from `GET /auth/sessions`). Anything that is not one of the caller's
    /// live sessions (another user's, an ended one, or not a UUID at all) is a 404.
    id: Uuid,
}
