-- Continuous ingestion scheduled by ClickHouse itself: a refreshable
-- materialized view runs the INSERT of ingest.sql every 10 seconds.
-- Refreshes of one view never overlap, and each is a plain INSERT ... SELECT,
-- so a failed refresh is continued by the next one. Needs the events table of
-- ingest.sql. Watch it in system.view_refreshes; pause it with
-- SYSTEM STOP VIEW events_ingest.

CREATE MATERIALIZED VIEW IF NOT EXISTS events_ingest
REFRESH EVERY 10 SECOND
APPEND TO events
AS SELECT *
FROM executable(
    'kafka-bridge --pipeline events',
    'RowBinaryWithNamesAndTypes',
    'user_id UInt64, event LowCardinality(String), amount Float64, currency LowCardinality(String),
     happened DateTime64(3, \'UTC\'), ok Bool, _partition UInt32, _offset UInt64,
     _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM events GROUP BY _partition));
