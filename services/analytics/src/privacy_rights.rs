//! The person's rights over their own data: a complete export, and erasure of every row and
//! every cached view.

use bytes::Bytes;
use chrono::Utc;
use futures_util::TryStreamExt;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;
use uuid::Uuid;
use wellbeing_common::ServiceError;
use wellbeing_domain::answers::account::{ExportHead, ExportedUser};

use crate::accounts::account_gone;
use crate::view_cache::ViewCache;
use wellbeing_store::event_tables::{
    BreakRow, DistractionRow, EventTable, FocusSessionRow, NotificationRow, ScreenTimeRow,
    SessionRow, stream_of_user,
};
use wellbeing_store::{self as store, StoreError, users};

/// How often erasures of cached data not yet confirmed are tried again.
const ERASURE_RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// How long a claimed erasure is this replica's to do.
const ERASURE_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// The size an export chunk is sent at.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks sent and not yet taken by the caller: with [`CHUNK_BYTES`], what an export holds.
const CHUNKS_IN_FLIGHT: usize = 4;

#[derive(Clone)]
pub struct PrivacyRights {
    pool: PgPool,
    cache: ViewCache,
}

impl PrivacyRights {
    pub fn new(pool: PgPool, cache: ViewCache) -> Self {
        Self { pool, cache }
    }

    /// Every record held about the user, as one JSON document sent in chunks of about
    /// [`CHUNK_BYTES`] as it is read, so that any number of records fits in bounded memory
    /// (a heavy user's document once went past the gRPC message limit). The user's account,
    /// goals, privacy reports and sign-ins come first; an unknown user fails before any chunk.
    /// A failure later ends the stream with an error, so a reader never mistakes a cut document
    /// for a whole one. The password hash and refresh token hashes are secrets derived from the
    /// user's credentials and are not included.
    pub async fn export(
        &self,
        user_id: Uuid,
    ) -> Result<mpsc::Receiver<Result<Bytes, ServiceError>>, ServiceError> {
        let pool = &self.pool;
        let user = users::find_by_id(pool, user_id)
            .await?
            .ok_or_else(account_gone)?;
        let (goals, privacy_states, sign_ins) = tokio::try_join!(
            store::goals::list(pool, user_id),
            store::privacy_states::latest(pool, user_id, i64::MAX),
            store::refresh_tokens::of_user(pool, user_id),
        )?;
        let head = ExportHead {
            exported_at: Utc::now(),
            user: ExportedUser {
                user_id: user.id,
                username: user.username,
                email: user.email,
                timezone: user.timezone,
                created_at: user.created_at,
            },
            goals: &goals,
            privacy_states: &privacy_states,
            sign_in_sessions: &sign_ins,
        };
        let mut document =
            serde_json::to_vec(&head).map_err(|error| ServiceError::internal(&error))?;
        // The head without its closing brace: the event arrays follow as its last members.
        document.pop();
        let (sender, receiver) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut chunks = Chunks {
                buffer: document,
                sender,
            };
            if let Err(Gone::Failed(error)) = stream_events(&pool, user_id, &mut chunks).await {
                tracing::warn!(code = ?error.code, "export failed while streaming");
                let _ = chunks.sender.send(Err(error)).await;
            }
        });
        Ok(receiver)
    }

    /// Deletes the user and, through the foreign keys, every row of theirs; then their cached
    /// data. The deletion records that erasure in its transaction, so if the cache service
    /// cannot confirm it now, [`PrivacyRights::retry_cache_erasures`] does it later.
    pub async fn erase(&self, user_id: Uuid) -> Result<(), ServiceError> {
        if !users::delete(&self.pool, user_id).await? {
            return Err(account_gone());
        }
        if self.cache.erase_user(&user_id.to_string()).await {
            self.erasure_done(user_id).await;
        }
        tracing::info!(%user_id, "user erased");
        Ok(())
    }

    /// Erases, until the cache service confirms each, the cached data of users erased while it
    /// could not be reached (or whose replica stopped before it confirmed). Runs for as long as
    /// the process does; replicas share the work through leased claims.
    pub async fn retry_cache_erasures(self) {
        loop {
            tokio::time::sleep(ERASURE_RETRY_EVERY).await;
            let claimed = match store::cache_erasures::claim(&self.pool, 100, ERASURE_LEASE).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::debug!(error = %wellbeing_common::error::ErrorChain(&error), "cannot claim cache erasures yet");
                    continue;
                }
            };
            for user_id in claimed {
                if self.cache.erase_user(&user_id.to_string()).await {
                    self.erasure_done(user_id).await;
                    tracing::info!(%user_id, "cached data of an erased user removed");
                }
            }
        }
    }

    /// Forgets a confirmed erasure. If that fails, the erasure is only repeated later (it is
    /// idempotent): the user's erasure itself has succeeded and is answered so.
    async fn erasure_done(&self, user_id: Uuid) {
        if let Err(error) = store::cache_erasures::done(&self.pool, user_id).await {
            tracing::warn!(
                error = %wellbeing_common::error::ErrorChain(&error),
                "a confirmed cache erasure is still recorded; it will be repeated"
            );
        }
    }
}

