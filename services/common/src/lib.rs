//! Plumbing every binary of wellbeing shares. Nothing here knows about the domain.
//!
//! - [`config`]: environment variables with documented defaults, validated at start.
//! - [`telemetry`]: `tracing` set-up (human or JSON logs).
//! - [`shutdown`]: one future that resolves on SIGINT or SIGTERM.
//! - [`health`]: tonic-health reporting driven by real dependency checks.
//! - [`error`]: the one error vocabulary, mapped to both gRPC and HTTP.
//! - [`grpc`]: serving on a bound listener, and client channels.

pub mod config;
pub mod error;
pub mod grpc;
pub mod health;
pub mod shutdown;
pub mod telemetry;

pub use error::{ErrorCode, ServiceError};
