//! One client span per SQL statement, made from the event sqlx emits when a statement finishes
//! (target `sqlx::query`: the statement with its `$n` placeholders, never the values, and the
//! elapsed time). The span is back-dated to the statement's start and parented on the span the
//! statement ran in, so every query shows under the gRPC call that made it, with no code at the
//! call sites. Only statements inside a sampled trace get a span: background queries (the
//! health probe's `SELECT 1`) don't start traces of their own.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _};
use opentelemetry_sdk::trace::SdkTracer;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber, dispatcher::WeakDispatch};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};

/// The target sqlx logs finished statements under.
pub const SQLX_QUERY_TARGET: &str = "sqlx::query";

/// The layer. It is always installed (an `Option` layer would not be told the dispatcher it
/// needs), but without a tracer its filter lets nothing through, so sqlx doesn't even format
/// the events.
pub struct SqlStatementSpans {
    tracer: Option<SdkTracer>,
    dispatch: OnceLock<WeakDispatch>,
}

impl SqlStatementSpans {
    pub fn new(tracer: Option<SdkTracer>) -> Self {
        Self {
            tracer,
            dispatch: OnceLock::new(),
        }
    }

    /// The per-layer filter: sqlx's statement events at debug level when spans are exported.
    pub fn filter(&self) -> Targets {
        match self.tracer {
            Some(_) => Targets::new().with_target(SQLX_QUERY_TARGET, tracing::Level::DEBUG),
            None => Targets::new(),
        }
    }
}

impl<S: Subscriber> Layer<S> for SqlStatementSpans {
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let Some(tracer) = &self.tracer else {
            return;
        };
        if event.metadata().target() != SQLX_QUERY_TARGET {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        // The unfiltered current span (this layer's own filter only lets sqlx events through).
        let current = dispatch.current_span();
        let Some(id) = current.id() else {
            return;
        };
        let Some(parent) = tracing_opentelemetry::get_otel_context(id, &dispatch) else {
            return;
        };
        if !parent.span().span_context().is_sampled() {
            return;
        }
        let mut fields = StatementFields::default();
        event.record(&mut fields);
        let statement = fields.statement();
        let (operation, table) = describe(statement);
        let end = SystemTime::now();
        let start = end
            .checked_sub(Duration::from_secs_f64(fields.elapsed_secs.max(0.0)))
            .unwrap_or(end);
        let name = match table {
            Some(table) => format!("{operation} {table}"),
            None => operation.clone(),
        };
        let mut attributes = vec![
            KeyValue::new("db.system", "postgresql"),
            KeyValue::new("db.operation", operation),
            KeyValue::new("db.statement", statement.to_owned()),
            KeyValue::new("db.rows_returned", fields.rows_returned),
            KeyValue::new("db.rows_affected", fields.rows_affected),
        ];
        if let Some(table) = table {
            attributes.push(KeyValue::new("db.sql.table", table.to_owned()));
        }
        let mut span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent);
        span.end_with_timestamp(end);
    }
}

/// The fields of sqlx's event: `summary` (the first words), `db.statement` (the whole statement,
/// empty when the summary already is all of it), counts and the elapsed time.
#[derive(Default)]
struct StatementFields {
    summary: String,
    statement: String,
    rows_returned: i64,
    rows_affected: i64,
    elapsed_secs: f64,
}

impl StatementFields {
    fn statement(&self) -> &str {
        let statement = self.statement.trim();
        if statement.is_empty() {
            self.summary.trim()
        } else {
            statement
        }
    }
}

impl Visit for StatementFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => value.clone_into(&mut self.summary),
            "db.statement" => value.clone_into(&mut self.statement),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        match field.name() {
            "rows_returned" => self.rows_returned = value,
            "rows_affected" => self.rows_affected = value,
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = value;
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

/// The operation (`SELECT`, `INSERT`, ...; for `WITH ...` the statement's main verb) and the
/// first table the statement names, for a low-cardinality span name like `SELECT screen_time`.
fn describe(statement: &str) -> (String, Option<&str>) {
    const VERBS: [&str; 4] = ["SELECT", "INSERT", "UPDATE", "DELETE"];
    let words: Vec<&str> = statement.split_whitespace().collect();
    let first = words
        .first()
        .map(|word| word.to_ascii_uppercase())
        .unwrap_or_default();
    let operation = if first == "WITH" {
        words
            .iter()
            .map(|word| word.trim_start_matches('(').to_ascii_uppercase())
            .rev()
            .find(|word| VERBS.contains(&word.as_str()))
            .unwrap_or(first)
    } else {
        first
    };
    let table = words
        .windows(2)
        .find(|pair| {
            ["FROM", "INTO", "UPDATE"]
                .iter()
                .any(|keyword| pair[0].eq_ignore_ascii_case(keyword))
        })
        .map(|pair| {
            let name = pair[1].trim_start_matches(['(', '"']);
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(name.len());
            &name[..end]
        })
        .filter(|table| !table.is_empty() && !table.eq_ignore_ascii_case("UNNEST"));
    (operation, table)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn statements_are_named_by_verb_and_table() {
        assert_eq!(
            describe("SELECT id, name FROM screen_time WHERE user_id = $1"),
            ("SELECT".to_owned(), Some("screen_time"))
        );
        assert_eq!(
            describe("INSERT INTO goals (id) VALUES ($1)"),
            ("INSERT".to_owned(), Some("goals"))
        );
        assert_eq!(
            describe("update users SET timezone = $2 WHERE id = $1"),
            ("UPDATE".to_owned(), Some("users"))
        );
        assert_eq!(
            describe("WITH claimed AS (SELECT 1 FROM dirty_days) UPDATE dirty_days SET x = 1"),
            ("UPDATE".to_owned(), Some("dirty_days"))
        );
        assert_eq!(describe("BEGIN"), ("BEGIN".to_owned(), None));
        assert_eq!(
            describe("SELECT * FROM UNNEST($1::uuid[])"),
            ("SELECT".to_owned(), None)
        );
    }
}
