"""Native output (-O Native), differentially: the same topic read through
RowBinaryWithNamesAndTypes and through Native must store the same rows,
for every type the bridge writes; and a failed run must fail the INSERT
under default settings, as in RowBinary.
"""

from __future__ import annotations

import json
import random

import pytest

from harness.scripts import user_scripts_dir
from test_bridge import bridge_sql, insert_fails, make_table, produce_good_then_bad, unique
from test_types import Gen, line, sql_quote, structure

# A column of every kind the bridge writes, nested ones included.
EVERY_TYPE = [
    "id UInt32", "i8 Int8", "i16 Int16", "i32 Int32", "i64 Int64", "u8 UInt8", "u16 UInt16", "u64 UInt64",
    "i128 Int128", "i256 Int256", "u128 UInt128", "u256 UInt256", "f32 Float32", "f64 Float64",
    "bf BFloat16", "b Bool", "d9 Decimal(9, 2)", "d18 Decimal(18, 4)", "d38 Decimal(38, 10)",
    "d76 Decimal(76, 20)", "s String", "fs FixedString(3)", "u UUID", "ip4 IPv4", "ip6 IPv6",
    "e Enum8('a' = -1, 'b' = 5)", "e16 Enum16('x' = 1000, 'y' = -3)", "dt Date", "d32 Date32",
    "t DateTime('Europe/Berlin')", "t64 DateTime64(9, 'UTC')", "t3 DateTime64(3)",
    "n Nullable(Int32)", "ns Nullable(String)", "nfs Nullable(FixedString(2))",
    "lc LowCardinality(String)", "lcn LowCardinality(Nullable(String))", "lcu LowCardinality(UInt32)",
    "a Array(Nullable(UInt8))", "as Array(String)", "aa Array(Array(Int16))",
    "alc Array(LowCardinality(String))",
    "m Map(String, Array(Int16))", "mlc Map(LowCardinality(String), Nullable(UInt64))",
    "tu Tuple(x UInt8, y Tuple(p String, q Date))", "tp Tuple(UInt8, String, Array(UInt32))",
    "ne Nested(k String, v Float64)",
    "_topic LowCardinality(String)", "_partition UInt32", "_offset UInt64", "_key Nullable(String)",
    "_timestamp DateTime64(3, 'UTC')",
]


def every_type_value(r: random.Random, i: int) -> dict:
    def maybe(v):
        return None if r.random() < 0.3 else v
    s = "".join(r.choice("ab\u00e9\u20ac \"\\\n") for _ in range(r.randint(0, 9)))
    return {
        "id": i, "i8": r.randint(-128, 127), "i16": r.randint(-32768, 32767), "i32": r.randint(-2**31, 2**31 - 1),
        "i64": r.randint(-2**63, 2**63 - 1), "u8": r.randint(0, 255), "u16": r.randint(0, 65535),
        "u64": str(r.randint(0, 2**64 - 1)), "i128": str(r.randint(-2**127, 2**127 - 1)),
        "i256": str(r.randint(-2**255, 2**255 - 1)), "u128": str(r.randint(0, 2**128 - 1)),
        "u256": str(r.randint(0, 2**256 - 1)), "f32": r.uniform(-1e6, 1e6), "f64": r.uniform(-1e30, 1e30),
        "bf": r.uniform(-100, 100), "b": r.random() < 0.5, "d9": f"{r.randint(-9999999, 9999999) / 100:.2f}",
        "d18": f"{r.randint(-10**13, 10**13)}.{r.randint(0, 9999):04d}",
        "d38": f"{r.randint(-10**27, 10**27)}.{r.randint(0, 10**10 - 1):010d}",
        "d76": f"-{r.randint(0, 10**50)}.{r.randint(0, 10**20 - 1):020d}",
        "s": s, "fs": r.choice(["", "a", "ab", "abc"]), "u": "%032x" % r.getrandbits(128),
        "ip4": ".".join(str(r.randint(0, 255)) for _ in range(4)),
        "ip6": ":".join(f"{r.getrandbits(16):x}" for _ in range(8)),
        "e": r.choice(["a", "b"]), "e16": r.choice(["x", "y"]),
        "dt": f"20{r.randint(0, 99):02d}-0{r.randint(1, 9)}-1{r.randint(0, 9)}",
        "d32": f"19{r.randint(0, 99):02d}-12-3{r.randint(0, 1)}",
        "t": f"2024-03-31 0{r.randint(0, 9)}:30:00", "t64": f"2261-12-31T23:59:59.{r.randint(0, 10**9 - 1):09d}Z",
        "t3": r.randint(10**12, 2 * 10**12),
        "n": maybe(r.randint(-5, 5)), "ns": maybe(s), "nfs": maybe(r.choice(["", "x", "yz"])),
        "lc": r.choice(["red", "green", "", s]), "lcn": maybe(r.choice(["p", "q"])), "lcu": r.randint(0, 3),
        "a": [maybe(r.randint(0, 255)) for _ in range(r.choice([0, 1, 3, 130]))],
        "as": [s] * r.randint(0, 3),
        "aa": [[r.randint(-9, 9) for _ in range(r.randint(0, 3))] for _ in range(r.randint(0, 3))],
        "alc": [r.choice(["k", "l", ""]) for _ in range(r.randint(0, 4))],
        "m": {f"k{j}": [j] * j for j in range(r.randint(0, 4))},
        "mlc": {f"z{j}": maybe(j) for j in range(r.randint(0, 3))},
        "tu": {"x": r.randint(0, 255), "y": {"p": s, "q": "2020-02-29"}},
        "tp": [r.randint(0, 9), s, [r.randint(0, 9)] * r.randint(0, 4)],
        "ne": [{"k": f"n{j}", "v": j / 3} for j in range(r.randint(0, 3))],
    }


