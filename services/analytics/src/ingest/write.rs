//! The statements of one ingestion transaction, for the events of one user (a batch) or of many
//! (a group of single events): the users' zones, the event-id claims, one insert per table, and
//! the dirty-day marks. A fixed number of statements whatever the number of events or users.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use chrono_tz::Tz;
use sqlx::PgConnection;
use uuid::Uuid;
use wellbeing_store::event_ids::NewEventId;
use wellbeing_store::{self as store, StoreError};

use crate::events::EventRow;

/// What a write did, index for index with its events.
pub struct Written {
    /// Whether each event was stored now (false: its event id names an earlier record, or its
    /// user no longer exists).
    pub created: Vec<bool>,
    /// The zone of each of the events' users that exists.
    pub zones: HashMap<Uuid, Tz>,
}

impl Written {
    pub fn stored(&self) -> usize {
        self.created.iter().filter(|created| **created).count()
    }
}

/// Stores the events whose event id is still free (the first of repeats wins) and marks the
/// local days they touch, inside the caller's transaction. Events of users that no longer exist
/// are left out. Claims and marks go in (user, ...) order, so concurrent writers wait for each
/// other's rows in one order and cannot deadlock.
pub async fn write(
    connection: &mut PgConnection,
    events: &[&EventRow],
) -> Result<Written, StoreError> {
    let mut users: Vec<Uuid> = events.iter().map(|event| event.user_id()).collect();
    users.sort_unstable();
    users.dedup();
    let zones: HashMap<Uuid, Tz> = store::users::timezones(connection, &users)
        .await?
        .into_iter()
        .map(|(id, name)| {
            let zone = wellbeing_domain::time::parse_timezone(&name).unwrap_or(Tz::UTC);
            (id, zone)
        })
        .collect();

    // A stable sort, then only the first of repeats of one (user, event id) is sent: the record
    // claimed is the first one's, whatever order the statement inserts rows in.
    let mut order: Vec<usize> = (0..events.len())
        .filter(|&index| zones.contains_key(&events[index].user_id()))
        .collect();
    let key = |index: usize| (events[index].user_id(), events[index].event_id());
    order.sort_by_key(|&index| key(index));
    order.dedup_by_key(|index| key(*index));
    let entries: Vec<NewEventId<'_>> = order
        .iter()
        .map(|&index| {
            let event = events[index];
            NewEventId {
                user_id: event.user_id(),
                event_id: event.event_id(),
                kind: event.kind(),
                record_id: event.id(),
                occurred_at: event.occurred_at(),
            }
        })
        .collect();
    let mut free: HashSet<(Uuid, Uuid)> = store::event_ids::claim(connection, &entries)
        .await?
        .into_iter()
        .collect();
    let created: Vec<bool> = events
        .iter()
        .map(|event| free.remove(&(event.user_id(), event.event_id())))
        .collect();

    let new = || {
        events
            .iter()
            .zip(&created)
            .filter(|(_, created)| **created)
            .map(|(event, _)| *event)
    };
    insert(connection, new()).await?;
    let mut marks: Vec<(Uuid, NaiveDate)> = new()
        .flat_map(|event| {
            let user_id = event.user_id();
            event
                .local_days(zones[&user_id])
                .into_iter()
                .map(move |day| (user_id, day))
        })
        .collect();
    marks.sort_unstable();
    marks.dedup();
    store::rollups::mark_dirty(connection, &marks).await?;
    Ok(Written { created, zones })
}

/// One insert per table that has new rows.
async fn insert<'a>(
    connection: &mut PgConnection,
    events: impl Iterator<Item = &'a EventRow>,
) -> Result<(), StoreError> {
    let mut sessions = Vec::new();
    let mut screen_time = Vec::new();
    let mut focus_sessions = Vec::new();
    let mut breaks = Vec::new();
    let mut notifications = Vec::new();
    let mut distractions = Vec::new();
    for event in events {
        match event {
            EventRow::Session(row) => sessions.push(row),
            EventRow::ScreenTime(row) => screen_time.push(row),
            EventRow::FocusSession(row) => focus_sessions.push(row),
            EventRow::Break(row) => breaks.push(row),
            EventRow::Notification(row) => notifications.push(row),
            EventRow::Distraction(row) => distractions.push(row),
        }
    }
    store::sessions::insert_many(connection, &sessions).await?;
    store::screen_time::insert_many(connection, &screen_time).await?;
    store::focus_sessions::insert_many(connection, &focus_sessions).await?;
    store::breaks::insert_many(connection, &breaks).await?;
    store::notifications::insert_many(connection, &notifications).await?;
    store::distractions::insert_many(connection, &distractions).await?;
    Ok(())
}
