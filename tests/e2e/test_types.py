"""Column types, differentially: ClickHouse's own JSONEachRow reader is the
oracle.

Each corpus below is a column list and JSON lines. The lines are produced
to Kafka and ingested through the bridge into one table, and the same bytes
are read by ClickHouse from a file with JSONEachRow into another; the two
tables must be identical, compared with EXCEPT both ways and row by row.
The rules and the deliberate differences are in docs/json-rules.md; each
difference has a case in test_deliberate_difference, and every error the
bridge raises instead of storing something else has one in
test_never_silent.

The randomized test generates column lists and values, and checks the same
way that ClickHouse reads back what was generated.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from pathlib import Path

import pytest

from harness.clickhouse import ClickHouseError
from harness.names import sql_quote, unique
from harness.scripts import scratch_dir, user_scripts_dir

# What the oracle's reading depends on, spelled out (26.7's defaults).
JSON_SETTINGS = ("date_time_input_format = 'best_effort', input_format_null_as_default = 1, "
                 "input_format_skip_unknown_fields = 1, input_format_json_read_objects_as_strings = 1, "
                 "input_format_json_read_numbers_as_strings = 1, input_format_json_read_bools_as_strings = 1, "
                 "input_format_json_read_arrays_as_strings = 1, input_format_json_named_tuples_as_objects = 1, "
                 "input_format_json_defaults_for_missing_elements_in_named_tuple = 1, "
                 "input_format_json_ignore_unknown_keys_in_named_tuple = 1, "
                 "input_format_json_throw_on_bad_escape_sequence = 1, input_format_import_nested_json = 0, "
                 "input_format_json_empty_as_default = 0")


@pytest.fixture(scope="module")
def ch(clickhouse):
    clickhouse.query("SET allow_suspicious_low_cardinality_types = 1")
    return clickhouse


def structure(columns: list[str]) -> str:
    """The executable() structure: the column list without any PATH."""
    return ", ".join(c.split(" PATH ")[0] for c in columns)


def pipeline(broker, topic: str, columns: list[str]) -> str:
    """A pipeline file for the bridge (the column list has quotes and spaces
    that no command line carries portably) and the executable() call
    that runs it."""
    name = unique("types")
    conf_dir = user_scripts_dir() / "kafka-bridge.d"
    conf_dir.mkdir(exist_ok=True)
    (conf_dir / f"{name}.conf").write_text(
        f"brokers = {broker.bootstrap}\ntopic = {topic}\n"
        "columns = " + ",\n    ".join(columns) + "\n")
    return (f"executable('kafka-bridge --pipeline {name}', 'RowBinaryWithNamesAndTypes', "
            f"'{sql_quote(structure(columns))}')")


def make_table(ch, columns: list[str]) -> str:
    name = unique("t")
    ch.query(f"CREATE TABLE {name} ({structure(columns)}) ENGINE = MergeTree ORDER BY tuple()")
    return name


def produce(broker, lines: list[bytes]) -> str:
    topic = unique("types")
    broker.create_topic(topic, 1)
    broker.produce(topic, lines)
    return topic


def through_bridge(ch, broker, columns: list[str], lines: list[bytes]) -> str:
    table = make_table(ch, columns)
    topic = produce(broker, lines)
    ch.query(f"INSERT INTO {table} SELECT * FROM {pipeline(broker, topic, columns)}")
    return table


def through_clickhouse(ch, columns: list[str], lines: list[bytes]) -> str:
    """ClickHouse's own reading of the same bytes, from a file (a SQL literal
    could not carry invalid UTF-8)."""
    table = make_table(ch, columns)
    path = scratch_dir() / f"{table}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    ch.query(f"INSERT INTO {table} SELECT * FROM file('{path}', JSONEachRow, "
             f"'{sql_quote(structure(columns))}') SETTINGS {JSON_SETTINGS}")
    return table


def assert_same_tables(ch, ours: str, theirs: str, n: int, context: str = "") -> None:
    assert ch.value(f"SELECT count() FROM {ours}") == str(n), context
    assert ch.value(f"SELECT count() FROM {theirs}") == str(n), context
    # Row by row first, which shows the first differing line of each.
    mine = ch.query(f"SELECT * FROM {ours} ORDER BY id FORMAT TSV", "TSV").splitlines()
    oracle = ch.query(f"SELECT * FROM {theirs} ORDER BY id FORMAT TSV", "TSV").splitlines()
    for m, o in zip(mine, oracle):
        assert m == o, f"{context}bridge:\n{m[:3000]}\nClickHouse:\n{o[:3000]}"
    for a, b in ((ours, theirs), (theirs, ours)):
        diff = ch.rows(f"SELECT * FROM {a} EXCEPT SELECT * FROM {b}")
        assert diff == [], f"{context}rows in {a} but not in {b}: {diff[:5]}"


def line(value: dict | str) -> bytes:
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)).encode()


# ---- the corpus ----------------------------------------------------------

INTEGERS = ["id UInt32", "i8 Int8", "i16 Int16", "i32 Int32", "i64 Int64", "i128 Int128", "i256 Int256",
            "u8 UInt8", "u16 UInt16", "u32 UInt32", "u64 UInt64", "u128 UInt128", "u256 UInt256",
            "b Bool", "n Nullable(Int64)", "lc LowCardinality(UInt64)"]
INTEGER_LINES = [
    {"id": 1, "i8": -128, "i16": -32768, "i32": -2**31, "i64": -2**63, "i128": -2**127, "i256": -2**255,
     "u8": 0, "u16": 0, "u32": 0, "u64": 0, "u128": 0, "u256": 0, "b": False, "n": -2**63, "lc": 0},
    {"id": 2, "i8": 127, "i16": 32767, "i32": 2**31 - 1, "i64": 2**63 - 1, "i128": 2**127 - 1,
     "i256": 2**255 - 1, "u8": 255, "u16": 65535, "u32": 2**32 - 1, "u64": 2**64 - 1, "u128": 2**128 - 1,
     "u256": 2**256 - 1, "b": True, "n": 2**63 - 1, "lc": 2**64 - 1},
    {"id": 3, "i8": "-5", "i16": "7", "i128": str(-2**100), "u256": str(3**160), "u64": "18446744073709551615",
     "b": 1, "n": "12"},
    {"id": 4, "i8": True, "u8": False, "i256": True, "b": 0, "n": None, "lc": None},
    '{"id":5,"i32":-0,"u32":0,"i64":"-0","extra":{"x":[1,{"y":null}]},"more":"z"}',
    '{"id" : 6 ,\t"i16"\r:\t-1 , "u16" :\n65535 }',
    '  {"id":7}  ',
    {"id": 8, "i128": 0, "u128": 1, "i8": None, "u8": None, "b": None},
]

FLOATS = ["id UInt32", "f32 Float32", "f64 Float64", "bf BFloat16", "nf Nullable(Float64)",
          "d9 Decimal(9, 4)", "d18 Decimal64(6)", "d38 Decimal128(10)", "d76 Decimal256(20)",
          "dz Decimal(5, 0)", "dn Nullable(Decimal(10, 2))"]
FLOAT_LINES = [
    '{"id":1,"f32":3.4028234e38,"f64":1.7976931348623157e308,"bf":3.3895314e38,"nf":-0.0,'
    '"d9":99999.9999,"d18":999999999999.999999,"d38":"9999999999999999999999999999.9999999999",'
    '"d76":"99999999999999999999999999999999999999999999999999999999.99999999999999999999",'
    '"dz":99999,"dn":-99999999.99}',
    '{"id":2,"f32":-3.4028234e38,"f64":-1.7976931348623157e308,"bf":-1.5,"nf":5e-324,'
    '"d9":-99999.9999,"d18":"-999999999999.999999","d38":-1e27,"d76":"-1e55","dz":-99999,"dn":0}',
    '{"id":3,"f32":1.401298464324817e-45,"f64":2.2250738585072014e-308,"bf":1.01171875,'
    '"d9":1.5e-3,"d18":"1.5E+3","d38":0.000000001,"d76":1e-20,"dz":"1e4","dn":"12.5"}',
    '{"id":4,"f32":1e39,"f64":1e400,"bf":1e-50,"nf":-1e400,"d9":"+0.0000","d18":-0,"d38":"-0.0e5"}',
    '{"id":5,"f32":"nan","f64":"-nan","bf":"inf","nf":"-inf","d9":".5","d18":"5."}',
    '{"id":6,"f32":"inf","f64":"Infinity","bf":"-Infinity","nf":null,"dn":null}',
    '{"id":7,"f32":0.1,"f64":0.1,"bf":0.1,"nf":123456789012345678901234567890,"d9":1.0000}',
    '{"id":8,"f32":"1.5","f64":"-2.5e-3","bf":"65504","nf":"0.30000000000000004"}',
    '{"id":9,"f64":1E+308,"f32":-0,"nf":1.7976931348623157e309}',
    '{"id":10}',
]

STRINGS = ["id UInt32", "s String", "fs FixedString(8)", "ns Nullable(String)", "lc LowCardinality(String)",
           "lcn LowCardinality(Nullable(String))", "e8 Enum8('a' = -128, 'b' = 0, 'it\\'s' = 5, 'c' = 127)",
           "e16 Enum16('x' = -32768, 'y' = 1000, 'z' = 32767)", "u UUID", "ip4 IPv4", "ip6 IPv6",
           "lfs LowCardinality(FixedString(2))", "lu LowCardinality(Nullable(UUID))"]
LONG = "long " * 4000
STRING_LINES = [
    line({"id": 1, "s": "", "fs": "", "ns": "", "lc": "", "lcn": "", "e8": "a", "e16": "x",
          "u": "00000000-0000-0000-0000-000000000000", "ip4": "0.0.0.0", "ip6": "::", "lfs": "", "lu": None}),
    line({"id": 2, "s": "caf\u00e9 \U0001F600 \"q\" \\ / \b\f\n\r\t \u0000 \u001f \u007f \u2028",
          "fs": "12345678", "ns": "x", "lc": "\u00e9", "lcn": "y", "e8": "c", "e16": "z",
          "u": "61f0c404-5cb3-11e7-907b-a6006ad3dba0", "ip4": "255.255.255.255",
          "ip6": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "lfs": "ab",
          "lu": "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"}),
    b'{"id":3,"s":"\\u00e9\\ud83d\\ude00\\/\\"\\\\\\b\\f\\n\\r\\t\\u0041","fs":"\\u00e9\\u00e9","e8":"it\'s",'
    b'"e16":1000,"u":"61F0C4045CB311E7907BA6006AD3DBA0","ip4":"01.02.003.4","ip6":"1.2.3.4"}',
    b'{"id":4,"s":"raw\xff\xfe bytes \xc3\x28 and \xed\xa0\x80","fs":"\xff\xfe","ns":"\\udc00 lone low"}',
    b'{"id":5,"s":"tab\there","ns":"a\x01b","e8":5,"e16":"32767","ip6":"2001:db8::ff00:42:8329"}',
    line({"id": 6, "s": LONG, "ns": None, "lcn": None, "e8": "-128", "ip6": "::ffff:10.0.0.1"}),
    b'{"id":7,"s":12.50,"ns":-0,"lc":1e5,"lcn":true}',
    b'{"id":8,"s":{"a": [1, 2.5, "x"], "b": {"c": null}},"ns":[1, [2], {}],"lc":false}',
    b'{"id":9,"s":[],"ns":{},"lc":"\\u0000\\u0000"}',
    b'{"id":10,"ip6":"1:2:3:4:5:6:7:8","u":"00112233-4455-6677-8899-aabbccddeeff"}',
    b'{"id":11,"s":"\\u00E9\\u00e9","e8":"b","ip6":"::1"}',
]

TIMES = ["id UInt32", "d Date", "d32 Date32", "dt DateTime('UTC')", "dtb DateTime('Europe/Berlin')",
         "dt64 DateTime64(3, 'UTC')", "dny DateTime64(6, 'America/New_York')", "d9 DateTime64(9, 'Asia/Kolkata')",
         "dd DateTime", "nd Nullable(Date)", "ldt LowCardinality(DateTime('UTC'))"]
TIME_LINES = [
    line({"id": 1, "d": "1970-01-01", "d32": "1900-01-01", "dt": "1970-01-01 00:00:00",
          "dtb": "1970-01-01 01:00:00", "dt64": "1900-01-01 00:00:00.000", "dny": "1900-01-01 00:00:00",
          "d9": "1900-01-01T00:00:00Z", "dd": "1970-01-01T00:00:00Z", "nd": None, "ldt": "2000-01-01 00:00:00"}),
    line({"id": 2, "d": "2149-06-06", "d32": "2299-12-31", "dt": "2106-02-07 06:28:15",
          "dtb": "2106-02-07T06:28:15Z", "dt64": "2299-12-31 23:59:59.999", "dny": "2262-04-11T00:00:00Z",
          "d9": "2262-04-11 23:47:16.854775807Z", "dd": "2106-02-07 06:28:15", "nd": "2024-02-29"}),
    line({"id": 3, "d": 19000, "d32": -25567, "dt": 1700000000, "dtb": 1700000000, "dt64": "1700000000",
          "dny": "1700000000123", "d9": "1700000000123456789", "dd": "1700000000"}),
    line({"id": 4, "d": "2024-1-2", "d32": "20240102", "dt": "20240102030405", "dtb": "2024-03-31 02:30:00",
          "dt64": "2024-01-02T03:04:05.123456789Z", "dny": "2024-03-10 02:30:00",
          "d9": "2024-01-02T03:04:05.5+05:30", "dd": "2024-01-02 03:04:05 +02:00"}),
    line({"id": 5, "dtb": "2024-10-27 02:30:00", "dny": "2024-11-03 01:30:00.25",
          "dt64": "2024-01-02T03:04:05-0130", "d9": "2024-01-02T03:04:05.000000001-01", "dt": "2024-01-02T03:04"}),
    line({"id": 6, "dtb": "2024-07-01 12:00:00", "dny": "2024-07-01T12:00:00.123456+00:00",
          "dt64": "1700000000.25", "d9": "1970-01-01 05:30:00", "dd": "20240102", "d": "20240229"}),
    line({"id": 7, "dt": "1700000000123", "dt64": "1700000000123456", "dny": "1969-12-31 19:00:00.000001",
          "dtb": "2100-07-01 12:00:00", "d32": 120529, "d": 0}),
    line({"id": 8, "dtb": "1999-12-31T23:59:59.999Z", "d9": "2024-01-02 03:04:05.1234567891234",
          "dt": None, "dt64": None, "ldt": None}),
    line({"id": 9}),
]

COMPOSITES = ["id UInt32", "a Array(Int32)", "aa Array(Array(String))", "an Array(Nullable(UInt8))",
              "m Map(String, UInt64)", "mk Map(UInt16, Array(String))", "md Map(LowCardinality(String), Nullable(Date))",
              "t Tuple(a UInt8, b String, c Array(Date))", "tu Tuple(UInt8, Nullable(String))",
              "n Nested(x UInt8, y String)", "deep Array(Array(Array(Array(UInt8))))",
              "mt Map(String, Tuple(p Float64, q Array(Int8)))", "at Array(Tuple(k String, v Nullable(Decimal(9, 2))))",
              "te Tuple(e Enum8('on' = 1, 'off' = 0), i IPv4, u UUID)"]
COMPOSITE_LINES = [
    line({"id": 1, "a": [], "aa": [], "an": [], "m": {}, "mk": {}, "md": {}, "t": {}, "tu": [0, None],
          "n.x": [], "n.y": [], "deep": [], "mt": {}, "at": [], "te": {}}),
    line({"id": 2, "a": [-2**31, 2**31 - 1, 0], "aa": [["a", ""], [], ["\u00e9\n"]], "an": [None, 1, None, 255],
          "m": {"k": 1, "": 18446744073709551615}, "mk": {"0": ["x"], "65535": []},
          "md": {"a": "2024-01-02", "b": None}, "t": {"c": ["2024-01-02", 19000], "a": 7, "b": "x"},
          "tu": [255, "y"], "n.x": [1, 2, 3], "n.y": ["p", "q", ""], "deep": [[[[1, 2]], [[]]], []],
          "mt": {"k": {"q": [-128, 127], "p": 1.5}}, "at": [{"k": "a", "v": 1.25}, {"v": None, "k": "b"}, {}],
          "te": {"e": "off", "i": "1.2.3.4", "u": "61f0c404-5cb3-11e7-907b-a6006ad3dba0"}}),
    line({"id": 3, "a": list(range(200)), "aa": [["x"] * 130], "m": {f"k{i}": i for i in range(150)},
          "t": {"b": "only b", "zz": [1, 2, {"q": 1}]}, "n.x": [9], "n.y": ["r"], "an": [None] * 140}),
    b'{"id":4,"m":{"k":1,"k":2},"t":{"a":null,"b":null,"c":null},"tu":[null,null],"a":null,"mt":null}',
    b'{ "id" : 5 , "a" : [ 1 , 2 ] , "m" : { "x" : 7 } , "t" : { "a" : 1 , "b" : "s" } , '
    b'"deep" : [ [ [ [ 0 ] ] ] ] , "an" : [ 1 , null ] }',
    b'{"id":6,"an":[true,false],"a":["5","-6"],"mk":{"7":["\\u00e9"]},"te":{"e":1,"u":"00000000000000000000000000000001"}}',
    b'{"id":7,"at":[{"k":"x","v":"99.5","extra":[1]}],"t":{"b":"\\"quoted\\"","a":"200"}}',
]

CORPORA = {
    "integers": (INTEGERS, [line(x) for x in INTEGER_LINES]),
    "floats_and_decimals": (FLOATS, [line(x) for x in FLOAT_LINES]),
    "strings_enums_uuids_ips": (STRINGS, STRING_LINES),
    "dates_and_times": (TIMES, TIME_LINES),
    "arrays_maps_tuples_nested": (COMPOSITES, COMPOSITE_LINES),
}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_corpus_matches_clickhouse(broker, ch, bridge, corpus):
    columns, lines = CORPORA[corpus]
    ours = through_bridge(ch, broker, columns, lines)
    theirs = through_clickhouse(ch, columns, lines)
    assert_same_tables(ch, ours, theirs, len(lines))


def test_paths_into_nested_messages(broker, ch, bridge):
    """Flat columns fed from nested messages: each must equal what
    ClickHouse computes from the whole message with JSONExtract."""
    lines = [line({"user": {"id": 7, "name": "ann", "tags": ["a", "b"]}, "ts": {"ms": 1700000000123},
                   "items": [{"sku": "x", "q": 2}, {"sku": "y", "q": 3}]}),
             line({"user": {"name": "bob"}, "items": []}),
             line({"user": None, "other": 1})]
    columns = ["uid UInt64 PATH '$.user.id'", "name String PATH '$.user.name'",
               "tag1 String PATH '$.user.tags[1]'", "ms DateTime64(3, 'UTC') PATH '$.ts.ms'",
               "sku2 Nullable(String) PATH '$.items[1].sku'", "items Array(Tuple(sku String, q UInt8))",
               "user String"]
    table = through_bridge(ch, broker, columns, lines)
    rows = ch.rows(f"SELECT uid, name, tag1, toUnixTimestamp64Milli(ms), sku2, items, user FROM {table}")
    assert sorted(rows) == sorted([
        ("7", "ann", "b", "1700000000123", "y", "[('x',2),('y',3)]",
         '{"id": 7, "name": "ann", "tags": ["a", "b"]}'),
        ("0", "bob", "", "0", None, "[]", '{"name": "bob"}'),
        ("0", "", "", "0", None, "[]", ""),
    ])


# ---- where the bridge differs on purpose ------------------------------------

def bridge_result(ch, broker, columns: list[str], body: bytes) -> tuple[str | None, str | None]:
    """(value, None) when the bridge stores the message, (None, error) when
    it refuses it; the value is the first column as text."""
    table = make_table(ch, columns)
    topic = produce(broker, [body])
    try:
        ch.query(f"INSERT INTO {table} SELECT * FROM {pipeline(broker, topic, columns)}")
    except ClickHouseError as e:
        return None, e.message.replace("\\'", "'")
    return ch.value(f"SELECT toString({columns[0].split()[0]}) FROM {table}"), None


def clickhouse_result(ch, columns: list[str], body: bytes) -> tuple[str | None, str | None]:
    try:
        rows = ch.rows(f"SELECT toString({columns[0].split()[0]}) FROM format(JSONEachRow, "
                       f"'{sql_quote(structure(columns))}', $x${body.decode()}$x$) SETTINGS {JSON_SETTINGS}")
        return rows[0][0], None
    except ClickHouseError as e:
        return None, e.message


# (column, message, what ClickHouse stores or None if it refuses,
#  what the bridge stores or None, the bridge's error or None)
DIFFERENCES = {
    "DateTime64 number is Unix time, not ticks": (
        "t DateTime64(6, 'UTC')", b'{"t":1700000000}', "1970-01-01 00:28:20.000000",
        "2023-11-14 22:13:20.000000", None),
    "13-digit number is milliseconds, not saturated": (
        "t DateTime('UTC')", b'{"t":1700000000123}', "2106-02-07 06:28:15", "2023-11-14 22:13:20", None),
    "fractional Unix time accepted": (
        "t DateTime64(3, 'UTC')", b'{"t":1700000000.25}', None, "2023-11-14 22:13:20.250", None),
    "quoted fractional Unix time in DateTime accepted": (
        "t DateTime('UTC')", b'{"t":"1700000000.5"}', None, "2023-11-14 22:13:20", None),
    "one or two digits are not a day of this year": (
        "t DateTime64(3, 'UTC')", b'{"t":"12"}', "*", None, "\"12\" is not a date/time: a quoted Unix time has 9 or more digits"),
    "day number out of Date range": (
        "d Date", b'{"d":1700000000}', "2138-12-02", None, "expected a date in 1970-01-01..2149-06-06"),
    "Date32 below its range": (
        "d Date32", b'{"d":"1899-12-31"}', "1900-01-01", None, "expected a date in 1900-01-01..2299-12-31"),
    "DateTime after 2106": (
        "t DateTime('UTC')", b'{"t":"2200-01-01 00:00:00"}', "2106-02-07 06:28:15", None,
        "expected a time in 1970-01-01 00:00:00..2106-02-07 06:28:15 UTC"),
    "integer out of range": (
        "i Int128", b'{"i":170141183460469231731687303715884105728}', "-170141183460469231731687303715884105728",
        None, "value 170141183460469231731687303715884105728 is out of range for Int128"),
    "Map key out of range": (
        "m Map(UInt16, String)", b'{"m":{"70000":"x"}}', "{4464:'x'}", None, "value 70000 is out of range for UInt16"),
    "Decimal digits past the scale": (
        "d Decimal(10, 2)", b'{"d":1.239}', "1.23", None,
        "value 1.239 has more than 2 digits after the point for Decimal(10, 2)"),
    "null in an Enum without 0 is its default": (
        "e Enum8('x' = 5, 'y' = 7)", b'{"e":null}', None, "x", None),
    "null in an Enum with 0 is its default, not 0": (
        "e Enum8('a' = -1, 'z' = 0)", b'{"e":null}', "z", "a", None),
    "missing Enum inside a Tuple is its default, not 0": (
        "t Tuple(a Enum8('x' = 5), b UInt8)", b'{"t":{"b":1}}', None, "('x',1)", None),
    "trailing comma in an array": (
        "a Array(UInt8)", b'{"a":[1,]}', "[1]", None, "malformed JSON: expected a value"),
}


@pytest.mark.parametrize("name", sorted(DIFFERENCES))
def test_deliberate_difference(broker, ch, bridge, name):
    column, body, theirs, ours, error = DIFFERENCES[name]
    ch_value, ch_error = clickhouse_result(ch, [column], body)
    if theirs is None:
        assert ch_error is not None, f"ClickHouse now accepts it: {ch_value}"
    elif theirs != "*":  # "*": depends on the day the test runs
        assert (ch_value, ch_error) == (theirs, None)
    value, err = bridge_result(ch, broker, [column], body)
    if error is None:
        assert (value, err) == (ours, None)
    else:
        assert value is None and error in err, err


# ---- errors instead of silent substitutes -----------------------------------

NEVER_SILENT = {
    "out of range": ("small UInt8", b'{"small":256}', "value 256 is out of range for UInt8"),
    "wrong type": ("n Int32", b'{"n":"12x"}', "expected an integer, got \"12x\""),
    "object for a number": ("n Float64", b'{"n":{"v":1}}', "expected a number, got an object"),
    "unknown Enum name": ("e Enum8('a' = 1)", b'{"e":"b"}', "\"b\" is not an element of the Enum"),
    "unknown Enum number": ("e Enum16('a' = 1)", b'{"e":3}', "\"3\" is not an element of the Enum"),
    "FixedString too long": ("f FixedString(2)", b'{"f":"abc"}', "a string of 3 bytes is too long for FixedString(2)"),
    "Decimal too large": ("d Decimal(5, 2)", b'{"d":1000}', "value 1000 does not fit Decimal(5, 2)"),
    "Decimal256 too large": ("d Decimal256(0)", b'{"d":1e76}', "value 1e76 does not fit Decimal(76, 0)"),
    "bad UUID": ("u UUID", b'{"u":"not-a-uuid"}', "expected a UUID, got \"not-a-uuid\""),
    "bad IPv4": ("i IPv4", b'{"i":"1.2.3.256"}', "expected an IPv4 address, got \"1.2.3.256\""),
    "ambiguous Unix time": ("t DateTime64(3, 'UTC')", b'{"t":17000000000}',
                            "\"17000000000\" is not a date/time: Unix times have 1-10, 13, 16 or 19 digits"),
    "duplicate Tuple element": ("t Tuple(a UInt8)", b'{"t":{"a":1,"a":2}}', "Tuple element 'a' given twice"),
    "short unnamed Tuple": ("t Tuple(UInt8, UInt8)", b'{"t":[1]}', "expected a Tuple of 2 elements, got 1"),
}


@pytest.mark.parametrize("name", sorted(NEVER_SILENT))
def test_never_silent(broker, ch, bridge, name):
    column, body, reason = NEVER_SILENT[name]
    table = make_table(ch, [column])
    topic = produce(broker, [b'{}', body])
    with pytest.raises(ClickHouseError) as caught:
        ch.query(f"INSERT INTO {table} SELECT * FROM {pipeline(broker, topic, [column])}")
    message = caught.value.message.replace("\\'", "'")
    col = column.split()[0]
    assert f"topic '{topic}' partition 0 offset 1: column '{col}': {reason}" in message
    assert ch.value(f"SELECT count() FROM {table}") == "0"


# ---- randomized ----------------------------------------------------------

class Gen:
    """Random ClickHouse types and JSON values both readers agree on."""

    def __init__(self, rng: random.Random):
        self.r = rng

    def scalar(self) -> tuple[str, callable]:
        r = self.r
        bits = r.choice([8, 16, 32, 64, 128, 256])
        kinds = {
            "int": lambda: (f"Int{bits}", lambda: self.quoted(r.choice([
                -2 ** (bits - 1), 2 ** (bits - 1) - 1, r.randint(-2 ** (bits - 1), 2 ** (bits - 1) - 1), 0]))),
            "uint": lambda: (f"UInt{bits}", lambda: self.quoted(r.choice([
                0, 2 ** bits - 1, r.randint(0, 2 ** bits - 1)]))),
            "float": lambda: (r.choice(["Float32", "Float64", "BFloat16"]), self.float_value),
            "bool": lambda: ("Bool", lambda: r.choice([True, False, 0, 1])),
            "decimal": self.decimal,
            "string": lambda: ("String", self.string),
            "fixed": self.fixed,
            "date": lambda: (r.choice(["Date", "Date32"]), None),
            "datetime": self.datetime,
            "uuid": lambda: ("UUID", lambda: str(uuid.UUID(int=r.getrandbits(128)))),
            "ipv4": lambda: ("IPv4", lambda: ".".join(str(r.randint(0, 255)) for _ in range(4))),
            "ipv6": lambda: ("IPv6", self.ipv6),
            "enum": self.enum,
        }
        t, value = kinds[r.choice(sorted(kinds))]()
        if t in ("Date", "Date32"):
            low, high = (0, 65535) if t == "Date" else (-25567, 120529)

            def value(low=low, high=high):
                import datetime
                d = r.randint(low, high)
                return d if r.random() < 0.3 else str(datetime.date(1970, 1, 1) + datetime.timedelta(days=d))
        return t, value

    def quoted(self, v):
        return str(v) if self.r.random() < 0.25 else v

    def float_value(self):
        r = self.r
        v = r.choice([r.uniform(-1e6, 1e6), r.random(), r.uniform(-1e30, 1e30), 0.0, -0.0, 1.5e-40])
        return repr(v) if r.random() < 0.2 else v

    def decimal(self):
        r = self.r
        p = r.randint(1, 76)
        s = r.randint(0, p)
        name = f"Decimal({p}, {s})"

        def value():
            whole = "".join(r.choice("0123456789") for _ in range(r.randint(0, p - s))) or "0"
            frac = "".join(r.choice("0123456789") for _ in range(r.randint(0, s)))
            text = ("-" if r.random() < 0.3 else "") + whole + ("." + frac if frac else "")
            if r.random() < 0.5 or len(text) > 15:
                return text
            return float(text) if "." in text else int(text)
        return name, value

    def string(self):
        r = self.r
        alphabet = "abc xyz\"\\/\b\f\n\r\t\u0000\u001f\u00e9\u20ac\U0001F600\u2028"
        return "".join(r.choice(alphabet) for _ in range(r.randint(0, 12)))

    def fixed(self):
        n = self.r.randint(1, 6)
        return f"FixedString({n})", lambda: "".join(self.r.choice("ab\u00e9") for _ in range(self.r.randint(0, n // 2)))

    def datetime(self):
        import datetime as dt
        r = self.r
        zone = r.choice(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
        p = r.randint(0, 9)
        is64 = r.random() < 0.6
        name = f"DateTime64({p}, '{zone}')" if is64 else f"DateTime('{zone}')"

        def value():
            seconds = r.randint(86400 * 2, 4294967295 - 86400 * 2)
            t = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
            frac = "".join(r.choice("0123456789") for _ in range(r.randint(0, 9))) if is64 else ""
            form = r.randint(0, 3)
            if form == 0:
                return t.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + "Z"
            if form == 1:  # a local time of the column's zone
                return t.strftime("%Y-%m-%d %H:%M:%S") + ("." + frac if frac else "")
            if form == 2:  # quoted, 9 or 10 digits are seconds for both readers
                seconds = max(seconds, 100000000)
                return seconds if not is64 else str(seconds)
            return t.strftime("%Y-%m-%dT%H:%M:%S") + r.choice(["+05:30", "-08:00", "+0100"])
        return name, value

    def ipv6(self):
        r = self.r
        groups = [f"{r.getrandbits(16):x}" for _ in range(8)]
        if r.random() < 0.5:
            i = r.randint(0, 6)
            j = r.randint(i + 1, 8)
            return ":".join(groups[:i]) + "::" + ":".join(groups[j:])
        return ":".join(groups)

    def enum(self):
        r = self.r
        wide = r.random() < 0.3
        n = r.randint(1, 6)
        values = r.sample(range(-32768 if wide else -128, 32768 if wide else 128), n)
        names = [f"e{i}_{r.randint(0, 99)}" for i in range(n)]
        spec = ", ".join(f"'{a}' = {b}" for a, b in zip(names, values))
        name = f"Enum{16 if wide else 8}({spec})"

        def value():
            i = r.randrange(n)
            return names[i] if r.random() < 0.7 else values[i]
        return name, value

    def any(self, depth: int = 0) -> tuple[str, callable, bool]:
        """A type, a value maker, and whether null is a safe value for it."""
        r = self.r
        choice = r.random() if depth < 3 else 0
        if choice < 0.55:
            t, value = self.scalar()
            if r.random() < 0.25 and not t.startswith(("Enum", "Decimal")):
                return f"Nullable({t})", lambda: None if r.random() < 0.3 else value(), True
            if r.random() < 0.15 and t in ("String", "UInt32", "Int64", "Date", "FixedString(3)"):
                return f"LowCardinality({t})", value, True
            return t, value, not t.startswith("Enum")
        if choice < 0.72:
            t, value, _ = self.any(depth + 1)
            lengths = [0, 1, 2, 3, 5] + ([130] if depth == 0 else [])
            return f"Array({t})", lambda: [value() for _ in range(r.choice(lengths))], True
        if choice < 0.84:
            key, kv = r.choice([("String", self.string), ("UInt16", lambda: str(r.randint(0, 65535))),
                                ("Date", lambda: "2024-01-%02d" % r.randint(1, 31))])
            t, value, _ = self.any(depth + 1)
            return f"Map({key}, {t})", lambda: {kv(): value() for _ in range(r.randint(0, 4))}, True
        n = r.randint(1, 4)
        parts = [self.any(depth + 1) for _ in range(n)]
        if r.random() < 0.5:
            names = [f"f{i}" for i in range(n)]
            spec = ", ".join(f"{a} {p[0]}" for a, p in zip(names, parts))

            def named():
                # A missing element holding an Enum is a known difference
                # (ClickHouse stores 0 there, even when 0 is no element).
                keys = [k for k in range(n) if "Enum" in parts[k][0] or r.random() < 0.85]
                r.shuffle(keys)
                return {names[k]: parts[k][1]() for k in keys}
            return f"Tuple({spec})", named, True
        return f"Tuple({', '.join(p[0] for p in parts)})", lambda: [p[1]() for p in parts], True

    def column(self) -> tuple[str, callable, bool]:
        t, value, nullable = self.any()
        # null gives the default, which for an Enum inside a composite is
        # the same known difference as above.
        return t, value, nullable and ("Enum" not in t or t.startswith("Enum"))


SEEDS = [int(s) for s in os.environ.get("TYPES_SEEDS", "1,2,3,4,5,6").split(",")]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_columns_and_values(broker, ch, bridge, seed):
    """Random column lists and values: what the bridge stores equals what
    ClickHouse reads from the same lines (TYPES_SEEDS=... to try others)."""
    r = random.Random(seed)
    gen = Gen(r)
    cols = [gen.column() for _ in range(r.randint(3, 8))]
    columns = ["id UInt32"] + [f"c{i} {t}" for i, (t, _, _) in enumerate(cols)]
    lines = []
    for row in range(150):
        body = {"id": row}
        for i, (_, value, nullable) in enumerate(cols):
            roll = r.random()
            if roll < 0.05:
                continue  # missing: the default
            body[f"c{i}"] = None if roll < 0.08 and nullable else value()
        lines.append(json.dumps(body, ensure_ascii=r.random() < 0.5).encode())
    ours = through_bridge(ch, broker, columns, lines)
    theirs = through_clickhouse(ch, columns, lines)
    assert_same_tables(ch, ours, theirs, len(lines), f"seed {seed}, columns {columns}: ")
