//! The connections view reads run on, kept between reads.
//!
//! A statement run on the pool takes a connection and gives it back, and sqlx pings every
//! connection given back (a `Sync` and its answer): a second round trip to PostgreSQL for each
//! read, on both sides. Reads keep their connections here instead, like the write lanes do
//! ([`crate::ingest`]), so a read costs its own statement alone.
//!
//! Reads keep at most half of the connections the write lanes leave (at least one: 7 of the
//! default 16; on a replica, half of its pool), and a read waits here for one of them rather
//! than in the pool: the pool keeps room for everything else, and no read waits in the pool
//! for a connection readers keep to themselves. Fewer statements at once also cost PostgreSQL
//! less on two cores (docs/PERFORMANCE.md). A kept connection goes back to the pool, which
//! tests it, after a read that failed (it may be broken or left mid-answer), once it has been
//! idle here for a second (the database may have closed it meanwhile; the pool pings such a one
//! before handing it out), and once it has lived the pool's `max_lifetime`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A kept connection idle this long goes back to the pool rather than being used unchecked.
const REUSE_WITHIN: Duration = Duration::from_secs(1);

struct Idle {
    connection: PoolConnection<Postgres>,
    taken_at: Instant,
    used_at: Instant,
}

pub struct ReadConnections {
    pool: PgPool,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
}

impl ReadConnections {
    /// Reads on `pool`, of which `reserved` connections are kept by others (the write lanes).
    pub fn new(pool: PgPool, reserved: usize) -> Self {
        let max = pool.options().get_max_connections() as usize;
        let kept = (max.saturating_sub(reserved) / 2).max(1);
        Self {
            pool,
            permits: Arc::new(Semaphore::new(kept)),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A connection for one read: the kept one used last, if within the last second, else one
    /// from the pool.
    pub async fn take(&self) -> Result<ReadConnection<'_>, sqlx::Error> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (newest, stale) = {
            let mut idle = self.idle();
            let stale = self.take_stale(&mut idle);
            (idle.pop(), stale)
        };
        drop(stale);
        let (connection, taken_at) = match newest {
            Some(kept) => (kept.connection, kept.taken_at),
            None => (self.pool.acquire().await?, Instant::now()),
        };
        Ok(ReadConnection {
            home: self,
            connection: Some(connection),
            taken_at,
            succeeded: false,
            _permit: permit,
        })
    }

    /// The kept connections not to use again, out of `idle`. They were pushed in the order they
    /// were used, so they are at the bottom.
    fn take_stale(&self, idle: &mut Vec<Idle>) -> Vec<Idle> {
        let fresh_from = idle
            .iter()
            .position(|kept| self.reusable(kept))
            .unwrap_or(idle.len());
        idle.drain(..fresh_from).collect()
    }

    fn reusable(&self, kept: &Idle) -> bool {
        kept.used_at.elapsed() < REUSE_WITHIN && !self.outlived(kept.taken_at)
    }

    fn outlived(&self, taken_at: Instant) -> bool {
        self.pool
            .options()
            .get_max_lifetime()
            .is_some_and(|lifetime| taken_at.elapsed() >= lifetime)
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many connections reads keep between them now (what the tests look at).
    pub fn kept(&self) -> usize {
        self.idle().len()
    }
}

/// One read's connection: kept for the next read when the read succeeded ([`Self::keep_if_ok`]),
/// else given back to the pool.
pub struct ReadConnection<'a> {
    home: &'a ReadConnections,
    connection: Option<PoolConnection<Postgres>>,
    taken_at: Instant,
    succeeded: bool,
    _permit: OwnedSemaphorePermit,
}

impl ReadConnection<'_> {
    pub fn connection(&mut self) -> &mut PgConnection {
        self.connection.as_mut().expect("held until dropped")
    }

    /// Passes the read's result on; a read that succeeded leaves the connection fit for the
    /// next read (its statement answered in full).
    pub fn keep_if_ok<T, E>(mut self, result: Result<T, E>) -> Result<T, E> {
        self.succeeded = result.is_ok();
        result
    }
}

impl Drop for ReadConnection<'_> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        // What is not kept drops here: back to the pool, which pings it.
        let _stale = if self.succeeded && !self.home.outlived(self.taken_at) {
            let mut idle = self.home.idle();
            idle.push(Idle {
                connection,
                taken_at: self.taken_at,
                used_at: Instant::now(),
            });
            self.home.take_stale(&mut idle)
        } else {
            drop(connection);
            Vec::new()
        };
    }
}