def pipeline_file(broker, topic: str, columns: list[str], extra: str = "") -> str:
    name = unique("native")
    conf_dir = user_scripts_dir() / "kafka-bridge.d"
    conf_dir.mkdir(exist_ok=True)
    (conf_dir / f"{name}.conf").write_text(
        f"brokers = {broker.bootstrap}\ntopic = {topic}\n{extra}"
        "columns = " + ",\n    ".join(columns) + "\n")
    return name


def source(name: str, columns: list[str], fmt: str) -> str:
    flag = " -O Native" if fmt == "Native" else ""
    return f"executable('kafka-bridge --pipeline {name}{flag}', '{fmt}', '{sql_quote(structure(columns))}')"


def assert_both_formats_store_the_same(ch, broker, columns: list[str], lines, keys=None) -> None:
    topic = unique("native")
    broker.create_topic(topic, 2)
    broker.produce(topic, [(i % 2, keys[i] if keys else None, v) for i, v in enumerate(lines)])
    name = pipeline_file(broker, topic, columns)
    tables = {}
    for fmt in ("RowBinaryWithNamesAndTypes", "Native"):
        tables[fmt] = make_table(ch, structure(columns))
        ch.query(f"INSERT INTO {tables[fmt]} SELECT * FROM {source(name, columns, fmt)}")
    rb, nat = tables["RowBinaryWithNamesAndTypes"], tables["Native"]
    assert ch.value(f"SELECT count() FROM {rb}") == str(len(lines))
    assert ch.value(f"SELECT count() FROM {nat}") == str(len(lines))
    mine = ch.query(f"SELECT * FROM {nat} ORDER BY id FORMAT TSV").splitlines()
    theirs = ch.query(f"SELECT * FROM {rb} ORDER BY id FORMAT TSV").splitlines()
    for a, b in zip(mine, theirs):
        assert a == b, f"Native:\n{a[:3000]}\nRowBinary:\n{b[:3000]}"
    for a, b in ((rb, nat), (nat, rb)):
        assert ch.rows(f"SELECT * FROM {a} EXCEPT SELECT * FROM {b}") == []
    # The stored types are the table's, LowCardinality included.
    assert ch.rows(f"SELECT name, type FROM system.columns WHERE table = '{nat}' ORDER BY position") == \
        ch.rows(f"SELECT name, type FROM system.columns WHERE table = '{rb}' ORDER BY position")


