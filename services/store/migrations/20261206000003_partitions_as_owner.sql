-- The services may run as a role without DDL rights (`DATABASE_RUNTIME_ROLE`, granted by
-- `wellbeing-analytics migrate`): the month partitions they maintain are then created and
-- dropped by this function as its owner, the role that ran the migrations. Callers still need
-- EXECUTE, which only the runtime role gets. search_path is pinned so a caller cannot make the
-- owner's code resolve its own objects.
ALTER FUNCTION wb_maintain_partitions(INTEGER, INTEGER) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION wb_ensure_partition(TEXT, TEXT, DATE) SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION wb_maintain_partitions(INTEGER, INTEGER) FROM PUBLIC;
