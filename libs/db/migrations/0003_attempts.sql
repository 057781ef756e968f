-- Every delivery attempt (hookd-worker writes them in batches with COPY).

CREATE TABLE attempts (
  delivery_id      text NOT NULL,
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
);
-- No primary key: after a crash the same attempt may be made twice, and both are logged.
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt);

-- The recovery sweep of hookd-worker looks for due deliveries that made no progress (Redis lost
-- them); only unfinished deliveries are indexed.
CREATE INDEX deliveries_unfinished ON deliveries (next_attempt_time) WHERE status IN (1, 3);
