//! The sessions that ended recently, whose access tokens this gateway refuses (a deny-list by
//! session id, the `sid` claim). An access token is a signed JWT checked without a hop, so when
//! its session ends (sign-out, sign-out everywhere, a password change, a session ended from the
//! list, a reused refresh token) every gateway replica must learn the session id before the
//! token expires by itself:
//!
//! - the replica that carried the request adds the sessions analytics says it ended before it
//!   answers, so the caller's next request, here, is refused;
//! - every replica asks analytics every `SESSION_POLL_MS` (default 1 s) for the sessions ended
//!   within an access token's lifetime (a small indexed read of PostgreSQL), which covers
//!   ends made through other replicas and reuse detected by analytics. It needs neither Redis
//!   nor the cache service, so it stays correct while they are down; a replica is not ready
//!   (`/readyz`) until its first poll has answered.
//!
//! An entry is forgotten once every access token of its session has expired. The per-request
//! cost is one lookup in a hash map under a read lock (docs/PERFORMANCE.md).

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use uuid::Uuid;
use wellbeing_proto::analytics::v1::{EndedSession, RevokedSessionsRequest};

use crate::upstream::{Upstreams, timed};

/// Added to an access token's lifetime: the verification's leeway and clock differences.
const MARGIN_SECS: i64 = 60;

pub struct EndedSessions {
    /// Session id -> the Unix time after which no access token of it is valid any more.
    ended: RwLock<HashMap<Uuid, i64>>,
    /// How long an ended session is remembered: an access token's lifetime and the margin.
    remember_secs: i64,
    /// Whether a poll has answered since start.
    loaded: AtomicBool,
}

impl EndedSessions {
    pub fn new(access_ttl: Duration) -> Self {
        Self {
            ended: RwLock::new(HashMap::new()),
            remember_secs: i64::try_from(access_ttl.as_secs()).unwrap_or(86_400) + MARGIN_SECS,
            loaded: AtomicBool::new(false),
        }
    }

    /// Whether the session has ended (its access tokens are refused).
    pub fn has_ended(&self, session_id: &Uuid) -> bool {
        self.ended
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(session_id)
    }

    /// Remembers sessions analytics reports ended (an unreadable entry is skipped: analytics
    /// wrote it, and the next poll brings it again).
    pub fn add(&self, sessions: &[EndedSession]) {
        let mut ended = self
            .ended
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for session in sessions {
            let (Ok(id), Some(at)) = (Uuid::parse_str(&session.session_id), &session.revoked_at)
            else {
                continue;
            };
            ended.insert(id, at.seconds + self.remember_secs);
        }
    }

    /// Forgets the sessions whose access tokens have all expired.
    pub fn prune(&self) {
        let now = chrono::Utc::now().timestamp();
        self.ended
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, until| *until > now);
    }

    /// True once a poll has answered: until then this replica may not know of a session
    /// ended before it started, and is not ready.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Sessions remembered (a gauge).
    pub fn len(&self) -> usize {
        self.ended
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks analytics for the recently ended sessions every `every`, for as long as the gateway
    /// runs (every 100 ms until the first answer).
    pub async fn keep_polling(&self, upstreams: Upstreams, every: Duration) {
        let within_seconds = u32::try_from(self.remember_secs).unwrap_or(u32::MAX);
        loop {
            let request = upstreams.request(RevokedSessionsRequest { within_seconds });
            match timed(upstreams.analytics().revoked_sessions(request)).await {
                Ok(answer) => {
                    self.add(&answer.into_inner().ended);
                    self.prune();
                    self.loaded.store(true, Ordering::Release);
                }
                Err(status) => {
                    tracing::debug!(code = ?status.code(), "cannot read the ended sessions yet");
                }
            }
            let pause = if self.is_loaded() {
                every
            } else {
                every.min(Duration::from_millis(100))
            };
            tokio::time::sleep(pause).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wellbeing_proto::Timestamp;

    fn ended(id: Uuid, seconds_ago: i64) -> EndedSession {
        EndedSession {
            session_id: id.to_string(),
            revoked_at: Some(Timestamp {
                seconds: chrono::Utc::now().timestamp() - seconds_ago,
                nanos: 0,
            }),
        }
    }

    #[test]
    fn an_ended_session_is_remembered_until_its_tokens_have_expired() {
        let sessions = EndedSessions::new(Duration::from_secs(900));
        let (recent, old, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        sessions.add(&[
            ended(recent, 10),
            ended(old, 900 + MARGIN_SECS + 1),
            EndedSession {
                session_id: "not a uuid".to_owned(),
                revoked_at: None,
            },
        ]);
        assert!(sessions.has_ended(&recent));
        assert!(sessions.has_ended(&old));
        assert!(!sessions.has_ended(&other));
        sessions.prune();
        assert!(sessions.has_ended(&recent));
        assert!(!sessions.has_ended(&old), "its tokens have all expired");
        assert_eq!(sessions.len(), 1);
    }

    /// What the deny-list adds to a request's authentication: JWT verification alone against
    /// verification and the lookup, with 10,000 sessions ended. A benchmark that prints, not a
    /// check: `cargo test --release -p wellbeing-gateway --lib -- --ignored --nocapture
    /// deny_list_cost` (docs/PERFORMANCE.md).
    #[test]
    #[ignore = "a benchmark: run it in release"]
    fn deny_list_cost() {
        use crate::auth::TokenKeys;
        const ROUNDS: u32 = 200_000;
        let keys = TokenKeys::new(
            b"0123456789abcdef0123456789abcdef",
            Duration::from_secs(900),
        );
        let token = keys
            .issue(
                &Uuid::new_v4().to_string(),
                Uuid::new_v4(),
                chrono::Utc::now().timestamp(),
            )
            .unwrap();
        let sessions = EndedSessions::new(Duration::from_secs(900));
        let ended: Vec<EndedSession> = (0..10_000).map(|_| ended(Uuid::new_v4(), 5)).collect();
        sessions.add(&ended);
        let time = |with_lookup: bool| {
            let started = std::time::Instant::now();
            for _ in 0..ROUNDS {
                let verified = keys.verify(std::hint::black_box(&token)).unwrap();
                if with_lookup {
                    assert!(!sessions.has_ended(std::hint::black_box(&verified.session)));
                }
            }
            started.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
        };
        let lookups = || {
            let started = std::time::Instant::now();
            for index in 0..ROUNDS {
                let session = if index % 2 == 0 { &ended[0] } else { &ended[1] };
                let id = Uuid::parse_str(&session.session_id).unwrap_or_default();
                assert!(sessions.has_ended(std::hint::black_box(&id)));
            }
            started.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
        };
        time(true);
        let (mut alone, mut with, mut lookup) = (f64::MAX, f64::MAX, f64::MAX);
        for _ in 0..5 {
            alone = alone.min(time(false));
            with = with.min(time(true));
            lookup = lookup.min(lookups());
        }
        println!(
            "BENCH deny_list_cost: verify {alone:.0} ns, verify+lookup {with:.0} ns, \
             lookup alone (with parsing the id) {lookup:.0} ns"
        );
    }
}
