-- The insert-only delivery log (README, "Retention"; bench/README.md, "The insert-only hot
-- path"). A delivery's row in `deliveries` never changes after it is written: what changes
-- (status, attempt count, next attempt time) lives in `delivery_state`, which has a row only for
-- a delivery that has not succeeded. A success inserts its attempt and deletes the state row, so
-- no indexed column of a large table is updated: before, each success rewrote the delivery's row
-- and added an entry to each of its four indexes (a non-HOT update). A delivery without a state
-- row SUCCEEDED; its attempt count, last status code and update time are those of its latest
-- attempt (the `delivery_view` below shows every delivery in the old shape).
--
-- `delivery_state` is in day partitions like the rest of the log (by its delivery's id), and
-- retention drops its days with theirs. Its indexes are lean: a PENDING row (every delivery is
-- one for a moment) is in the primary key and the due-time index only; the status lists
-- (by tenant, by app) hold the rows that stay: RETRYING, FAILED, HELD, DISCARDED, SCHEDULED.

SET LOCAL lock_timeout = '10s';

CREATE TABLE delivery_state (
  id                text COLLATE "C" NOT NULL,
  -- Its delivery's, for the status lists (a state row is found without reading deliveries).
  app_id            text NOT NULL,
  tenant            text NOT NULL,
  -- hookd.v1.DeliveryStatus, never SUCCEEDED (2): a succeeded delivery has no row.
  status            smallint NOT NULL,
  attempt_count     integer NOT NULL DEFAULT 0,
  last_status_code  integer NOT NULL DEFAULT 0,
  next_attempt_time timestamptz NOT NULL DEFAULT now(),
  update_time       timestamptz NOT NULL DEFAULT now()
  -- No CHECK (status <> 2): SQLSTATE 23514 must keep meaning "no partition for this day"
  -- (hookd-ingest answers UNAVAILABLE for it, libs/db/src/pg_pool.cc).
) PARTITION BY RANGE (id);

-- The same days as deliveries (migration 9's function, now making four tables a day).
CREATE OR REPLACE FUNCTION hookd_ensure_day_partitions(first date, last date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  day date;
  spec record;
  name text;
  made integer := 0;
BEGIN
  FOR day IN SELECT d::date FROM generate_series(first, last, interval '1 day') AS d LOOP
    FOR spec IN SELECT * FROM (VALUES ('events', 'evt'), ('deliveries', 'dlv'),
                                      ('attempts', 'dlv'), ('delivery_state', 'dlv'))
                AS s(parent, prefix) LOOP
      name := spec.parent || '_p' || to_char(day, 'YYYYMMDD');
      CONTINUE WHEN to_regclass(name) IS NOT NULL;
      EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                     name, spec.parent);
      EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                     spec.parent, name,
                     spec.prefix || '_' || hookd_ulid_time(day::timestamp AT TIME ZONE 'UTC'),
                     spec.prefix || '_' || hookd_ulid_time((day + 1)::timestamp AT TIME ZONE 'UTC'));
      made := made + 1;
    END LOOP;
  END LOOP;
  RETURN made;
END $$;

-- A state partition for every day deliveries has one.
DO $$
DECLARE
  day date;
BEGIN
  FOR day IN SELECT to_date(substr(c.relname, length('deliveries_p') + 1), 'YYYYMMDD')
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'deliveries'::regclass LOOP
    PERFORM hookd_ensure_day_partitions(day, day);
  END LOOP;
END $$;

INSERT INTO delivery_state (id, app_id, tenant, status, attempt_count, last_status_code,
                            next_attempt_time, update_time)
  SELECT id, app_id, tenant, status, attempt_count, last_status_code, next_attempt_time,
         update_time
  FROM deliveries WHERE status <> 2;

ALTER TABLE delivery_state ADD PRIMARY KEY (id);
-- Due and stalled deliveries (the workers' claims of lost deliveries, and after a Redis loss).
CREATE INDEX delivery_state_unfinished ON delivery_state (next_attempt_time)
  WHERE status IN (1, 3);
-- SCHEDULED deliveries by due time (ClaimDue).
CREATE INDEX delivery_state_scheduled ON delivery_state (next_attempt_time) WHERE status = 7;
-- ListDeliveries by status, RecoverFailed, held deliveries of an app: every row but PENDING.
CREATE INDEX delivery_state_by_app ON delivery_state (app_id, status, id) WHERE status <> 1;
CREATE INDEX delivery_state_by_tenant ON delivery_state (tenant, status, id) WHERE status <> 1;

-- The columns that changed move out; their indexes (deliveries_unsucceeded_by_tenant,
-- _by_app, deliveries_unfinished, deliveries_held, deliveries_scheduled) go with them.
ALTER TABLE deliveries DROP COLUMN status, DROP COLUMN attempt_count,
  DROP COLUMN last_status_code, DROP COLUMN next_attempt_time, DROP COLUMN update_time;

-- Every delivery in the shape of before: a delivery without a state row SUCCEEDED, and its
-- latest attempt gives its attempt count, last status code and update time. For reading one
-- delivery or a page of them (the join and the attempt are looked up per row); a status other
-- than SUCCEEDED is found faster from delivery_state's own indexes.
CREATE VIEW delivery_view AS
  SELECT d.id, d.event_id, d.app_id, d.tenant, d.event_type, d.create_time,
         coalesce(s.status, 2::smallint) AS status,
         coalesce(s.attempt_count, l.attempt, 0) AS attempt_count,
         coalesce(s.last_status_code, l.status_code, 0) AS last_status_code,
         coalesce(s.next_attempt_time, l.end_time, d.create_time) AS next_attempt_time,
         coalesce(s.update_time, l.end_time, d.create_time) AS update_time
  FROM deliveries d
  LEFT JOIN delivery_state s ON s.id = d.id
  LEFT JOIN LATERAL (
    SELECT a.attempt, a.status_code, a.start_time + a.duration_ms * interval '1 ms' AS end_time
    FROM attempts a WHERE s.id IS NULL AND a.delivery_id = d.id
    ORDER BY a.attempt DESC LIMIT 1) l ON true;

ANALYZE delivery_state;
