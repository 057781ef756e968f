-- App statistics (DeliveryService.GetAppStats) read one app's attempts of a time window, and its
-- latest attempt and success; without this index every call would scan all attempts.
CREATE INDEX attempts_by_app_time ON attempts (app_id, start_time);
