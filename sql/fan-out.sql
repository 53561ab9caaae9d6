-- A raw landing table, and materialized views fanning out into other tables.
--
-- Ordinary materialized views run inside the INSERT into the landing table,
-- block by block. If a view fails on a block, the landing table has already
-- stored it but the view's table has not, and resuming from the landing table
-- alone would skip that block for the view for ever. The defence, used here:
--   1. every table in the chain is a ReplacingMergeTree whose sorting key
--      holds (_partition, _offset), so a block written twice collapses to one
--      copy;
--   2. every table in the chain keeps every message (it may reshape rows, but
--      not filter them), and the next run resumes from the least advanced
--      table, so a block that a view missed is read again.
-- Filter in queries, or in views whose tables you do not resume from; and
-- keep PARTITION BY off the tables you resume from (or make it a function of
-- _partition only), since a block split across partitions is not written
-- atomically. Count
-- with FINAL (or after OPTIMIZE ... FINAL) while a copy written twice has not
-- been merged away yet.

CREATE TABLE IF NOT EXISTS events_raw
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
ENGINE = ReplacingMergeTree
ORDER BY (_partition, _offset);

-- Typed and enriched: exact amounts, the day. Not PARTITION BY time: a table
-- the runs resume from must store each block whole (README, "Exactly once").
CREATE TABLE IF NOT EXISTS events_typed
(
    day        Date,
    user_id    UInt64,
    event      LowCardinality(String),
    amount     Decimal(18, 2),
    currency   LowCardinality(String),
    happened   DateTime64(3, 'UTC'),
    _partition UInt32,
    _offset    UInt64,
    _ingested  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (_partition, _offset);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_typed_mv TO events_typed AS
SELECT toDate(happened) AS day, user_id, event, toDecimal64(amount, 2) AS amount, currency,
       happened, _partition, _offset, _ingested
FROM events_raw;

-- The same messages laid out for per-user queries.
CREATE TABLE IF NOT EXISTS events_by_user
(
    user_id    UInt64,
    happened   DateTime64(3, 'UTC'),
    event      LowCardinality(String),
    _partition UInt32,
    _offset    UInt64,
    _ingested  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (user_id, happened, _partition, _offset);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_by_user_mv TO events_by_user AS
SELECT user_id, happened, event, _partition, _offset, _ingested
FROM events_raw;

INSERT INTO events_raw (user_id, event, amount, currency, happened, ok, _partition, _offset, _timestamp)
SELECT *
FROM executable(
    'kafka-bridge --pipeline events',
    'RowBinaryWithNamesAndTypes',
    'user_id UInt64, event LowCardinality(String), amount Float64, currency LowCardinality(String),
     happened DateTime64(3, \'UTC\'), ok Bool, _partition UInt32, _offset UInt64,
     _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, min(next)
     FROM
     (
         SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 AS next FROM events_raw GROUP BY _partition
         UNION ALL
         SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 AS next FROM events_typed GROUP BY _partition
         UNION ALL
         SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 AS next FROM events_by_user GROUP BY _partition
     )
     GROUP BY _partition));
