-- What a Prometheus/Grafana setup watches, from ClickHouse itself, for the
-- `entities` pipeline of sql/entities.sql (run that first; the same views
-- fit any recipe with a landing table and a positions view). Query them,
-- point Grafana's ClickHouse data source at them, or scrape
-- pipeline_metrics through the HTTP handler in
-- clickhouse-config/config.d/prometheus.xml.

-- Lag per partition: asks the broker for the log end, without reading.
CREATE VIEW IF NOT EXISTS entities_lag AS
SELECT partition, log_start, log_end, start AS next_offset, lag
FROM executable(
    'kafka-bridge --pipeline entities --watermarks',
    'RowBinaryWithNamesAndTypes',
    'partition Int32, log_start Int64, log_end Int64, start Int64, lag Int64',
    (SELECT _partition, next FROM entity_positions));

-- Rows per run and per second, errors, failed runs.
CREATE VIEW IF NOT EXISTS entities_runs AS
SELECT run_started, status, finished, duration_s, rows, errors, rows_by_table,
       if(duration_s > 0, round(rows / duration_s, 1), NULL) AS rows_per_second
FROM ingestion_log FINAL;

-- Bad records per hour and reason.
CREATE VIEW IF NOT EXISTS entities_errors_per_hour AS
SELECT toStartOfHour(_ingested) AS hour, entity, problem, count() AS records
FROM entity_errors FINAL
GROUP BY hour, entity, problem;

-- One row: the state of the pipeline.
CREATE VIEW IF NOT EXISTS entities_health AS
SELECT
    (SELECT max(finished) FROM ingestion_log FINAL WHERE status = 'done') AS last_success,
    dateDiff('second', last_success, now64(6)) AS seconds_since_success,
    (SELECT argMax(status, run_started) FROM ingestion_log FINAL) AS last_status,
    (SELECT countIf(status = 'failed') FROM ingestion_log FINAL WHERE run_started > now() - INTERVAL 1 DAY)
        AS failed_runs_24h,
    (SELECT count() FROM entity_errors FINAL) AS error_records,
    (SELECT uniqExactIf((_partition, _offset), r.error = '') FROM entity_dead_letters) AS dead_letters,
    (SELECT sum(lag) FROM entities_lag) AS lag;

-- The same as Prometheus metrics (SELECT * FROM pipeline_metrics FORMAT Prometheus);
-- values must not be Nullable there (scalar subqueries are): unknown is NaN.
CREATE VIEW IF NOT EXISTS pipeline_metrics AS
SELECT name, ifNull(value, nan) AS value, labels, help, type
FROM
(
SELECT 'kafka_bridge_lag_messages' AS name, toFloat64(lag) AS value,
       map('pipeline', 'entities', 'partition', toString(partition)) AS labels,
       'Messages in the topic not yet stored' AS help, 'gauge' AS type
FROM entities_lag
UNION ALL
SELECT 'kafka_bridge_last_success_seconds', toUnixTimestamp64Milli(last_success) / 1000,
       map('pipeline', 'entities'), 'Unix time of the last successful run', 'gauge'
FROM entities_health
UNION ALL
SELECT 'kafka_bridge_rows_total', toFloat64(sum(rows)), map('pipeline', 'entities'),
       'Rows loaded by successful runs', 'counter'
FROM entities_runs WHERE status = 'done'
UNION ALL
SELECT 'kafka_bridge_error_records_total', toFloat64(error_records), map('pipeline', 'entities'),
       'Records routed to the errors table', 'counter'
FROM entities_health
UNION ALL
SELECT 'kafka_bridge_dead_letters_total', toFloat64(dead_letters), map('pipeline', 'entities'),
       'Bad records copied to the dead-letter topic', 'counter'
FROM entities_health
UNION ALL
SELECT 'kafka_bridge_failed_runs_total', toFloat64(countIf(status = 'failed')), map('pipeline', 'entities'),
       'Runs that stopped before they finished', 'counter'
FROM entities_runs
);
