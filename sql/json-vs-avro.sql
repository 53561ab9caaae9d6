-- JSON or Avro: the same site events on two topics, one as JSON
-- (pipeline json-events), one as Confluent-framed Avro through the schema
-- registry (pipeline avro-events), loaded into two tables of one shape and
-- compared: what is stored, what each message costs on the wire, and
-- whether the order of each key's events survived.
--
-- Run the whole file for each run; the loads resume exactly once like
-- ingest.sql, and the comparisons at the end read what is stored.
--
-- What to expect: the same rows from both; Avro messages a fraction of the
-- JSON size (no field names, binary numbers and times); and for each key
-- one partition, with its events in the order they were produced. Avro is
-- also validated by its writer: a producer cannot send a field of the
-- wrong type, where a JSON message is only checked when it is decoded
-- here (a bad one is refused by the run's error policy).

CREATE TABLE IF NOT EXISTS site_events_json
(
    user_id    String,
    event_type LowCardinality(String),
    timestamp  DateTime64(3, 'UTC'),
    session_id String,
    device     LowCardinality(String),
    _key       String,
    _partition UInt32,
    _offset    UInt64,
    _timestamp DateTime64(3, 'UTC'),
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (_partition, _offset);

CREATE TABLE IF NOT EXISTS site_events_avro AS site_events_json;

INSERT INTO site_events_json (user_id, event_type, timestamp, session_id, device, _key, _partition, _offset, _timestamp)
SELECT * FROM executable('kafka-bridge --pipeline json-events', 'RowBinaryWithNamesAndTypes',
    'user_id String, event_type LowCardinality(String), timestamp DateTime64(3, \'UTC\'), session_id String,
     device LowCardinality(String), _key String, _partition UInt32, _offset UInt64, _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM site_events_json GROUP BY _partition));

INSERT INTO site_events_avro (user_id, event_type, timestamp, session_id, device, _key, _partition, _offset, _timestamp)
SELECT * FROM executable('kafka-bridge --pipeline avro-events', 'RowBinaryWithNamesAndTypes',
    'user_id String, event_type LowCardinality(String), timestamp DateTime64(3, \'UTC\'), session_id String,
     device LowCardinality(String), _key String, _partition UInt32, _offset UInt64, _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM site_events_avro GROUP BY _partition));

-- Stored rows: the events in one table and not in the other (0 and 0).
SELECT
    (SELECT count() FROM (SELECT user_id, event_type, timestamp, session_id, device, _key FROM site_events_json
                          EXCEPT ALL
                          SELECT user_id, event_type, timestamp, session_id, device, _key FROM site_events_avro))
        AS only_in_json,
    (SELECT count() FROM (SELECT user_id, event_type, timestamp, session_id, device, _key FROM site_events_avro
                          EXCEPT ALL
                          SELECT user_id, event_type, timestamp, session_id, device, _key FROM site_events_json))
        AS only_in_avro,
    (SELECT count() FROM site_events_json) AS json_rows,
    (SELECT count() FROM site_events_avro) AS avro_rows;

-- Bytes per message on the wire: the value sizes of the last 1,000
-- messages of partition 0 of each topic, read by --inspect peek.
SELECT format, count() AS messages, round(avg(length(value)), 1) AS avg_value_bytes
FROM
(
    SELECT 'json' AS format, value
    FROM executable('kafka-bridge --pipeline json-events -p 0 -c 1000 --inspect peek', 'RowBinaryWithNamesAndTypes',
        'partition Int32, offset Int64, timestamp Nullable(DateTime64(3, \'UTC\')), key Nullable(String), value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))')
    UNION ALL
    SELECT 'avro', value
    FROM executable('kafka-bridge --pipeline avro-events -p 0 -c 1000 --inspect peek', 'RowBinaryWithNamesAndTypes',
        'partition Int32, offset Int64, timestamp Nullable(DateTime64(3, \'UTC\')), key Nullable(String), value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))')
)
GROUP BY format
ORDER BY format DESC;

-- Ordering per key: keys whose events are spread over partitions, or whose
-- timestamps go backwards in offset order (none, for producers that key
-- by user and send each user's events in order).
SELECT 'json' AS format, _key, uniqExact(_partition) AS partitions
FROM site_events_json
GROUP BY _key
HAVING partitions > 1
    OR NOT arrayAll(d -> d >= 0, arrayDifference(arrayMap(e -> toUnixTimestamp64Milli(e.2),
                                                          arraySort(e -> e.1, groupArray((_offset, timestamp))))))
UNION ALL
SELECT 'avro', _key, uniqExact(_partition)
FROM site_events_avro
GROUP BY _key
HAVING uniqExact(_partition) > 1
    OR NOT arrayAll(d -> d >= 0, arrayDifference(arrayMap(e -> toUnixTimestamp64Milli(e.2),
                                                          arraySort(e -> e.1, groupArray((_offset, timestamp))))));
