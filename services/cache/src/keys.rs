//! Key layout. Every key is namespaced and versioned, and carries the user in a Redis Cluster
//! hash tag so that all of one user's keys live on one shard:
//!
//! ```text
//! wb:v1:{u:<user>}:gen                       the user's generation (a counter)
//! wb:v1:{u:<user>}:g<gen>:<view>:<params>    one cached view; params hashed
//! ```
//!
//! Invalidating a user is one `INCR` of the generation: older views become unreachable at once
//! and expire by their TTL. No `KEYS`, no `SCAN`.

use sha2::{Digest, Sha256};

/// Bumped when the layout or the meaning of cached bytes changes; old keys then simply expire.
pub const LAYOUT_VERSION: &str = "v1";

#[derive(Debug, Clone)]
pub struct KeySpace {
    namespace: String,
}

impl KeySpace {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
        }
    }

    pub fn generation(&self, user_id: &str) -> String {
        format!("{}:{LAYOUT_VERSION}:{{u:{user_id}}}:gen", self.namespace)
    }

    /// A `SCAN MATCH` pattern for every key of one user (the braces are literal in patterns).
    pub fn user_pattern(&self, user_id: &str) -> String {
        format!("{}:{LAYOUT_VERSION}:{{u:{user_id}}}:*", self.namespace)
    }

    pub fn view(&self, user_id: &str, generation: u64, view: &str, params: &str) -> String {
        format!(
            "{}:{LAYOUT_VERSION}:{{u:{user_id}}}:g{generation}:{view}:{}",
            self.namespace,
            params_hash(params)
        )
    }
}

/// 64 bits of SHA-256 of the view parameters: short keys, no user input in key names.
fn params_hash(params: &str) -> String {
    let digest = Sha256::digest(params.as_bytes());
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_versioned_and_hash_tagged() {
        let keys = KeySpace::new("wb");
        assert_eq!(keys.generation("42"), "wb:v1:{u:42}:gen");
        let view = keys.view("42", 3, "daily", "date=2026-11-24");
        assert!(view.starts_with("wb:v1:{u:42}:g3:daily:"), "{view}");
        assert!(!view.contains("2026"), "parameters are hashed: {view}");
        assert_ne!(view, keys.view("42", 4, "daily", "date=2026-11-24"));
        assert_ne!(view, keys.view("42", 3, "daily", "date=2026-11-25"));
    }
}
