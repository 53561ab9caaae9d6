-- Kafka topic -> ClickHouse, exactly once, with bad messages copied to a
-- dead-letter topic (or skipped) and counted as progress.
--
-- A message that cannot become a row leaves no typed row, so a resume query
-- that reads positions from the typed table alone would never move past it:
-- every run would dead-letter it again. The pipeline `events_dlq`
-- (user_scripts/kafka-bridge.d/events_dlq.conf) has an _error column, and
-- the bridge writes one row per handled message with its _partition,
-- _offset, _timestamp and _error set. The INSERT goes into a Null table;
-- two views split the rows: good ones into `events` (the table of
-- sql/ingest.sql), handled ones into `events_errors`. The resume query reads
-- the newest position of each partition over both tables.
--
-- Dead letters are committed in Kafka transactions before the rows that
-- stand for them are written, each with a mark that keeps later runs from
-- copying the same messages again; copies of a run killed before its
-- commit stay uncommitted (read the dead-letter topic with
-- isolation.level=read_committed, librdkafka's default). README, "Bad
-- messages", says where this ends.
--
-- Run the whole file each time: the CREATEs are no-ops after the first run.

CREATE TABLE IF NOT EXISTS events
(
    user_id    UInt64,
    event      LowCardinality(String),
    amount     Float64,
    currency   LowCardinality(String),
    happened   DateTime64(3, 'UTC'),
    ok         Bool,
    _partition UInt32,
    _offset    UInt64,
    _timestamp DateTime64(3, 'UTC'),
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (_partition, _offset);

-- One row per message that was dead-lettered (or skipped): where it was,
-- and why it could not become a row.
CREATE TABLE IF NOT EXISTS events_errors
(
    _partition UInt32,
    _offset    UInt64,
    _timestamp DateTime64(3, 'UTC'),
    _error     String,
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (_partition, _offset);

CREATE TABLE IF NOT EXISTS events_incoming
(
    user_id    UInt64,
    event      LowCardinality(String),
    amount     Float64,
    currency   LowCardinality(String),
    happened   DateTime64(3, 'UTC'),
    ok         Bool,
    _partition UInt32,
    _offset    UInt64,
    _timestamp DateTime64(3, 'UTC'),
    _error     String,
    -- Set once per block here, so that a block's good and handled rows carry
    -- the same time and the resume query's argMax sees them in offset order.
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_incoming_good TO events AS
SELECT user_id, event, amount, currency, happened, ok, _partition, _offset, _timestamp, _ingested
FROM events_incoming
WHERE _error = '';

CREATE MATERIALIZED VIEW IF NOT EXISTS events_incoming_errors TO events_errors AS
SELECT _partition, _offset, _timestamp, _error, _ingested
FROM events_incoming
WHERE _error != '';

-- Views squash their rows into large blocks of their own by default, so
-- after a failed run one table could hold a block whose other half the
-- other table never got; resuming from both would skip that half. Each
-- view writes what it is given at once instead.
INSERT INTO events_incoming (user_id, event, amount, currency, happened, ok, _partition, _offset,
                             _timestamp, _error)
SETTINGS min_insert_block_size_rows_for_materialized_views = 1,
         min_insert_block_size_bytes_for_materialized_views = 1
SELECT *
FROM executable(
    'kafka-bridge --pipeline events_dlq',
    'RowBinaryWithNamesAndTypes',
    'user_id UInt64, event LowCardinality(String), amount Float64, currency LowCardinality(String),
     happened DateTime64(3, \'UTC\'), ok Bool, _partition UInt32, _offset UInt64,
     _timestamp DateTime64(3, \'UTC\'), _error String',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1
     FROM (SELECT _partition, _offset, _ingested FROM events
           UNION ALL
           SELECT _partition, _offset, _ingested FROM events_errors)
     GROUP BY _partition));
