"""kafka-bridge end to end: ClickHouse (chDB) launches the bridge through
executable(), the bridge reads a real Kafka broker, and every assertion is
about what ClickHouse stored or the error ClickHouse raised."""

from __future__ import annotations

import json
import time

import pytest

from harness.clickhouse import ClickHouseError
from harness.names import sql_quote, unique
from harness.scripts import install_script, user_scripts_dir


def packed(columns: str) -> str:
    """'a UInt8, b DateTime64(3, 'UTC')' -> 'a:UInt8,b:DateTime64(3,'UTC')':
    the spelling without spaces that survives any command-line splitting."""
    out, depth, name_done = [], 0, False
    for ch in columns.strip():
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(",")
            name_done = False
        elif ch == " ":
            if depth == 0 and not name_done and out and out[-1] != ",":
                out.append(":")
                name_done = True
        elif ch != "'":  # quotes would clash with SQL and shell-like splitting
            out.append(ch)
    return "".join(out)


def bridge_sql(brokers: str, topic: str, columns: str, *flags: str, fmt="RowBinaryWithNamesAndTypes",
               settings: str = "") -> str:
    command = " ".join(["kafka-bridge", "-b", brokers, "-t", topic,
                        f"--columns={packed(columns)}", *flags])
    if fmt == "RowBinary":
        command += " -O RowBinary"
    tail = f", SETTINGS {settings}" if settings else ""
    return f"executable('{command}', '{fmt}', '{sql_quote(columns)}'{tail})"


def make_table(clickhouse, columns: str, order_by: str = "tuple()") -> str:
    name = unique("t")
    clickhouse.query(f"CREATE TABLE {name} ({columns}) ENGINE = MergeTree ORDER BY {order_by}")
    return name


EVENT_COLUMNS = ("id UInt64, name String, score Float64, ok Bool, at DateTime64(3, 'UTC'), "
                 "tag Nullable(String), _topic String, _partition UInt32, _offset UInt64, "
                 "_key Nullable(String), _timestamp DateTime64(3, 'UTC')")


def test_topic_into_mergetree_exactly(broker, clickhouse, bridge):
    topic = unique("events")
    broker.create_topic(topic, 3)
    messages, expected = [], {}
    for i in range(30):
        partition, ts = i % 3, 1_700_000_000_000 + i
        body = {"id": i, "name": f"name-{i}", "score": i / 4, "ok": i % 2 == 0,
                "at": f"2024-05-0{1 + i % 9}T10:00:00.{i:03d}Z", "extra": {"ignored": [i]}}
        if i % 5:
            body["tag"] = f"t{i}"
        key = None if i % 7 == 0 else f"k{i}".encode()
        messages.append((partition, key, json.dumps(body).encode(), ts))
    positions = broker.produce(topic, messages)
    for i, (p, o) in enumerate(positions):
        expected[i] = (p, o)

    table = make_table(clickhouse, EVENT_COLUMNS, "id")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {bridge_sql(broker.bootstrap, topic, EVENT_COLUMNS)}")

    rows = clickhouse.rows(
        f"SELECT id, name, score, ok, toUnixTimestamp64Milli(at), tag, _topic, _partition, "
        f"_offset, _key, toUnixTimestamp64Milli(_timestamp) FROM {table} ORDER BY id")
    assert len(rows) == 30
    for row in rows:
        i = int(row[0])
        p, o = expected[i]
        assert row[1] == f"name-{i}"
        assert float(row[2]) == i / 4
        assert row[3] == ("true" if i % 2 == 0 else "false")
        day = 1 + i % 9
        assert int(row[4]) == 1714557600000 + (day - 1) * 86_400_000 + i
        assert row[5] == (None if i % 5 == 0 else f"t{i}")
        assert row[6] == topic
        assert (int(row[7]), int(row[8])) == (p, o)
        assert row[9] == (None if i % 7 == 0 else f"k{i}")
        assert int(row[10]) == 1_700_000_000_000 + i


