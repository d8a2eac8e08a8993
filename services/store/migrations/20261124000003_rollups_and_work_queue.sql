-- Pre-aggregation. Ingestion marks each (user, local day) an event touches as dirty, in the same
-- transaction as the insert (a transactional outbox). Aggregator workers claim dirty days with
-- FOR UPDATE SKIP LOCKED and a lease, recompute the day from raw events, upsert its rollup, and
-- clear the mark only if no newer event re-marked it meanwhile (the version did not change).
-- Reads use a day's rollup only when the day is not dirty and was computed in the user's
-- current zone, so a rollup is never stale when it is used.

CREATE TABLE dirty_days (
    user_id       UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day           DATE        NOT NULL,
    -- Bumped by every new mark; a worker clears only the version it computed.
    version       BIGINT      NOT NULL DEFAULT 1,
    marked_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set while a worker holds the item; an expired lease means the worker died.
    claimed_until TIMESTAMPTZ,
    attempts      INTEGER     NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
CREATE INDEX dirty_days_marked ON dirty_days (marked_at);

CREATE TABLE daily_rollups (
    user_id     UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day         DATE        NOT NULL,
    -- The zone the day was computed in; a rollup of another zone is not used.
    timezone    TEXT        NOT NULL,
    -- The day's summary exactly as the daily view shows it (totals, counts, productivity
    -- inputs, 24 hourly minutes, top apps).
    summary     JSONB       NOT NULL,
    -- Per-app minutes, sessions and categories of the day.
    apps        JSONB       NOT NULL,
    -- Raw events that touched the day when it was computed.
    events      INTEGER     NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, day)
);
