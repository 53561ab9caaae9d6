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

-- == Avro through a schema registry ==
-- orders_avro.conf says format = avro-confluent: the JSON row is encoded with
-- the latest schema of the subject orders_avro-value and framed as
-- ClickHouse's AvroConfluent output frames it (byte 0, schema id, datum).
-- kafkaProduce never registers a schema. Once, the admin registers one, for
-- example the one ClickHouse derives from the columns (it registers it on
-- its first row, so one row is written to the client and dropped):
--   SELECT id, customer, amount, created FROM orders LIMIT 1 FORMAT AvroConfluent
--   SETTINGS format_avro_schema_registry_url = 'http://127.0.0.1:8081/apis/ccompat/v7',
--            output_format_avro_confluent_subject = 'orders_avro-value';
-- A row whose JSON does not fit the schema is not sent: its r.error names
-- the field ("value does not fit the Avro schema: field 'amount': ...").

CREATE TABLE IF NOT EXISTS orders_avro_published
(
    id UInt64,
    r Tuple(partition Int32, offset Int64, error String)
)
ENGINE = MergeTree ORDER BY id;

INSERT INTO orders_avro_published (id, r)
SELECT id, kafkaProduce('orders_avro', toString(id), formatRowNoNewline('JSONEachRow', id, customer, amount, created))
FROM orders
WHERE id NOT IN (SELECT id FROM orders_avro_published WHERE r.error = '');

SELECT id, r.error FROM orders_avro_published WHERE r.error != '';

-- Read the topic back with the same pipeline file (the bridge's Avro
-- decoder, schemas by id from the same registry).
CREATE TABLE IF NOT EXISTS orders_avro_copy AS orders;

INSERT INTO orders_avro_copy
SELECT * FROM executable('kafka-bridge --pipeline orders_avro', 'RowBinaryWithNamesAndTypes',
    'id UInt64, customer String, amount Decimal(12, 2), created DateTime64(3, \'UTC\')');

-- A look at the last payloads of partition 0 as JSON (kafkaDecode with the
-- pipeline's name: the schema is fetched by the id each payload carries).
SELECT offset, kafkaDecode('orders_avro', value) AS row, JSONExtractString(row, 'customer') AS customer
FROM executable('kafka-bridge --pipeline orders_avro -p 0 -c 3 --inspect peek', 'RowBinaryWithNamesAndTypes',
    'partition Int32, offset Int64, timestamp Nullable(DateTime64(3, \'UTC\')), key Nullable(String), value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))')
ORDER BY offset;
