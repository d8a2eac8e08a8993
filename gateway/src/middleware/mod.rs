//! Cross-cutting behaviour of every request.

pub mod timing;
