-- Transfers from a transactional producer (transactional.id set,
-- init/begin/commit or abort per batch), exactly once into ClickHouse.
-- Each message is {"txn_id", "txn_size", "seq", "account", "amount"}: one
-- transaction is txn_size messages keyed by account, so it spans several
-- partitions, and it is committed or aborted as a whole. Pipelines:
-- user_scripts/kafka-bridge.d/payments.conf (the load) and
-- payments-log.conf (the audit at the end).
--
-- The load reads with isolation.level = read_committed, the bridge's
-- default: messages of aborted transactions are never stored, and a run
-- stops before a transaction still open (at the last stable offset); the
-- next run reads it once it is committed. The positions come from the
-- table, as in ingest.sql, so every committed message is stored once
-- however many runs there are.
--
-- Run the whole file each time; its three queries show what happened:
--   1. transactions stored, their rows, and how many are stored in part or
--      more than once (0);
--   2. per partition, the offsets of the log up to its stable end that are
--      not rows: one commit or abort marker per transaction that wrote to
--      the partition, plus the messages of aborted transactions;
--   3. the transactions in the log that the table does not hold: aborted,
--      still open, or (if producers wrote since this run) not loaded yet.
-- A transaction becomes readable partition by partition, as its
-- coordinator writes the commit markers; a run starting in that instant
-- may store part of it, which query 1 shows until the next run stores the
-- rest.

CREATE TABLE IF NOT EXISTS payments
(
    txn_id     String,
    txn_size   UInt32,
    seq        UInt32,
    account    String,
    amount     Decimal(12, 2),
    _partition UInt32,
    _offset    UInt64,
    _timestamp DateTime64(3, 'UTC'),
    _ingested  DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY (_partition, _offset);

INSERT INTO payments (txn_id, txn_size, seq, account, amount, _partition, _offset, _timestamp)
SELECT *
FROM executable(
    'kafka-bridge --pipeline payments',
    'RowBinaryWithNamesAndTypes',
    'txn_id String, txn_size UInt32, seq UInt32, account String, amount Decimal(12, 2),
     _partition UInt32, _offset UInt64, _timestamp DateTime64(3, \'UTC\')',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM payments GROUP BY _partition));

-- One row per stored transaction.
CREATE VIEW IF NOT EXISTS payment_transactions AS
SELECT txn_id,
       any(txn_size) AS size,
       count() AS rows,
       uniqExact(seq) AS distinct_seq,
       arraySort(groupUniqArray(_partition)) AS partitions,
       sum(amount) AS total,
       min(_timestamp) AS produced
FROM payments
GROUP BY txn_id;

-- 1. Transactions stored whole; partial_or_repeated is 0.
SELECT count() AS transactions,
       sum(rows) AS messages,
       countIf(rows != size OR distinct_seq != size) AS partial_or_repeated
FROM payment_transactions;

-- 2. Per partition: the stable end of the log (--watermarks reports it as
-- log_end), the rows stored, and the offsets in between that are markers
-- or aborted messages.
SELECT w.partition, w.log_end, ifNull(s.rows, 0) AS rows_stored,
       w.log_end - w.log_start - rows_stored AS markers_and_aborted
FROM executable(
    'kafka-bridge --pipeline payments --watermarks',
    'RowBinaryWithNamesAndTypes',
    'partition Int32, log_start Int64, log_end Int64, start Int64, lag Int64',
    (SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 FROM payments GROUP BY _partition)) AS w
LEFT JOIN (SELECT _partition, count() AS rows FROM payments GROUP BY _partition) AS s
    ON toInt32(s._partition) = w.partition
ORDER BY w.partition
SETTINGS join_use_nulls = 1;

-- 3. Transactions in the log but not in the table, read through the
-- read_uncommitted pipeline (the whole topic, so keep this for audits).
SELECT txn_id, count() AS messages, arraySort(groupUniqArray(_partition)) AS partitions
FROM executable(
    'kafka-bridge --pipeline payments-log',
    'RowBinaryWithNamesAndTypes',
    'txn_id String, _partition UInt32, _offset UInt64')
WHERE txn_id NOT IN (SELECT txn_id FROM payments)
GROUP BY txn_id
ORDER BY txn_id;
