"""What happens to messages that cannot become rows (--on-error), and the
consumer-group mode (--commit-group): end to end through ClickHouse."""

from __future__ import annotations

import json
import subprocess

from harness.names import unique
from harness.scripts import user_scripts_dir


def source(brokers: str, topic: str, columns: str, *flags: str, input_query: str = "") -> str:
    packed = ",".join(c.strip().replace(" ", ":", 1) for c in columns.split(","))
    command = " ".join(["kafka-bridge", "-b", brokers, "-t", topic, f"--columns={packed}", *flags])
    tail = f", ({input_query})" if input_query else ""
    return f"executable('{command}', 'RowBinaryWithNamesAndTypes', '{columns}'{tail})"


GOOD_BAD_GOOD = [b'{"id": 1, "name": "a"}', b'{"id": "oops", "name": "b"}', b'{"id": 3, "name": "c"}',
                 b'not json at all', b'{"id": 5}']


def test_skip_keeps_going_and_reports_at_exit(broker, clickhouse, bridge):
    topic = unique("skip")
    broker.create_topic(topic, 1)
    broker.produce(topic, GOOD_BAD_GOOD)
    table = unique("t")
    clickhouse.query(f"CREATE TABLE {table} (id UInt64, name String, _offset UInt64) "
                     "ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM "
                     f"{source(broker.bootstrap, topic, 'id UInt64, name String, _offset UInt64', '--on-error', 'skip')}")
    assert clickhouse.rows(f"SELECT id, name, _offset FROM {table} ORDER BY id") == [
        ("1", "a", "0"), ("3", "c", "2"), ("5", "", "4")]
    # The report at exit, as ClickHouse's log would show it (stderr_reaction):
    run = subprocess.run([str(user_scripts_dir() / "kafka-bridge"), "-b", broker.bootstrap, "-t", topic,
                          "--columns=id:UInt64", "--on-error", "skip"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0
    assert run.stderr == (f"kafka-bridge: 2 message(s) could not become rows and were skipped; first: "
                          f"topic '{topic}' partition 0 offset 1: column 'id': expected an integer, "
                          f"got \"oops\" (at byte 7)\n")


def test_dead_letter_copies_and_acknowledges(broker, clickhouse, bridge):
    topic, dlq = unique("dl"), unique("dlq")
    broker.create_topic(topic, 1)
    broker.create_topic(dlq, 1)
    broker.produce(topic, [(0, b"k0", GOOD_BAD_GOOD[0]), (0, b"k1", GOOD_BAD_GOOD[1], [("trace", b"t-1")]),
                           (0, None, GOOD_BAD_GOOD[2]), (0, b"k3", GOOD_BAD_GOOD[3])])
    table = unique("t")
    clickhouse.query(f"CREATE TABLE {table} (id UInt64, name String) ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM "
                     f"{source(broker.bootstrap, topic, 'id UInt64, name String', '--on-error', 'dead-letter', '--dead-letter-topic', dlq)}")
    assert clickhouse.rows(f"SELECT id, name FROM {table} ORDER BY id") == [("1", "a"), ("3", "c")]

    copies = broker.consume_all(dlq)
    assert [(key, value) for _p, _o, key, value, _h, _t in copies] == [
        (b"k1", GOOD_BAD_GOOD[1]), (b"k3", GOOD_BAD_GOOD[3])]
    headers = [dict(h) for *_x, h, _t in copies]
    assert headers[0]["trace"] == b"t-1"  # the original headers are kept
    assert headers[0]["kafka-bridge.topic"] == topic.encode()
    assert headers[0]["kafka-bridge.partition"] == b"0"
    assert headers[0]["kafka-bridge.offset"] == b"1"
    assert headers[1]["kafka-bridge.offset"] == b"3"
    assert headers[0]["kafka-bridge.error"].startswith(
        f"topic '{topic}' partition 0 offset 1: column 'id': expected an integer".encode())
    assert b"malformed JSON" in headers[1]["kafka-bridge.error"]
    assert int(headers[0]["kafka-bridge.time"]) > 1_700_000_000_000


def test_dead_letter_topic_missing_fails_the_run(broker, clickhouse, bridge):
    topic = unique("dl")
    broker.create_topic(topic, 1)
    broker.produce(topic, GOOD_BAD_GOOD[:2])
    table = unique("t")
    clickhouse.query(f"CREATE TABLE {table} (id UInt64) ENGINE = MergeTree ORDER BY id")
    err = None
    try:
        clickhouse.query(f"INSERT INTO {table} SELECT * FROM "
                         f"{source(broker.bootstrap, topic, 'id UInt64', '--on-error', 'dead-letter', '--dead-letter-topic', 'no_such_dlq', '--timeout', '2000')}")
    except Exception as e:  # noqa: BLE001 - the message is what is checked
        err = str(e).replace("\\'", "'")
    assert err is not None and f"topic '{topic}' partition 0 offset 1: cannot copy the message to dead-letter topic 'no_such_dlq'" in err


def test_stream_routes_bad_messages_with_a_view(broker, clickhouse, bridge):
    """Like the Kafka engine's stream mode: a row per bad message with
    _error and _raw, routed to an errors table by a materialized view."""
    topic = unique("stream")
    broker.create_topic(topic, 1)
    broker.produce(topic, GOOD_BAD_GOOD)
    land, good, bad = unique("land"), unique("good"), unique("bad")
    cols = "id UInt64, name String, _offset UInt64, _error String, _raw String"
    clickhouse.query(f"CREATE TABLE {land} ({cols}) ENGINE = MergeTree ORDER BY _offset")
    clickhouse.query(f"CREATE TABLE {good} (id UInt64, name String) ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"CREATE TABLE {bad} (_offset UInt64, _error String, _raw String) ENGINE = MergeTree ORDER BY _offset")
    clickhouse.query(f"CREATE MATERIALIZED VIEW {good}_mv TO {good} AS SELECT id, name FROM {land} WHERE _error = ''")
    clickhouse.query(f"CREATE MATERIALIZED VIEW {bad}_mv TO {bad} AS SELECT _offset, _error, _raw FROM {land} WHERE _error != ''")
    clickhouse.query(f"INSERT INTO {land} SELECT * FROM {source(broker.bootstrap, topic, cols, '--on-error', 'stream')}")
    assert clickhouse.rows(f"SELECT id, name FROM {good} ORDER BY id") == [("1", "a"), ("3", "c"), ("5", "")]
    assert clickhouse.rows(f"SELECT _offset, _error, _raw FROM {bad} ORDER BY _offset") == [
        ("1", "column 'id': expected an integer, got \"oops\"", GOOD_BAD_GOOD[1].decode()),
        ("3", "malformed JSON: expected a JSON object", GOOD_BAD_GOOD[3].decode())]


def test_stream_needs_an_error_column(broker, clickhouse, bridge):
    topic = unique("stream")
    broker.create_topic(topic, 1)
    table = unique("t")
    clickhouse.query(f"CREATE TABLE {table} (id UInt64) ENGINE = MergeTree ORDER BY id")
    try:
        clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(broker.bootstrap, topic, 'id UInt64', '--on-error', 'stream')}")
        raise AssertionError("the INSERT should have failed")
    except Exception as e:  # noqa: BLE001
        assert "--on-error stream needs an _error String column" in str(e)


def test_consumer_group_follows_what_clickhouse_stored(broker, clickhouse, bridge):
    """--commit-group: each run commits the positions it was given, which
    the previous run's rows prove durable; --commit-on-exit also commits
    where the run ended."""
    topic, group = unique("grp"), unique("group")
    broker.create_topic(topic, 2)
    broker.produce(topic, [(i % 2, None, json.dumps({"id": i}).encode()) for i in range(40)])
    table = unique("t")
    cols = "id UInt64, _partition UInt32, _offset UInt64"
    clickhouse.query(f"CREATE TABLE {table} ({cols}) ENGINE = MergeTree ORDER BY (_partition, _offset)")
    resume = f"SELECT _partition, max(_offset) + 1 FROM {table} GROUP BY _partition"

    def run(*flags: str) -> None:
        clickhouse.query(f"INSERT INTO {table} SELECT * FROM "
                         f"{source(broker.bootstrap, topic, cols, '--offsets-from', 'stdin', '--commit-group', group, *flags, input_query=resume)}")

    run()
    assert broker.committed(group, topic) == {}  # nothing was proven before the first run
    broker.produce(topic, [(0, None, json.dumps({"id": 100 + i}).encode()) for i in range(5)])
    run()
    assert broker.committed(group, topic) == {0: 20, 1: 20}  # what the first run stored
    run("--commit-on-exit")
    assert broker.committed(group, topic) == {0: 25, 1: 20}
    assert clickhouse.value(f"SELECT count() FROM {table}") == "45"
