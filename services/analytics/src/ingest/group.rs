//! Group commit. Concurrent writes, of any users, each a unit of one event or a small batch, are
//! written together in one statement (its own transaction): one round trip, one executor set-up
//! and one WAL flush for all of them instead of one each. There is no gathering delay: a lone
//! write goes at once, and while [`WRITERS`] groups are in flight the next writes queue up and
//! leave together as the next group. Every caller is answered only after that COMMIT and after
//! its user's views were invalidated, so an acknowledged write is durable and visible to the
//! next read, exactly as when each had its own transaction. A unit is atomic: if a group fails
//! for a reason other than the database being unreachable, each unit is written on its own, so
//! one caller's bad batch fails only that caller.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono_tz::Tz;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};
use tracing::Instrument;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_store::StoreError;
use wellbeing_store::ingest::DayChanges;

use super::OwnWrite;
use super::write::{Written, write};
use crate::accounts::account_gone;
use crate::events::EventRow;
use crate::view_cache::ViewCache;
use wellbeing_local_views::Stamp;

/// Units larger than this are written on their own (see [`Queue::takes`]).
const MAX_UNIT_EVENTS: usize = 32;
/// The most units one group takes.
const MAX_GROUP: usize = 128;
/// Groups being written at once: while one waits for its WAL flush, the next is written (their
/// flushes then often share one fsync) and the queue fills with the group after. Two, not more:
/// smaller groups cost more per write (writes only, 64 connections: 1 writer 3.5k req/s, 2
/// writers 4.5k, 3 writers 2.4-2.9k, 6 writers 2.5k; docs/PERFORMANCE.md). Each writer has a
/// lane of its own and a user always goes to the same lane, so two groups in flight never hold
/// the same user's day rows and never wait for each other's commit.
pub const WRITERS: usize = 2;
/// Units waiting for a writer; beyond this, callers wait to be queued.
const QUEUE: usize = 4096;

/// A unit as committed: its events, whether each was stored now (false: its event id names an
/// earlier record), and its user's zone.
pub struct Committed {
    pub rows: Vec<EventRow>,
    pub created: Vec<bool>,
    pub timezone: Tz,
}

/// One user's events, written all or none.
struct Pending {
    user_id: Uuid,
    rows: Vec<EventRow>,
    /// The user's zone as the caller knows it.
    zone: Tz,
    reply: oneshot::Sender<Result<Committed, ServiceError>>,
}

/// The queues of units waiting to be written, one lane per writer.
#[derive(Clone)]
pub struct Queue {
    lanes: Arc<[mpsc::Sender<Pending>]>,
}

impl Queue {
    /// Starts the tasks that write groups, one per lane; they end when every handle is dropped.
    pub fn start(pool: PgPool, cache: ViewCache) -> Self {
        let lanes = (0..WRITERS)
            .map(|_| {
                let (sender, receiver) = mpsc::channel(QUEUE / WRITERS);
                tokio::spawn(gather(pool.clone(), cache.clone(), receiver));
                sender
            })
            .collect();
        Self { lanes }
    }

    /// The lane of a user: always the same one.
    fn lane(&self, user_id: Uuid) -> &mpsc::Sender<Pending> {
        let index = (user_id.as_u128() % self.lanes.len() as u128) as usize;
        &self.lanes[index]
    }

    /// Whether a unit of `events` events goes through the queue: a large batch is its own
    /// group already, and would only make the small writes queued with it wait.
    pub fn takes(events: usize) -> bool {
        events <= MAX_UNIT_EVENTS
    }

    /// Writes one user's events with whatever else is waiting; answers once they are committed
    /// and the user's views invalidated. `rows` must all be `user_id`'s.
    pub async fn write(
        &self,
        user_id: Uuid,
        rows: Vec<EventRow>,
        zone: Tz,
    ) -> Result<Committed, ServiceError> {
        let stopped = || ServiceError::unavailable("the service is stopping, try again");
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            user_id,
            rows,
            zone,
            reply,
        };
        self.lane(user_id)
            .send(pending)
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// One lane: takes its writer, then every unit waiting (at least one, at most [`MAX_GROUP`]),
/// and writes them as one group in the background, while the next group gathers.
async fn gather(pool: PgPool, cache: ViewCache, mut receiver: mpsc::Receiver<Pending>) {
    let writer = Arc::new(Mutex::new(LaneConnection::new(pool)));
    loop {
        let writer = writer.clone().lock_owned().await;
        let mut group = Vec::with_capacity(MAX_GROUP);
        if receiver.recv_many(&mut group, MAX_GROUP).await == 0 {
            return;
        }
        let events: usize = group.iter().map(|pending| pending.rows.len()).sum();
        let span = tracing::info_span!("ingest.group", units = group.len(), events);
        tokio::spawn(commit(cache.clone(), group, writer).instrument(span));
    }
}

/// The connection a lane's writer keeps between its groups. Taking a connection from the pool
/// and giving it back cost two more round trips to PostgreSQL besides the group's statement
/// (sqlx pings a connection when it is given back, and when it is taken after being idle); a
/// lane writes all day, so it keeps one, counted by the pool as in use. It goes back to the
/// pool after a group in which anything failed (the connection may be broken; the next group
/// takes one the pool tested) and once it has been kept for the pool's `max_lifetime`, so the
/// pool still renews it.
struct LaneConnection {
    pool: PgPool,
    held: Option<(PoolConnection<Postgres>, Instant)>,
}

impl LaneConnection {
    fn new(pool: PgPool) -> Self {
        Self { pool, held: None }
    }

