-- Failed sign-ins per account name (issue 18), for the per-account login throttle. Keyed by the
-- SHA-256 of the normalized email: the table names no one, and a name without an account is
-- throttled exactly like one with an account, so a refusal tells nothing about existence.
CREATE TABLE sign_in_failures (
    email_sha256 BYTEA PRIMARY KEY,
    -- Consecutive failures since the last success (or since they were forgotten).
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    -- No attempt is checked before this.
    locked_until TIMESTAMPTZ NOT NULL
);
-- The aggregator's upkeep forgets old rows.
CREATE INDEX sign_in_failures_last_failure ON sign_in_failures (last_failure_at);
