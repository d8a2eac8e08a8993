//! Exports being sent, at most one at a time per user: an export holds an upstream stream and a
//! database connection for as long as its client reads, so one person must not hold many at
//! once (a batch of twenty exports, or a script).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct RunningExports {
    users: Mutex<HashSet<String>>,
}

/// One running export: the user may start another once this is dropped.
pub struct Running {
    exports: Arc<RunningExports>,
    user_id: String,
}

impl RunningExports {
    fn users(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks an export of the user as running; `None` when one already is.
    pub fn start(self: &Arc<Self>, user_id: String) -> Option<Running> {
        self.users().insert(user_id.clone()).then(|| Running {
            exports: self.clone(),
            user_id,
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.exports.users().remove(&self.user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_export_per_user_at_a_time() {
        let exports = Arc::new(RunningExports::default());
        let first = exports.start("a".to_owned());
        assert!(first.is_some());
        assert!(exports.start("a".to_owned()).is_none());
        assert!(exports.start("b".to_owned()).is_some());
        drop(first);
        assert!(exports.start("a".to_owned()).is_some());
    }
}
