-- The other event kinds, goals and privacy snapshots. Same pattern as screen_time: reads go
-- through (user_id, started_at) (or occurred_at for point events); (user_id, event_id) makes
-- client re-sends idempotent; rows go with their user (ON DELETE CASCADE).

CREATE TABLE sessions (
    id          UUID        PRIMARY KEY,
    user_id     UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id    UUID        NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ NOT NULL CHECK (ended_at > started_at),
    device_type TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, event_id)
);
CREATE INDEX sessions_user_started ON sessions (user_id, started_at);

CREATE TABLE focus_sessions (
    id            UUID             PRIMARY KEY,
    user_id       UUID             NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id      UUID             NOT NULL,
    started_at    TIMESTAMPTZ      NOT NULL,
    ended_at      TIMESTAMPTZ      NOT NULL CHECK (ended_at > started_at),
    quality_score DOUBLE PRECISION NOT NULL CHECK (quality_score BETWEEN 0 AND 100),
    task_name     TEXT,
    created_at    TIMESTAMPTZ      NOT NULL DEFAULT now(),
    UNIQUE (user_id, event_id)
);
CREATE INDEX focus_sessions_user_started ON focus_sessions (user_id, started_at);

CREATE TABLE breaks (
    id               UUID             PRIMARY KEY,
    user_id          UUID             NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id         UUID             NOT NULL,
    started_at       TIMESTAMPTZ      NOT NULL,
    ended_at         TIMESTAMPTZ      NOT NULL,
    duration_minutes DOUBLE PRECISION NOT NULL CHECK (duration_minutes > 0),
    break_type       TEXT             NOT NULL,
    created_at       TIMESTAMPTZ      NOT NULL DEFAULT now(),
    UNIQUE (user_id, event_id)
);
CREATE INDEX breaks_user_started ON breaks (user_id, started_at);

CREATE TABLE notifications (
    id             UUID        PRIMARY KEY,
    user_id        UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id       UUID        NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    app_name       TEXT        NOT NULL,
    priority       INTEGER     NOT NULL CHECK (priority BETWEEN 0 AND 100),
    was_interacted BOOLEAN     NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, event_id)
);
CREATE INDEX notifications_user_occurred ON notifications (user_id, occurred_at);

CREATE TABLE distractions (
    id               UUID             PRIMARY KEY,
    user_id          UUID             NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id         UUID             NOT NULL,
    occurred_at      TIMESTAMPTZ      NOT NULL,
    source           TEXT             NOT NULL,
    severity         INTEGER          NOT NULL CHECK (severity BETWEEN 1 AND 5),
    duration_seconds DOUBLE PRECISION NOT NULL CHECK (duration_seconds >= 0),
    created_at       TIMESTAMPTZ      NOT NULL DEFAULT now(),
    UNIQUE (user_id, event_id)
);
CREATE INDEX distractions_user_occurred ON distractions (user_id, occurred_at);

CREATE TABLE goals (
    id            UUID             PRIMARY KEY,
    user_id       UUID             NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    goal_type     TEXT             NOT NULL,
    target_value  DOUBLE PRECISION NOT NULL,
    app_name      TEXT,
    deadline      DATE,
    -- Only custom goals store their progress; measured goals compute it from events.
    current_value DOUBLE PRECISION,
    -- When a custom goal reached its target.
    completed_at  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ      NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ      NOT NULL DEFAULT now()
);
CREATE INDEX goals_user ON goals (user_id, created_at);

CREATE TABLE privacy_states (
    id                 UUID             PRIMARY KEY,
    user_id            UUID             NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reported_at        TIMESTAMPTZ      NOT NULL DEFAULT now(),
    vpn_connected      BOOLEAN          NOT NULL,
    kill_switch        BOOLEAN          NOT NULL,
    leak_detected      BOOLEAN          NOT NULL,
    caller_masking     BOOLEAN          NOT NULL,
    calls_total        BIGINT           NOT NULL CHECK (calls_total >= 0),
    calls_blocked      BIGINT           NOT NULL CHECK (calls_blocked >= 0),
    blocklist_size     BIGINT           NOT NULL CHECK (blocklist_size >= 0),
    location_mode      TEXT             NOT NULL,
    network_threats    BIGINT           NOT NULL CHECK (network_threats >= 0),
    critical_threats   BIGINT           NOT NULL CHECK (critical_threats >= 0),
    monitoring_enabled BOOLEAN          NOT NULL,
    -- The score at the time of the report, so history does not change if the formula does.
    score              DOUBLE PRECISION NOT NULL
);
CREATE INDEX privacy_states_user_reported ON privacy_states (user_id, reported_at DESC);
