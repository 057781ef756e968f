-- Apps and the event type catalog (hookd-subscription).

-- Every change of an app takes the next value, under an advisory transaction lock so versions
-- commit in order: a watcher that saw version N never later finds a change below N.
CREATE SEQUENCE app_version_seq;

CREATE TABLE apps (
  id              text PRIMARY KEY,
  tenant          text NOT NULL,
  -- The App message as protobuf JSON, without output-only fields and without any secret.
  config          jsonb NOT NULL,
  -- AES-256-GCM (base64) of the signing keys and basic-auth password, bound to the id.
  secrets         text NOT NULL,
  active          boolean NOT NULL DEFAULT true,
  disabled_reason text NOT NULL DEFAULT '',
  failure_streak  integer NOT NULL DEFAULT 0,
  version         bigint NOT NULL UNIQUE,
  create_time     timestamptz NOT NULL DEFAULT now(),
  update_time     timestamptz NOT NULL DEFAULT now(),
  -- Deleted apps stay as tombstones so that watchers resuming from an old version see the delete.
  delete_time     timestamptz
);

CREATE INDEX apps_live_by_tenant ON apps (tenant, id) WHERE delete_time IS NULL;

CREATE TABLE event_types (
  name        text PRIMARY KEY,
  description text NOT NULL DEFAULT '',
  schema      jsonb,
  archived    boolean NOT NULL DEFAULT false,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now()
);
