//! The pure domain of wellbeing: no I/O, no clocks read behind the caller's back. Analytics and
//! the aggregator both compute from these functions, so a number is the same wherever it is made.
//!
//! - [`time`]: local days and hours; every interval is split at local hour boundaries.
//! - [`aggregate`]: day aggregates, the exact sums every view is composed from.
//! - [`records`]: the input records, one type per tracked event kind, and the privacy state.
//! - [`summary`], [`weekly`], [`apps`]: the daily, weekly and apps-usage read views.
//! - [`scores`]: productivity, trend, wellbeing and privacy formulas.
//! - [`insights`]: insights and recommendations, patterns, peak hours, benchmark comparison.
//! - [`goals`]: goal types and progress.
//! - [`validation`]: the input rules of the tracking and account endpoints.
//! - [`answers`]: the shapes of the answers analytics assembles around the views.
//!
//! docs/SCORES.md states every formula and choice with worked examples.
//!
//! With the `openapi` feature (the gateway enables it), the read views and answer shapes also derive
//! `utoipa::ToSchema`, so the gateway's OpenAPI document describes the very types analytics
//! serialises. Without it this crate has no such dependency.

pub mod aggregate;
pub mod answers;
pub mod apps;
pub mod goals;
pub mod insights;
mod numbers;
pub mod records;
pub mod scores;
pub mod summary;
pub mod time;
pub mod validation;
pub mod weekly;

pub use numbers::{round1, round2};
