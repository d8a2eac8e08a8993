//! Security through the whole stack: user B against every path and id of user A (0 leaks, 0
//! changes), tokens that are expired, forged, unsigned, signed with another key or of the wrong
//! kind, refresh tokens replayed (also concurrently), a stolen refresh token ended by the
//! victim's sign-out everywhere (on every gateway replica), passwords kept only as argon2id
//! hashes and refresh tokens only as hashes, and rate limits.
//!
//! Related tests elsewhere: isolation.rs (B's token with A's `user_id` in the query of every read
//! and the body of every write: 403; A's goal id: 404), contract_accounts/ (a reused refresh
//! token ends its session; sign-out, password change, the sessions list; erasure ends every
//! token), foundation.rs (a malformed token),
//! gateway/src/auth.rs unit tests (another key, `alg: none`), gateway/tests/router/limits.rs
//! (the limiter's headers), log_secrets.rs (nothing secret in the logs).

mod database_role;
mod held_statements;
mod idor;
mod internal_tls;
mod metrics_access;
mod sign_in_throttle;
mod slow_clients;
mod stolen_session;
mod storage_and_limits;
mod tokens;

/// The key the test stack's gateway signs with (tests/src/lib.rs).
pub const STACK_SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";
pub const PASSWORD: &str = "correct horse battery staple";
