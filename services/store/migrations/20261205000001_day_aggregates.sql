-- Day aggregates maintained by deltas (services/domain/src/aggregate.rs says what each record
-- adds). Ingestion adds what its newly stored events contribute to the rows of the local days
-- they touch, in the statement that stores them, so an acknowledged write is already in the
-- aggregates and views never go back to raw records on the hot path. They replace the rollups
-- the aggregator recomputed after every write.
--
-- * day_aggregates: one row per (user, local day): screen time per wall-clock hour (a fixed
--   24-element array, updated element by element), focus/break time, counts. Times are whole
--   microseconds and quality millionths of a point, so sums are exact in any order.
-- * day_app_aggregates: one row per (user, local day, app): time, uses started that day, the
--   categories seen.
-- * users.aggregates_timezone: the zone the user's aggregates are complete in. While it differs
--   from users.timezone (after a timezone change, until the aggregator rebuilt them; NULL for
--   users from before this migration), writes store events without deltas and reads compute
--   from raw records, so reads stay exact.
-- * dirty_days now lists days whose aggregate a write could not update by a delta (a partly
--   repeated batch, a zone that changed under the writer): reads compute them from raw until
--   the aggregator has recomputed them.
-- * aggregate_rebuilds: users whose aggregates the aggregator rebuilds from raw records.
--
-- fillfactor 70 leaves room on each page, so the constant updates of a row are HOT (no index
-- entry per update).

CREATE TABLE day_aggregates (
    user_id                  UUID     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day                      DATE     NOT NULL,
    screen_us                BIGINT[] NOT NULL,
    focus_us                 BIGINT   NOT NULL,
    focus_count              INTEGER  NOT NULL,
    focus_quality_micros     BIGINT   NOT NULL,
    break_us                 BIGINT   NOT NULL,
    break_count              INTEGER  NOT NULL,
    sessions                 INTEGER  NOT NULL,
    notifications_received   INTEGER  NOT NULL,
    notifications_interacted INTEGER  NOT NULL,
    distractions             INTEGER  NOT NULL,
    PRIMARY KEY (user_id, day),
    CHECK (cardinality(screen_us) = 24)
) WITH (fillfactor = 70);

CREATE TABLE day_app_aggregates (
    user_id    UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day        DATE    NOT NULL,
    app_name   TEXT    NOT NULL,
    screen_us  BIGINT  NOT NULL,
    uses       INTEGER NOT NULL,
    categories TEXT[]  NOT NULL,
    PRIMARY KEY (user_id, day, app_name)
) WITH (fillfactor = 70);

CREATE TABLE aggregate_rebuilds (
    user_id       UUID        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    requested_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    claimed_until TIMESTAMPTZ,
    attempts      INTEGER     NOT NULL DEFAULT 0
);

ALTER TABLE users ADD COLUMN aggregates_timezone TEXT;
-- Every existing user is rebuilt once by the aggregator; until then their reads use raw records.
INSERT INTO aggregate_rebuilds (user_id) SELECT id FROM users;
DELETE FROM dirty_days;
DROP TABLE daily_rollups;

CREATE OR REPLACE FUNCTION wb_maintain_partitions(ahead INTEGER, retention_days INTEGER)
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
        DELETE FROM day_aggregates WHERE day < (cutoff AT TIME ZONE 'UTC')::date - 1;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'deleted'; target := 'day_aggregates'; rows_affected := n; RETURN NEXT;
        DELETE FROM day_app_aggregates WHERE day < (cutoff AT TIME ZONE 'UTC')::date - 1;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'deleted'; target := 'day_app_aggregates'; rows_affected := n; RETURN NEXT;
        DELETE FROM dirty_days WHERE day < (cutoff AT TIME ZONE 'UTC')::date - 1;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'deleted'; target := 'dirty_days'; rows_affected := n; RETURN NEXT;
        DELETE FROM privacy_states WHERE reported_at < cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        action := 'deleted'; target := 'privacy_states'; rows_affected := n; RETURN NEXT;
    END IF;
END
$$;
