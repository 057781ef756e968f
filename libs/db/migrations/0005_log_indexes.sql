-- App statistics (DeliveryService.GetAppStats) read one app's attempts of a time window, and its
-- latest attempt and success; without this index every call would scan all attempts.
CREATE INDEX attempts_by_app_time ON attempts (app_id, start_time);

-- The delivery log filtered by what may be rare or absent (bench/run_list.sh measures each over
-- 1,000,000 deliveries). Along (tenant|app_id, id) such a page reads rows until it has 50
-- matches or the tenant's rows run out: a tenant without failures, or an event type it never
-- sent, read every one of its rows (0.3 to 0.6 s).
-- One tenant's deliveries of one event type, newest first.
CREATE INDEX deliveries_by_tenant_type ON deliveries (tenant, event_type, id);
-- Pending, retrying and failed deliveries, a few percent of the log: "what failed" reads only
-- those, and the worker's most common update, to SUCCEEDED, adds no entry to them. A SUCCEEDED
-- filter uses the (tenant|app_id, id) indexes, where nearly every row matches.
CREATE INDEX deliveries_unsucceeded_by_tenant ON deliveries (tenant, status, id) WHERE status <> 2;
CREATE INDEX deliveries_unsucceeded_by_app ON deliveries (app_id, status, id) WHERE status <> 2;