def test_types_match_clickhouse_jsoneachrow(broker, clickhouse, bridge):
    """ClickHouse's own JSONEachRow parser is the oracle: the same lines,
    read by ClickHouse and by the bridge, must store identical tables."""
    columns = ("i8 Int8, i16 Int16, i32 Int32, i64 Int64, u8 UInt8, u16 UInt16, u32 UInt32, "
               "u64 UInt64, f32 Float32, f64 Float64, b Bool, s String, d Date, dt DateTime('UTC'), "
               "dt64 DateTime64(6, 'UTC'), n Nullable(Int32), lc LowCardinality(String), "
               "lcn LowCardinality(Nullable(String))")
    lines = [
        {"i8": -128, "i16": -32768, "i32": -2147483648, "i64": -9223372036854775808, "u8": 0,
         "u16": 0, "u32": 0, "u64": 0, "f32": -1.5, "f64": -0.0, "b": False, "s": "",
         "d": "1970-01-01", "dt": "1970-01-01 00:00:00", "dt64": "1970-01-01 00:00:00.000001",
         "n": None, "lc": "a", "lcn": None},
        {"i8": 127, "i16": 32767, "i32": 2147483647, "i64": 9223372036854775807, "u8": 255,
         "u16": 65535, "u32": 4294967295, "u64": 18446744073709551615, "f32": 3.4028234e38,
         "f64": 1.7976931348623157e308, "b": True, "s": "caf\u00e9 \U0001F600 \"q\" \\ \n\t",
         "d": "2149-06-06", "dt": "2106-02-07 06:28:15", "dt64": "2299-12-31 23:59:59.999999",
         "n": -7, "lc": "b", "lcn": "x"},
        {"i8": "12", "u64": "77", "f64": 5e-324, "s": "plain", "d": "2024-02-29",
         "dt": "2024-02-29T12:34:56Z", "dt64": "2024-02-29T12:34:56.5Z", "n": 0, "lc": ""},
        {},
    ]
    payloads = [json.dumps(line, ensure_ascii=False) for line in lines]
    payloads.append('{"s":"\\u00e9\\ud83d\\ude00\\/","u8":1,"unknown":{"a":[1,{"b":null}]}}')
    payloads.append('{"f64":1e400,"f32":"-inf","u8":true,"i32":false,"b":1,"s":12.50,"lc":{"a":[1, 2]}}')
    payloads.append('{"b":0,"s":[1,"x",null],"n":"5","dt64":"1700000000.25","dt":1700000000,"d":19000}')
    payloads.append('{"dt":"2024-01-02T03:04:05.5+02:00","dt64":"2024-01-02T03:04:05.1239-01:30"}')
    topic = unique("types")
    broker.create_topic(topic, 1)
    broker.produce(topic, [p.encode() for p in payloads])

    ours = make_table(clickhouse, columns)
    theirs = make_table(clickhouse, columns)
    clickhouse.query(f"INSERT INTO {ours} SELECT * FROM {bridge_sql(broker.bootstrap, topic, columns)}")
    clickhouse.query(f"INSERT INTO {theirs} SELECT * FROM format(JSONEachRow, '{sql_quote(columns)}', "
                     f"$bridge${chr(10).join(payloads)}$bridge$)")
    assert clickhouse.value(f"SELECT count() FROM {ours}") == str(len(payloads))
    assert clickhouse.value(f"SELECT count() FROM {theirs}") == str(len(payloads))
    for a, b in ((ours, theirs), (theirs, ours)):
        diff = clickhouse.rows(f"SELECT * FROM {a} EXCEPT SELECT * FROM {b}")
        assert diff == [], f"rows in {a} but not in {b}: {diff}"


def test_pipeline_file_and_rowbinary(broker, clickhouse, bridge):
    """A named pipeline in kafka-bridge.d/ beside the program carries the
    column list with spaces and the broker address; the SQL names it."""
    topic = unique("pipe")
    broker.create_topic(topic, 2)
    broker.produce(topic, [(i % 2, None, json.dumps({"v": i, "label": f"l{i}"}).encode())
                           for i in range(10)])
    name = unique("pipeline")
    conf_dir = user_scripts_dir() / "kafka-bridge.d"
    conf_dir.mkdir(exist_ok=True)
    (conf_dir / f"{name}.conf").write_text(
        f"# test pipeline\nbrokers = {broker.bootstrap}\ntopic = {topic}\n"
        "columns = v UInt32,\n    label String,\n    _partition UInt32\n"
        "output = RowBinary\nkafka.fetch.wait.max.ms = 50\n")
    table = make_table(clickhouse, "v UInt32, label String, _partition UInt32", "v")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM executable('kafka-bridge --pipeline {name}', "
                     f"'RowBinary', 'v UInt32, label String, _partition UInt32')")
    assert clickhouse.rows(f"SELECT v, label, _partition FROM {table} ORDER BY v") == [
        (str(i), f"l{i}", str(i % 2)) for i in range(10)]


