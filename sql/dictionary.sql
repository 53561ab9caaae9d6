-- A compacted topic as a dictionary, in DDL: for clickhouse-local and chDB.
-- On a server use clickhouse-config/kafka_dictionary.xml instead (a server
-- refuses executable sources in DDL). Both describe the same dictionary; a
-- test holds them to it.
--
-- kafka-dict reads the `users` pipeline's topic from the log start to the
-- end offsets seen when it starts, keeps the latest record per key, drops
-- keys whose latest record is a tombstone, and writes one row per live key.
-- Columns match the pipeline's columns in order.
CREATE DICTIONARY IF NOT EXISTS users_dict
(
    key String,
    name String DEFAULT '',
    country String DEFAULT '',
    score Float64 DEFAULT 0,
    _offset UInt64 DEFAULT 0
)
PRIMARY KEY key
SOURCE(EXECUTABLE(COMMAND 'kafka-dict --pipeline users' FORMAT 'RowBinary' EXECUTE_DIRECT 1 IMPLICIT_KEY 0
                  COMMAND_READ_TIMEOUT 600000 CHECK_EXIT_CODE 1 STDERR_REACTION 'log_last'))
LAYOUT(COMPLEX_KEY_HASHED())
LIFETIME(MIN 300 MAX 360);

-- Lookups:
--   SELECT dictGet('users_dict', 'name', 'u42');
--   SELECT id, dictGetOrDefault('users_dict', 'country', toString(user_id), '?') FROM events;
-- Re-read the topic now rather than at the next LIFETIME:
--   SYSTEM RELOAD DICTIONARY users_dict;
