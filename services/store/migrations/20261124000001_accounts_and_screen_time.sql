-- Accounts, sessions of the app (refresh tokens) and the first event table.
-- Every event table is keyed for reads by (user_id, started_at): a read touches only the caller's
-- rows for the days asked. (user_id, event_id) is unique so a client can re-send safely.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    username      TEXT        NOT NULL,
    -- Stored lower-cased, so uniqueness ignores case.
    email         TEXT        NOT NULL UNIQUE,
    -- argon2id PHC string; the password itself is never stored.
    password_hash TEXT        NOT NULL,
    -- IANA zone name; every day and hour the user sees is computed in it.
    timezone      TEXT        NOT NULL DEFAULT 'UTC',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Refresh tokens rotate: each use marks the token used and issues the next one in the same family.
-- Presenting a used token again revokes the whole family (a stolen token is worth one use at most).
CREATE TABLE refresh_tokens (
    -- SHA-256 of the opaque token; the token itself is never stored.
    token_hash BYTEA       PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  UUID        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE screen_time (
    id               UUID             PRIMARY KEY,
    user_id          UUID             NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id         UUID             NOT NULL,
    app_name         TEXT             NOT NULL,
    category         TEXT             NOT NULL,
    started_at       TIMESTAMPTZ      NOT NULL,
    ended_at         TIMESTAMPTZ      NOT NULL,
    duration_minutes DOUBLE PRECISION NOT NULL CHECK (duration_minutes > 0),
    created_at       TIMESTAMPTZ      NOT NULL DEFAULT now(),
    UNIQUE (user_id, event_id)
);
CREATE INDEX screen_time_user_started ON screen_time (user_id, started_at);
