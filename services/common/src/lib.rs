//! Plumbing every binary of wellbeing shares. Nothing here knows about the domain.
//!
//! - [`config`]: environment variables with documented defaults (clap settings, so `--help`
//!   lists them), validated at start; [`binary_checks`]: what each binary's tests check of that.
//! - [`telemetry`]: `tracing` set-up (human or JSON logs, optional OTLP span export).
//! - [`shutdown`]: one future that resolves on SIGINT or SIGTERM.
//! - [`health`]: tonic-health reporting driven by real dependency checks.
//! - [`error`]: the one error vocabulary, mapped to both gRPC and HTTP.
//! - [`grpc`]: serving on a bound listener, and client channels.
//! - [`internal_tls`]: mutual TLS between the services (certificates, roles).
//! - [`callers`]: which roles may call a service, read from the caller's certificate.
//! - [`metrics`]: a service's Prometheus series on its admin port.
//! - [`process`]: process-wide settings (transparent huge pages off, for the cache service and analytics) and
//!   how `main` ends (one line on error, no backtrace).
//! - [`trace_context`]: W3C trace context across HTTP headers and gRPC metadata.
//! - [`traced_channel`]: a client span around every outgoing gRPC call.

pub mod binary_checks;
pub mod callers;
pub mod config;
pub mod error;
pub mod grpc;
pub mod health;
pub mod internal_tls;
pub mod metrics;
pub mod process;
pub mod series;
pub mod shutdown;
pub mod telemetry;
pub mod trace_context;
pub mod traced_channel;

pub use error::{ErrorCode, ServiceError};
