"""Message headers in rows (finding 18: `_headers Map(String, String)` was
silently {} while messages carried headers): the Kafka engine's
`_headers.name` / `_headers.value` arrays and a `_headers` Map, stored by
ClickHouse."""

from __future__ import annotations

import json

import pytest

from harness.clickhouse import ClickHouseError
from harness.names import unique
from harness.scripts import user_scripts_dir


def pipeline(broker, topic: str, columns: str) -> str:
    name = unique("hdr")
    (user_scripts_dir() / "kafka-bridge.d" / f"{name}.conf").write_text(
        f"brokers = {broker.bootstrap}\ntopic = {topic}\ncolumns = {columns}\n")
    return name


@pytest.fixture(scope="module")
def topic(broker):
    t = unique("headers")
    broker.create_topic(t, 1)
    broker.produce(t, [
        (0, None, json.dumps({"id": 0}).encode(), [("a", b"1"), ("b", b"\x00\xff"), ("a", b"2")]),
        (0, None, json.dumps({"id": 1}).encode(), [("empty", b""), ("none", None)]),
        (0, None, json.dumps({"id": 2}).encode()),
    ])
    return t


def test_header_arrays_as_the_kafka_engine_names_them(broker, clickhouse, bridge, topic):
    structure = "id Int64, `_headers.name` Array(String), `_headers.value` Array(String)"
    name = pipeline(broker, topic, "id Int64, _headers.name Array(String), _headers.value Array(String)")
    table = unique("t")
    clickhouse.query(f"CREATE TABLE {table} ({structure}) ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM executable('kafka-bridge --pipeline {name}', "
                     f"'RowBinaryWithNamesAndTypes', '{structure}')")
    rows = clickhouse.rows(f"SELECT id, `_headers.name`, hex(arrayStringConcat(`_headers.value`, '|')) "
                           f"FROM {table} ORDER BY id")
    assert rows == [("0", "['a','b','a']", b"1|\x00\xff|2".hex().upper()),
                    ("1", "['empty','none']", b"|".hex().upper()),
                    ("2", "[]", "")]


def test_header_values_nullable_and_nested(broker, clickhouse, bridge, topic):
    """A header without a value is NULL in Array(Nullable(String)); a Nested
    column gives the same two arrays."""
    name = pipeline(broker, topic, "id Int64, _headers Nested(name String, value Nullable(String))")
    rows = clickhouse.rows(
        f"SELECT id, `_headers.name`, `_headers.value` FROM executable('kafka-bridge --pipeline {name}', "
        "'RowBinaryWithNamesAndTypes', 'id Int64, `_headers.name` Array(String), "
        "`_headers.value` Array(Nullable(String))') ORDER BY id")
    assert rows[1] == ("1", "['empty','none']", "['',NULL]")
    assert rows[2] == ("2", "[]", "[]")


def test_header_map_keeps_the_last_value_of_a_name(broker, clickhouse, bridge, topic):
    structure = "id Int64, _headers Map(String, String)"
    name = pipeline(broker, topic, structure)
    table = unique("t")
    clickhouse.query(f"CREATE TABLE {table} ({structure}) ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM executable('kafka-bridge --pipeline {name}', "
                     f"'RowBinaryWithNamesAndTypes', '{structure}')")
    rows = clickhouse.rows(f"SELECT id, length(_headers), _headers['a'], hex(_headers['b']), "
                           f"mapKeys(_headers) FROM {table} ORDER BY id")
    assert rows == [("0", "2", "2", "00FF", "['b','a']"),
                    ("1", "2", "", "", "['empty','none']"),
                    ("2", "0", "", "", "[]")]


def test_other_header_column_names_and_types_are_refused(broker, clickhouse, bridge, topic):
    name = pipeline(broker, topic, "id Int64, _headers.keys Array(String)")
    with pytest.raises(ClickHouseError, match="the header columns are _headers.name, _headers.value and _headers"):
        clickhouse.rows(f"SELECT * FROM executable('kafka-bridge --pipeline {name}', "
                        "'RowBinaryWithNamesAndTypes', 'id Int64, `_headers.keys` Array(String)')")
    name = pipeline(broker, topic, "id Int64, _headers String")
    with pytest.raises(ClickHouseError, match="must be Map.String, String. or Map.String, Nullable.String.."):
        clickhouse.rows(f"SELECT * FROM executable('kafka-bridge --pipeline {name}', "
                        "'RowBinaryWithNamesAndTypes', 'id Int64, _headers String')")
