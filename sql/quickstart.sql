-- Quick start: a Kafka topic of JSON events into a MergeTree table.
--
-- The pipeline `events` (user_scripts/kafka-bridge.d/events.conf) names the
-- brokers, the topic and the column list; the command itself carries no
-- spaces and no secrets. Each INSERT reads every partition from where the
-- pipeline says to start up to the end offsets seen when it starts, then
-- ends: a bounded batch.

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
    _timestamp DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (_partition, _offset);

INSERT INTO events
SELECT *
FROM executable(
    'kafka-bridge --pipeline events',
    'RowBinaryWithNamesAndTypes',
    'user_id UInt64, event LowCardinality(String), amount Float64, currency LowCardinality(String),
     happened DateTime64(3, \'UTC\'), ok Bool, _partition UInt32, _offset UInt64,
     _timestamp DateTime64(3, \'UTC\')');
