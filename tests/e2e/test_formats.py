"""MessagePack, raw and lines messages, and columns from the key,
differentially: ClickHouse's own readers are the oracles.

  msgpack-positional  the same bytes read by ClickHouse's MsgPack input
                      format (messages concatenated: a stream of rows);
  msgpack (map shape) the same records written as JSON and read by
                      JSONEachRow, as test_types.py does for JSON itself;
  raw, lines          the same values read by RawBLOB and LineAsString.

The rules and every deliberate difference are in docs/msgpack-rules.md;
each difference has a case in test_msgpack_difference, and each refusal
where ClickHouse would store something else one in test_msgpack_never_silent.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
import uuid

import msgpack
import pytest

from harness.clickhouse import ClickHouseError
from harness.scripts import scratch_dir, user_scripts_dir
from test_types import (CORPORA, JSON_SETTINGS, Gen, assert_same_tables, make_table, produce, sql_quote,
                        structure, through_clickhouse, unique)


@pytest.fixture(scope="module")
def ch(clickhouse):
    clickhouse.query("SET allow_suspicious_low_cardinality_types = 1")
    return clickhouse


def pipeline(broker, topic: str, columns: list[str], fmt: str, extra: str = "") -> str:
    name = unique("formats")
    conf_dir = user_scripts_dir() / "kafka-bridge.d"
    conf_dir.mkdir(exist_ok=True)
    (conf_dir / f"{name}.conf").write_text(
        f"brokers = {broker.bootstrap}\ntopic = {topic}\nformat = {fmt}\n{extra}"
        "columns = " + ",\n    ".join(columns) + "\n")
    return (f"executable('kafka-bridge --pipeline {name}', 'RowBinaryWithNamesAndTypes', "
            f"'{sql_quote(structure(columns))}')")


def through_bridge(ch, broker, columns: list[str], messages: list, fmt: str, extra: str = "") -> str:
    table = make_table(ch, columns)
    topic = produce(broker, messages)
    ch.query(f"INSERT INTO {table} SELECT * FROM {pipeline(broker, topic, columns, fmt, extra)}")
    return table


def from_file(ch, columns: list[str], data: bytes, fmt: str, settings: str = "") -> str:
    table = make_table(ch, columns)
    path = scratch_dir() / f"{table}.data"
    path.write_bytes(data)
    ch.query(f"INSERT INTO {table} SELECT * FROM file('{path}', {fmt}, '{sql_quote(structure(columns))}')"
             + (f" SETTINGS {settings}" if settings else ""))
    return table


def bridge_error(ch, broker, columns: list[str], message: bytes, fmt: str) -> str | None:
    table = make_table(ch, columns)
    topic = produce(broker, [message])
    try:
        ch.query(f"INSERT INTO {table} SELECT * FROM {pipeline(broker, topic, columns, fmt)}")
    except ClickHouseError as e:
        return e.message.replace("\\'", "'")
    return None


# ---- the map shape: JSON's records as MessagePack maps -------------------------

def packable(v):
    """The record with integers MessagePack cannot hold (beyond 64 bits)
    written as their digits, as a JSON producer's string."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return v if -2**63 <= v < 2**64 else str(v)
    if isinstance(v, list):
        return [packable(x) for x in v]
    if isinstance(v, dict):
        return {k: packable(x) for k, x in v.items()}
    return v


def finite(v) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, list):
        return all(finite(x) for x in v)
    if isinstance(v, dict):
        return all(finite(x) for x in v.values())
    return True


class Lossy(Exception):
    pass


def exact_float(text: str) -> float:
    """A JSON number as a float, refusing those a float cannot carry (a
    Decimal's 18 digits, say): the record would change on the way."""
    import decimal
    f = float(text)
    if math.isfinite(f) and decimal.Decimal(repr(f)) != decimal.Decimal(text):
        raise Lossy(text)
    return f


def records_of(columns: list[str], lines: list[bytes]) -> list[dict]:
    """The corpus lines that are records MessagePack can carry: valid
    UTF-8 JSON objects with finite numbers, and no object or array in a
    String column (JSON keeps its text there, MessagePack has no text of
    it; docs/msgpack-rules.md)."""
    def base(t: str) -> str:
        while t.startswith(("Nullable(", "LowCardinality(")):
            t = t[t.index("(") + 1:-1]
        return t
    strings = {c.split()[0] for c in columns if base(c.split(None, 1)[1]) == "String"}
    out = []
    for raw in lines:
        try:
            rec = json.loads(raw.decode("utf-8"), parse_float=exact_float)
        except (UnicodeDecodeError, ValueError, Lossy):
            continue
        if not finite(rec) or any(isinstance(rec.get(s), (list, dict)) for s in strings):
            continue
        out.append(packable(rec))
    return out


