//! Key layout. Every key is namespaced and versioned, and carries the user in a Redis Cluster
//! hash tag so that all of one user's keys live on one shard:
//!
//! ```text
//! wb:v1:epoch                                        bumped when Redis comes back after an outage
//! wb:v1:{u:<user>}:e<epoch>:gen                      the user's generation (a counter)
//! wb:v1:{u:<user>}:e<epoch>:g<gen>:<view>:<params>   one cached view; params hashed
//! wb:v1:{u:<user>}:stats:hits / :stats:misses        the user's read counters
//! wb:v1:invalidations                                pub/sub channel of user invalidations
//! ```
//!
//! Invalidating a user is one `INCR` of the generation: older views become unreachable at once
//! and expire by their TTL. No `KEYS`, and `SCAN` only for erasure and admin clearing.
//! The epoch makes everything written before a Redis outage unreachable once Redis is back, since
//! invalidations made during the outage went to the in-process store only.

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

    fn root(&self) -> String {
        format!("{}:{LAYOUT_VERSION}", self.namespace)
    }

    pub fn epoch(&self) -> String {
        format!("{}:epoch", self.root())
    }

    pub fn invalidation_channel(&self) -> String {
        format!("{}:invalidations", self.root())
    }

    pub fn generation(&self, user_id: &str, epoch: u64) -> String {
        format!("{}:{{u:{user_id}}}:e{epoch}:gen", self.root())
    }

    pub fn view(
        &self,
        user_id: &str,
        epoch: u64,
        generation: u64,
        view: &str,
        params: &str,
    ) -> String {
        format!(
            "{}:{{u:{user_id}}}:e{epoch}:g{generation}:{view}:{}",
            self.root(),
            params_hash(params)
        )
    }

    pub fn user_hits(&self, user_id: &str) -> String {
        format!("{}:{{u:{user_id}}}:stats:hits", self.root())
    }

    pub fn user_misses(&self, user_id: &str) -> String {
        format!("{}:{{u:{user_id}}}:stats:misses", self.root())
    }

    /// A `SCAN MATCH` pattern for every key of one user (braces are literal in patterns).
    pub fn user_pattern(&self, user_id: &str) -> String {
        format!("{}:{{u:{user_id}}}:*", self.root())
    }

    /// A pattern for every key under `prefix` of this namespace (admin clearing).
    pub fn prefix_pattern(&self, prefix: &str) -> String {
        let escaped: String = prefix
            .chars()
            .flat_map(|character| match character {
                '*' | '?' | '[' | ']' | '\\' => vec!['\\', character],
                other => vec![other],
            })
            .collect();
        format!("{}:{escaped}*", self.root())
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
        assert_eq!(keys.generation("42", 0), "wb:v1:{u:42}:e0:gen");
        let view = keys.view("42", 0, 3, "daily", "date=2026-11-24");
        assert!(view.starts_with("wb:v1:{u:42}:e0:g3:daily:"), "{view}");
        assert!(!view.contains("2026"), "parameters are hashed: {view}");
        assert_ne!(view, keys.view("42", 0, 4, "daily", "date=2026-11-24"));
        assert_ne!(view, keys.view("42", 1, 3, "daily", "date=2026-11-24"));
        assert_ne!(view, keys.view("42", 0, 3, "daily", "date=2026-11-25"));
        assert_eq!(keys.user_pattern("42"), "wb:v1:{u:42}:*");
    }

    #[test]
    fn prefix_patterns_escape_glob_characters() {
        let keys = KeySpace::new("wb");
        assert_eq!(keys.prefix_pattern(""), "wb:v1:*");
        assert_eq!(keys.prefix_pattern("a*b"), "wb:v1:a\\*b*");
    }
}
