//! A fresh PostgreSQL database per test, dropped (with its connections) when the value is dropped,
//! even if the test panicked.

use anyhow::Context;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

pub struct TestDatabase {
    pub name: String,
    /// URL of the test database.
    pub url: String,
    server_url: String,
}

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

impl TestDatabase {
    pub async fn create() -> anyhow::Result<Self> {
        Self::create_on(&server_url()).await
    }

    /// A fresh database on the server at `server_url` (no database in the URL).
    pub async fn create_on(server_url: &str) -> anyhow::Result<Self> {
        let server_url = server_url.trim_end_matches('/').to_owned();
        let name = format!("wb_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&format!("{server_url}/postgres"))
            .await
            .context("failed to connect to PostgreSQL (is it running? see README)")?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .context("failed to create the test database")?;
        admin.close().await?;
        Ok(Self {
            url: format!("{server_url}/{name}"),
            name,
            server_url,
        })
    }

    /// A direct connection, for tests that look at stored rows.
    pub async fn connect(&self) -> anyhow::Result<PgConnection> {
        Ok(PgConnection::connect(&self.url).await?)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = format!("{}/postgres", self.server_url);
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}
