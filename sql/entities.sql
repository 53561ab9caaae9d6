-- Users, products and orders from one topic of envelopes
--   {"table": "orders", "data": {"id": 7, ...}, "messageId": "m-7", "timestamp": "..."}
-- routed into three typed tables, exactly once by offsets and idempotent by
-- messageId, with bad records in entity_errors and one row per run in
-- ingestion_log. Pipeline: user_scripts/kafka-bridge.d/entities.conf.
-- Bad records are also copied to a dead-letter topic (pipeline
-- entities_dlq, written by kafkaProduceWithHeadersOrFail of
-- clickhouse-config/kafka_produce_function.xml); entity_dead_letters
-- records where each copy went, so each bad record is copied once.
--
-- Validation: the pipeline decodes every field into its type (a price that
-- is not a number, an unknown order status, fail the message: with
-- on-error = stream it becomes a row with _error set); the `route` column
-- below also sends records with an unknown table, no messageId or a
-- missing required field to entity_errors. Every landed row goes to exactly
-- one of users, products, orders, entity_errors.
--
-- Exactly once: runs resume from entity_landing (no PARTITION BY, every
-- message once per (_partition, _offset)), like sql/events.sql; rows of
-- a failed run that a view did not store are read again.
-- Idempotency: users, products and orders are ReplacingMergeTree tables
-- keyed by messageId, so a record sent twice by its producer (two offsets,
-- one messageId) is one row: query them with FINAL.
--
-- Run the whole file for each run (clickhouse-client --queries-file, cron).
-- Statements run in order and the file stops at the first failure, so a
-- failed run leaves its ingestion_log row at 'running'; the next run marks
-- it 'failed'.

CREATE TABLE IF NOT EXISTS entity_landing
(
    entity     LowCardinality(String),
    message_id String,
    sent_at    DateTime64(3, 'UTC'),
    id         Nullable(UInt64),
    name       Nullable(String),
    email      Nullable(String),
    price      Nullable(Decimal(12, 2)),
    stock      Nullable(UInt32),
    user_id    Nullable(UInt64),
    product_id Nullable(UInt64),
    quantity   Nullable(UInt32),
    total      Nullable(Decimal(12, 2)),
    status     Nullable(Enum8('pending' = 1, 'paid' = 2, 'shipped' = 3, 'cancelled' = 4)),
    _partition UInt32,
    _offset    UInt64,
    _timestamp DateTime64(3, 'UTC'),
    _error     String,
    _raw       String,
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6),
    -- Where the row goes, and why not if it goes to entity_errors.
    problem    String MATERIALIZED multiIf(
        _error != '', _error,
        message_id = '', 'no messageId',
        entity NOT IN ('users', 'products', 'orders'), concat('unknown table \'', entity, '\''),
        id IS NULL, 'data.id missing',
        entity = 'users' AND (name IS NULL OR email IS NULL), 'users: data.name or data.email missing',
        entity = 'products' AND (name IS NULL OR price IS NULL), 'products: data.name or data.price missing',
        entity = 'orders' AND (user_id IS NULL OR product_id IS NULL OR quantity IS NULL OR total IS NULL),
            'orders: data.user_id, product_id, quantity or total missing',
        ''),
    route      LowCardinality(String) MATERIALIZED if(problem = '', entity, 'errors')
)
ENGINE = ReplacingMergeTree
ORDER BY (_partition, _offset);