@pytest.fixture(scope="module")
def ch(clickhouse):
    clickhouse.query("SET allow_suspicious_low_cardinality_types = 1")
    return clickhouse


def test_every_type_stores_the_same_rows(broker, ch, bridge):
    r = random.Random(8)
    lines, keys = [], []
    for i in range(400):
        v = every_type_value(r, i)
        for k in list(v):
            if k != "id" and r.random() < 0.05:
                del v[k]  # missing: the default
        lines.append(line(v))
        keys.append(None if i % 3 == 0 else f"key{i}".encode())
    assert_both_formats_store_the_same(ch, broker, EVERY_TYPE, lines, keys)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_columns_store_the_same_rows(broker, ch, bridge, seed):
    r = random.Random(seed)
    gen = Gen(r)
    cols = [gen.column() for _ in range(r.randint(4, 9))]
    columns = ["id UInt32"] + [f"c{i} {t}" for i, (t, _, _) in enumerate(cols)]
    lines = []
    for row in range(200):
        body = {"id": row}
        for i, (_, value, nullable) in enumerate(cols):
            roll = r.random()
            if roll < 0.05:
                continue
            body[f"c{i}"] = None if roll < 0.1 and nullable else value()
        lines.append(json.dumps(body).encode())
    assert_both_formats_store_the_same(ch, broker, columns, lines)


def test_many_blocks_store_the_same_rows(broker, ch, bridge):
    """Rows past the byte bound of a block (1 MiB) go on in the next
    blocks: three and more here."""
    r = random.Random(5)
    columns = ["id UInt32", "pad String", "tags Array(LowCardinality(String))", "n Nullable(UInt16)"]
    lines = [line({"id": i, "pad": "p" * r.randint(500, 1500), "tags": ["a", "b"][: i % 3],
                   "n": None if i % 4 == 0 else i % 65536}) for i in range(5000)]
    assert_both_formats_store_the_same(ch, broker, columns, lines)


# ---- the failure contract -------------------------------------------------

def native_sql(broker, topic: str, cols: str, *flags: str, settings: str = "") -> str:
    return bridge_sql(broker.bootstrap, topic, cols, "-O", "Native", *flags, fmt="Native", settings=settings)


@pytest.mark.parametrize("fmt", ["json", "lines"])
def test_error_rows_between_good_ones_store_the_same_rows(broker, ch, bridge, fmt):
    # Native rows go straight into the columns; error rows (--on-error
    # stream) come as RowBinary and are split into them in between, and a
    # message refused half-way (a bad line after a good one) leaves nothing.
    if fmt == "json":
        columns = ["id UInt32", "v UInt8", "n Nullable(String)", "a Array(UInt16)", "_offset UInt64",
                   "_error String", "_raw String"]
        r = random.Random(11)
        values = []
        for i in range(3000):
            if i % 7 == 3:
                values.append(b'{"id": %d, "v": 300}' % i)
            elif i % 11 == 5:
                values.append(b'{"id": %d, "a": [1, 2, "x"]}' % i)
            else:
                values.append(json.dumps({"id": i, "v": r.randint(0, 255), "n": r.choice([None, "s" * (i % 5)]),
                                          "a": [i % 9] * (i % 4)}).encode())
    else:
        columns = ["v FixedString(2)", "_offset UInt64", "_error String", "_raw String"]
        values = [b"ab\ncd", b"x", b"ok\ntoo long", b"\n\nzz", b"", b"abc"] * 300
    topic = unique("native")
    broker.create_topic(topic, 2)
    broker.produce(topic, [(i % 2, None, v) for i, v in enumerate(values)])
    name = pipeline_file(broker, topic, columns, f"format = {fmt}\non-error = stream\n")
    tables = {}
    for out in ("RowBinaryWithNamesAndTypes", "Native"):
        tables[out] = make_table(ch, structure(columns))
        ch.query(f"INSERT INTO {tables[out]} SELECT * FROM {source(name, columns, out)}")
    rb, nat = tables["RowBinaryWithNamesAndTypes"], tables["Native"]
    assert int(ch.value(f"SELECT countIf(_error != '') FROM {nat}")) > 0
    assert int(ch.value(f"SELECT countIf(_error = '') FROM {nat}")) > 0
    every = ", ".join(c.split()[0] for c in columns)
    mine = ch.query(f"SELECT * FROM {nat} ORDER BY {every} FORMAT TSV")
    theirs = ch.query(f"SELECT * FROM {rb} ORDER BY {every} FORMAT TSV")
    assert mine == theirs


