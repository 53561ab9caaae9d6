"""Checks of the test infrastructure itself: the Kafka broker, the producer
helpers, kcat, and ClickHouse running programs through executable()."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from harness.clickhouse import ClickHouseError
from harness.kafka import KAFKA_SCRIPT
from harness.names import unique
from harness.scripts import install_script


def kcat_read(bootstrap: str, topic: str) -> list[tuple[int, int, str, str, str, int]]:
    """All messages of a topic as kcat sees them: (partition, offset, key, value, headers, timestamp)."""
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed (scripts/setup)"
    out = subprocess.run(
        [kcat, "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
         "-f", "%p\\t%o\\t%k\\t%s\\t%h\\t%T\\n"],
        check=True, capture_output=True, text=True, timeout=60).stdout
    rows = []
    for line in out.splitlines():
        p, o, k, v, h, t = line.split("\t")
        rows.append((int(p), int(o), k, v, h, int(t)))
    return sorted(rows)


def test_produce_watermarks_and_kcat(broker):
    topic = unique("infra")
    broker.create_topic(topic, 3)
    assert broker.partitions(topic) == [0, 1, 2]
    assert broker.watermarks(topic) == {0: (0, 0), 1: (0, 0), 2: (0, 0)}

    # Partition p gets p + 2 messages; one carries headers, one a timestamp.
    messages = [(p, f"k{p}.{i}", f"v{p}.{i}") for p in range(3) for i in range(p + 2)]
    messages.append((1, "with-headers", "h", [("h1", b"x"), ("h2", b"y")]))
    messages.append((2, "with-ts", "t", 1_700_000_000_123))
    placed = broker.produce(topic, messages)

    assert broker.watermarks(topic) == {0: (0, 2), 1: (0, 4), 2: (0, 5)}
    # Offsets are given in production order within each partition.
    for p in range(3):
        offsets = [off for (part, off), m in zip(placed, messages) if m[0] == p]
        assert [part for part, _ in placed if part == p] == [p] * len(offsets)
        assert offsets == list(range(len(offsets)))

    read = kcat_read(broker.bootstrap, topic)
    assert len(read) == len(messages)
    by_key = {r[2]: r for r in read}
    for p in range(3):
        for i in range(p + 2):
            assert by_key[f"k{p}.{i}"][:4] == (p, i, f"k{p}.{i}", f"v{p}.{i}")
    assert by_key["with-headers"][:4] == (1, 3, "with-headers", "h")
    assert by_key["with-headers"][4] == "h1=x,h2=y"
    assert by_key["with-ts"][:4] == (2, 4, "with-ts", "t")
    assert by_key["with-ts"][5] == 1_700_000_000_123

    # The Python reader agrees with kcat.
    mine = broker.consume_all(topic)
    assert [(p, o, k.decode(), v.decode()) for p, o, k, v, _h, _t in mine] == \
        [(p, o, k, v) for p, o, k, v, _h, _t in read]

    broker.delete_topic(topic)
    with pytest.raises(Exception):
        broker.watermarks(topic)


def test_produce_many_and_topic_script(broker):
    topic = unique("bulk")
    # scripts/kafka topic finds the broker through its state directory.
    subprocess.run([str(KAFKA_SCRIPT), "topic", topic, "2"], check=True, timeout=60,
                   env={**os.environ, "KAFKA_STATE_DIR": str(broker.state_dir)})
    assert broker.partitions(topic) == [0, 1]
    n = 20_000
    broker.produce_many(topic, n, lambda i: (i % 2, None, b"%d" % i))
    assert broker.watermarks(topic) == {0: (0, n // 2), 1: (0, n // 2)}
    broker.delete_topic(topic)


def test_executable_into_mergetree(clickhouse):
    numbers = [0, 1, 7, 42, 1000, 2**32, 2**64 - 1] + list(range(100, 600))
    script = "#!/bin/sh\n" + "".join(f"echo {n}\n" for n in numbers)
    install_script(script.encode(), "infra_numbers.sh")

    table = unique("infra_t")
    clickhouse.query(f"CREATE TABLE {table} (x UInt64) ENGINE = MergeTree ORDER BY x")
    clickhouse.query(f"INSERT INTO {table} SELECT x FROM executable('infra_numbers.sh', 'TSV', 'x UInt64')")
    got = [int(r[0]) for r in clickhouse.rows(f"SELECT x FROM {table} ORDER BY x")]
    assert got == sorted(numbers)
    clickhouse.query(f"DROP TABLE {table}")


def test_executable_reads_input_query_on_stdin(clickhouse):
    # The bridge receives offsets this way: the input query's rows on stdin.
    install_script(b"#!/bin/sh\nwhile read -r a b; do echo \"$b\t$a\"; done\n", "infra_swap.sh")
    rows = clickhouse.rows(
        "SELECT a, b FROM executable('infra_swap.sh', 'TSV', 'a String, b UInt64', "
        "(SELECT number, concat('n', toString(number)) FROM numbers(3))) ORDER BY b")
    assert rows == [("n0", "0"), ("n1", "1"), ("n2", "2")]


def test_clickhouse_errors_carry_the_message(clickhouse):
    with pytest.raises(ClickHouseError) as e:
        clickhouse.query("SELECT x FROM executable('no_such_program', 'TSV', 'x UInt64')")
    assert e.value.code is not None and "no_such_program" in e.value.message
    with pytest.raises(ClickHouseError, match="Syntax error"):
        clickhouse.query("SELEC 1")
