-- Ingestion writes two rows per event (its table and event_ids). Each row paid a foreign-key
-- check (a lookup and a row lock of its user, one at a time) and the event tables a third index,
-- (user_id, event_id): together about half of what storing a batch cost PostgreSQL.
--
-- * The foreign keys of the six event tables and of event_ids to users go. What they enforced is
--   kept by the store (services/store): ingestion reads its users' rows FOR KEY SHARE first
--   (users::timezones), which is the lock the checks took, so an erasure waits for the
--   transaction and a user erased before it gets no rows; erasure (users::delete) deletes these
--   tables' rows of the user itself, in the transaction that deletes the user. The other tables
--   keep their foreign keys (and ON DELETE CASCADE).
-- * The (user_id, event_id) indexes of the event tables go: event_ids (user_id, event_id) keeps
--   event ids unique, and names the record (record_id, occurred_at), which the primary key
--   (id, <time>) finds.
DO $$
DECLARE
    fk RECORD;
BEGIN
    FOR fk IN
        SELECT conrelid::regclass AS tab, conname
        FROM pg_constraint
        WHERE contype = 'f'
          AND confrelid = 'users'::regclass
          AND conparentid = 0
          AND conrelid IN ('event_ids'::regclass, 'screen_time'::regclass, 'sessions'::regclass,
                           'focus_sessions'::regclass, 'breaks'::regclass,
                           'notifications'::regclass, 'distractions'::regclass)
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tab, fk.conname);
    END LOOP;
END
$$;

DROP INDEX IF EXISTS screen_time_user_event, sessions_user_event, focus_sessions_user_event,
    breaks_user_event, notifications_user_event, distractions_user_event;
