//! The schema (embedded migrations, applied by analytics, its owner) and every SQL statement of
//! the system, grouped by table. Analytics and the aggregator both read and write through here;
//! nothing above it builds queries, callers get typed rows and typed errors.

pub mod aggregates;
pub mod cache_erasures;
pub mod dirty_days;
pub mod event_ids;
pub mod event_tables;
pub mod events;
pub mod goals;
pub mod ingest;
pub mod partitions;
pub mod privacy_states;
pub mod refresh_tokens;
pub mod runtime_role;
pub mod sessions;
pub mod sign_in_failures;
pub mod users;

use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use wellbeing_common::metrics::Series;

/// How the pool behaves.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub min_connections: u32,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub max_lifetime: Duration,
    pub slow_query_threshold_ms: u64,
    /// PostgreSQL's `statement_timeout` on every connection (`None`: no bound). Work that must
    /// finish however long it takes (migrations, an erasure, a streamed export) lifts it for
    /// itself.
    pub statement_timeout: Option<Duration>,
}

/// The migrations embedded in the binary; applied at start by analytics, the schema owner.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Failures of the store, classified so callers can answer the right status.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the row (SQLSTATE 23505).
    #[error("already exists")]
    AlreadyExists,
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                Self::AlreadyExists
            }
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => Self::Unavailable(error),
            sqlx::Error::Database(db)
                if db.code().is_some_and(|code| {
                    code.starts_with("08")
                        || code.starts_with("57P")
                        || code == "57014"
                        || code == "42P01"
                }) =>
            {
                // connection exceptions, operator intervention (shutdown, too many clients), a
                // statement cut by `statement_timeout`, and a table not there yet (analytics
                // applies the schema when it starts)
                Self::Unavailable(error)
            }
            _ => Self::Other(error),
        }
    }
}

impl From<StoreError> for wellbeing_common::ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists => Self::new(
                wellbeing_common::ErrorCode::Conflict,
                "that record already exists",
            ),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %wellbeing_common::error::ErrorChain(&cause), "database unavailable");
                Self::unavailable("the database is unavailable, try again shortly")
            }
            StoreError::Other(cause) => Self::internal(&cause),
        }
    }
}

/// Applies the migrations not applied yet, on a connection of its own without the pool's
/// `statement_timeout` (a migration takes as long as the data it rewrites); the connection is
/// closed afterwards rather than returned to the pool.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut connection = pool.acquire().await?.detach();
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut connection)
        .await?;
    // What `Migrator::run` does with the connection it acquires; called directly because `run`
    // on a `&mut PgConnection` is not `Send` enough for a spawned task (sqlx's own workaround).
    MIGRATOR.run_direct(None, &mut connection, false).await
}

/// Whether every migration this build carries has been applied: a service that does not migrate
/// (`MIGRATE_AT_START=off`) waits for the migration Job until then. No migrations table yet
/// means none applied.
pub async fn migrations_applied(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let Some(latest) = MIGRATOR.iter().map(|migration| migration.version).max() else {
        return Ok(true);
    };
    let applied = sqlx::query_scalar::<_, Option<i64>>(
        "SELECT max(version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(pool)
    .await;
    match applied {
        Ok(version) => Ok(version.is_some_and(|version| version >= latest)),
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P01") => Ok(false),
        Err(error) => Err(error),
    }
}

/// A pooled connection idle longer than this is pinged before it is handed out (it may have
/// been closed meanwhile: a database restart, a proxy's idle timeout). One used moments ago is
/// not: sqlx already pinged it when it came back, and a ping on every take was a third round
/// trip to PostgreSQL beside the statement and that return ping (docs/PERFORMANCE.md).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens the pool lazily (the service starts even when PostgreSQL is not up yet; health says so).
pub fn connect(database_url: &str, pool: &PoolConfig) -> Result<PgPool, sqlx::Error> {
    let mut options: PgConnectOptions = database_url.parse()?;
    if !ssl_mode_chosen(database_url, std::env::var_os("PGSSLMODE").is_some())
        && is_loopback(options.get_host())
    {
        options = options.ssl_mode(PgSslMode::Disable);
    }
    if let Some(timeout) = pool.statement_timeout {
        options = options.options([("statement_timeout", format!("{}ms", timeout.as_millis()))]);
    }
    let options = options.log_slow_statements(
        log::LevelFilter::Warn,
        Duration::from_millis(pool.slow_query_threshold_ms),
    );
    Ok(PgPoolOptions::new()
        .min_connections(pool.min_connections)
        .max_connections(pool.max_connections)
        .acquire_timeout(pool.acquire_timeout)
        .max_lifetime(pool.max_lifetime)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// How long a stopping service waits for its pooled connections to come back.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Closes the pool at shutdown, after the server has drained. `PgPool::close` waits for every
/// checked-out connection; one still held by a background task (a view computation whose caller
/// went away) must not keep the process from exiting, so the wait is bounded and the rest are dropped.
pub async fn close(pool: &PgPool) {
    if tokio::time::timeout(CLOSE_TIMEOUT, pool.close())
        .await
        .is_err()
    {
        tracing::warn!(
            in_use = (pool.size() as usize).saturating_sub(pool.num_idle()),
            timeout_secs = CLOSE_TIMEOUT.as_secs(),
            "database connections still in use at shutdown; dropping them"
        );
    }
}

/// The pool's figures in a service's scrape, under the same names in analytics and the
/// aggregator (the scrape's job tells them apart). Connections in use are open minus idle; the
/// share of the most allowed is what saturates.
pub fn write_pool_metrics(series: &mut Series<'_>, pool: &PgPool) {
    series.gauge(
        "wellbeing_db_pool_connections",
        "PostgreSQL connections open (idle and in use)",
        pool.size(),
    );
    series.gauge(
        "wellbeing_db_pool_idle_connections",
        "PostgreSQL connections open and idle",
        pool.num_idle(),
    );
    series.gauge(
        "wellbeing_db_pool_max_connections",
        "Most PostgreSQL connections the pool may open",
        pool.options().get_max_connections(),
    );
}

/// Whether the URL's `sslmode` (or `PGSSLMODE`) says how to use TLS. When neither does and the
/// database is on this host, [`connect`] uses no TLS: the bytes never leave the machine, so it
/// protects nothing (the default `prefer` does not check the certificate either), and it cost
/// half of the ingestion throughput (batches 39k -> 77k events/s without it, docs/PERFORMANCE.md).
fn ssl_mode_chosen(database_url: &str, env_says: bool) -> bool {
    env_says
        || database_url.split_once('?').is_some_and(|(_, query)| {
            query.split('&').any(|pair| {
                let key = pair.split('=').next().unwrap_or_default();
                key == "sslmode" || key == "ssl-mode"
            })
        })
}

/// A loopback address or `localhost` (a Unix socket never uses TLS anyway).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Answers whether the database takes queries.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_left_as_chosen_and_skipped_only_on_this_host() {
        assert!(!ssl_mode_chosen("postgres://u@127.0.0.1:5432/db", false));
        assert!(!ssl_mode_chosen(
            "postgres://u@h/db?application_name=x",
            false
        ));
        assert!(ssl_mode_chosen("postgres://u@h/db?sslmode=require", false));
        assert!(ssl_mode_chosen(
            "postgres://u@h/db?x=1&ssl-mode=prefer",
            false
        ));
        assert!(ssl_mode_chosen("postgres://u@h/db", true));
        for host in ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["10.0.0.5", "db.example.com", "::2"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
