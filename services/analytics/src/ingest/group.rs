//! Group commit of single events. Concurrent requests, of any users, are gathered for at most
//! [`GATHER`] or [`MAX_GROUP`] events and written in one statement (its own transaction): one
//! round trip and one WAL flush for all of them instead of one each. Every caller is answered only after that
//! COMMIT and after its user's views were invalidated, so an acknowledged event is durable and
//! visible to the next read, exactly as when each request had its own transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use futures_util::future::join_all;
use sqlx::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tracing::Instrument;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_store::StoreError;

use super::write::{Written, write};
use crate::accounts::account_gone;
use crate::events::EventRow;
use crate::view_cache::ViewCache;

/// How long the first event of a group waits for others to join it.
const GATHER: Duration = Duration::from_millis(1);
/// The most events one transaction takes.
const MAX_GROUP: usize = 256;
/// Groups being written at once: while one waits for its WAL flush, the next is gathered and
/// written (their flushes then often share one fsync).
const WRITERS: usize = 3;
/// Events waiting for a writer; beyond this, callers wait to be queued.
const QUEUE: usize = 4096;

/// A stored (or found) event, as its caller needs it for the answer.
pub struct Committed {
    pub row: EventRow,
    /// False: the event id names an earlier record, which the caller looks up.
    pub created: bool,
    pub timezone: Tz,
}

struct Pending {
    row: EventRow,
    /// The zone of the event's user as the caller knows it.
    zone: Tz,
    reply: oneshot::Sender<Result<Committed, ServiceError>>,
}

/// The queue of single events waiting to be written.
#[derive(Clone)]
pub struct Queue {
    sender: mpsc::Sender<Pending>,
}

impl Queue {
    /// Starts the task that gathers and writes groups; it ends when every handle is dropped.
    pub fn start(pool: PgPool, cache: ViewCache) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(gather(pool, cache, receiver));
        Self { sender }
    }

    /// Writes one event with whatever else is waiting; answers once it is committed.
    pub async fn write(&self, row: EventRow, zone: Tz) -> Result<Committed, ServiceError> {
        let stopped = || ServiceError::unavailable("the service is stopping, try again");
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Pending { row, zone, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Takes a writer, then the events waiting (the first one waits for at most [`GATHER`] for
/// company), and writes them as one group in the background.
async fn gather(pool: PgPool, cache: ViewCache, mut receiver: mpsc::Receiver<Pending>) {
    let writers = Arc::new(Semaphore::new(WRITERS));
    loop {
        let Ok(permit) = writers.clone().acquire_owned().await else {
            return;
        };
        let mut group = Vec::with_capacity(MAX_GROUP);
        if receiver.recv_many(&mut group, MAX_GROUP).await == 0 {
            return;
        }
        let deadline = tokio::time::Instant::now() + GATHER;
        while group.len() < MAX_GROUP {
            let room = MAX_GROUP - group.len();
            match tokio::time::timeout_at(deadline, receiver.recv_many(&mut group, room)).await {
                Ok(received) if received > 0 => {}
                _ => break,
            }
        }
        let span = tracing::info_span!("ingest.group", events = group.len());
        tokio::spawn(commit(pool.clone(), cache.clone(), group, permit).instrument(span));
    }
}

/// Writes a group in one transaction (if that fails for a reason other than the database being
/// unreachable, each event in a transaction of its own, so that one caller's bad event fails
/// only that caller), then invalidates each user with new events once and answers everyone.
async fn commit(pool: PgPool, cache: ViewCache, group: Vec<Pending>, writer: OwnedSemaphorePermit) {
    let rows: Vec<&EventRow> = group.iter().map(|pending| &pending.row).collect();
    let zones: HashMap<Uuid, Tz> = group
        .iter()
        .map(|pending| (pending.row.user_id(), pending.zone))
        .collect();
    let outcomes: Vec<Result<(bool, Tz), ServiceError>> =
        match statement(&pool, &rows, &zones).await {
            Ok(written) => (0..rows.len())
                .map(|index| outcome(&written, rows[index], index))
                .collect(),
            Err(error @ StoreError::Unavailable(_)) => {
                let error = ServiceError::from(error);
                rows.iter().map(|_| Err(error.clone())).collect()
            }
            Err(error) if rows.len() == 1 => vec![Err(error.into())],
            Err(error) => {
                tracing::warn!(
                    error = %wellbeing_common::error::ErrorChain(&error),
                    events = rows.len(),
                    "a group of events failed; writing them one by one"
                );
                let mut outcomes = Vec::with_capacity(rows.len());
                for row in &rows {
                    outcomes.push(
                        match statement(&pool, std::slice::from_ref(row), &zones).await {
                            Ok(written) => outcome(&written, row, 0),
                            Err(error) => Err(error.into()),
                        },
                    );
                }
                outcomes
            }
        };
    drop(writer);

    let mut users: Vec<Uuid> = rows
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| matches!(outcome, Ok((true, _))))
        .map(|(row, _)| row.user_id())
        .collect();
    users.sort_unstable();
    users.dedup();
    // Each user once, concurrently; the answers wait for it (read-your-writes).
    join_all(
        users
            .iter()
            .map(|user_id| async { cache.invalidate_user(&user_id.to_string()).await }),
    )
    .await;

    for (pending, outcome) in group.into_iter().zip(outcomes) {
        let answer = outcome.map(|(created, timezone)| Committed {
            row: pending.row,
            created,
            timezone,
        });
        // The caller may have gone (deadline): the event is stored all the same.
        let _ = pending.reply.send(answer);
    }
}

/// The write is one statement, its own transaction: committed when it returns.
async fn statement(
    pool: &PgPool,
    rows: &[&EventRow],
    zones: &HashMap<Uuid, Tz>,
) -> Result<Written, StoreError> {
    let mut connection = pool.acquire().await?;
    write(&mut connection, rows, zones).await
}

/// The answer of event `index` of a write: created or not, in its user's zone; a user that no
/// longer exists (erased meanwhile) stored nothing.
fn outcome(written: &Written, row: &EventRow, index: usize) -> Result<(bool, Tz), ServiceError> {
    let timezone = *written.zones.get(&row.user_id()).ok_or_else(account_gone)?;
    Ok((written.created[index], timezone))
}
