-- Producing rows to Kafka from SQL with kafkaProduce (clickhouse-config/
-- kafka_produce_function.xml). The first argument names a pipeline file in
-- user_scripts/kafka-bridge.d/ with allow-produce = true (orders_out.conf):
-- topic, brokers and credentials come from there, never from the query.

CREATE TABLE IF NOT EXISTS orders
(
    id UInt64,
    customer String,
    amount Decimal(12, 2),
    created DateTime64(3, 'UTC')
)
ENGINE = MergeTree ORDER BY id;

-- Publish every order as JSON, keyed by id, and keep what the broker said
-- per row: (partition, offset, error), error '' when all in-sync replicas
-- have it. Rows that failed are listed at the end.
CREATE TABLE IF NOT EXISTS orders_published
(
    id UInt64,
    r Tuple(partition Int32, offset Int64, error String),
    published DateTime64(6) DEFAULT now64(6)
)
ENGINE = MergeTree ORDER BY id;

INSERT INTO orders_published (id, r)
SELECT id, kafkaProduce('orders_out', toString(id), formatRowNoNewline('JSONEachRow', id, customer, amount, created))
FROM orders
WHERE id NOT IN (SELECT id FROM orders_published WHERE r.error = '');

SELECT id, r.error FROM orders_published WHERE r.error != '';

-- The same with headers, failing the whole query on any failed row.
-- Read the result: ClickHouse skips a column nobody reads, and
-- SELECT count() FROM (SELECT kafkaProduce(...) ...) would produce nothing.
SELECT count(), countIf(r.error = '')
FROM (SELECT kafkaProduceWithHeadersOrFail('orders_out', toString(id), formatRowNoNewline('JSONEachRow', id, amount),
                                            map('source', 'clickhouse', 'table', 'orders')) AS r
      FROM orders);

-- A re-run publishes again and Kafka keeps both copies: the NOT IN above
-- skips rows already acknowledged, which narrows (but, after a query that
-- failed half way, cannot close) the window for duplicates. Consumers that
-- must see each order once deduplicate on the key.