def test_failure_before_any_row_names_the_cause(broker, ch, bridge):
    topic = unique("nbad")
    broker.create_topic(topic, 1)
    broker.produce(topic, [json.dumps({"id": 1, "small": 7}).encode(),
                           json.dumps({"id": 2, "small": 300}).encode()])
    cols = "id UInt64, small UInt8"
    table = make_table(ch, cols)
    err = insert_fails(ch, table, native_sql(broker, topic, cols))
    assert f"topic '{topic}' partition 0 offset 1: column 'small': value 300 is out of range for UInt8" in err
    assert ch.value(f"SELECT count() FROM {table}") == "0"


def test_startup_failure_names_the_cause(ch, bridge):
    cols = "id UInt64, name String"
    table = make_table(ch, cols)
    err = insert_fails(ch, table, native_sql(type("B", (), {"bootstrap": "127.0.0.1:1"}), "nowhere", cols,
                                             "--timeout", "1000"))
    assert "cannot read metadata of topic 'nowhere' from 127.0.0.1:1" in err
    assert ch.value(f"SELECT count() FROM {table}") == "0"


@pytest.mark.parametrize("cols", ["id UInt64, pad String, _offset UInt64", "flag UInt8, _offset UInt64"])
def test_failure_half_way_fails_the_insert(broker, ch, bridge, cols):
    """Blocks were already streamed when the bad message comes: the INSERT
    still fails with the cause, and what ClickHouse kept is a gap-free
    prefix of the partition.  One-byte columns need no read timeout here,
    unlike RowBinary."""
    topic = unique("nhalf")
    if cols.startswith("flag"):
        broker.create_topic(topic, 1)
        broker.produce_many(topic, 50_000, lambda i: b'{"flag": 1}')
        (_, bad), = broker.produce(topic, [b'{"flag": 999}'])
    else:
        bad = produce_good_then_bad(broker, topic, 50_000)
    table = make_table(ch, cols)
    err = insert_fails(ch, table, native_sql(broker, topic, cols, "--flush-interval", "1"))
    assert f"topic '{topic}' partition 0 offset {bad}: column '" in err
    count, low, high, distinct = ch.rows(
        f"SELECT count(), min(_offset), max(_offset), uniqExact(_offset) FROM {table}")[0]
    assert int(count) < bad
    if int(count):
        assert (int(low), int(high), int(distinct)) == (0, int(count) - 1, int(count))


def test_trust_exit_code_keeps_the_stream_valid(broker, ch, bridge):
    topic = unique("nexit")
    bad = produce_good_then_bad(broker, topic, 20_000)
    cols = "id UInt64, pad String"
    table = make_table(ch, cols)
    err = insert_fails(ch, table, native_sql(
        broker, topic, cols, "--flush-interval", "1", "--trust-exit-code",
        settings="check_exit_code = 1, stderr_reaction = 'log_last'"))
    assert (f"kafka-bridge: topic '{topic}' partition 0 offset {bad}: column 'id': "
            f"expected an integer, got \"not a number\"") in err


def test_native_is_refused_where_rows_are_not_messages(ch, bridge):
    table = make_table(ch, "partition Int32, log_start Int64, log_end Int64, start Int64, lag Int64")
    err = insert_fails(ch, table, "executable('kafka-bridge -b 127.0.0.1:1 -t x --watermarks -O Native', "
                                  "'Native', 'partition Int32, log_start Int64, log_end Int64, start Int64, "
                                  "lag Int64')")
    assert "--output Native is for rows of messages" in err
