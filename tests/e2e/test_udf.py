"""The produce UDF end to end: ClickHouse (chDB) loads the shipped
clickhouse-config/*_function.xml, runs kafka-produce from its user_scripts
directory, and the rows land in a real broker; the bridge reads them back.

Also the UDF contract: one answer per row or a failed query, nothing on
stderr on success, one pool process for many blocks and queries, SIGTERM
ends it, and misuse gives a clear error."""

from __future__ import annotations

import json
import re
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import REPO_ROOT
from harness.clickhouse import ClickHouseError
from harness.names import unique
from harness.scripts import user_scripts_dir

SHIPPED = REPO_ROOT / "clickhouse-config/user_scripts/kafka-bridge.d/orders_out.conf"


@pytest.fixture(scope="module")
def produce_program(user_scripts: Path) -> Path:
    prog = user_scripts / "kafka-produce"
    if not prog.exists():
        pytest.skip("kafka-produce not built")
    return prog


def write_pipeline(broker, topic: str, *extra: str, allow: bool = True) -> str:
    """The shipped orders_out pipeline, pointed at this broker and topic."""
    name = unique("out")
    text = SHIPPED.read_text().replace("127.0.0.1:9092", broker.bootstrap)
    text = text.replace("topic = orders_out", f"topic = {topic}")
    if not allow:
        text = text.replace("allow-produce = true", "allow-produce = false")
    d = user_scripts_dir() / "kafka-bridge.d"
    d.mkdir(exist_ok=True)
    (d / f"{name}.conf").write_text(text + "\n" + "\n".join(extra) + "\n")
    return name


def test_round_trip_produce_then_ingest(broker, clickhouse, bridge, produce_program):
    """Rows produced from ClickHouse with kafkaProduceWithHeaders, read
    back with the bridge: same count, content, keys and headers."""
    topic = unique("rt")
    broker.create_topic(topic, 3)
    pipe = write_pipeline(broker, topic)
    src = unique("src")
    clickhouse.query(f"CREATE TABLE {src} (id UInt64, name String, amount Float64) ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"INSERT INTO {src} SELECT number, concat('n-', toString(number), if(number % 7 = 0, ' \"q\"', '')), "
                     f"number / 4 FROM numbers(3000)")
    res = unique("res")
    # Small blocks: one pool process answers many of them.
    clickhouse.query(
        f"CREATE TABLE {res} ENGINE = MergeTree ORDER BY id AS "
        f"SELECT id, kafkaProduceWithHeaders('{pipe}', toString(id), formatRowNoNewline('JSONEachRow', id, name, amount), "
        f"map('trace', concat('t', toString(id)), 'kind', 'order')) AS r FROM {src} "
        f"SETTINGS max_block_size = 500")
    assert clickhouse.rows(f"SELECT count(), countIf(r.error = ''), uniqExact(r.partition, r.offset), "
                           f"min(r.partition), max(r.partition) FROM {res}") == [("3000", "3000", "3000", "0", "2")]

    dst = unique("dst")
    cols = ("id UInt64, name String, amount Float64, _key String, _partition Int32, _offset Int64, "
            "_headers Map(String, String)")
    clickhouse.query(f"CREATE TABLE {dst} ({cols}) ENGINE = MergeTree ORDER BY id")
    clickhouse.query(
        f"INSERT INTO {dst} SELECT * FROM executable('kafka-bridge -b {broker.bootstrap} -t {topic} "
        f"--columns=id:UInt64,name:String,amount:Float64,_key:String,_partition:Int32,_offset:Int64,"
        f"_headers:Map(String,String)', "
        f"'RowBinaryWithNamesAndTypes', '{cols}')")
    # Every stored row is the source row, under its key, at the position
    # the UDF reported for it.
    diff = clickhouse.rows(
        f"SELECT count() FROM {src} s FULL OUTER JOIN {dst} d ON s.id = d.id "
        f"LEFT JOIN {res} r ON r.id = s.id "
        f"WHERE s.name != d.name OR s.amount != d.amount OR d._key != toString(s.id) "
        f"OR r.r.partition != d._partition OR r.r.offset != d._offset "
        f"OR length(d._headers) != 2 OR d._headers['trace'] != concat('t', toString(s.id)) "
        f"OR d._headers['kind'] != 'order'")
    assert diff == [("0",)]
    assert clickhouse.value(f"SELECT count() FROM {dst}") == "3000"
    # Headers, in order, as given: read back by the bridge's peek mode.
    peek = ("partition Int32, offset Int64, timestamp Nullable(DateTime64(3, \\'UTC\\')), key Nullable(String), "
            "value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))")
    bad = clickhouse.rows(
        f"SELECT count(), countIf(headers != [('trace', concat('t', key)), ('kind', 'order')]) "
        f"FROM executable('kafka-bridge -b {broker.bootstrap} -t {topic} -c 3000 --inspect peek', "
        f"'RowBinaryWithNamesAndTypes', '{peek}')")
    assert bad == [("3000", "0")]


