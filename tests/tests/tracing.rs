//! One trace per request: a caller's W3C `traceparent` is taken up by the gateway, answered in
//! `traceparent` / `X-Trace-Id`, and carried over gRPC to analytics (and on to the cache service),
//! whose server spans join the same trace. Spans are recorded in memory through the same layer
//! `telemetry::init_with_tracing` installs for OTLP, so no collector is needed.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use wellbeing_common::telemetry::{self, LogFormat, TracingGuard};
use wellbeing_tests::{TestStack, daytime_zone};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

struct Recording {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _guard: TracingGuard,
}

/// Installs the global subscriber with an in-memory span exporter, once per process (before
/// the harness's own `telemetry::init`, which then keeps it).
fn recording() -> &'static Recording {
    static RECORDING: OnceLock<Recording> = OnceLock::new();
    RECORDING.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .with_sampler(telemetry::sampler(1.0))
            .with_resource(telemetry::resource("tests"))
            .build();
        let guard = telemetry::init_with_provider("tests", LogFormat::Human, provider.clone());
        assert!(
            guard.exporting(),
            "the tracing test installs the first subscriber"
        );
        Recording {
            exporter,
            provider,
            _guard: guard,
        }
    })
}

fn spans_of_trace(recording: &Recording) -> anyhow::Result<Vec<SpanData>> {
    recording.provider.force_flush()?;
    Ok(recording
        .exporter
        .get_finished_spans()?
        .into_iter()
        .filter(|span| span.span_context.trace_id().to_string() == TRACE_ID)
        .collect())
}

#[tokio::test]
async fn a_callers_traceparent_is_continued_across_the_gateway_and_grpc() -> anyhow::Result<()> {
    let recording = recording();
    let stack = TestStack::start().await?;
    let api = &stack.api;
    let user = api.register_and_login(&daytime_zone()).await?;
    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01");

    let answer = api
        .send(
            reqwest::Method::GET,
            "/api/v1/analytics/quick-stats",
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
    assert_ne!(parts[2], CALLER_SPAN_ID, "the gateway's own span");
    assert_eq!(parts[3], "01", "sampled, as the caller asked");

    // Server spans end after the response is written: wait for them.
    let mut spans = Vec::new();
    for _ in 0..50 {
        spans = spans_of_trace(recording)?;
        if spans.iter().any(|span| span.name.starts_with("analytics.")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let names: Vec<&str> = spans.iter().map(|span| span.name.as_ref()).collect();
    let gateway = spans
        .iter()
        .find(|span| span.name == "http GET /api/v1/analytics/quick-stats")
        .unwrap_or_else(|| panic!("a gateway span in {names:?}"));
    assert_eq!(gateway.parent_span_id.to_string(), CALLER_SPAN_ID);
    assert!(gateway.parent_span_is_remote);
    assert_eq!(gateway.span_context.span_id().to_string(), parts[2]);
    let analytics = spans
        .iter()
        .find(|span| span.name == "analytics.QuickStats")
        .unwrap_or_else(|| panic!("an analytics server span in {names:?}"));
    assert!(
        analytics.parent_span_is_remote,
        "continued from gRPC metadata"
    );
    assert!(
        names.iter().any(|name| name.starts_with("cache.")),
        "analytics carried the trace on to the cache service: {names:?}"
    );

    // Without a traceparent the gateway starts a new trace and still answers its id.
    let fresh = api
        .get("/api/v1/analytics/quick-stats", Some(&user.access_token))
        .await?;
    let fresh_id = fresh.header("x-trace-id").unwrap_or_default();
    assert_eq!(fresh_id.len(), 32, "{fresh:?}");
    assert_ne!(fresh_id, TRACE_ID);
    stack.stop().await
}
