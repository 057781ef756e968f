-- The delivery log in day partitions (README, "Retention"): events, deliveries and attempts
-- become range partitions by the UTC day of their id. Ids are <prefix>_<ULID>, and a ULID starts
-- with its time, so the ids of one day lie between two bounds and retention drops whole days
-- instead of deleting rows. attempts is partitioned by its delivery's id: a delivery and its
-- attempts share a day. Ids and the columns holding them compare byte-wise (COLLATE "C"), the
-- order of the partition bounds. There is no DEFAULT partition: a row of a day without one is
-- refused (hookd-ingest answers UNAVAILABLE) rather than kept where retention cannot drop it.

-- The 10-character time part of a ULID made at `t`: Crockford base32 of its Unix milliseconds.
CREATE FUNCTION hookd_ulid_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
           ((floor(extract(epoch FROM t) * 1000)::bigint >> (45 - 5 * i)) & 31)::int + 1, 1),
         '' ORDER BY i)
  FROM generate_series(0, 9) AS i
$$;

-- The time of a <prefix>_<ULID> id, to the millisecond.
CREATE FUNCTION hookd_id_time(id text) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT to_timestamp(sum((strpos('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
                                  substr(split_part(id, '_', 2), i + 1, 1)) - 1)::numeric
                          * (32::numeric ^ (9 - i))) / 1000)
  FROM generate_series(0, 9) AS i
$$;

