//! A circuit breaker for the cache service: after a run of failures, calls are skipped for a
//! while (reads are computed directly), then one is let through to see if it is back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row that open the circuit.
const FAILURES_TO_OPEN: u32 = 3;
/// How long an open circuit skips calls.
const OPEN_FOR: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct CircuitBreaker {
    state: Mutex<State>,
}

impl CircuitBreaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a call may be tried now.
    pub fn allows(&self) -> bool {
        let mut state = self.lock();
        match state.open_until {
            Some(until) if Instant::now() < until => false,
            Some(_) => {
                // Half-open: let this call probe; a failure opens the circuit again at once.
                state.open_until = None;
                state.consecutive_failures = FAILURES_TO_OPEN - 1;
                true
            }
            None => true,
        }
    }

    pub fn succeeded(&self) {
        let mut state = self.lock();
        state.consecutive_failures = 0;
        state.open_until = None;
    }

    pub fn failed(&self) {
        let mut state = self.lock();
        state.consecutive_failures += 1;
        if state.consecutive_failures >= FAILURES_TO_OPEN && state.open_until.is_none() {
            state.open_until = Some(Instant::now() + OPEN_FOR);
            tracing::warn!(
                open_for_ms = OPEN_FOR.as_millis() as u64,
                "cache circuit opened"
            );
        }
    }

    pub fn is_closed(&self) -> bool {
        self.lock().open_until.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_closes_on_success() {
        let breaker = CircuitBreaker::default();
        assert!(breaker.allows());
        breaker.failed();
        breaker.failed();
        assert!(breaker.allows(), "two failures do not open it");
        breaker.failed();
        assert!(!breaker.allows(), "three do");
        assert!(!breaker.is_closed());
        breaker.succeeded();
        assert!(breaker.allows());
    }
}
