//! Cross-cutting behaviour of every request.

pub mod rate_limit;
pub mod timeout;
pub mod timing;
pub mod trace;
