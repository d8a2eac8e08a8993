//! W3C TraceContext propagation across HTTP and gRPC: carriers for `http::HeaderMap` and tonic's
//! `MetadataMap`, helpers to inject a span's context into outgoing headers and to extract a
//! caller's context, and the span every gRPC server call runs in (client spans:
//! [`crate::traced_channel`]).
//!
//! The propagator is installed globally by [`crate::telemetry`]. Without an OpenTelemetry layer
//! (no `OTEL_EXPORTER_OTLP_ENDPOINT`) spans carry no context, so nothing is injected.

use std::sync::Once;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::MetadataMap;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Installs the W3C TraceContext propagator as the global one (once).
pub fn install_propagator() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    });
}

/// Reads a context from tonic metadata.
pub struct MetadataExtractor<'a>(pub &'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                tonic::metadata::KeyRef::Ascii(key) => Some(key.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// Writes a context into HTTP headers.
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Reads a context from HTTP headers.
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The caller's context carried by HTTP headers (empty when there is none).
pub fn extract_headers(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    })
}

/// The caller's context carried by gRPC metadata (empty when there is none).
pub fn extract_metadata(metadata: &MetadataMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&MetadataExtractor(metadata))
    })
}

/// Writes `context` into HTTP headers (`traceparent`, `tracestate`).
pub fn inject_headers(context: &Context, headers: &mut http::HeaderMap) {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(context, &mut HeaderInjector(headers));
    });
}

/// Makes `span` a child of the caller's context carried by HTTP headers, if there is one.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = extract_headers(headers);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The trace ids a request's answer reports, so a person's bug report can quote one and the
/// logs of that request carry the same.
pub struct AnswerIds {
    /// 32 hex digits.
    pub trace_id: String,
    /// `00-<trace id>-<span id>-<flags>`.
    pub traceparent: String,
}

/// The ids of `span` when OpenTelemetry records spans; else ids made here, so every answer has
/// one even with no collector: the caller's trace id when it sent a valid `traceparent` (with a
/// new span id), or a new one.
pub fn answer_ids(span: &tracing::Span, request_headers: &http::HeaderMap) -> AnswerIds {
    let context = span.context();
    let span_ref = context.span();
    let recorded = span_ref.span_context();
    if recorded.is_valid() {
        return AnswerIds {
            trace_id: recorded.trace_id().to_string(),
            traceparent: format!(
                "00-{}-{}-{:02x}",
                recorded.trace_id(),
                recorded.span_id(),
                recorded.trace_flags().to_u8()
            ),
        };
    }
    // W3C's format whatever the global propagator is (none is installed without telemetry).
    let caller = TraceContextPropagator::new().extract(&HeaderExtractor(request_headers));
    let caller_span = caller.span();
    let caller_context = caller_span.span_context();
    let trace_id = if caller_context.is_valid() {
        caller_context.trace_id()
    } else {
        TraceId::from(rand::random::<u128>().max(1))
    };
    let span_id = SpanId::from(rand::random::<u64>().max(1));
    AnswerIds {
        trace_id: trace_id.to_string(),
        traceparent: format!("00-{trace_id}-{span_id}-00"),
    }
}

/// Writes `traceparent` and `X-Trace-Id` (the 32-hex trace id) into response headers.
pub fn write_response_headers(ids: &AnswerIds, headers: &mut http::HeaderMap) {
    if let Ok(value) = http::HeaderValue::from_str(&ids.traceparent) {
        headers.insert("traceparent", value);
    }
    if let Ok(value) = http::HeaderValue::from_str(&ids.trace_id) {
        headers.insert("x-trace-id", value);
    }
}

/// The span name of a gRPC call: `/wellbeing.analytics.v1.Analytics/DailySummary` gives
/// `analytics.DailySummary`, `/grpc.health.v1.Health/Check` gives `health.Check`.
pub fn grpc_span_name(path: &str) -> String {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    let service = service.rsplit('.').next().unwrap_or(service);
    format!("{}.{method}", service.to_ascii_lowercase())
}

/// The span a gRPC server call runs in, a child of the caller's context from the metadata; none
/// while spans are not exported ([`crate::telemetry::exporting_spans`]). Used with
/// `Server::builder().trace_fn(..)` (see [`crate::grpc::server`]).
pub fn grpc_server_span(request: &http::Request<()>) -> tracing::Span {
    if !crate::telemetry::exporting_spans() {
        return tracing::Span::none();
    }
    let path = request.uri().path();
    let span = tracing::info_span!(
        "grpc",
        otel.name = %grpc_span_name(path),
        otel.kind = "server",
    );
    set_parent_from_headers(&span, request.headers());
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_span_names() {
        assert_eq!(
            grpc_span_name("/wellbeing.analytics.v1.Analytics/DailySummary"),
            "analytics.DailySummary"
        );
        assert_eq!(
            grpc_span_name("/grpc.health.v1.Health/Check"),
            "health.Check"
        );
    }

    #[test]
    fn a_traceparent_round_trips_through_metadata() {
        install_propagator();
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut metadata = MetadataMap::new();
        metadata.insert("traceparent", traceparent.parse().expect("ascii"));
        let context = extract_metadata(&metadata);
        assert_eq!(
            context.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let mut headers = http::HeaderMap::new();
        inject_headers(&context, &mut headers);
        assert_eq!(headers["traceparent"], traceparent);
    }
}
