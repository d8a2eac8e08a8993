//! Tools of the reliability and security suites: requests with arbitrary bytes (bodies that are
//! not JSON, not UTF-8, too large), a fingerprint of every stored row (to prove that refused
//! requests changed nothing), and a tally of what a test sent and how it was answered.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use sqlx::PgConnection;

use crate::api::{Answer, Api};

/// Sends `body` as it is (any bytes) with `Content-Type: application/json`.
pub async fn send_bytes(
    api: &Api,
    method: reqwest::Method,
    path: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> anyhow::Result<Answer> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut request = client
        .request(method, api.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("request to {path} failed"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    Ok(Answer {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}

/// Tables whose content changes by itself, left out of [`fingerprint`]: the aggregator's queues
/// (`dirty_days`, whose marks it clears; `aggregate_rebuilds`, whose requests it ends) and the
/// migration log. The day aggregates (`day_aggregates`, `day_app_aggregates`) stay in: writes add
/// to them in the statement that stores their events, so a refused request must leave them as
/// they were. The aggregator rewrites them only for marked days, a rebuild after a timezone
/// change, or a sweep that found a difference (a bug), none of which a refused request causes.
const MOVING_TABLES: [&str; 3] = ["dirty_days", "aggregate_rebuilds", "_sqlx_migrations"];

/// Every stored row of every table of the public schema (but the worker's own), as one md5 per
/// table. Two equal fingerprints: nothing was inserted, changed or deleted in between.
pub async fn fingerprint(db: &mut PgConnection) -> anyhow::Result<BTreeMap<String, String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
         ORDER BY 1",
    )
    .fetch_all(&mut *db)
    .await?;
    let mut prints = BTreeMap::new();
    for table in tables {
        if MOVING_TABLES.contains(&table.as_str()) {
            continue;
        }
        let print: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM \"{table}\" t"
        )))
        .fetch_one(&mut *db)
        .await?;
        prints.insert(table, print.unwrap_or_default());
    }
    Ok(prints)
}

/// What a test sent and how it was answered, printed for docs/RELIABILITY.md.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub requests: u64,
    /// Answers that were not what the test expected (a passing test has none).
    pub errors: u64,
    pub by_status: BTreeMap<u16, u64>,
}

impl Tally {
    pub fn count(&mut self, status: u16) {
        self.requests += 1;
        *self.by_status.entry(status).or_default() += 1;
    }

    pub fn add(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.errors += other.errors;
        for (status, count) in &other.by_status {
            *self.by_status.entry(*status).or_default() += count;
        }
    }

    /// One line: `RELIABILITY <test>: requests=.. errors=.. statuses={..} <extra>`.
    pub fn report(&self, test: &str, extra: &str) {
        println!(
            "RELIABILITY {test}: requests={} errors={} statuses={:?} {extra}",
            self.requests, self.errors, self.by_status
        );
    }
}
