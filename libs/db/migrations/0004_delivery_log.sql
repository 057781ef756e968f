-- The delivery log (DeliveryService): newest-first pages by tenant or by app use these with a
-- keyset on the id (a ULID, so id order is creation order and time ranges are id ranges).
CREATE INDEX deliveries_by_tenant ON deliveries (tenant, id);
CREATE INDEX deliveries_by_app ON deliveries (app_id, id);
