//! The days behind every view, from the day aggregates: one statement reads the aggregates of
//! the period with whatever else the view needs (goals, the latest privacy report, focus sessions
//! for focus goals), and the view is composed in memory. Raw records are read only for days the
//! aggregates cannot answer exactly: a day a write marked dirty, every day while the user's
//! aggregates are being rebuilt after a timezone change, or when the zone this process knew is
//! no longer the user's. A day computed from raw records goes through the same domain
//! functions, so both paths give the same numbers to the last bit. The recent week (what the
//! home-screen views show) is read with everything once per generation of the user
//! ([`crate::view_cache::ViewCache::recent_days`]), composed once ([`Views::recent_week`]), and
//! shared by the views composed from it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::aggregate::{DayAggregate, DayApps, aggregate, minutes_by_app};
use wellbeing_domain::summary::DailySummary;
use wellbeing_domain::time;
use wellbeing_local_views::Stamp;
use wellbeing_store::aggregates::{self, Extras, Period};
use wellbeing_store::goals::GoalRow;
use wellbeing_store::ingest::DayChanges;
use wellbeing_store::privacy_states::PrivacyStateRow;

use super::summaries::WeekData;
use super::{Viewer, Views};
use crate::accounts::account_gone;
use crate::view_cache::ViewCache;

/// What a view reads besides the days.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// The user's goals, with the focus sessions of the week ending today when one is a focus goal.
    pub goals: bool,
    /// The latest privacy report.
    pub privacy: bool,
}

/// Goals and the privacy report besides the days: what the home-screen views show, and what the
/// recent week is read with.
pub const EVERYTHING: Needs = Needs {
    goals: true,
    privacy: true,
};

/// The local days `first..=last` of one user, oldest first, and what else the view asked for.
#[derive(Default, Clone)]
pub struct Days {
    pub summaries: Vec<DailySummary>,
    /// Each day's apps, aligned with `summaries`: the aggregates' own maps, shared rather than
    /// copied (a copy in each kept week was a quarter of its memory, docs/PERFORMANCE.md).
    pub apps: Vec<DayApps>,
    pub goals: Vec<GoalRow>,
    pub privacy: Option<PrivacyStateRow>,
    /// Focus sessions (start, end) touching the week ending today, when the user has a focus goal.
    pub focus: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Days {
    /// Minutes per app on the last day (today for the views that use it).
    pub fn last_day_app_minutes(&self) -> BTreeMap<String, f64> {
        self.apps
            .last()
            .map(|apps| minutes_by_app(apps))
            .unwrap_or_default()
    }
}

/// The week ending today in a zone: what the home-screen views show, kept per user.
pub struct RecentWeek {
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Its name among the user's kept days.
    pub params: String,
}

impl RecentWeek {
    pub fn of(timezone: Tz, today: NaiveDate) -> Self {
        Self {
            first: today - Duration::days(6),
            last: today,
            params: format!("tz={timezone};today={today}"),
        }
    }