CREATE TABLE IF NOT EXISTS users
(
    id         UInt64,
    name       String,
    email      String,
    message_id String,
    sent_at    DateTime64(3, 'UTC'),
    _partition UInt32,
    _offset    UInt64,
    _ingested  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY message_id;

CREATE TABLE IF NOT EXISTS products
(
    id         UInt64,
    name       String,
    price      Decimal(12, 2),
    stock      UInt32,
    message_id String,
    sent_at    DateTime64(3, 'UTC'),
    _partition UInt32,
    _offset    UInt64,
    _ingested  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY message_id;

CREATE TABLE IF NOT EXISTS orders
(
    id         UInt64,
    user_id    UInt64,
    product_id UInt64,
    quantity   UInt32,
    total      Decimal(12, 2),
    status     Enum8('pending' = 1, 'paid' = 2, 'shipped' = 3, 'cancelled' = 4),
    message_id String,
    sent_at    DateTime64(3, 'UTC'),
    _partition UInt32,
    _offset    UInt64,
    _ingested  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY message_id;

CREATE TABLE IF NOT EXISTS entity_errors
(
    entity     LowCardinality(String),
    message_id String,
    problem    String,
    raw        String,
    _partition UInt32,
    _offset    UInt64,
    _ingested  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (_partition, _offset);

CREATE MATERIALIZED VIEW IF NOT EXISTS users_mv TO users AS
SELECT assumeNotNull(id) AS id, assumeNotNull(name) AS name, assumeNotNull(email) AS email,
       message_id, sent_at, _partition, _offset, _ingested
FROM entity_landing WHERE route = 'users';

CREATE MATERIALIZED VIEW IF NOT EXISTS products_mv TO products AS
SELECT assumeNotNull(id) AS id, assumeNotNull(name) AS name, assumeNotNull(price) AS price,
       ifNull(stock, 0) AS stock, message_id, sent_at, _partition, _offset, _ingested
FROM entity_landing WHERE route = 'products';

CREATE MATERIALIZED VIEW IF NOT EXISTS orders_mv TO orders AS
SELECT assumeNotNull(id) AS id, assumeNotNull(user_id) AS user_id, assumeNotNull(product_id) AS product_id,
       assumeNotNull(quantity) AS quantity, assumeNotNull(total) AS total, ifNull(status, 'pending') AS status,
       message_id, sent_at, _partition, _offset, _ingested
FROM entity_landing WHERE route = 'orders';

-- raw: the message as received when it did not decode (_raw); for a record
-- that decoded but was refused above, its fields as decoded, as JSON.
CREATE MATERIALIZED VIEW IF NOT EXISTS entity_errors_mv TO entity_errors AS
SELECT entity, message_id, problem,
       if(_error != '', _raw,
          formatRowNoNewline('JSONEachRow', entity, message_id, sent_at, id, name, email, price, stock, user_id,
                             product_id, quantity, total, status)) AS raw,
       _partition, _offset, _ingested
FROM entity_landing WHERE route = 'errors';

-- The dead-letter copies: per bad record where the broker stored its copy.
CREATE TABLE IF NOT EXISTS entity_dead_letters
(
    _partition UInt32,
    _offset    UInt64,
    r          Tuple(partition Int32, offset Int64, error String),
    published  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (_partition, _offset);

-- Where the next run starts each partition: after the landing table's
-- newest row, or at the first row of the newest run that did not reach its
-- table (found by messageId in the typed tables, by offset in entity_errors).
CREATE VIEW IF NOT EXISTS entity_positions AS
WITH (SELECT min(newest) FROM (SELECT max(_ingested) AS newest FROM entity_landing GROUP BY _partition)) AS since
SELECT _partition, min(next) AS next
FROM
(
    SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 AS next
    FROM entity_landing
    GROUP BY _partition
    UNION ALL
    SELECT _partition, min(_offset) AS next
    FROM entity_landing
    WHERE (_partition, _ingested) IN (SELECT _partition, max(_ingested) FROM entity_landing GROUP BY _partition)
      AND NOT ((route = 'users' AND message_id IN (SELECT message_id FROM users WHERE _ingested >= since))
            OR (route = 'products' AND message_id IN (SELECT message_id FROM products WHERE _ingested >= since))
            OR (route = 'orders' AND message_id IN (SELECT message_id FROM orders WHERE _ingested >= since))
            OR (route = 'errors' AND (_partition, _offset) IN
                    (SELECT _partition, _offset FROM entity_errors WHERE _ingested >= since)))
    GROUP BY _partition
)
GROUP BY _partition;

-- One row per run, like a migration log: when, how long, rows per table,
-- errors, and the positions before and after. ReplacingMergeTree on the
-- stage: a run's 'running' row is replaced by 'done' or 'failed'; read FINAL.
CREATE TABLE IF NOT EXISTS ingestion_log
(
    run_started      DateTime64(6, 'UTC'),
    stage            UInt8,  -- 1 running, 2 failed, 3 done
    status           String ALIAS ['running', 'failed', 'done'][stage],
    finished         Nullable(DateTime64(6, 'UTC')),
    duration_s       Nullable(Float64),
    rows             UInt64,
    errors           UInt64,
    rows_by_table    Map(String, UInt64),
    positions_before Map(UInt32, UInt64),
    positions_after  Map(UInt32, UInt64)
)
ENGINE = ReplacingMergeTree(stage)
ORDER BY run_started;

-- A run that stopped at a failing statement never wrote its 'done' row.
INSERT INTO ingestion_log (run_started, stage, positions_before)
SELECT run_started, 2, positions_before FROM ingestion_log FINAL WHERE stage = 1;

INSERT INTO ingestion_log (run_started, stage, positions_before)
SELECT now64(6), 1, mapFromArrays(groupArray(_partition), groupArray(next)) FROM entity_positions;

INSERT INTO entity_landing (entity, message_id, sent_at, id, name, email, price, stock, user_id, product_id,
                            quantity, total, status, _partition, _offset, _timestamp, _error, _raw)
SELECT *
FROM executable(
    'kafka-bridge --pipeline entities',
    'RowBinaryWithNamesAndTypes',
    'entity LowCardinality(String), message_id String, sent_at DateTime64(3, \'UTC\'), id Nullable(UInt64),
     name Nullable(String), email Nullable(String), price Nullable(Decimal(12, 2)), stock Nullable(UInt32),
     user_id Nullable(UInt64), product_id Nullable(UInt64), quantity Nullable(UInt32),
     total Nullable(Decimal(12, 2)),
     status Nullable(Enum8(\'pending\' = 1, \'paid\' = 2, \'shipped\' = 3, \'cancelled\' = 4)),
     _partition UInt32, _offset UInt64, _timestamp DateTime64(3, \'UTC\'), _error String, _raw String',
    (SELECT _partition, next FROM entity_positions));

-- Copy the bad records not copied yet to the dead-letter topic, keyed by
-- messageId, with the reason and origin in headers. A failed copy fails the
-- run (its log row stays 'running', then 'failed'); the next run copies
-- what is not recorded here. A run that fails half way may have copied
-- records it did not record, which the next run copies again: read the
-- topic by its kafka-bridge.partition and .offset headers.
INSERT INTO entity_dead_letters (_partition, _offset, r)
SELECT _partition, _offset,
       kafkaProduceWithHeadersOrFail('entities_dlq', message_id, raw,
           map('kafka-bridge.error', problem, 'kafka-bridge.partition', toString(_partition),
               'kafka-bridge.offset', toString(_offset), 'entity', toString(entity)))
FROM entity_errors FINAL
WHERE (_partition, _offset) NOT IN (SELECT _partition, _offset FROM entity_dead_letters WHERE r.error = '');

INSERT INTO ingestion_log
    (run_started, stage, finished, duration_s, rows, errors, rows_by_table, positions_before, positions_after)
WITH (SELECT run_started FROM ingestion_log FINAL WHERE stage = 1 ORDER BY run_started DESC LIMIT 1) AS started
SELECT started, 3, now64(6), dateDiff('millisecond', started, now64(6)) / 1000,
       (SELECT count() FROM entity_landing WHERE _ingested > started),
       (SELECT countIf(route = 'errors') FROM entity_landing WHERE _ingested > started),
       (SELECT CAST(sumMap(map(route, 1)), 'Map(String, UInt64)') FROM entity_landing WHERE _ingested > started),
       (SELECT positions_before FROM ingestion_log FINAL WHERE run_started = started),
       (SELECT mapFromArrays(groupArray(_partition), groupArray(next)) FROM entity_positions);