def map_shape_case(ch, broker, columns: list[str], records: list[dict], context: str = "") -> None:
    ours = through_bridge(ch, broker, columns, [msgpack.packb(r) for r in records], "msgpack")
    theirs = through_clickhouse(ch, columns, [json.dumps(r, ensure_ascii=False).encode() for r in records])
    assert_same_tables(ch, ours, theirs, len(records), context)


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_msgpack_map_matches_jsoneachrow(broker, ch, bridge, corpus):
    columns, lines = CORPORA[corpus]
    records = records_of(columns, lines)
    assert len(records) >= len(lines) // 2, "most of the corpus must carry over"
    map_shape_case(ch, broker, columns, records)


SEEDS = [int(s) for s in os.environ.get("MSGPACK_SEEDS", "11,12,13").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
def test_msgpack_map_random_columns(broker, ch, bridge, seed):
    r = random.Random(seed)
    gen = Gen(r)
    cols = [gen.column() for _ in range(r.randint(3, 8))]
    columns = ["id UInt32"] + [f"c{i} {t}" for i, (t, _, _) in enumerate(cols)]
    records = []
    for row in range(120):
        body = {"id": row}
        for i, (_, value, nullable) in enumerate(cols):
            roll = r.random()
            if roll < 0.05:
                continue
            body[f"c{i}"] = None if roll < 0.08 and nullable else value()
        records.append(packable(body))
    map_shape_case(ch, broker, columns, records, f"seed {seed}, columns {columns}: ")


# ---- the positional shape: ClickHouse's MsgPack on the same bytes --------------

def f32(x: float) -> bytes:
    return b"\xca" + struct.pack(">f", x)


def le(v: int, n: int) -> bytes:
    return (v % (1 << (8 * n))).to_bytes(n, "little")


def row(*values) -> bytes:
    """One message: the values packed one after another; bytes objects are
    taken as already packed (a float32, say)."""
    return b"".join(v if isinstance(v, bytes) else msgpack.packb(v) for v in values)


def binv(b: bytes) -> bytes:
    return msgpack.packb(b, use_bin_type=True)


POSITIONAL = {
    "integers": (["id UInt32", "i8 Int8", "i16 Int16", "i32 Int32", "i64 Int64", "u8 UInt8", "u16 UInt16",
                  "u32 UInt32", "u64 UInt64", "b Bool", "n Nullable(Int64)", "lc LowCardinality(UInt64)"],
                 [row(1, -128, -32768, -2**31, -2**63, 0, 0, 0, 0, False, None, 0),
                  row(2, 127, 32767, 2**31 - 1, 2**63 - 1, 255, 65535, 2**32 - 1, 2**64 - 1, True, -5, 2**64 - 1),
                  row(3, 0, -1, 1, -1, 7, 300, 70000, 2**40, True, 2**62, None)]),
    "floats": (["id UInt32", "f32 Float32", "f64 Float64", "nf Nullable(Float64)", "lf LowCardinality(Float64)"],
               [row(1, f32(1.5), 1.7976931348623157e308, None, 0.1),
                row(2, f32(-3.4028234e38), -0.0, 5e-324, -1e-300),
                row(3, f32(float("inf")), float("-inf"), float("nan"), 2.5)]),
    "strings_and_bytes": (["id UInt32", "s String", "fs FixedString(4)", "ns Nullable(String)",
                           "lc LowCardinality(String)", "e8 Enum8('a' = -128, 'b' = 0, 'c' = 127)",
                           "e16 Enum16('x' = -32768, 'y' = 1000)", "u UUID", "ip4 IPv4", "ip6 IPv6",
                           "i128 Int128", "u256 UInt256", "d30 Decimal(30, 2)"],
                          [row(1, "", "", None, "", -128, -32768, "00000000-0000-0000-0000-000000000000", 0,
                               binv(bytes(16)), binv(le(-1, 16)), binv(le(2**256 - 1, 32)), binv(le(-12345, 16))),
                           row(2, "caf\u00e9 \U0001F600", "ab", "x", "\u00e9", 127, 1000,
                               "61f0c404-5cb3-11e7-907b-a6006ad3dba0", 0xC0A80001,
                               binv(bytes(range(16))), binv(le(2**127 - 1, 16)), binv(le(12345678901234567890, 32)),
                               binv(le(10**29, 16))),
                           row(3, binv(b"raw\xff\x00bytes"), binv(b"\x00\xff"), "", "z", 0, -32768,
                               "61F0C4045CB311E7907BA6006AD3DBA0", 0xFFFFFFFF, binv(b"\xff" * 16),
                               binv(le(-2**127, 16)), binv(bytes(32)), binv(le(0, 16)))]),
    "dates_times_decimals": (["id UInt32", "d Date", "d32 Date32", "dt DateTime('UTC')",
                              "dt64 DateTime64(3, 'UTC')", "d6 DateTime64(6, 'Europe/Berlin')",
                              "dec9 Decimal(9, 2)", "dec18 Decimal(18, 4)", "nd Nullable(Date)"],
                             [row(1, 0, -25567, 0, 0, -2208988800 * 10**6, 0, 0, None),
                              row(2, 65535, 120529, 2**32 - 1, 1700000000123, 1700000000123456,
                                  999999999, -999999999999999999, 19000),
                              row(3, 19000, -1, 1700000000, -1, 10413791999 * 10**6, -12345, 123456789, 0)]),
    "arrays_maps_tuples": (["id UInt32", "a Array(Int32)", "aa Array(Array(String))", "an Array(Nullable(UInt8))",
                            "m Map(String, UInt64)", "mk Map(UInt16, Array(String))",
                            "t Tuple(a UInt8, b String)", "tu Tuple(UInt8, Nullable(String))"],
                           [row(1, [], [], [], {}, {}, [0, ""], [0, None]),
                            row(2, [-2**31, 2**31 - 1], [["a", ""], [], ["\u00e9"]], [None, 1, 255],
                                {"k": 1, "": 2**64 - 1}, {0: ["x"], 65535: []}, [255, "y"], [7, "z"]),
                            row(3, list(range(200)), [["x"] * 130], [None] * 140,
                                {f"k{i}": i for i in range(150)}, {7: ["p", "q"]}, [1, "s"], [2, None])]),
}


@pytest.mark.parametrize("corpus", sorted(POSITIONAL))
def test_msgpack_positional_matches_clickhouse(broker, ch, bridge, corpus):
    columns, messages = POSITIONAL[corpus]
    ours = through_bridge(ch, broker, columns, messages, "msgpack-positional")
    theirs = from_file(ch, columns, b"".join(messages), "MsgPack")
    assert_same_tables(ch, ours, theirs, len(messages))


def test_msgpack_positional_random(broker, ch, bridge):
    """Random integer, float, string and array columns, values in range."""
    r = random.Random(5)
    kinds = [("Int8", lambda: r.randint(-128, 127)), ("UInt16", lambda: r.randint(0, 65535)),
             ("Int64", lambda: r.randint(-2**63, 2**63 - 1)), ("UInt64", lambda: r.randint(0, 2**64 - 1)),
             ("Float64", lambda: r.uniform(-1e300, 1e300)), ("String", lambda: uuid.UUID(int=r.getrandbits(128)).hex),
             ("Array(Int32)", lambda: [r.randint(-2**31, 2**31 - 1) for _ in range(r.randint(0, 5))]),
             ("Nullable(UInt32)", lambda: None if r.random() < 0.3 else r.randint(0, 2**32 - 1)),
             ("Date", lambda: r.randint(0, 65535)), ("DateTime('UTC')", lambda: r.randint(0, 2**32 - 1))]
    cols = [r.choice(kinds) for _ in range(8)]
    columns = ["id UInt32"] + [f"c{i} {t}" for i, (t, _) in enumerate(cols)]
    messages = [row(i, *[make() for _, make in cols]) for i in range(150)]
    ours = through_bridge(ch, broker, columns, messages, "msgpack-positional")
    theirs = from_file(ch, columns, b"".join(messages), "MsgPack")
    assert_same_tables(ch, ours, theirs, len(messages), f"columns {columns}: ")


# (columns, message, format, the bridge's error): ClickHouse's MsgPack
# stores something else (a wrapped or unchecked value); the bridge refuses.
NEVER_SILENT = {
    "UInt8 wraps in ClickHouse": (["x UInt8"], row(300), "msgpack-positional",
                                  "value 300 is out of range for UInt8"),
    "negative into UInt32": (["x UInt32"], row(-1), "msgpack-positional", "value -1 is out of range for UInt32"),
    "Date beyond 2149": (["x Date"], row(70000), "msgpack-positional", "expected a date in 1970-01-01..2149-06-06"),
    "Enum value that is no element": (["x Enum8('a' = 1)"], row(2), "msgpack-positional",
                                      "2 is not an element of the Enum"),
    "Bool from 2": (["x Bool"], row(2), "msgpack-positional", "expected 0 or 1, got 2"),
    "DateTime64 ticks past 2299": (["x DateTime64(3, 'UTC')"], row(10413792000 * 1000), "msgpack-positional",
                                   "expected a time in 1900-01-01..2299-12-31 UTC"),
    "Decimal digits beyond the precision": (["x Decimal(9, 2)"], row(10**9), "msgpack-positional",
                                            "value 10000000.00 does not fit Decimal(9, 2)"),
    "FixedString too long": (["x FixedString(2)"], row("abc"), "msgpack-positional",
                             "a string of 3 bytes is too long for FixedString(2)"),
    "too few values": (["x UInt8", "y UInt8"], row(1), "msgpack-positional",
                       "expected 2 MessagePack values (one per column), got 1"),
    "truncated value": (["x String"], b"\xa5abc", "msgpack-positional", "the value ends early"),
    "a count larger than the message": (["x Array(UInt8)"], b"\xdd\xff\xff\xff\xff\x01", "msgpack-positional",
                                        "a container declares more elements than the message holds"),
    "map shape needs a map": (["x UInt8"], row([1]), "msgpack", "expected a MessagePack map, got an array"),
    "map shape out of range": (["x Int8"], row({"x": 128}), "msgpack", "value 128 is out of range for Int8"),
}


@pytest.mark.parametrize("name", sorted(NEVER_SILENT))
def test_msgpack_never_silent(broker, ch, bridge, name):
    columns, message, fmt, expected = NEVER_SILENT[name]
    err = bridge_error(ch, broker, columns, message, fmt)
    assert err is not None and expected in err, err
    assert "partition 0 offset 0" in err, err


def test_msgpack_difference(broker, ch, bridge):
    """What ClickHouse's MsgPack refuses and the bridge reads (documented in
    docs/msgpack-rules.md): the timestamp extension, and text for dates."""
    ts = msgpack.packb(msgpack.Timestamp(1700000000, 123456789))
    columns = ["id UInt32", "t DateTime64(9, 'UTC')", "d Date", "u DateTime('UTC')"]
    message = row(1, ts, "2024-02-29", ts)
    with pytest.raises(ClickHouseError):
        from_file(ch, columns, message, "MsgPack")
    table = through_bridge(ch, broker, columns, [message], "msgpack-positional")
    assert ch.rows(f"SELECT toString(t), toString(d), toString(u) FROM {table}") == [
        ("2023-11-14 22:13:20.123456789", "2024-02-29", "2023-11-14 22:13:20")]


# ---- raw and lines ------------------------------------------------------------

RAW_VALUES = [b"", b"plain", b"two\nlines\n", b"\x00\xff binary \r\n", b"x" * 70000, b"a\n\nb", b"\n"]


def test_raw_matches_rawblob(broker, ch, bridge):
    columns = ["v String", "_offset UInt64"]
    ours = through_bridge(ch, broker, columns, RAW_VALUES, "raw")
    got = [v for v, in ch.rows(f"SELECT 'h' || hex(v) FROM {ours} ORDER BY _offset")]
    oracle = []
    for v in RAW_VALUES:
        t = from_file(ch, ["v String"], v, "RawBLOB")
        # An empty message is still a message: one row with '' (RawBLOB
        # reads an empty file as no rows).
        oracle.append(ch.value(f"SELECT 'h' || hex(v) FROM {t}") if v else "h")
    assert got == oracle


def test_lines_matches_lineasstring(broker, ch, bridge):
    columns = ["line String", "_offset UInt64"]
    ours = through_bridge(ch, broker, columns, RAW_VALUES, "lines")
    got = ch.rows(f"SELECT _offset, 'h' || hex(line) FROM {ours}")
    oracle = []
    for i, v in enumerate(RAW_VALUES):
        t = from_file(ch, ["line String"], v, "LineAsString")
        oracle += [(str(i), h) for h, in ch.rows(f"SELECT 'h' || hex(line) FROM {t}")]
    assert sorted(got) == sorted(oracle)


# ---- columns from the key ----------------------------------------------------------

def test_key_format_json_with_msgpack_value(broker, ch, bridge):
    """A CDC-like topic: the key carries the id, the value the fields."""
    messages = [(None, json.dumps({"id": i, "region": "eu"}).encode(), msgpack.packb({"name": f"n{i}", "n": i}))
                for i in range(3)]
    columns = ["id UInt64 PATH '$key.id'", "region String PATH '$key.region'", "name String", "n Int32"]
    table = through_bridge(ch, broker, columns, messages, "msgpack", "key-format = json\n")
    assert ch.rows(f"SELECT id, region, name, n FROM {table} ORDER BY id") == [
        ("0", "eu", "n0", "0"), ("1", "eu", "n1", "1"), ("2", "eu", "n2", "2")]


def test_key_format_needed(broker, ch, bridge):
    err = bridge_error(ch, broker, ["id UInt64 PATH '$key.id'"], b"{}", "json")
    assert err is not None and "reads the message key, which needs --key-format" in err, err
