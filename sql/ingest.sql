-- Kafka topic -> ClickHouse, exactly once. Run the INSERT as often as you
-- like: by hand, from cron (clickhouse-client --queries-file), or from the
-- refreshable view in refreshable.sql. Each run starts every partition where
-- the table says the last run stopped, and reads up to the end offsets seen
-- when it starts. Why this is exactly once, and where that ends: README,
-- "Exactly once".
--
-- The pipeline `events` (user_scripts/kafka-bridge.d/events.conf) names the
-- brokers, the topic and the columns, and sets `offsets-from = stdin`: the
-- last argument of executable() below is the query whose rows, (partition,
-- next offset), reach the bridge on stdin.

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
    -- When the row arrived: resuming from the newest row rather than the
    -- highest offset survives a topic that was deleted and recreated.
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (_partition, _offset);

INSERT INTO events (user_id, event, amount, currency, happened, ok, _partition, _offset, _timestamp)
SELECT *
FROM executable(
    'kafka-bridge --pipeline events',
    'RowBinaryWithNamesAndTypes',
    'user_id UInt64, event LowCardinality(String), amount Float64, currency LowCardinality(String),
     happened DateTime64(3, \'UTC\'), ok Bool, _partition UInt32, _offset UInt64,
     _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM events GROUP BY _partition));
