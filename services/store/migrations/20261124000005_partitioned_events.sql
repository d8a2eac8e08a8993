-- The six event tables become partitioned by month of their time column (declarative range
-- partitioning, UTC months): a read of a few days touches one or two partitions' indexes, and
-- retention drops whole old months instead of deleting rows one by one.
--
-- Partitions are named <table>_pYYYYMM; <table>_default takes rows of months that have no
-- partition yet (wb_ensure_partition moves them out when their month is created). The aggregator
-- calls wb_maintain_partitions periodically: it creates the months ahead and applies retention.
--
-- A partitioned table's unique keys must contain the partition key, so the primary key is
-- (id, <time>) and (user_id, event_id) is only indexed: event_ids (user_id, event_id) is what
-- makes a client's event id unique. event_ids gains the event's time, so retention forgets ids of
-- removed events.

-- Creates the month partition of `parent` for the month starting at `month` (a first day),
-- moving any rows of that month out of the default partition first. Serialised per table.
CREATE FUNCTION wb_ensure_partition(parent TEXT, key TEXT, month DATE) RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    part TEXT := parent || '_p' || to_char(month, 'YYYYMM');
    fallback TEXT := parent || '_default';
    low TIMESTAMPTZ := month::timestamp AT TIME ZONE 'UTC';
    high TIMESTAMPTZ := (month + INTERVAL '1 month')::timestamp AT TIME ZONE 'UTC';
    waiting BOOLEAN;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('wb_partitions:' || parent));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN FALSE;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= $1 AND %I < $2)', fallback, key, key)
        INTO waiting USING low, high;
    IF waiting THEN
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, fallback);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, low, high);
        EXECUTE format('INSERT INTO %I SELECT * FROM %I WHERE %I >= $1 AND %I < $2', part, fallback, key, key)
            USING low, high;
        EXECUTE format('DELETE FROM %I WHERE %I >= $1 AND %I < $2', fallback, key, key) USING low, high;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I DEFAULT', parent, fallback);
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, parent, low, high);
    END IF;
    RETURN TRUE;
END
$$;

-- The event tables and their time columns.
CREATE FUNCTION wb_event_tables() RETURNS TABLE (parent TEXT, key TEXT)
LANGUAGE sql IMMUTABLE AS $$
    VALUES ('screen_time', 'started_at'), ('sessions', 'started_at'),
           ('focus_sessions', 'started_at'), ('breaks', 'started_at'),
           ('notifications', 'occurred_at'), ('distractions', 'occurred_at')
$$;

