-- Signature profiles (README, "Signature profiles") replace the one compat header an app could
-- name. An app stored with `compat_signature_header` gets the two profiles that send exactly
-- what it sent before: the Standard Webhooks headers, then that header with
-- `sha256=<hex HMAC-SHA256 of the body>` keyed by the decoded whsec_ bytes of the newest key.
-- Both are written as hookd-subscription stores a resolved profile (libs/apps validation.cc,
-- ResolveSignatureProfiles), and the app gets a new version so that caches reload it. No app
-- could have profiles before this migration.
UPDATE apps
SET config = (config - 'compat_signature_header') || jsonb_build_object(
      'signature_profiles', jsonb_build_array(
        jsonb_build_object(
          'preset', 'standard-webhooks',
          'id_header', 'webhook-id',
          'timestamp_header', 'webhook-timestamp',
          'signature_header', 'webhook-signature',
          'timestamp_unit', 'TIMESTAMP_UNIT_SECONDS',
          'signed_content', '{id}.{timestamp}.{body}',
          'algorithm', 'SIGNATURE_ALGORITHM_STANDARD_WEBHOOKS',
          'encoding', 'SIGNATURE_ENCODING_BASE64',
          'key', 'SIGNATURE_KEY_WHSEC_BYTES',
          'rotation', 'SIGNATURE_ROTATION_ALL_KEYS'),
        jsonb_build_object(
          'signature_header', config->>'compat_signature_header',
          'timestamp_unit', 'TIMESTAMP_UNIT_SECONDS',
          'signed_content', '{body}',
          'algorithm', 'SIGNATURE_ALGORITHM_HMAC_SHA256',
          'encoding', 'SIGNATURE_ENCODING_HEX',
          'signature_format', 'sha256={sig}',
          'signature_separator', ' ',
          'key', 'SIGNATURE_KEY_WHSEC_BYTES',
          'rotation', 'SIGNATURE_ROTATION_NEWEST_KEY'))),
    version = nextval('app_version_seq')
WHERE config ? 'compat_signature_header' AND config->>'compat_signature_header' <> '';
