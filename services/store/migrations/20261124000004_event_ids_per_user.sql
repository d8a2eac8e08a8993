-- A client's event_id is unique per user across every event kind: the first record stored
-- under it wins, whatever its kind; a re-send of any kind answers that record.
CREATE TABLE event_ids (
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id  UUID NOT NULL,
    -- The table the record went to: session, screen-time, focus-session, break,
    -- notification, distraction.
    kind      TEXT NOT NULL,
    record_id UUID NOT NULL,
    PRIMARY KEY (user_id, event_id)
);

INSERT INTO event_ids (user_id, event_id, kind, record_id)
SELECT user_id, event_id, kind, id FROM (
    SELECT user_id, event_id, 'session' AS kind, id, created_at FROM sessions
    UNION ALL SELECT user_id, event_id, 'screen-time', id, created_at FROM screen_time
    UNION ALL SELECT user_id, event_id, 'focus-session', id, created_at FROM focus_sessions
    UNION ALL SELECT user_id, event_id, 'break', id, created_at FROM breaks
    UNION ALL SELECT user_id, event_id, 'notification', id, created_at FROM notifications
    UNION ALL SELECT user_id, event_id, 'distraction', id, created_at FROM distractions
    ORDER BY created_at
) AS existing
ON CONFLICT (user_id, event_id) DO NOTHING;