-- Creates every month partition from the current month to `ahead` months later and, with
-- `retention_days` > 0, removes everything older than now - retention_days: whole partitions
-- whose month ended before the cutoff are dropped; the older rows of the month holding the
-- cutoff, of the default partition, and the derived rows (event ids, rollups, work queue, privacy
-- snapshots) are deleted. Returns one row per action taken.
CREATE FUNCTION wb_maintain_partitions(ahead INTEGER, retention_days INTEGER)
RETURNS TABLE (action TEXT, target TEXT, rows_affected BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    t RECORD;
    m DATE;
    cutoff TIMESTAMPTZ := now() - make_interval(days => retention_days);
    part RECORD;
    n BIGINT;
BEGIN
    FOR t IN SELECT * FROM wb_event_tables() LOOP
        FOR m IN SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                                        date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => ahead),
                                        INTERVAL '1 month')::date LOOP
            IF wb_ensure_partition(t.parent, t.key, m) THEN
                action := 'created'; target := t.parent || '_p' || to_char(m, 'YYYYMM'); rows_affected := 0;
                RETURN NEXT;
            END IF;
        END LOOP;
        IF retention_days > 0 THEN
            FOR part IN
                SELECT child.relname AS name
                FROM pg_inherits
                JOIN pg_class child ON child.oid = pg_inherits.inhrelid
                JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
                WHERE parent.relname = t.parent
                  AND child.relname ~ ('^' || t.parent || '_p[0-9]{6}$')
                  AND (to_date(right(child.relname, 6), 'YYYYMM') + INTERVAL '1 month')::timestamp
                      AT TIME ZONE 'UTC' <= cutoff
            LOOP
                EXECUTE format('SELECT count(*) FROM %I', part.name) INTO n;
                EXECUTE format('DROP TABLE %I', part.name);
                action := 'dropped'; target := part.name; rows_affected := n;
                RETURN NEXT;
            END LOOP;
            EXECUTE format('DELETE FROM %I WHERE %I < $1', t.parent, t.key) USING cutoff;
            GET DIAGNOSTICS n = ROW_COUNT;
            IF n > 0 THEN
                action := 'deleted'; target := t.parent; rows_affected := n;
                RETURN NEXT;
            END IF;
        END IF;
    END LOOP;
    IF retention_days > 0 THEN
        DELETE FROM event_ids WHERE occurred_at < cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'deleted'; target := 'event_ids'; rows_affected := n; RETURN NEXT;
        DELETE FROM daily_rollups WHERE day < (cutoff AT TIME ZONE 'UTC')::date - 1;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'deleted'; target := 'daily_rollups'; rows_affected := n; RETURN NEXT;
        DELETE FROM dirty_days WHERE day < (cutoff AT TIME ZONE 'UTC')::date - 1;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'deleted'; target := 'dirty_days'; rows_affected := n; RETURN NEXT;
        DELETE FROM privacy_states WHERE reported_at < cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'deleted'; target := 'privacy_states'; rows_affected := n; RETURN NEXT;
    END IF;
END
$$;

ALTER TABLE event_ids ADD COLUMN occurred_at TIMESTAMPTZ;
UPDATE event_ids e SET occurred_at = x.at FROM (
    SELECT id, started_at AS at FROM sessions
    UNION ALL SELECT id, started_at FROM screen_time
    UNION ALL SELECT id, started_at FROM focus_sessions
    UNION ALL SELECT id, started_at FROM breaks
    UNION ALL SELECT id, occurred_at FROM notifications
    UNION ALL SELECT id, occurred_at FROM distractions
) AS x WHERE x.id = e.record_id;
CREATE INDEX event_ids_occurred ON event_ids (occurred_at);

-- Rebuild each event table as a partitioned one and move its rows over.
DO $$
DECLARE
    t RECORD;
    m DATE;
    first_month DATE;
BEGIN
    FOR t IN SELECT * FROM wb_event_tables() LOOP
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t.parent, t.parent || '_unpartitioned');
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (%I)',
                       t.parent, t.parent || '_unpartitioned', t.key);
        -- The old table still holds <table>_pkey, hence the name.
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (id, %I)',
                       t.parent, t.parent || '_id_time_pkey', t.key);
        EXECUTE format('ALTER TABLE %I ADD FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE', t.parent);
        EXECUTE format('CREATE INDEX %I ON %I (user_id, %I)', t.parent || '_user_time', t.parent, t.key);
        EXECUTE format('CREATE INDEX %I ON %I (user_id, event_id)', t.parent || '_user_event', t.parent);
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t.parent || '_default', t.parent);
        EXECUTE format('SELECT date_trunc(''month'', min(%I) AT TIME ZONE ''UTC'')::date FROM %I',
                       t.key, t.parent || '_unpartitioned') INTO first_month;
        FOR m IN SELECT generate_series(
                     LEAST(COALESCE(first_month, now()::date), (now() AT TIME ZONE 'UTC')::date),
                     (now() AT TIME ZONE 'UTC')::date + INTERVAL '2 months', INTERVAL '1 month')::date LOOP
            PERFORM wb_ensure_partition(t.parent, t.key, date_trunc('month', m)::date);
        END LOOP;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I', t.parent, t.parent || '_unpartitioned');
        EXECUTE format('DROP TABLE %I', t.parent || '_unpartitioned');
    END LOOP;
END
$$;
