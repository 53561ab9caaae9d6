-- Site events: a topic of {"user_id", "event_type", "timestamp",
-- "session_id", "device"} messages into the table shape users already
-- query (ReplacingMergeTree, PARTITION BY day), exactly once, through the
-- pipeline `site-events` (user_scripts/kafka-bridge.d/site-events.conf).
--
-- Why a landing table: a block that spans several PARTITION BY partitions is
-- written as several parts, not atomically, so a table partitioned by time
-- cannot say where a failed run stopped (README, "Exactly once"). The runs
-- resume from events_landing, which has no PARTITION BY; the materialized
-- view copies each block on into the day-partitioned events table inside the
-- same INSERT. Run this whole file each time (cron, or the refreshable view
-- at the end of refreshable.sql adapted to it): the CREATEs are no-ops after
-- the first run.

CREATE TABLE IF NOT EXISTS events_landing
(
    user_id    String,
    event_type LowCardinality(String),
    timestamp  DateTime64(3, 'UTC'),
    session_id String,
    device     LowCardinality(String),
    _partition UInt32,
    _offset    UInt64,
    _timestamp DateTime64(3, 'UTC'),
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY (_partition, _offset);

-- The users' table. (_partition, _offset) close the sorting key, so a block
-- copied twice (see the repair below) collapses, while distinct messages with
-- equal fields are all kept.
CREATE TABLE IF NOT EXISTS events
(
    user_id     String,
    event_type  LowCardinality(String),
    timestamp   DateTime64(3, 'UTC'),
    session_id  String,
    device      LowCardinality(String),
    inserted_at DateTime DEFAULT now(),
    _partition  UInt32,
    _offset     UInt64
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMMDD(timestamp)
ORDER BY (event_type, user_id, timestamp, _partition, _offset);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_landing_mv TO events AS
SELECT user_id, event_type, timestamp, session_id, device, _partition, _offset
FROM events_landing;

-- Repair: if a run failed inside the view (after events_landing stored a
-- block, before events had all of it), copy what events lacks. Looks only
-- at the last day of landed rows, so it stays cheap.
INSERT INTO events (user_id, event_type, timestamp, session_id, device, _partition, _offset)
SELECT user_id, event_type, timestamp, session_id, device, _partition, _offset
FROM events_landing
WHERE _ingested > now64(6) - INTERVAL 1 DAY
  AND (_partition, _offset) NOT IN
      (SELECT _partition, _offset FROM events WHERE inserted_at > now() - INTERVAL 2 DAY);

INSERT INTO events_landing (user_id, event_type, timestamp, session_id, device, _partition, _offset, _timestamp)
SELECT *
FROM executable(
    'kafka-bridge --pipeline site-events',
    'RowBinaryWithNamesAndTypes',
    'user_id String, event_type LowCardinality(String), timestamp DateTime64(3, \'UTC\'),
     session_id String, device LowCardinality(String), _partition UInt32, _offset UInt64,
     _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM events_landing GROUP BY _partition));

-- Lag per partition, asked of the broker at query time (no messages read).
CREATE VIEW IF NOT EXISTS events_lag AS
SELECT partition, log_start, log_end, start AS next_offset, lag
FROM executable(
    'kafka-bridge --pipeline site-events --watermarks',
    'RowBinaryWithNamesAndTypes',
    'partition Int32, log_start Int64, log_end Int64, start Int64, lag Int64',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM events_landing GROUP BY _partition));

-- Throughput per minute of arrival: rows, rows per second, and how late the
-- rows were (arrival in ClickHouse minus the Kafka timestamp).
CREATE VIEW IF NOT EXISTS events_throughput AS
SELECT toStartOfMinute(_ingested) AS minute,
       count() AS rows,
       round(count() / 60, 2) AS rows_per_second,
       round(avg(dateDiff('millisecond', _timestamp, _ingested)) / 1000, 3) AS avg_delay_s,
       round(max(dateDiff('millisecond', _timestamp, _ingested)) / 1000, 3) AS max_delay_s
FROM events_landing
GROUP BY minute
ORDER BY minute;
