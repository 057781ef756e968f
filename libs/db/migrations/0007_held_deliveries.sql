-- HELD and DISCARDED deliveries (hookd.v1.DeliveryStatus 5 and 6). A delivery of a disabled app
-- was left PENDING or RETRYING with next_attempt_time 'infinity'; it is HELD now, which EnableApp
-- resumes or discards and RecoverFailed re-queues.
UPDATE deliveries SET status = 5 WHERE status IN (1, 3) AND next_attempt_time = 'infinity';

-- EnableApp reads an app's held deliveries oldest first; the workers' sweep finds those of apps
-- that are active again. Few rows: only held ones are indexed.
CREATE INDEX deliveries_held ON deliveries (app_id, id) WHERE status = 5;