/// Why streaming an export stopped early.
enum Gone {
    /// The caller went away: nothing more to do.
    Caller,
    Failed(ServiceError),
}

impl From<StoreError> for Gone {
    fn from(error: StoreError) -> Self {
        Gone::Failed(error.into())
    }
}

impl From<sqlx::Error> for Gone {
    fn from(error: sqlx::Error) -> Self {
        StoreError::from(error).into()
    }
}

/// The document being sent: bytes gathered until a chunk is full.
struct Chunks {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Result<Bytes, ServiceError>>,
}

impl Chunks {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Gone> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn push_json(&mut self, value: &impl Serialize) -> Result<(), Gone> {
        serde_json::to_writer(&mut self.buffer, value)
            .map_err(|error| Gone::Failed(ServiceError::internal(&error)))?;
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Gone> {
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.sender.send(Ok(chunk)).await.map_err(|_| Gone::Caller)
    }
}

/// The six event arrays and the document's closing brace, read in one transaction (one snapshot
/// for the six tables) without `statement_timeout`: a slow client holds each statement open for
/// as long as it takes to read the rows, and that must not cut its export.
async fn stream_events(pool: &PgPool, user_id: Uuid, chunks: &mut Chunks) -> Result<(), Gone> {
    let mut transaction = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *transaction)
        .await?;
    sqlx::query("SET LOCAL statement_timeout = 0")
        .execute(&mut *transaction)
        .await?;
    let connection = &mut *transaction;
    stream_table::<ScreenTimeRow>(connection, user_id, chunks).await?;
    stream_table::<SessionRow>(connection, user_id, chunks).await?;
    stream_table::<FocusSessionRow>(connection, user_id, chunks).await?;
    stream_table::<BreakRow>(connection, user_id, chunks).await?;
    stream_table::<NotificationRow>(connection, user_id, chunks).await?;
    stream_table::<DistractionRow>(connection, user_id, chunks).await?;
    chunks.push(b"}").await?;
    chunks.flush().await
}

/// `,"<table>":[...]` with the user's records of one table, oldest first.
async fn stream_table<R: EventTable + Serialize>(
    connection: &mut PgConnection,
    user_id: Uuid,
    chunks: &mut Chunks,
) -> Result<(), Gone> {
    chunks
        .push(format!(",\"{}\":[", R::TABLE.name).as_bytes())
        .await?;
    let mut rows = stream_of_user::<R>(connection, user_id);
    let mut first = true;
    while let Some(row) = rows.try_next().await? {
        if !first {
            chunks.push(b",").await?;
        }
        first = false;
        chunks.push_json(&row).await?;
    }
    chunks.push(b"]").await
}