    /// The kept connection, or a new one from the pool: while the database is down, this is
    /// where a group waits (up to the pool's acquire timeout).
    async fn connection(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if let (Some((_, since)), Some(lifetime)) =
            (&self.held, self.pool.options().get_max_lifetime())
            && since.elapsed() >= lifetime
        {
            self.held = None;
        }
        if self.held.is_none() {
            self.held = Some((self.pool.acquire().await?, Instant::now()));
        }
        let (connection, _) = self.held.as_mut().expect("kept or taken above");
        Ok(&mut **connection)
    }

    /// Gives the connection back to the pool, which tests it before handing it out again.
    fn give_back(&mut self) {
        self.held = None;
    }
}

/// Writes a group, invalidates each user with new events once, and answers everyone.
async fn commit(
    cache: ViewCache,
    group: Vec<Pending>,
    mut writer: OwnedMutexGuard<LaneConnection>,
) {
    // The connection first (see [`LaneConnection::connection`]).
    let connection = writer.connection().await;
    // Then, right before the statement, a caller that gave up meanwhile (its deadline passed)
    // has been answered with an error: its events must not be stored behind its back.
    let group: Vec<Pending> = group
        .into_iter()
        .filter(|pending| !pending.reply.is_closed())
        .collect();
    if group.is_empty() {
        return;
    }
    let zones: HashMap<Uuid, Tz> = group
        .iter()
        .map(|pending| (pending.user_id, pending.zone))
        .collect();
    let stamps_before: HashMap<Uuid, Stamp> = zones
        .keys()
        .map(|user| (*user, cache.stamp(&user.to_string())))
        .collect();
    let units: Vec<&[EventRow]> = group
        .iter()
        .map(|pending| pending.rows.as_slice())
        .collect();
    let sent_at = Instant::now();
    let (outcomes, changes) = match connection {
        Ok(connection) => write_units(connection, &units, &zones).await,
        Err(error) => {
            let error = ServiceError::from(StoreError::from(error));
            let outcomes = units.iter().map(|_| Err(error.clone())).collect();
            (outcomes, HashMap::new())
        }
    };
    if outcomes.iter().any(Result::is_err) {
        writer.give_back();
    }
    drop(writer);

    let mut users: Vec<String> = group
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| {
            matches!(outcome, Ok((created, _)) if created.iter().any(|created| *created))
        })
        .map(|(pending, _)| pending.user_id.to_string())
        .collect();
    users.sort_unstable();
    users.dedup();
    // The answers wait for it (read-your-writes).
    cache.invalidate_users(&users).await;
    let read_zones: HashMap<Uuid, Tz> = group
        .iter()
        .zip(&outcomes)
        .filter_map(|(pending, outcome)| Some((pending.user_id, outcome.as_ref().ok()?.1)))
        .collect();
    for (user, zone) in read_zones {
        let invalidated = users.binary_search(&user.to_string()).is_ok();
        let write = OwnWrite {
            user_id: user,
            zone,
            before: stamps_before[&user],
            invalidated,
            sent_at,
            changes: changes.get(&user),
        };
        write.keep_what_it_read(&cache).await;
    }

    for (pending, outcome) in group.into_iter().zip(outcomes) {
        let answer = outcome.map(|(created, timezone)| Committed {
            rows: pending.rows,
            created,
            timezone,
        });
        // The caller may have gone (deadline): the events are stored all the same.
        let _ = pending.reply.send(answer);
    }
}

type Outcome = Result<(Vec<bool>, Tz), ServiceError>;

/// The units in one statement on `connection` (each statement is its own transaction: committed
/// when it returns); if that fails for a reason other than the database being unreachable, each
/// unit in a statement of its own. With the outcomes, what the one statement did to each user's
/// days (nothing is told when the units went one by one: rare, and only a saving is lost).
async fn write_units(
    connection: &mut PgConnection,
    units: &[&[EventRow]],
    zones: &HashMap<Uuid, Tz>,
) -> (Vec<Outcome>, HashMap<Uuid, DayChanges>) {
    let rows: Vec<&EventRow> = units.iter().flat_map(|unit| unit.iter()).collect();
    let outcomes = match write(connection, &rows, zones).await {
        Ok(written) => return (split(&written, units), written.changes),
        Err(error @ StoreError::Unavailable(_)) => {
            let error = ServiceError::from(error);
            units.iter().map(|_| Err(error.clone())).collect()
        }
        Err(error) if units.len() == 1 => vec![Err(error.into())],
        Err(error) => {
            tracing::warn!(
                error = %wellbeing_common::error::ErrorChain(&error),
                units = units.len(),
                "a group of writes failed; writing them one by one"
            );
            let mut outcomes = Vec::with_capacity(units.len());
            for unit in units {
                let rows: Vec<&EventRow> = unit.iter().collect();
                outcomes.push(match write(connection, &rows, zones).await {
                    Ok(written) => split(&written, std::slice::from_ref(unit)).remove(0),
                    Err(error) => Err(error.into()),
                });
            }
            outcomes
        }
    };
    (outcomes, HashMap::new())
}

/// Each unit's answer from a write of all their events in order: what was created, in its
/// user's zone; a user that no longer exists (erased meanwhile) stored nothing.
fn split(written: &Written, units: &[&[EventRow]]) -> Vec<Outcome> {
    let mut created = written.created.iter().copied();
    units
        .iter()
        .map(|unit| {
            let mine: Vec<bool> = created.by_ref().take(unit.len()).collect();
            let user_id = unit
                .first()
                .map(EventRow::user_id)
                .ok_or_else(account_gone)?;
            let timezone = *written.zones.get(&user_id).ok_or_else(account_gone)?;
            Ok((mine, timezone))
        })
        .collect()
}
