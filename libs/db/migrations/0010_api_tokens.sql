-- API tokens (README "Tokens and roles"). A token is stored as the SHA-256 of its text, never the
-- text itself. Every change takes the next version under an advisory transaction lock, as apps
-- do, so the token caches of ingest and subscription, which read the changes after the last
-- version they saw, never miss one that commits late.
CREATE SEQUENCE api_token_version_seq;

CREATE TABLE api_tokens (
  id            text COLLATE "C" PRIMARY KEY,
  -- SHA-256 of the token's text: what a call's token is looked up by.
  hash          bytea NOT NULL UNIQUE,
  name          text NOT NULL,
  -- hookd.v1.Role: 1 admin, 2 manager, 3 publisher, 4 viewer.
  role          smallint NOT NULL,
  -- Empty: every tenant.
  tenant        text NOT NULL,
  created_by    text NOT NULL,
  create_time   timestamptz NOT NULL DEFAULT now(),
  expire_time   timestamptz,
  revoke_time   timestamptz,
  -- Written a minute at a time by each replica from the uses it saw; no version change.
  last_use_time timestamptz,
  version       bigint NOT NULL UNIQUE
);

CREATE INDEX api_tokens_by_tenant ON api_tokens (tenant, id);