def test_null_key_and_tombstone(broker, clickhouse, produce_program):
    topic = unique("nul")
    broker.create_topic(topic, 1)
    pipe = write_pipeline(broker, topic)
    rows = clickhouse.rows(f"SELECT kafkaProduce('{pipe}', NULL, 'v').error, kafkaProduce('{pipe}', 'k', NULL).error")
    assert rows == [("", "")]
    got = {(m[2], m[3]) for m in broker.consume_all(topic)}
    assert got == {(None, b"v"), (b"k", None)}


def test_failed_rows_are_reported_or_fail_the_query(broker, clickhouse, produce_program):
    """A value the producer refuses (larger than its message.max.bytes)
    fails its own row and no other; the OrFail form fails the query,
    naming pipeline, row and reason."""
    topic = unique("big")
    broker.create_topic(topic, 1)
    pipe = write_pipeline(broker, topic, "kafka.message.max.bytes = 2000")
    rows = clickhouse.rows(
        f"SELECT number, r.partition, r.error FROM (SELECT number, kafkaProduce('{pipe}', toString(number), "
        f"repeat('x', if(number = 3, 5000, 10))) AS r FROM numbers(6)) ORDER BY number")
    assert [r[0] for r in rows] == [str(i) for i in range(6)]
    for n, partition, error in rows:
        if n == "3":
            assert partition == "-1" and error == f"topic '{topic}': Broker: Message size too large"
        else:
            assert partition == "0" and error == ""
    assert len(broker.consume_all(topic)) == 5
    with pytest.raises(ClickHouseError) as e:
        clickhouse.query(f"SELECT kafkaProduceOrFail('{pipe}', 'k', repeat('x', if(number = 1, 5000, 10))) "
                         f"FROM numbers(3)")
    assert re.search(rf"kafka-produce: pipeline '{pipe}' block \d+ row 2: topic '{topic}': "
                     r"Broker: Message size too large", e.value.message), e.value.message


