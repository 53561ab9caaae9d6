"""The bridge's --inspect modes through executable(): what ClickHouse
gets back is compared with what the test put into the broker."""

from __future__ import annotations


import pytest
from confluent_kafka import Consumer, TopicPartition

from harness import REPO_ROOT
from harness.clickhouse import ClickHouseError
from harness.names import unique

TOPICS = ("topic String, partition Int32, leader Int32, replicas Array(Int32), isr Array(Int32), "
          "log_start Int64, log_end Int64, error String")
GROUPS = "group String, state String, topic String, partition Int32, committed Int64, log_end Int64, lag Int64"
PEEK = ("partition Int32, offset Int64, timestamp Nullable(DateTime64(3, 'UTC')), key Nullable(String), "
        "value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))")


def inspect(broker, args: str, structure: str) -> str:
    return (f"executable('kafka-bridge -b {broker.bootstrap} {args}', 'RowBinaryWithNamesAndTypes', "
            f"'{structure.replace(chr(39), chr(92) + chr(39))}')")


def test_topics(broker, clickhouse, bridge):
    topic = unique("ins")
    broker.create_topic(topic, 3)
    broker.produce(topic, [(i % 3, None, b"x") for i in range(10)])
    broker.delete_records(topic, {1: 2})
    rows = clickhouse.rows(f"SELECT * FROM {inspect(broker, f'-t {topic} --inspect topics', TOPICS)}")
    assert rows == [(topic, "0", "1", "[1]", "[1]", "0", "4", ""),
                    (topic, "1", "1", "[1]", "[1]", "2", "3", ""),
                    (topic, "2", "1", "[1]", "[1]", "0", "3", "")]
    # Without -t: every topic the client may see, ours among them.
    listed = clickhouse.rows(f"SELECT topic, count() FROM {inspect(broker, '--inspect topics', TOPICS)} "
                             f"WHERE topic = '{topic}' GROUP BY topic")
    assert listed == [(topic, "3")]


def test_groups_and_lag(broker, clickhouse, bridge):
    topic, group = unique("ins"), unique("grp")
    broker.create_topic(topic, 2)
    broker.produce(topic, [(i % 2, None, b"x") for i in range(10)])
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 5)], asynchronous=False)
    finally:
        c.close()
    rows = clickhouse.rows(f"SELECT * FROM {inspect(broker, f'-t {topic} --inspect groups', GROUPS)} "
                           f"WHERE group = '{group}'")
    assert rows == [(group, "Empty", topic, "0", "3", "5", "2"), (group, "Empty", topic, "1", "5", "5", "0")]


def test_peek_last_messages(broker, clickhouse, bridge):
    topic = unique("ins")
    broker.create_topic(topic, 2)
    msgs = [(0, f"k{i}".encode(), f"v{i}".encode(), [("h", f"{i}".encode()), ("h", None)], 1_700_000_000_000 + i)
            for i in range(20)]
    msgs.append((0, None, None, 1_700_000_000_020))  # no key, a tombstone
    msgs.append((1, b"other", b"p1", 1_700_000_000_000))
    broker.produce(topic, msgs)
    rows = clickhouse.rows(
        f"SELECT partition, offset, toUnixTimestamp64Milli(timestamp), key, value, headers "
        f"FROM {inspect(broker, f'-t {topic} -p 0 -c 3 --inspect peek', PEEK)} ORDER BY offset")
    assert rows == [("0", "18", "1700000000018", "k18", "v18", "[('h','18'),('h',NULL)]"),
                    ("0", "19", "1700000000019", "k19", "v19", "[('h','19'),('h',NULL)]"),
                    ("0", "20", "1700000000020", None, None, "[]")]
    both = clickhouse.rows(f"SELECT partition, count() FROM {inspect(broker, f'-t {topic} -c 2 --inspect peek', PEEK)} "
                           f"GROUP BY partition ORDER BY partition")
    assert both == [("0", "2"), ("1", "1")]
    empty = unique("ins")
    broker.create_topic(empty, 1)
    assert clickhouse.rows(f"SELECT count() FROM {inspect(broker, f'-t {empty} --inspect peek', PEEK)}") == [("0",)]


def test_watermarks_mode_and_errors(broker, clickhouse, bridge):
    topic = unique("ins")
    broker.create_topic(topic, 1)
    broker.produce(topic, [b"a", b"b"])
    cols = "partition Int32, log_start Int64, log_end Int64, start Int64, lag Int64"
    assert clickhouse.rows(f"SELECT * FROM {inspect(broker, f'-t {topic} --inspect watermarks', cols)}") == \
        [("0", "0", "2", "0", "2")]
    for args, structure, expected in [
        (f"-t {topic} --inspect nosuch", TOPICS, "--inspect: unknown mode \\'nosuch\\'"),
        ("-t no_such_topic_here --inspect topics", TOPICS, "topic \\'no_such_topic_here\\': Broker: Unknown topic"),
        (f"-t {topic} -p 4 --inspect peek", PEEK, f"topic \\'{topic}\\' has no partition 4 (it has 1)"),
    ]:
        with pytest.raises(ClickHouseError) as e:
            clickhouse.query(f"SELECT * FROM {inspect(broker, args, structure)}")
        assert expected in e.value.message, e.value.message


def test_shipped_recipes_use_the_documented_structures():
    text = (REPO_ROOT / "sql" / "inspect.sql").read_text()
    for structure in (TOPICS, GROUPS, PEEK):
        assert structure.replace("'", "\\'") in text
