-- The audit log (README "Audit log"): one row per change made through the API, written in the
-- change's transaction. Ids are `aud_` and a ULID, so they sort by time; the retention deletes the
-- rows older than its age, a batch at a time.
CREATE TABLE audit_events (
  id          text COLLATE "C" PRIMARY KEY,
  time        timestamptz NOT NULL DEFAULT now(),
  token_id    text NOT NULL,
  -- hookd.v1.Role of the token then.
  role        smallint NOT NULL,
  action      text NOT NULL,
  resource    text NOT NULL,
  -- Empty: the global event type catalog.
  tenant      text NOT NULL,
  request_id  text NOT NULL,
  detail      text NOT NULL DEFAULT ''
);

-- A tenant's admin lists its own tenant, newest first.
CREATE INDEX audit_events_by_tenant ON audit_events (tenant, id);
