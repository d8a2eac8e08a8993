//! One span per request, named `http <METHOD> <route template>`, a child of the caller's W3C
//! `traceparent` when it sends one (a phone may); with only the fields the log lines show when
//! spans are not exported. Every answer carries `traceparent` and
//! `X-Trace-Id`: the request's span's when spans are recorded (`OTEL_EXPORTER_OTLP_ENDPOINT`),
//! else ids made for it (the caller's trace id if it sent one); the span's `trace_id` field puts
//! the same id on the gateway's log lines of that request. Upstream gRPC calls carry the
//! context on when spans are recorded (see [`crate::upstream::Upstreams::request`]).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;
use wellbeing_common::trace_context;

pub async fn trace_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let exporting = wellbeing_common::telemetry::exporting_spans();
    let (span, ids) = if exporting {
        let span = tracing::info_span!(
            "http",
            otel.name = %format_args!("http {method} {route}"),
            otel.kind = "server",
            http.request.method = %method,
            http.route = %route,
            http.response.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        trace_context::set_parent_from_headers(&span, request.headers());
        let ids = trace_context::answer_ids(&span, request.headers());
        span.record("trace_id", ids.trace_id.as_str());
        (span, ids)
    } else {
        // Only the log lines read this span: what they need, formatted once.
        let ids = trace_context::answer_ids(&tracing::Span::none(), request.headers());
        let span = tracing::info_span!(
            "http",
            http.request.method = %method,
            http.route = %route,
            trace_id = ids.trace_id.as_str(),
        );
        (span, ids)
    };
    let mut response = next.run(request).instrument(span.clone()).await;
    if exporting {
        span.record("http.response.status_code", response.status().as_u16());
    }
    trace_context::write_response_headers(&ids, response.headers_mut());
    response
}
