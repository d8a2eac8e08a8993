-- Users erased whose cached views and counters may still be in Redis: recorded in the
-- transaction that deletes the user, removed once the cache service confirmed the erasure, so a
-- cache service down at that moment (or a restart of analytics) never leaves them behind.
CREATE TABLE cache_erasures (
    user_id uuid PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    claimed_until timestamptz
);
