-- Issue 16's insert-only hot path, prototyped in SQL before any code commits to it: the WAL per
-- delivery of today's write path (A) against one where a success changes no indexed column of
-- a large table (B). Run it on a scratch database that hookd's migrations made (it writes 100,000
-- deliveries into the log and leaves them), with nothing else writing to that Postgres:
--
--   psql -X -q "$SCRATCH_URL" -f bench/prototypes/insert_only_wal.sql
--
-- Each path writes each delivery as hookd does, in batches of 500: one transaction inserts the
-- events and deliveries, another records the successful attempts. A CHECKPOINT before each makes
-- them start equal on full-page images. Results: bench/README.md.
--
-- Payloads: `-v payload=pad` (the default) is the benchmark's 1 KiB of one repeated character;
-- `-v payload=realistic` is a video.ready event shaped like the fixture in
-- tests/fixtures/payloads (ids, names, times and urls differing per event, about 700 bytes).
-- Path D compresses them inline (lz4).
\set N 100000
\if :{?payload}
\else
  \set payload pad
\endif
DROP TABLE IF EXISTS proto_ids;
CREATE TABLE proto_ids AS
  SELECT g, 'evt_' || hookd_ulid_time(now()) || lpad(g::text, 16, '0') AS evt,
            'dlv_' || hookd_ulid_time(now()) || lpad(g::text, 16, '0') AS dlv,
            CASE :'payload' WHEN 'pad' THEN repeat('x', 1024) ELSE
              json_build_object('event_type', 'video.ready', 'payload', json_build_object(
                'error', NULL, 'video', json_build_object(
                  '_id', substr(md5('id' || g), 1, 24), 'status', 'ready', 'public', g % 3 = 0,
                  'name', 'Onboarding video #' || g, 'tags', json_build_array('team-' || g % 7),
                  'deleted', false, 'userId', substr(md5('u' || g % 5000), 1, 19),
                  'accountId', substr(md5('a' || g % 300), 1, 18),
                  'createdAt', to_char(now() - make_interval(secs => g * 7.3),
                                       'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'updatedAt', to_char(now() - make_interval(secs => g * 1.1),
                                       'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'data', json_build_object(), 'duration', round((random() * 600)::numeric, 3),
                  'thumbnail', 'https://elai-media.s3.eu-west-2.amazonaws.com/staging/videos/'
                    || substr(md5('v' || g), 1, 24) || '/slide' || (733399051519 + g)
                    || '_screenshot_' || (1661506361822 + g * 17) || '.jpg',
                  'url', 'https://elai-media.s3.eu-west-2.amazonaws.com/staging/videos/'
                    || substr(md5('v' || g), 1, 24) || '/onboarding-' || g || '.mp4')))::text
            END AS payload
  FROM generate_series(1, :N) g;
SELECT :'payload' AS payload, round(avg(octet_length(payload))) AS bytes_per_payload FROM proto_ids;
CHECKPOINT;

-- A: today.
SELECT wal_bytes AS a0, wal_records AS r0 FROM pg_stat_wal \gset
DO $$
DECLARE b int;
BEGIN
  FOR b IN 0 .. 199 LOOP
    INSERT INTO events (id, tenant, event_type, payload, delivery_count)
      SELECT evt, 'acme', 'video.ready', payload, 1 FROM proto_ids WHERE g > b * 500 AND g <= (b + 1) * 500;
    INSERT INTO deliveries (id, event_id, app_id, tenant, event_type)
      SELECT dlv, evt, 'app_1', 'acme', 'video.ready' FROM proto_ids WHERE g > b * 500 AND g <= (b + 1) * 500;
    COMMIT;
  END LOOP;
  FOR b IN 0 .. 199 LOOP
    INSERT INTO attempts (delivery_id, attempt, app_id, start_time, duration_ms, status_code, error, worker)
      SELECT dlv, 1, 'app_1', now(), 3, 200, 1, 'w' FROM proto_ids WHERE g > b * 500 AND g <= (b + 1) * 500;
    UPDATE deliveries d SET status = 2, attempt_count = 1, last_status_code = 200, next_attempt_time = now(), update_time = now()
      FROM proto_ids p WHERE p.g > b * 500 AND p.g <= (b + 1) * 500 AND d.id = p.dlv;
    COMMIT;
  END LOOP;
END $$;
SELECT wal_bytes AS a1, wal_records AS r1 FROM pg_stat_wal \gset
SELECT 'A today' AS path, round((:a1 - :a0)::numeric / :N) AS wal_bytes_per_delivery,
       round((:r1 - :r0)::numeric / :N, 1) AS records_per_delivery;

-- B: insert-only. deliveries holds what never changes and is indexed for listing;
-- delivery_state, a small table, holds the state of the deliveries not (yet) succeeded, with the
-- status indexes. A success inserts its attempt and deletes the state row: no indexed column of
-- a large table changes.
CREATE TABLE b_deliveries (
  id text COLLATE "C" NOT NULL, event_id text COLLATE "C" NOT NULL, app_id text NOT NULL,
  tenant text NOT NULL, event_type text NOT NULL, create_time timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (id);
CREATE TABLE b_deliveries_p PARTITION OF b_deliveries FOR VALUES FROM ('dlv_') TO ('dlv_~');
ALTER TABLE b_deliveries ADD PRIMARY KEY (id);
CREATE INDEX ON b_deliveries (tenant, id);
CREATE INDEX ON b_deliveries (app_id, id);
CREATE INDEX ON b_deliveries (tenant, event_type, id);
CREATE TABLE b_state (
  id text COLLATE "C" PRIMARY KEY, app_id text NOT NULL, tenant text NOT NULL,
  status smallint NOT NULL DEFAULT 1, attempt_count integer NOT NULL DEFAULT 0,
  last_status_code integer NOT NULL DEFAULT 0, next_attempt_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON b_state (next_attempt_time) WHERE status IN (1, 3);
CREATE INDEX ON b_state (tenant, status, id);
CREATE INDEX ON b_state (app_id, status, id);
CREATE TABLE b_events (LIKE events INCLUDING DEFAULTS) PARTITION BY RANGE (id);
CREATE TABLE b_events_p PARTITION OF b_events FOR VALUES FROM ('evt_') TO ('evt_~');
ALTER TABLE b_events ADD PRIMARY KEY (id);
CREATE TABLE b_attempts (LIKE attempts INCLUDING DEFAULTS) PARTITION BY RANGE (delivery_id);
CREATE TABLE b_attempts_p PARTITION OF b_attempts FOR VALUES FROM ('dlv_') TO ('dlv_~');
CREATE INDEX ON b_attempts (delivery_id, attempt);
CREATE INDEX ON b_attempts (app_id, start_time);
CHECKPOINT;
-- Paths B and C write alike; only the state table's indexes differ.
CREATE PROCEDURE pg_temp.write_insert_only() LANGUAGE plpgsql AS $$
DECLARE b int;
BEGIN
  FOR b IN 0 .. 199 LOOP
    INSERT INTO b_events (id, tenant, event_type, payload, delivery_count)
      SELECT evt, 'acme', 'video.ready', payload, 1 FROM proto_ids WHERE g > b * 500 AND g <= (b + 1) * 500;
    INSERT INTO b_deliveries (id, event_id, app_id, tenant, event_type)
      SELECT dlv, evt, 'app_1', 'acme', 'video.ready' FROM proto_ids WHERE g > b * 500 AND g <= (b + 1) * 500;
    INSERT INTO b_state (id, app_id, tenant)
      SELECT dlv, 'app_1', 'acme' FROM proto_ids WHERE g > b * 500 AND g <= (b + 1) * 500;
    COMMIT;
  END LOOP;
  FOR b IN 0 .. 199 LOOP
    INSERT INTO b_attempts (delivery_id, attempt, app_id, start_time, duration_ms, status_code, error, worker)
      SELECT dlv, 1, 'app_1', now(), 3, 200, 1, 'w' FROM proto_ids WHERE g > b * 500 AND g <= (b + 1) * 500;
    DELETE FROM b_state s USING proto_ids p WHERE p.g > b * 500 AND p.g <= (b + 1) * 500 AND s.id = p.dlv;
    COMMIT;
  END LOOP;
END $$;
SELECT wal_bytes AS b0, wal_records AS s0 FROM pg_stat_wal \gset
CALL pg_temp.write_insert_only();
SELECT wal_bytes AS b1, wal_records AS s1 FROM pg_stat_wal \gset
SELECT 'B insert-only' AS path, round((:b1 - :b0)::numeric / :N) AS wal_bytes_per_delivery,
       round((:s1 - :s0)::numeric / :N, 1) AS records_per_delivery;

-- C: B with a leaner state table: a pending row, inserted at publish and deleted at success,
-- gets only the primary key and the due-time index; the status lists (what failed, per tenant
-- or app) index only the rows that stay (status <> 1).
TRUNCATE b_deliveries, b_state, b_events, b_attempts;
DROP INDEX b_state_tenant_status_id_idx, b_state_app_id_status_id_idx;
CREATE INDEX ON b_state (tenant, status, id) WHERE status <> 1;
CREATE INDEX ON b_state (app_id, status, id) WHERE status <> 1;
CHECKPOINT;
SELECT wal_bytes AS c0, wal_records AS t0 FROM pg_stat_wal \gset
CALL pg_temp.write_insert_only();
SELECT wal_bytes AS c1, wal_records AS t1 FROM pg_stat_wal \gset
SELECT 'C insert-only, lean state' AS path, round((:c1 - :c0)::numeric / :N) AS wal_bytes_per_delivery,
       round((:t1 - :t0)::numeric / :N, 1) AS records_per_delivery;

-- D: C with each day's events compressing their payloads inline: lz4, and a tuple target low
-- enough (128 bytes) that every payload is tried; STORAGE MAIN keeps a compressed payload in its
-- row rather than in TOAST (whose chunks and index would add WAL), unless the row is still over
-- about 2 KB.
TRUNCATE b_deliveries, b_state, b_events, b_attempts;
ALTER TABLE b_events ALTER COLUMN payload SET COMPRESSION lz4;
ALTER TABLE b_events ALTER COLUMN payload SET STORAGE MAIN;
ALTER TABLE b_events_p SET (toast_tuple_target = 128);
CHECKPOINT;
SELECT wal_bytes AS d0, wal_records AS u0 FROM pg_stat_wal \gset
CALL pg_temp.write_insert_only();
SELECT wal_bytes AS d1, wal_records AS u1 FROM pg_stat_wal \gset
SELECT 'D C + lz4 payloads' AS path, round((:d1 - :d0)::numeric / :N) AS wal_bytes_per_delivery,
       round((:u1 - :u0)::numeric / :N, 1) AS records_per_delivery,
       (SELECT round(avg(pg_column_size(payload))) FROM b_events) AS payload_bytes_stored;
DROP TABLE b_deliveries, b_state, b_events, b_attempts, proto_ids;