def closed_port() -> int:
    """A local port nothing listens on: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_broker_gives_its_reason_first(clickhouse, produce_program):
    """Rows that time out waiting for a broker say why first (ClickHouse
    shows only the start of a long message), then pipeline and topic."""
    port = closed_port()
    name = unique("down")
    d = user_scripts_dir() / "kafka-bridge.d"
    d.mkdir(exist_ok=True)
    (d / f"{name}.conf").write_text(f"brokers = 127.0.0.1:{port}\ntopic = nowhere\nallow-produce = true\n"
                                    "kafka.message.timeout.ms = 1000\n")
    refused = f"Connect to ipv4#127.0.0.1:{port} failed: Connection refused"
    rows = clickhouse.rows(f"SELECT r.partition, r.error FROM (SELECT kafkaProduce('{name}', 'k', toString(number)) "
                           f"AS r FROM numbers(3))")
    assert len(rows) == 3
    for partition, error in rows:
        assert partition == "-1" and error.startswith(refused), error
        assert error.endswith("; topic 'nowhere': Local: Message timed out"), error
    with pytest.raises(ClickHouseError) as e:
        clickhouse.query(f"SELECT kafkaProduceOrFail('{name}', 'k', 'v')")
    assert re.search(rf"kafka-produce: {re.escape(refused)}[^;]*; pipeline '{name}' block \d+ row 1: "
                     r"topic 'nowhere': Local: Message timed out", e.value.message), e.value.message


def test_bad_arguments_give_a_clear_error(broker, clickhouse, produce_program):
    topic = unique("bad")
    broker.create_topic(topic, 1)
    closed = write_pipeline(broker, topic, allow=False)
    cases = [
        ("kafkaProduce('no_such_pipeline', 'k', 'v')", "kafka-produce: pipeline 'no_such_pipeline': cannot open pipeline file"),
        (f"kafkaProduce('{closed}', 'k', 'v')", f"pipeline '{closed}' does not allow producing"),
        ("kafkaProduce('../etc/passwd', 'k', 'v')", "invalid name '../etc/passwd'"),
        ("kafkaProduce(NULL, 'k', 'v')", "Cannot convert NULL to a non-nullable type"),
        # Other arguments are cast to String as ClickHouse casts; headers must be a Map.
        ("kafkaProduceWithHeaders('x', 'k', 'v', 42)", "Unsupported types to CAST AS Map"),
        ("kafkaProduce('x', 'k')", "NUMBER_OF_ARGUMENTS_DOESNT_MATCH"),
    ]
    for call, expected in cases:
        with pytest.raises(ClickHouseError) as e:
            clickhouse.query(f"SELECT {call}")
        assert expected in e.value.message, (call, e.value.message)
    assert broker.watermarks(topic) == {0: (0, 0)}


def pool_pids(program: Path) -> set[int]:
    """Processes of this test run executing `program` (chDB runs pools as
    children of this process)."""
    pids = set()
    target = os.path.realpath(program)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid() and os.path.realpath(f"/proc/{d}/exe") == target:
                pids.add(int(d))
        except OSError:
            continue
    return pids


def test_pool_process_serves_many_blocks_and_queries(broker, clickhouse, produce_program):
    topic = unique("pool")
    broker.create_topic(topic, 2)
    pipe = write_pipeline(broker, topic)
    seen: set[int] = set()
    for q in range(4):
        got = clickhouse.rows(
            f"SELECT count(), countIf(r.error = '') FROM (SELECT kafkaProduceOrFail('{pipe}', toString(number), "
            f"toString(number)) AS r FROM numbers({q * 1000}, 1000) SETTINGS max_block_size = 100, max_threads = 1)")
        assert got == [("1000", "1000")]
        seen |= pool_pids(produce_program)
    # ClickHouse keeps at most pool_size (4) processes; they were reused.
    assert 1 <= len(seen) <= 4
    assert sum(h - lo for lo, h in broker.watermarks(topic).values()) == 4000


def block(rows: list[tuple]) -> bytes:
    def s(b: bytes) -> bytes:
        n, out = len(b), bytearray()
        while n >= 0x80:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out) + b
    body = b"".join(s(p) + (b"\x01" if k is None else b"\x00" + s(k)) + (b"\x01" if v is None else b"\x00" + s(v))
                    for p, k, v in rows)
    return str(len(rows)).encode() + b"\n" + body


def test_program_contract_directly(broker, produce_program):
    """One answer per row, nothing on stderr on success; input cut short
    fails with one line; SIGTERM ends an idle process at once."""
    topic = unique("direct")
    broker.create_topic(topic, 1)
    pipe = write_pipeline(broker, topic).encode()
    data = block([(pipe, b"a", b"1"), (pipe, None, b"2")]) + block([]) + block([(pipe, b"c", None)])
    done = subprocess.run([str(produce_program)], input=data, capture_output=True, timeout=60)
    assert done.returncode == 0 and done.stderr == b""
    # Three answers of (Int32, Int64, String ''): 13 bytes each.
    assert len(done.stdout) == 39
    offsets = [int.from_bytes(done.stdout[i * 13 + 4:i * 13 + 12], "little") for i in range(3)]
    assert offsets == [0, 1, 2]

    cut = subprocess.run([str(produce_program)], input=block([(pipe, b"a", b"1")])[:-1], capture_output=True,
                         timeout=60)
    assert cut.returncode == 1 and cut.stdout == b""
    assert cut.stderr == b"kafka-produce: block 1: input ends inside a string\n"

    proc = subprocess.Popen([str(produce_program)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write(block([(pipe, b"k", b"v")]))
    proc.stdin.flush()
    assert len(proc.stdout.read(13)) == 13  # answered, now idle in a pool
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == -signal.SIGTERM
    proc.stdin.close()
    proc.stdout.close()
    proc.stderr.close()


def test_shipped_produce_recipe(broker, clickhouse, produce_program):
    """sql/produce.sql as written, with the shipped orders_out pipeline
    pointed at a test topic; a second run skips what was acknowledged."""
    topic = unique("orders")
    broker.create_topic(topic, 2)
    conf = SHIPPED.read_text().replace("127.0.0.1:9092", broker.bootstrap).replace("topic = orders_out",
                                                                                      f"topic = {topic}")
    (user_scripts_dir() / "kafka-bridge.d").mkdir(exist_ok=True)
    (user_scripts_dir() / "kafka-bridge.d/orders_out.conf").write_text(conf)
    db = unique("db")
    clickhouse.query(f"CREATE DATABASE {db}")
    try:
        # The Avro part of the recipe needs a registry: test_udf_avro.py runs it.
        text = (REPO_ROOT / "sql/produce.sql").read_text().split("-- == Avro")[0]
        recipe = re.sub(r"(?m)^\s*--.*$", "", text)
        statements = [s for s in recipe.split(";") if s.strip()]
        clickhouse.query(f"USE {db}; {statements[0]}; {statements[1]}")
        clickhouse.query(f"USE {db}; INSERT INTO orders SELECT number, concat('c', toString(number % 7)), "
                         f"number / 100, toDateTime64('2025-01-01 00:00:00', 3, 'UTC') + number FROM numbers(300)")
        for run in range(2):
            out = clickhouse.query(f"USE {db}; " + "; ".join(statements[2:]))
            # No failed rows listed; the headers query counted every order.
            assert out.split() == ["300", "300"]
            assert clickhouse.value(f"SELECT count() FROM {db}.orders_published") == "300"
        # First run: 300 + 300 with headers; the second: 300 more with headers only.
        got = broker.consume_all(topic)
        assert len(got) == 900
        plain = [m for m in got if not m[4]]
        assert sorted(json.loads(m[3])["id"] for m in plain) == list(range(300))
        assert all(m[4] == [("source", b"clickhouse"), ("table", b"orders")] for m in got if m[4])
    finally:
        clickhouse.query("USE default")
        clickhouse.query(f"DROP DATABASE {db}")
