//! The handles of a service's metric series, registered once per label set.
//!
//! `counter!(name, labels)` builds the series' key on every call (each label value a string,
//! the whole key hashed, the recorder's registry searched): with one counter and one histogram
//! per request that was about 2 % of the gateway's CPU. A handle keeps pointing at its series,
//! so each label set is registered once and its handles are reused.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// Label sets kept at most; past this (only a client inventing names could get there) a call
/// registers its series each time, as without the memo, rather than growing it.
const MAX_NAMES: usize = 1024;

/// Handles `V` by a name (a route or a gRPC path) and a small key (method, status code).
pub struct SeriesMemo<K, V> {
    known: RwLock<HashMap<String, HashMap<K, V>>>,
}

impl<K, V> Default for SeriesMemo<K, V> {
    fn default() -> Self {
        Self {
            known: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Copy, V> SeriesMemo<K, V> {
    /// Calls `record` with the handles of `(name, key)`, registering them first if needed.
    pub fn with(&self, name: &str, key: K, register: impl FnOnce() -> V, record: impl FnOnce(&V)) {
        {
            let known = self
                .known
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(handles) = known.get(name).and_then(|keys| keys.get(&key)) {
                record(handles);
                return;
            }
        }
        let handles = register();
        record(&handles);
        let mut known = self
            .known
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.len() < MAX_NAMES || known.contains_key(name) {
            known
                .entry(name.to_owned())
                .or_default()
                .entry(key)
                .or_insert(handles);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn each_label_set_is_registered_once() {
        let memo = SeriesMemo::<u16, u32>::default();
        let registered = Cell::new(0);
        let register = |value| {
            registered.set(registered.get() + 1);
            value
        };
        let mut seen = Vec::new();
        for (name, key, value) in [
            ("/a", 200, 1),
            ("/a", 200, 9),
            ("/a", 404, 2),
            ("/b", 200, 3),
        ] {
            memo.with(name, key, || register(value), |handles| seen.push(*handles));
        }
        assert_eq!(seen, [1, 1, 2, 3]);
        assert_eq!(registered.get(), 3);
    }

    #[test]
    fn past_its_bound_it_registers_each_call_instead_of_growing() {
        let memo = SeriesMemo::<u8, usize>::default();
        for index in 0..MAX_NAMES {
            memo.with(&format!("/{index}"), 0, || index, |_| {});
        }
        let registered = Cell::new(0);
        for _ in 0..2 {
            let register = || {
                registered.set(registered.get() + 1);
                0
            };
            memo.with("/one-more", 0, register, |_| {});
        }
        assert_eq!(registered.get(), 2);
        assert_eq!(memo.known.read().unwrap().len(), MAX_NAMES);
        // Names it already holds still take new keys.
        memo.with("/0", 1, || 7, |_| {});
        memo.with(
            "/0",
            1,
            || unreachable!("kept"),
            |handles| assert_eq!(*handles, 7),
        );
    }
}
