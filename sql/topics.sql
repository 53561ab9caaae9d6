-- Two topics, one table: the routing recipe of docs/topics.md. Each topic
-- has its own pipeline (orders-eu.conf, orders-us.conf) and its own INSERT;
-- both write into regional_orders, which records the pipeline a row came
-- through (`source`) and the topic (`_topic`, filled by the bridge). Each
-- INSERT resumes from its own rows only (WHERE source = ...), so positions
-- are per (topic, partition) and each topic is exactly once on its own: a
-- failed run of one leaves the other alone.
--
-- Filtering on the pipeline rather than on _topic keeps the resume query
-- right when the admin points a pipeline at another topic; the new topic's
-- partitions then start at `offset` unless the old rows are moved to
-- another source first. A third topic is a third pipeline file and a third
-- INSERT.
--
-- Run the whole file each time (or one refreshable view per INSERT).

CREATE TABLE IF NOT EXISTS regional_orders
(
    source     LowCardinality(String),
    order_id   UInt64,
    customer   String,
    amount     Decimal(12, 2),
    _topic     LowCardinality(String),
    _partition UInt32,
    _offset    UInt64,
    _timestamp DateTime64(3, 'UTC'),
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (source, _partition, _offset);

INSERT INTO regional_orders (source, order_id, customer, amount, _topic, _partition, _offset, _timestamp)
SELECT 'orders-eu', *
FROM executable(
    'kafka-bridge --pipeline orders-eu',
    'RowBinaryWithNamesAndTypes',
    'order_id UInt64, customer String, amount Decimal(12, 2), _topic String, _partition UInt32, _offset UInt64,
     _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM regional_orders
     WHERE source = 'orders-eu' GROUP BY _partition));

INSERT INTO regional_orders (source, order_id, customer, amount, _topic, _partition, _offset, _timestamp)
SELECT 'orders-us', *
FROM executable(
    'kafka-bridge --pipeline orders-us',
    'RowBinaryWithNamesAndTypes',
    'order_id UInt64, customer String, amount Decimal(12, 2), _topic String, _partition UInt32, _offset UInt64,
     _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM regional_orders
     WHERE source = 'orders-us' GROUP BY _partition));

-- Per source, topic and partition: rows stored and the next offset to read.
SELECT source, _topic, _partition, count() AS rows, argMax(_offset, (_ingested, _offset)) + 1 AS next_offset
FROM regional_orders
GROUP BY source, _topic, _partition
ORDER BY source, _topic, _partition;
