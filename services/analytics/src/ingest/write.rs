//! One ingestion write, for the events of one user (a batch) or of many (a group of single
//! events): what each new event contributes to its user's day aggregates is computed here, in
//! the zone the caller assumed for the user, and the store adds it in the statement that stores
//! the events (`store::ingest`), so an acknowledged event is already in the aggregates.

use std::collections::HashMap;

use chrono_tz::Tz;
use sqlx::PgConnection;
use uuid::Uuid;
use wellbeing_domain::aggregate::Days;
use wellbeing_store::event_ids::NewEventId;
use wellbeing_store::ingest::{DayChanges, NewEvents};
use wellbeing_store::{self as store, StoreError};

use crate::events::EventRow;

/// What a write did, index for index with its events.
pub struct Written {
    /// Whether each event was stored now (false: its event id names an earlier record, or its
    /// user no longer exists).
    pub created: Vec<bool>,
    /// The zone of each of the events' users that exists.
    pub zones: HashMap<Uuid, Tz>,
    /// What the write did to each user's day aggregates.
    pub changes: HashMap<Uuid, DayChanges>,
}

impl Written {
    pub fn stored(&self) -> usize {
        self.created.iter().filter(|created| **created).count()
    }
}

/// Stores the events whose event id is still free (the first of repeats wins) with their
/// contributions to the day aggregates. `assumed` holds the zone of every user of `events` as
/// this process knows it; a zone that changed meanwhile (or a wrong guess) costs only exactness
/// work later (the days are marked to be recomputed), never a wrong aggregate.
pub async fn write(
    connection: &mut PgConnection,
    events: &[&EventRow],
    assumed: &HashMap<Uuid, Tz>,
) -> Result<Written, StoreError> {
    // A stable sort, then only the first of repeats of one (user, event id) is sent: the record
    // claimed is the first one's. Sorted, so concurrent writers lock rows in one order.
    let mut order: Vec<usize> = (0..events.len()).collect();
    let key = |index: usize| (events[index].user_id(), events[index].event_id());
    order.sort_by_key(|&index| key(index));
    order.dedup_by_key(|index| key(*index));

    let mut new = NewEvents {
        zones: assumed
            .iter()
            .map(|(user, zone)| (*user, zone.name()))
            .collect(),
        ..NewEvents::default()
    };
    for &index in &order {
        let event = events[index];
        let user_id = event.user_id();
        let Some(zone) = assumed.get(&user_id) else {
            continue;
        };
        new.claims.push(NewEventId {
            user_id,
            event_id: event.event_id(),
            kind: event.kind(),
            record_id: event.id(),
            occurred_at: event.occurred_at(),
        });
        match event {
            EventRow::Session(row) => new.sessions.push(row),
            EventRow::ScreenTime(row) => new.screen_time.push(row),
            EventRow::FocusSession(row) => new.focus_sessions.push(row),
            EventRow::Break(row) => new.breaks.push(row),
            EventRow::Notification(row) => new.notifications.push(row),
            EventRow::Distraction(row) => new.distractions.push(row),
        }
        let mut days = Days::new();
        event.contribute(*zone, &mut days);
        for (day, contribution) in days {
            new.touches.push((event.id(), user_id, day));
            new.deltas
                .entry((user_id, day))
                .or_default()
                .add(&contribution);
        }
    }
    let stored = store::ingest::store(connection, &new).await?;
    // Record ids are new for every event, so only the first of repeats can have been stored.
    let created: Vec<bool> = events
        .iter()
        .map(|event| stored.created.contains(&event.id()))
        .collect();
    let zones: HashMap<Uuid, Tz> = stored
        .zones
        .into_iter()
        .map(|(user, name)| {
            let zone = wellbeing_domain::time::parse_timezone(&name).unwrap_or(Tz::UTC);
            (user, zone)
        })
        .collect();
    let mut changes = stored.changes;
    mark_days_in_stored_zones(connection, events, &created, assumed, &zones, &mut changes).await?;
    Ok(Written {
        created,
        zones,
        changes,
    })
}

/// A user whose stored zone is not the one assumed (it changed, or the caller's was only a
/// guess) had the days of the assumed zone marked for recomputation, and no delta added: the
/// local days the new events fall on in the stored zone are marked too, before the write is
/// answered, so no aggregate lacks them (they are read from raw records until recomputed). What
/// the statement did to that user's days is then not what a copy of them should be brought
/// over, so it is not told.
async fn mark_days_in_stored_zones(
    connection: &mut PgConnection,
    events: &[&EventRow],
    created: &[bool],
    assumed: &HashMap<Uuid, Tz>,
    stored: &HashMap<Uuid, Tz>,
    changes: &mut HashMap<Uuid, DayChanges>,
) -> Result<(), StoreError> {
    let mut days_to_mark = Vec::new();
    for (event, _) in events.iter().zip(created).filter(|(_, created)| **created) {
        let user_id = event.user_id();
        let (Some(zone), Some(guess)) = (stored.get(&user_id), assumed.get(&user_id)) else {
            continue;
        };
        if zone != guess {
            let mut days = Days::new();
            event.contribute(*zone, &mut days);
            days_to_mark.extend(days.into_keys().map(|day| (user_id, day)));
            changes.remove(&user_id);
        }
    }
    if !days_to_mark.is_empty() {
        days_to_mark.sort_unstable();
        days_to_mark.dedup();
        store::dirty_days::mark(connection, &days_to_mark).await?;
    }
    Ok(())
}
