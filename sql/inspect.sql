-- Looking at Kafka from SQL, like kcat -L and kcat -C -o -N. Each mode of
-- `kafka-bridge --inspect` writes fixed columns: give executable() exactly
-- the structure shown. The pipeline supplies brokers and credentials; -t
-- and -p narrow what is shown. Nothing is committed.

-- Topics and partitions the pipeline's credentials see: leader, replicas,
-- in-sync replicas, log start and end (drop -t to list every topic).
SELECT *
FROM executable('kafka-bridge --pipeline events --inspect topics', 'RowBinaryWithNamesAndTypes',
    'topic String, partition Int32, leader Int32, replicas Array(Int32), isr Array(Int32), log_start Int64, log_end Int64, error String')
ORDER BY topic, partition;

-- Under-replicated partitions.
SELECT topic, partition, replicas, isr
FROM executable('kafka-bridge --pipeline events --inspect topics', 'RowBinaryWithNamesAndTypes',
    'topic String, partition Int32, leader Int32, replicas Array(Int32), isr Array(Int32), log_start Int64, log_end Int64, error String')
WHERE length(isr) < length(replicas);

-- Consumer groups, their committed offsets and lag per partition (only the
-- pipeline's topic; a group without commits shows as partition -1 when no
-- topic is given).
SELECT group, state, partition, committed, log_end, lag
FROM executable('kafka-bridge --pipeline events --inspect groups', 'RowBinaryWithNamesAndTypes',
    'group String, state String, topic String, partition Int32, committed Int64, log_end Int64, lag Int64')
ORDER BY group, partition;

-- The last 5 messages of partition 0, as they are now (-c N, default 10).
SELECT offset, timestamp, key, value, headers
FROM executable('kafka-bridge --pipeline events -p 0 -c 5 --inspect peek', 'RowBinaryWithNamesAndTypes',
    'partition Int32, offset Int64, timestamp Nullable(DateTime64(3, \'UTC\')), key Nullable(String), value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))')
ORDER BY offset;

-- Where the next ingest run starts and how far behind it is: see progress.sql
-- (--inspect watermarks is the same as --watermarks).