def test_partitions_offsets_and_limits(broker, clickhouse, bridge):
    topic = unique("offsets")
    broker.create_topic(topic, 3)
    base = 1_710_000_000_000
    broker.produce(topic, [(p, None, json.dumps({"p": p, "i": i}).encode(), base + i * 1000)
                           for p in range(3) for i in range(10)])
    cols = "p UInt8, i UInt32, _offset UInt64"

    def run(*flags: str) -> list[tuple]:
        return clickhouse.rows(f"SELECT p, i FROM {bridge_sql(broker.bootstrap, topic, cols, *flags)} ORDER BY p, i")

    assert run("-p", "1") == [("1", str(i)) for i in range(10)]
    assert run("-p", "0,2", "-o", "-3") == [(p, str(i)) for p in ("0", "2") for i in (7, 8, 9)]
    assert run("-o", "end", "-o", "1:8") == [("1", "8"), ("1", "9")]
    assert run("-p", "2", "-o", f"s@{base + 6500}") == [("2", str(i)) for i in (7, 8, 9)]
    assert run("-p", "0", "-o", "4", "-c", "3") == [("0", "4"), ("0", "5"), ("0", "6")]
    assert run("-o", "end") == []


def test_limit_closes_the_pipe_quietly(broker, clickhouse, bridge):
    topic = unique("limit")
    broker.create_topic(topic, 1)
    broker.produce_many(topic, 200_000, lambda i: json.dumps({"i": i}).encode())
    started = time.monotonic()
    rows = clickhouse.rows(f"SELECT i FROM {bridge_sql(broker.bootstrap, topic, 'i UInt64')} LIMIT 5")
    assert rows == [(str(i),) for i in range(5)]
    assert time.monotonic() - started < 30


# ---- failures: each must fail the INSERT, say where, and keep nothing wrong ----

def insert_fails(clickhouse, table: str, source: str) -> str:
    """Runs the INSERT, which must fail, and returns ClickHouse's message.
    A cause reported through the header arrives as a string literal, with
    its quotes escaped; they are unescaped here."""
    with pytest.raises(ClickHouseError) as caught:
        clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source}")
    return caught.value.message.replace("\\'", "'")


def test_malformed_json_names_its_coordinates(broker, clickhouse, bridge):
    topic = unique("bad")
    broker.create_topic(topic, 2)
    good = json.dumps({"id": 1}).encode()
    positions = broker.produce(topic, [(0, None, good), (1, None, good), (1, None, b'{"id": 2,')])
    cols = "id UInt64"
    table = make_table(clickhouse, cols)
    err = insert_fails(clickhouse, table, bridge_sql(broker.bootstrap, topic, cols))
    p, o = positions[2]
    assert f"topic '{topic}' partition {p} offset {o}: malformed JSON: " in err
    assert clickhouse.value(f"SELECT count() FROM {table}") == "0"


def test_wrong_type_names_the_column(broker, clickhouse, bridge):
    topic = unique("wrong")
    broker.create_topic(topic, 1)
    broker.produce(topic, [json.dumps({"id": 1, "small": 7}).encode(),
                           json.dumps({"id": 2, "small": 300}).encode()])
    cols = "id UInt64, small UInt8"
    table = make_table(clickhouse, cols)
    err = insert_fails(clickhouse, table, bridge_sql(broker.bootstrap, topic, cols))
    assert f"topic '{topic}' partition 0 offset 1: column 'small': value 300 is out of range for UInt8" in err
    assert clickhouse.value(f"SELECT count() FROM {table}") == "0"


def test_unreachable_broker(clickhouse, bridge):
    cols = "id UInt64"
    table = make_table(clickhouse, cols)
    err = insert_fails(clickhouse, table, bridge_sql("127.0.0.1:1", "nowhere", cols, "--timeout", "1500"))
    assert "cannot read metadata of topic 'nowhere' from 127.0.0.1:1" in err


def test_unknown_topic_and_unsupported_type(broker, clickhouse, bridge):
    table = make_table(clickhouse, "id UInt64")
    err = insert_fails(clickhouse, table, bridge_sql(broker.bootstrap, unique("missing"), "id UInt64"))
    assert "Unknown topic or partition" in err
    topic = unique("t")
    broker.create_topic(topic, 1)
    err = insert_fails(clickhouse, make_table(clickhouse, "id UInt64, tags String"),
                       bridge_sql(broker.bootstrap, topic, "id UInt64, tags Dynamic"))
    assert "column 'tags': unsupported type 'Dynamic'" in err


def test_startup_failure_in_plain_rowbinary(clickhouse, bridge):
    cols = "id UInt64, name String"
    table = make_table(clickhouse, cols)
    err = insert_fails(clickhouse, table, bridge_sql("127.0.0.1:1", "nowhere", cols, "--timeout", "1000",
                                                     fmt="RowBinary"))
    assert "Cannot read all data" in err or "ATTEMPT_TO_READ_AFTER_EOF" in err
    assert clickhouse.value(f"SELECT count() FROM {table}") == "0"


