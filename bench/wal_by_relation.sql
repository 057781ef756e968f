-- Where the WAL of a window went, per delivery: each record is counted under the relation of its
-- first block (partitions and their indexes under their parent's name, a TOAST table under its
-- table's), records without a block under their resource manager (commits: Transaction). Needs
-- pg_walinspect and the window's WAL still on disk (bench/run.sh --wal-by-relation sets
-- wal_keep_size for that):
--
--   psql -X -v start=0/1000000 -v end=0/9000000 -v deliveries=100000 -f bench/wal_by_relation.sql
--
-- record_length includes a record's full-page images; the sum is pg_stat_wal's wal_bytes less
-- page headers and alignment.
WITH records AS (
  SELECT resource_manager, record_length, fpi_length,
         (regexp_match(block_ref, 'rel \d+/\d+/(\d+)'))[1]::oid AS filenode
  FROM pg_get_wal_records_info(:'start'::pg_lsn, :'end'::pg_lsn)
), named AS (
  SELECT r.*, coalesce(
           (SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
            WHERE i.inhrelid = c.oid),
           (SELECT 'toast of ' || coalesce(
                      (SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                       WHERE i.inhrelid = t.oid), t.relname)
            FROM pg_class t WHERE t.reltoastrelid = c.oid),
           c.relname,
           CASE WHEN r.filenode IS NULL THEN r.resource_manager
                ELSE 'other (' || r.resource_manager || ')' END) AS what
  FROM records r LEFT JOIN pg_class c ON c.relfilenode = r.filenode AND r.filenode <> 0
)
SELECT what,
       round(sum(record_length)::numeric / :deliveries) AS bytes_per_delivery,
       round(count(*)::numeric / :deliveries, 2) AS records_per_delivery,
       round(sum(fpi_length)::numeric / :deliveries) AS fpi_bytes_per_delivery
FROM named GROUP BY what
UNION ALL
SELECT '(all)', round(sum(record_length)::numeric / :deliveries),
       round(count(*)::numeric / :deliveries, 2), round(sum(fpi_length)::numeric / :deliveries)
FROM records
ORDER BY 2 DESC;
