-- Progress and lag per partition.
--
-- Lag: the bridge, given the same start positions as an ingest run, reports
-- for each partition the log start and end, where the next run will start,
-- and how many messages that leaves behind. No messages are read.
SELECT partition, log_start, log_end, start AS next_offset, lag
FROM executable(
    'kafka-bridge --pipeline events --watermarks',
    'RowBinaryWithNamesAndTypes',
    'partition Int32, log_start Int64, log_end Int64, start Int64, lag Int64',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM events GROUP BY _partition))
ORDER BY partition;

-- Progress: what the table holds per partition, and when it last grew.
SELECT _partition, count() AS rows, max(_offset) AS last_offset, max(_ingested) AS last_ingested
FROM events
GROUP BY _partition
ORDER BY _partition;
