-- Sign-in sessions people can see and end (`auth_sessions`; `sessions` holds the phone's
-- usage sessions): one row per sign-in, i.e. per refresh-token family
-- (refresh_tokens.family_id is the session id). Ending a session (sign-out, sign-out everywhere,
-- a password change, a reused refresh token) sets revoked_at; the gateways refuse the access
-- tokens that carry its id (`sid`) until they expire, so revoked rows stay a while (the
-- aggregator removes them later, with the whole family at once: never a family's rows one by
-- one, or reuse detection would weaken).
CREATE TABLE auth_sessions (
    id           UUID        PRIMARY KEY,
    user_id      UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- A label the person recognises: the name the app sent at sign-in, or its User-Agent.
    device       TEXT        NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The absolute end of the session, however often it is refreshed.
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX auth_sessions_revoked ON auth_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- The families signed in before sessions existed become sessions (90 days from their start).
INSERT INTO auth_sessions (id, user_id, created_at, last_used_at, expires_at)
SELECT family_id, (array_agg(user_id))[1], min(created_at), max(created_at),
       min(created_at) + interval '90 days'
FROM refresh_tokens
GROUP BY family_id;

ALTER TABLE refresh_tokens
    ADD CONSTRAINT refresh_tokens_session
    FOREIGN KEY (family_id) REFERENCES auth_sessions (id) ON DELETE CASCADE;

-- Set when the token is rotated: with the token itself (which only the client holds) it
-- derives the successor again, so that a rotation whose answer was lost can be answered again
-- with the same pair (see services/analytics/src/sessions.rs). Neither alone gives a token.
ALTER TABLE refresh_tokens ADD COLUMN successor_salt BYTEA;