def produce_good_then_bad(broker, topic: str, good: int) -> int:
    broker.create_topic(topic, 1)
    broker.produce_many(topic, good, lambda i: json.dumps({"id": i, "pad": "x" * 40}).encode())
    (_, bad_offset), = broker.produce(topic, [b'{"id": "not a number"}'])
    return bad_offset


@pytest.mark.parametrize("fmt", ["RowBinaryWithNamesAndTypes", "RowBinary"])
def test_failure_half_way_fails_the_insert(broker, clickhouse, bridge, fmt):
    """Rows were already streamed when the bad message comes: with default
    settings ClickHouse must still fail the INSERT, and what it kept is a
    gap-free prefix of the partition (the next run resumes after it)."""
    topic = unique("half")
    bad = produce_good_then_bad(broker, topic, 50_000)
    cols = "id UInt64, pad String, _offset UInt64"
    table = make_table(clickhouse, cols)
    err = insert_fails(clickhouse, table,
                       bridge_sql(broker.bootstrap, topic, cols, "--flush-interval", "1", fmt=fmt))
    assert "Cannot read all data" in err or "ATTEMPT_TO_READ_AFTER_EOF" in err
    count, low, high, distinct = clickhouse.rows(
        f"SELECT count(), min(_offset), max(_offset), uniqExact(_offset) FROM {table}")[0]
    assert int(count) < bad
    if int(count):
        assert (int(low), int(high), int(distinct)) == (0, int(count) - 1, int(count))


def test_trust_exit_code_shows_the_cause(broker, clickhouse, bridge):
    """With check_exit_code = 1 and stderr_reaction = 'log_last' the user
    can ask for a valid stream and get the bridge's line as the error."""
    topic = unique("exit")
    bad = produce_good_then_bad(broker, topic, 20_000)
    cols = "id UInt64, pad String"
    table = make_table(clickhouse, cols)
    err = insert_fails(clickhouse, table, bridge_sql(
        broker.bootstrap, topic, cols, "--flush-interval", "1", "--trust-exit-code",
        settings="check_exit_code = 1, stderr_reaction = 'log_last'"))
    assert (f"kafka-bridge: topic '{topic}' partition 0 offset {bad}: column 'id': "
            f"expected an integer, got \"not a number\"") in err


def test_one_byte_rows_fail_by_timeout(broker, clickhouse, bridge):
    """No prefix of a UInt8-only row is incomplete, so the bridge holds the
    pipe silent and ClickHouse's read timeout fails the query."""
    topic = unique("onebyte")
    broker.create_topic(topic, 1)
    broker.produce(topic, [b'{"flag": 1}', b'{"flag": 2}', b'{"flag": 999}'])
    table = make_table(clickhouse, "flag UInt8")
    err = insert_fails(clickhouse, table, bridge_sql(
        broker.bootstrap, topic, "flag UInt8", "--flush-interval", "1", fmt="RowBinary",
        settings="command_read_timeout = 1500"))
    assert "timeout" in err.lower()


def test_deliberate_differences_from_clickhouse(broker, clickhouse, bridge):
    """Where ClickHouse's JSONEachRow would store a surprising value, the
    bridge does something else on purpose (README, "Column types and JSON")."""
    topic = unique("differs")
    broker.create_topic(topic, 1)
    broker.produce(topic, [b'{"t": 1700000000, "d": 1700000000}'])
    cols = "t DateTime64(3, 'UTC')"
    # A JSON number is Unix seconds for the bridge; ClickHouse reads it as
    # a count of the column's ticks (here milliseconds, so 1970-01-20).
    assert clickhouse.rows(f"SELECT toString(t) FROM {bridge_sql(broker.bootstrap, topic, cols)}") == [
        ("2023-11-14 22:13:20.000",)]
    assert clickhouse.rows(f"SELECT toString(t) FROM format(JSONEachRow, '{sql_quote(cols)}', "
                           "'{\"t\": 1700000000}')") == [("1970-01-20 16:13:20.000",)]
    # A day number beyond Date's range wraps in ClickHouse; it is an error here.
    assert clickhouse.rows("SELECT toString(d) FROM format(JSONEachRow, 'd Date', "
                           "'{\"d\": 1700000000}')") == [("2138-12-02",)]
    table = make_table(clickhouse, "d Date")
    err = insert_fails(clickhouse, table, bridge_sql(broker.bootstrap, topic, "d Date"))
    assert (f"topic '{topic}' partition 0 offset 0: column 'd': expected a date in "
            f"1970-01-01..2149-06-06, got \"1700000000\"") in err
    assert clickhouse.value(f"SELECT count() FROM {table}") == "0"
