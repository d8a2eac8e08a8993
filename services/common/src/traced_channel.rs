//! The client side of a gRPC call as a span: every call made through a [`TracedChannel`] runs in a
//! span named like `cache.Get` (`otel.kind = client`, `rpc.*` attributes), and that span's W3C
//! context is what goes out in the request headers, so the server span is its child. A call made
//! outside any span, or while spans are not exported, goes out as it is, with no span.

use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::transport::Channel;
use tracing::Instrument as _;
use tracing::instrument::Instrumented;

/// A tonic [`Channel`] whose calls open client spans. Cheap to clone, like the channel.
#[derive(Debug, Clone)]
pub struct TracedChannel {
    inner: Channel,
}

impl TracedChannel {
    pub fn new(inner: Channel) -> Self {
        Self { inner }
    }
}

/// The span of one outgoing call: `/wellbeing.cache.v1.Cache/Get` gives `cache.Get`.
pub fn grpc_client_span(path: &str) -> tracing::Span {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    tracing::info_span!(
        "grpc client",
        otel.name = %crate::trace_context::grpc_span_name(path),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

impl tower::Service<http::Request<Body>> for TracedChannel {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = Instrumented<RecordStatus<tonic::transport::channel::ResponseFuture>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // Calls made outside any span (periodic background work) start no trace of their own,
        // and no call has a span when spans are not exported.
        let span = if !crate::telemetry::exporting_spans() || tracing::Span::current().is_none() {
            tracing::Span::none()
        } else {
            grpc_client_span(request.uri().path())
        };
        if !span.is_none() {
            use tracing_opentelemetry::OpenTelemetrySpanExt as _;
            let context = span.context();
            if opentelemetry::trace::TraceContextExt::span(&context)
                .span_context()
                .is_valid()
            {
                crate::trace_context::inject_headers(&context, request.headers_mut());
            }
        }
        let future = span.in_scope(|| self.inner.call(request));
        RecordStatus {
            inner: future,
            span: span.clone(),
        }
        .instrument(span)
    }
}

pin_project_lite::pin_project! {
    /// Records the gRPC status a call answered in its headers (a trailers-only answer: an error,
    /// or a status the server decided before any message) on the client span.
    pub struct RecordStatus<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
    }
}

impl<F> std::future::Future for RecordStatus<F>
where
    F: std::future::Future<Output = Result<http::Response<Body>, tonic::transport::Error>>,
{
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        match &output {
            Ok(response) => {
                if let Some(code) = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<i32>().ok())
                {
                    this.span.record("rpc.grpc.status_code", code);
                    if code != 0 {
                        this.span.record("otel.status_code", "ERROR");
                    }
                }
            }
            Err(_) => {
                this.span.record("otel.status_code", "ERROR");
            }
        }
        Poll::Ready(output)
    }
}
