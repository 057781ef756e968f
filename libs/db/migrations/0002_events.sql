-- Events and their deliveries (hookd-ingest writes them, hookd-worker updates them).

CREATE TABLE events (
  id              text PRIMARY KEY,
  tenant          text NOT NULL,
  event_type      text NOT NULL,
  -- Byte for byte as published (validated as a JSON object first).
  payload         text NOT NULL,
  channels        jsonb NOT NULL DEFAULT '[]',
  idempotency_key text NOT NULL DEFAULT '',
  traceparent     text NOT NULL DEFAULT '',
  delivery_count  integer NOT NULL,
  create_time     timestamptz NOT NULL DEFAULT now()
);

-- One row per (tenant, key) seen within the idempotency window; an expired row is taken over by
-- the next publish with that key.
CREATE TABLE idempotency_keys (
  tenant      text NOT NULL,
  key         text NOT NULL,
  event_id    text NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, key)
);

CREATE TABLE deliveries (
  id                text PRIMARY KEY,
  event_id          text NOT NULL,
  app_id            text NOT NULL,
  tenant            text NOT NULL,
  event_type        text NOT NULL,
  -- hookd.v1.DeliveryStatus: 1 pending, 2 succeeded, 3 retrying, 4 failed.
  status            smallint NOT NULL DEFAULT 1,
  attempt_count     integer NOT NULL DEFAULT 0,
  last_status_code  integer NOT NULL DEFAULT 0,
  next_attempt_time timestamptz NOT NULL DEFAULT now(),
  create_time       timestamptz NOT NULL DEFAULT now(),
  update_time       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX deliveries_by_event ON deliveries (event_id);

-- The transactional outbox: one row per committed batch of deliveries, written in the same
-- transaction, deleted once the batch is on the Redis streams. A row that outlives the sweeper's
-- grace period was never enqueued (a crash between commit and XADD, or Redis down) and is
-- enqueued again. One row per batch instead of a flag per delivery keeps the hot path to one
-- insert and one delete per transaction.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  -- One line per delivery: "<delivery_id> <event_id> <app_id>".
  messages    text NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now()
);
