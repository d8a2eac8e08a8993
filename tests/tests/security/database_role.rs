//! The services run as a database role without DDL rights: `wellbeing-analytics migrate`, run as
//! the schema's owner with `DATABASE_RUNTIME_ROLE`, grants that role rows, sequences and the
//! schema's functions only; analytics (`MIGRATE_AT_START=off`) and the aggregator connect as it.
//! Everything works through REST, month partitions are still made (by the owner's function), and
//! the role can create, alter, drop or truncate nothing. Before, analytics applied the
//! migrations at start, so it had to connect as a role that could change the schema.

use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use wellbeing_tests::{StackOptions, TestStack, daytime_zone};

fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

#[tokio::test]
async fn the_services_run_as_a_role_that_cannot_change_the_schema() -> anyhow::Result<()> {
    let role = format!(
        "wb_runtime_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let mut admin = PgConnection::connect(&format!("{}/postgres", server_url())).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN")))
        .execute(&mut admin)
        .await?;
    let outcome = exercise(&role).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {role}")))
        .execute(&mut admin)
        .await?;
    outcome
}

async fn exercise(role: &str) -> anyhow::Result<()> {
    let stack = TestStack::start_with(StackOptions {
        database_role: Some(role.to_owned()),
        ..Default::default()
    })
    .await?;

    // The whole product works as that role: accounts, a write, a read, a goal.
    // A zone where it is daytime: the record of the last 40 minutes stays within today.
    let user = stack.api.register_and_login(&daytime_zone()).await?;
    assert_eq!(
        stack.api.write_and_read_screen_time(&user, 40.0).await?,
        40.0
    );
    let goal = stack
        .api
        .post(
            "/api/v1/analytics/goals",
            &json!({"goal_type": "daily_screen_time_limit", "target_value": 120}),
            Some(&user.access_token),
        )
        .await?;
    assert_eq!(goal.status, 201, "{goal:?}");

    let role_url = stack
        .database
        .url
        .replacen("://postgres@", &format!("://{role}@"), 1);
    let mut connection = PgConnection::connect(&role_url).await?;
    let current: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut connection)
        .await?;
    assert_eq!(current, role);
    // The partitions the aggregator keeps ahead are made by the owner's function.
    let actions: i64 = sqlx::query_scalar("SELECT count(*) FROM wb_maintain_partitions(24, 0)")
        .fetch_one(&mut connection)
        .await?;
    assert!(actions > 0, "months two years ahead were created");

    let refused = [
        "CREATE TABLE intruder (id INTEGER)",
        "CREATE FUNCTION intruder() RETURNS INTEGER LANGUAGE sql AS 'SELECT 1'",
        "ALTER TABLE users ADD COLUMN intruder INTEGER",
        "DROP TABLE goals",
        "TRUNCATE users",
        "CREATE INDEX intruder ON users (email)",
        "ALTER FUNCTION wb_maintain_partitions(INTEGER, INTEGER) SECURITY INVOKER",
    ];
    for statement in refused {
        let error = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await
            .expect_err(statement);
        let code = error
            .as_database_error()
            .and_then(|error| error.code().map(|code| code.into_owned()));
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {error}");
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut connection)
        .await?;
    assert_eq!(users, 1, "rows are its to read");
    connection.close().await?;
    stack.stop().await
}
