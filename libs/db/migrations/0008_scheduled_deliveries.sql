-- SCHEDULED deliveries (hookd.v1.DeliveryStatus 7) wait in Postgres for their time: every
-- worker asks for the due ones a few times a second, which reads only this index.
CREATE INDEX deliveries_scheduled ON deliveries (next_attempt_time) WHERE status = 7;