-- Creates the partitions of events, deliveries and attempts for each UTC day from `first` to
-- `last` that has none, named <table>_pYYYYMMDD: each as a table of its own, then attached
-- (CREATE TABLE ... PARTITION OF would lock the parent against every reader and writer; ATTACH
-- does not). Returns how many tables it made. hookd-subscription's retention leader calls it to
-- keep 7 days ahead.
CREATE FUNCTION hookd_ensure_day_partitions(first date, last date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  day date;
  spec record;
  name text;
  made integer := 0;
BEGIN
  FOR day IN SELECT d::date FROM generate_series(first, last, interval '1 day') AS d LOOP
    FOR spec IN SELECT * FROM (VALUES ('events', 'evt'), ('deliveries', 'dlv'),
                                      ('attempts', 'dlv')) AS s(parent, prefix) LOOP
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

-- Fail (and be retried at the next start) rather than queue every publish behind a long reader.
SET LOCAL lock_timeout = '10s';

ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE deliveries RENAME TO deliveries_unpartitioned;
ALTER TABLE attempts RENAME TO attempts_unpartitioned;

CREATE TABLE events (
  id              text COLLATE "C" NOT NULL,
  tenant          text NOT NULL,
  event_type      text NOT NULL,
  -- Byte for byte as published (validated as a JSON object first).
  payload         text NOT NULL,
  channels        jsonb NOT NULL DEFAULT '[]',
  idempotency_key text NOT NULL DEFAULT '',
  traceparent     text NOT NULL DEFAULT '',
  delivery_count  integer NOT NULL,
  create_time     timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (id);

CREATE TABLE deliveries (
  id                text COLLATE "C" NOT NULL,
  event_id          text COLLATE "C" NOT NULL,
  app_id            text NOT NULL,
  tenant            text NOT NULL,
  event_type        text NOT NULL,
  -- hookd.v1.DeliveryStatus.
  status            smallint NOT NULL DEFAULT 1,
  attempt_count     integer NOT NULL DEFAULT 0,
  last_status_code  integer NOT NULL DEFAULT 0,
  next_attempt_time timestamptz NOT NULL DEFAULT now(),
  create_time       timestamptz NOT NULL DEFAULT now(),
  update_time       timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (id);

CREATE TABLE attempts (
  delivery_id      text COLLATE "C" NOT NULL,
  attempt          integer NOT NULL,
  app_id           text NOT NULL,
  start_time       timestamptz NOT NULL,
  duration_ms      integer NOT NULL,
  -- 0 when no response arrived.
  status_code      integer NOT NULL,
  -- At most 4 KiB of the response body, made valid UTF-8.
  response_excerpt text NOT NULL DEFAULT '',
  -- hookd.v1.AttemptError.
  error            smallint NOT NULL,
  error_detail     text NOT NULL DEFAULT '',
  worker           text NOT NULL
) PARTITION BY RANGE (delivery_id);

-- A partition for every day from the oldest id to the newest, and the next 7 days.
DO $$
DECLARE
  first date := (least((SELECT hookd_id_time(min(id)) FROM events_unpartitioned),
                       (SELECT hookd_id_time(min(id)) FROM deliveries_unpartitioned),
                       (SELECT hookd_id_time(min(delivery_id)) FROM attempts_unpartitioned),
                       now()) AT TIME ZONE 'UTC')::date;
  last date := (greatest((SELECT hookd_id_time(max(id)) FROM events_unpartitioned),
                         (SELECT hookd_id_time(max(id)) FROM deliveries_unpartitioned),
                         (SELECT hookd_id_time(max(delivery_id)) FROM attempts_unpartitioned),
                         now()) AT TIME ZONE 'UTC')::date + 7;
  -- Each day takes about 24 locks until the migration commits (its three tables, their TOAST
  -- tables and indexes), from a lock table of max_locks_per_transaction x (max_connections +
  -- max_prepared_transactions) slots shared by every session.
  locks_needed integer := (last - first + 1) * 24;
  locks_available integer := current_setting('max_locks_per_transaction')::integer
      * (current_setting('max_connections')::integer
         + current_setting('max_prepared_transactions')::integer);
BEGIN
  IF last - first > 3660 THEN
    RAISE EXCEPTION 'ids span % to %: over 10 years of days to partition (is every id <prefix>_<ULID>?)',
      first, last;
  END IF;
  IF locks_needed > locks_available / 2 THEN
    RAISE EXCEPTION 'the log spans % days (% to %): moving it into day partitions needs about % locks in one transaction; raise max_locks_per_transaction to at least % and restart Postgres',
      last - first + 1, first, last, locks_needed,
      ceil(2.0 * locks_needed / (current_setting('max_connections')::integer
                                 + current_setting('max_prepared_transactions')::integer));
  END IF;
  PERFORM hookd_ensure_day_partitions(first, last);
END $$;

INSERT INTO events (id, tenant, event_type, payload, channels, idempotency_key, traceparent,
                    delivery_count, create_time)
  SELECT id, tenant, event_type, payload, channels, idempotency_key, traceparent, delivery_count,
         create_time FROM events_unpartitioned;
INSERT INTO deliveries (id, event_id, app_id, tenant, event_type, status, attempt_count,
                        last_status_code, next_attempt_time, create_time, update_time)
  SELECT id, event_id, app_id, tenant, event_type, status, attempt_count, last_status_code,
         next_attempt_time, create_time, update_time FROM deliveries_unpartitioned;
INSERT INTO attempts (delivery_id, attempt, app_id, start_time, duration_ms, status_code,
                      response_excerpt, error, error_detail, worker)
  SELECT delivery_id, attempt, app_id, start_time, duration_ms, status_code, response_excerpt,
         error, error_detail, worker FROM attempts_unpartitioned;

DROP TABLE events_unpartitioned, deliveries_unpartitioned, attempts_unpartitioned;

-- The keys and indexes of before, built once over the copied rows; each is made on every
-- partition, and on every partition attached later.
ALTER TABLE events ADD PRIMARY KEY (id);
ALTER TABLE deliveries ADD PRIMARY KEY (id);
CREATE INDEX deliveries_by_tenant ON deliveries (tenant, id);
CREATE INDEX deliveries_by_app ON deliveries (app_id, id);
CREATE INDEX deliveries_by_tenant_type ON deliveries (tenant, event_type, id);
CREATE INDEX deliveries_unsucceeded_by_tenant ON deliveries (tenant, status, id) WHERE status <> 2;
CREATE INDEX deliveries_unsucceeded_by_app ON deliveries (app_id, status, id) WHERE status <> 2;
CREATE INDEX deliveries_unfinished ON deliveries (next_attempt_time) WHERE status IN (1, 3);
CREATE INDEX deliveries_held ON deliveries (app_id, id) WHERE status = 5;
CREATE INDEX deliveries_scheduled ON deliveries (next_attempt_time) WHERE status = 7;
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt);
CREATE INDEX attempts_by_app_time ON attempts (app_id, start_time);
-- The retention deletes the idempotency keys of a day's events before dropping the day: only
-- keyed events are indexed, so it reads those rather than the whole day.
CREATE INDEX events_keyed ON events (id) WHERE idempotency_key <> '';
-- deliveries_by_event (event_id) is not made again: nothing reads deliveries by event any more
-- (the row-by-row retention did), and it cost an index entry per delivery.

-- Autovacuum analyzes partitions, never their parents; the planner's join estimates over the
-- whole log need the parents' statistics (the retention leader refreshes them daily).
ANALYZE events, deliveries, attempts;
