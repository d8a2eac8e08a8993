//! What a kept recent week weighs, for the bound on analytics' memory: its days as read (with
//! each app's day) and the week composed from them once read (seven summaries, each with 24
//! hours and its top apps; the days' apps are shared with the days read, not copied).
//! Calibrated against the heap a week really takes (the test below counts allocations), so that
//! `VIEW_CACHE_MAX_MB` bounds what it says.

use wellbeing_store::aggregates::Period;

/// A period's fixed part, its days map and the composed week's fixed part (summaries, hours).
const PERIOD_BYTES: usize = 1_024;
/// Per day: the aggregate in its map node, and its summary in the composed week (24 hours).
const DAY_BYTES: usize = 1_400;
/// Per app and day: its entry in the day's sorted apps, with its name and its categories.
const APP_DAY_BYTES: usize = 136;
const GOAL_BYTES: usize = 256;
const FOCUS_BYTES: usize = 32;

/// About the heap bytes of a kept week made of `period`, once its week is composed.
pub fn kept_week_bytes(period: &Period) -> usize {
    let app_days: usize = period.days.values().map(|day| day.apps.len()).sum();
    PERIOD_BYTES
        + period.days.len() * DAY_BYTES
        + app_days * APP_DAY_BYTES
        + period.goals.len() * GOAL_BYTES
        + period.focus.len() * FOCUS_BYTES
}

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use chrono::NaiveDate;
    use wellbeing_domain::aggregate::{AppDay, DayAggregate};

    use super::*;
    use crate::views::days::Days;
    use crate::views::summaries::WeekData;

    /// Counts the bytes allocated and freed by the current thread (tests run in parallel).
    struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = LIVE.try_with(|live| live.set(live.get() + layout.size() as isize));
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let _ = LIVE.try_with(|live| live.set(live.get() - layout.size() as isize));
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    fn live() -> isize {
        LIVE.with(Cell::get)
    }

    /// A week of `apps` apps a day, each with one category, as the load tool's phones make.
    fn period(apps: usize) -> Period {
        let first = NaiveDate::from_ymd_opt(2026, 3, 2).expect("a date");
        let days = first
            .iter_days()
            .take(7)
            .map(|day| {
                let mut aggregate = DayAggregate::default();
                aggregate.screen_us[9] = 3_600_000_000;
                // Collected at once, as a read of the days builds them.
                let apps = (0..apps).map(|index| {
                    let app = AppDay {
                        screen_us: 60_000_000 * (index as i64 + 1),
                        uses: 3,
                        categories: ["entertainment".to_owned()].into_iter().collect(),
                    };
                    (format!("Application {index}"), app)
                });
                aggregate.apps = std::sync::Arc::new(apps.collect());
                (day, aggregate)
            })
            .collect();
        Period {
            timezone: "Europe/Berlin".to_owned(),
            complete: true,
            days,
            dirty: Vec::new(),
            goals: Vec::new(),
            privacy: None,
            focus: Vec::new(),
        }
    }

    /// The heap a kept week of `apps` apps a day takes: the period and its composed week.
    fn measured(apps: usize) -> (usize, usize) {
        let before = live();
        let period = period(apps);
        let days = Days {
            summaries: period
                .days
                .iter()
                .map(|(day, aggregate)| aggregate.summary(*day))
                .collect(),
            apps: period.days.values().map(|day| day.apps.clone()).collect(),
            goals: Vec::new(),
            privacy: None,
            focus: Vec::new(),
        };
        let last = *period.days.keys().last().expect("seven days");
        let week = WeekData::new(last, days);
        let bytes = live() - before;
        let estimate = kept_week_bytes(&period);
        drop((period, week));
        (usize::try_from(bytes).expect("allocated"), estimate)
    }

    #[test]
    fn a_kept_week_weighs_about_what_it_takes() {
        let measurements: Vec<_> = [0, 5, 20, 40].map(|apps| (apps, measured(apps))).into();
        eprintln!("{measurements:?}");
        for (apps, (bytes, estimate)) in measurements {
            assert!(
                estimate >= bytes * 9 / 10 && estimate <= bytes * 13 / 10,
                "{apps} apps a day: {bytes} bytes, estimated {estimate}"
            );
        }
    }
}