    /// Brings the user's kept recent week over this process's write of them (`before`: their
    /// stamp before it; `sent_at`: when its statement was sent), so that the views read next are
    /// composed without reading the days again.
    pub async fn carry_over_write(
        cache: &ViewCache,
        user_id: Uuid,
        timezone: Tz,
        before: Stamp,
        sent_at: Instant,
        changes: &DayChanges,
    ) {
        let week = Self::of(timezone, time::local_date(Utc::now(), timezone));
        let update = |period: &Period| period.after_write(week.first, week.last, changes);
        cache
            .carry_recent_days(&user_id.to_string(), &week.params, before, sent_at, update)
            .await;
    }
}

impl Views {
    pub async fn days(
        &self,
        viewer: &Viewer,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Days, ServiceError> {
        self.period(viewer, first, last, Needs::default()).await
    }

    /// The local days `first..=last` with what `needs` names. Days within the recent week come
    /// from that week as composed once per generation ([`Views::recent_week`]) when this process
    /// keeps it; otherwise reading the whole week with everything for a day of it would read
    /// about seven times the rows the view needs.
    pub async fn period(
        &self,
        viewer: &Viewer,
        first: NaiveDate,
        last: NaiveDate,
        needs: Needs,
    ) -> Result<Days, ServiceError> {
        let week = RecentWeek::of(viewer.timezone, viewer.today);
        if first >= week.first && last <= week.last && self.cache.keeps_recent_days() {
            let recent = self.recent_week(viewer).await?;
            return Ok(recent.slice(week.first, first, last));
        }
        let period = self.read(viewer, first, last, needs).await?;
        self.compose(viewer, &period, first, last).await
    }

    /// The week ending today with everything, composed once per generation of the user and
    /// shared by the views composed from it: after a write, the dashboard, quick stats, daily
    /// and weekly views each miss, and each would read and compose the same days.
    pub async fn recent_week(&self, viewer: &Viewer) -> Result<Arc<WeekData>, ServiceError> {
        let week = RecentWeek::of(viewer.timezone, viewer.today);
        let user_id = viewer.user_id.to_string();
        let kept = self
            .cache
            .recent_days(&user_id, &week.params, || {
                self.read(viewer, week.first, week.last, EVERYTHING)
            })
            .await?;
        let composed = kept
            .composed
            .get_or_try_init(|| async {
                let days = self
                    .compose(viewer, &kept.period, week.first, week.last)
                    .await?;
                Ok::<_, ServiceError>(Arc::new(WeekData::new(week.last, days)))
            })
            .await?;
        Ok(composed.clone())
    }

    /// The days `first..=last` of `period` as views show them: from the aggregates where they
    /// are exact, else computed from raw records.
    async fn compose(
        &self,
        viewer: &Viewer,
        period: &Period,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Days, ServiceError> {
        let all_days: Vec<NaiveDate> = first.iter_days().take_while(|day| *day <= last).collect();
        let trusted = period.complete && period.timezone == viewer.timezone.name();
        let from_raw: Vec<NaiveDate> = all_days
            .iter()
            .copied()
            .filter(|day| !trusted || period.dirty.contains(day))
            .collect();
        let mut computed = BTreeMap::new();
        if let (Some(from), Some(to)) = (from_raw.first(), from_raw.last()) {
            let raw = self.events_of_days(viewer, *from, *to).await?;
            computed = aggregate(viewer.timezone, &raw);
        }

        let empty = DayAggregate::default();
        let mut days = Days {
            summaries: Vec::with_capacity(all_days.len()),
            apps: Vec::with_capacity(all_days.len()),
            goals: period.goals.clone(),
            privacy: period.privacy.clone(),
            focus: period.focus.clone(),
        };
        for day in all_days {
            let aggregate = if from_raw.contains(&day) {
                computed.get(&day)
            } else {
                period.days.get(&day)
            };
            let aggregate = aggregate.unwrap_or(&empty);
            days.summaries.push(aggregate.summary(day));
            days.apps.push(aggregate.apps.clone());
        }
        Ok(days)
    }

    /// The stored aggregates of `first..=last` and what `needs` names, in one statement.
    async fn read(
        &self,
        viewer: &Viewer,
        first: NaiveDate,
        last: NaiveDate,
        needs: Needs,
    ) -> Result<Period, ServiceError> {
        let focus = needs.goals.then(|| {
            let (from, _) = time::day_range(viewer.today - Duration::days(6), viewer.timezone);
            let (_, to) = time::day_range(viewer.today, viewer.timezone);
            (from, to)
        });
        let extras = Extras {
            goals: needs.goals,
            privacy: needs.privacy,
            focus,
        };
        let mut reader = self.read_connection(viewer.user_id).await?;
        let period =
            aggregates::read_period(reader.connection(), viewer.user_id, first, last, extras).await;
        reader.keep_if_ok(period)?.ok_or_else(account_gone)
    }
}
