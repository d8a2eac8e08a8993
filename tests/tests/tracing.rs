//! One trace per request, exported over real OTLP: an in-test collector (a tonic server
//! implementing the OTLP trace service) receives what the stack's exporter sends for one
//! `GET /api/v1/analytics/dashboard`. The spans must form one tree under the caller's
//! `traceparent`: the gateway's HTTP span, the gRPC client and server spans of analytics and of the
//! cache service, and the SQL and Redis statements under them; the response names the same trace.
//!
//! The whole stack runs in this process, so every span carries the resource `service.name=tests`;
//! which service made a span is told by its name (`http ...` gateway, `analytics.*`, `cache.*`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use wellbeing_common::telemetry::{self, LogFormat, TracingConfig, TracingGuard};
use wellbeing_tests::{TestStack, daytime_zone};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// A span as the collector received it, ids in hex.
#[derive(Debug, Clone)]
struct Received {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: i32,
    attributes: HashMap<String, String>,
}

/// The collector: keeps every span it is sent.
#[derive(Default, Clone)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.spans.lock().expect("not poisoned");
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                for span in scope.spans {
                    let attributes = span
                        .attributes
                        .iter()
                        .map(|pair| {
                            let value = match pair.value.as_ref().and_then(|v| v.value.as_ref()) {
                                Some(AnyValue::StringValue(text)) => text.clone(),
                                Some(AnyValue::IntValue(number)) => number.to_string(),
                                Some(other) => format!("{other:?}"),
                                None => String::new(),
                            };
                            (pair.key.clone(), value)
                        })
                        .collect();
                    kept.push(Received {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        name: span.name,
                        kind: span.kind,
                        attributes,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

async fn start_collector() -> anyhow::Result<(Collector, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let collector = Collector::default();
    let router =
        wellbeing_common::grpc::server(&wellbeing_common::internal_tls::Transport::Plaintext, &[])?
            .add_service(TraceServiceServer::new(collector.clone()));
    tokio::spawn(wellbeing_common::grpc::serve(
        router,
        listener,
        std::future::pending(),
    ));
    Ok((collector, addr))
}

/// Flushes the exporter (a blocking call, off the async workers) and returns the spans of `trace`.
async fn flushed_spans(
    guard: &Arc<TracingGuard>,
    collector: &Collector,
    trace: &str,
) -> anyhow::Result<Vec<Received>> {
    let guard = Arc::clone(guard);
    tokio::task::spawn_blocking(move || guard.flush()).await??;
    Ok(collector
        .spans
        .lock()
        .expect("not poisoned")
        .iter()
        .filter(|span| span.trace_id == trace)
        .cloned()
        .collect())
}

/// Polls until `done` holds for the spans of `trace` (server spans end after the response is
/// written), for at most 10 s.
async fn spans_when(
    guard: &Arc<TracingGuard>,
    collector: &Collector,
    trace: &str,
    done: impl Fn(&[Received]) -> bool,
) -> anyhow::Result<Vec<Received>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let spans = flushed_spans(guard, collector, trace).await?;
        if done(&spans) || tokio::time::Instant::now() > deadline {
            return Ok(spans);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn find<'a>(spans: &'a [Received], name: &str, kind: SpanKind) -> &'a Received {
    spans
        .iter()
        .find(|span| span.name == name && span.kind == kind as i32)
        .unwrap_or_else(|| {
            let names: Vec<_> = spans.iter().map(|s| (&s.name, s.kind)).collect();
            panic!("a {kind:?} span {name} in {names:?}")
        })
}

/// True when `ancestor` is on the parent chain of `span`.
fn descends_from(spans: &[Received], span: &Received, ancestor: &Received) -> bool {
    let by_id: HashMap<&str, &Received> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut parent = span.parent_span_id.as_str();
    while let Some(next) = by_id.get(parent) {
        if next.span_id == ancestor.span_id {
            return true;
        }
        parent = next.parent_span_id.as_str();
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_request_is_one_trace_from_the_gateway_to_sql_and_redis() -> anyhow::Result<()>
{
    let (collector, collector_addr) = start_collector().await?;
    // Installed before the harness's own `telemetry::init`, which then keeps this subscriber.
    let guard = Arc::new(telemetry::init_with_config(
        &TracingConfig {
            endpoint: Some(format!("http://{collector_addr}")),
            service_name: "tests".to_owned(),
            sample_ratio: 1.0,
        },
        LogFormat::Human,
    )?);
    assert!(guard.exporting(), "this test installs the first subscriber");

    let stack = TestStack::start().await?;
    let api = &stack.api;
    // No write first: the views of a generation made by analytics' own write are served from
    // its memory, and this trace is to show the way through the cache service and Redis.
    let user = api.register_and_login(&daytime_zone()).await?;

    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01");
    let answer = api
        .send(
            reqwest::Method::GET,
            "/api/v1/analytics/dashboard",
            None,
            Some(&user.access_token),
            &[("traceparent", traceparent.as_str())],
        )
        .await?;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("x-trace-id"), Some(TRACE_ID), "{answer:?}");
    let answered = answer.header("traceparent").unwrap_or_default().to_owned();
    let parts: Vec<&str> = answered.split('-').collect();
    assert_eq!(parts.len(), 4, "{answered}");
    assert_eq!(parts[1], TRACE_ID, "same trace");
    assert_eq!(parts[3], "01", "sampled, as the caller asked");

    let spans = spans_when(&guard, &collector, TRACE_ID, |spans| {
        let has = |name: &str, kind: SpanKind| {
            spans
                .iter()
                .any(|span| span.name == name && span.kind == kind as i32)
        };
        has("analytics.Dashboard", SpanKind::Server)
            && has("cache.Set", SpanKind::Server)
            && spans.iter().any(|span| {
                span.attributes
                    .get("db.system")
                    .is_some_and(|s| s == "redis")
            })
    })
    .await?;
    println!("{} spans in the trace:", spans.len());
    for span in &spans {
        println!(
            "  {} ({}) <- {}",
            span.name, span.span_id, span.parent_span_id
        );
    }

    // The gateway continues the caller's trace, and the response names the gateway's span.
    let gateway = find(
        &spans,
        "http GET /api/v1/analytics/dashboard",
        SpanKind::Server,
    );
    assert_eq!(gateway.parent_span_id, CALLER_SPAN_ID);
    assert_eq!(gateway.span_id, parts[2]);

    // gateway -> analytics: a client span in the gateway, the server span its child.
    let to_analytics = find(&spans, "analytics.Dashboard", SpanKind::Client);
    let analytics = find(&spans, "analytics.Dashboard", SpanKind::Server);
    assert!(descends_from(&spans, to_analytics, gateway));
    assert_eq!(analytics.parent_span_id, to_analytics.span_id);
    assert_eq!(to_analytics.attributes["rpc.system"], "grpc");

    // analytics -> cache service: the miss (Get) and the store (Set), each client -> server.
    for method in ["cache.Get", "cache.Set"] {
        let client = find(&spans, method, SpanKind::Client);
        let server = find(&spans, method, SpanKind::Server);
        assert!(descends_from(&spans, client, analytics), "{method}");
        assert_eq!(server.parent_span_id, client.span_id, "{method}");
    }

    // PostgreSQL statements under analytics: the statement with placeholders, never a value.
    let sql: Vec<&Received> = spans
        .iter()
        .filter(|span| {
            span.attributes
                .get("db.system")
                .is_some_and(|s| s == "postgresql")
        })
        .collect();
    assert!(!sql.is_empty(), "SQL spans");
    for statement in &sql {
        assert_eq!(statement.kind, SpanKind::Client as i32);
        assert!(descends_from(&spans, statement, analytics), "{statement:?}");
        let text = &statement.attributes["db.statement"];
        assert!(!text.contains(&user.user_id), "no values in {text}");
    }
    assert!(
        sql.iter().any(|span| span.name == "SELECT day_aggregates"),
        "the read of the day aggregates is named by verb and table"
    );
    assert!(
        !sql.iter().any(|span| span.name == "SELECT screen_time"),
        "a view reads aggregates, never raw records"
    );

    // Redis commands under the cache service's server spans.
    let cache_set = find(&spans, "cache.Set", SpanKind::Server);
    let redis_set = spans
        .iter()
        .find(|span| {
            span.name == "SET"
                && span
                    .attributes
                    .get("db.system")
                    .is_some_and(|s| s == "redis")
        })
        .expect("a Redis SET span");
    assert!(descends_from(&spans, redis_set, cache_set));

    // Without a traceparent the gateway starts a trace; the header names the exported trace.
    let fresh = api
        .get("/api/v1/analytics/dashboard", Some(&user.access_token))
        .await?;
    let fresh_id = fresh.header("x-trace-id").unwrap_or_default().to_owned();
    assert_eq!(fresh_id.len(), 32, "{fresh:?}");
    assert_ne!(fresh_id, TRACE_ID);
    let fresh_spans = spans_when(&guard, &collector, &fresh_id, |spans| {
        spans
            .iter()
            .any(|span| span.name == "analytics.Dashboard" && span.kind == SpanKind::Server as i32)
    })
    .await?;
    let root = find(
        &fresh_spans,
        "http GET /api/v1/analytics/dashboard",
        SpanKind::Server,
    );
    assert!(root.parent_span_id.is_empty(), "a new root: {root:?}");
    stack.stop().await
}
