"""Avro through a real schema registry, differentially: ClickHouse's own
AvroConfluent, reading the same framed bytes through the same registry, is
the oracle.

Each corpus is a writer schema, records (written with fastavro) and a
column list.  The framed messages go to Kafka and through the bridge into
one table; the same bytes, concatenated in a file, are read by ClickHouse's
AvroConfluent into another; the tables must be identical.  The rules and
the deliberate differences are in docs/avro-rules.md.
"""

from __future__ import annotations

import socket
import os
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from harness.clickhouse import ClickHouseError
from harness.names import sql_quote, unique
from harness.registry import datum, frame
from harness.scripts import scratch_dir, user_scripts_dir

from conftest import BRIDGE


def write_pipeline(broker, topic: str, columns: list[str], extra: str = "") -> str:
    name = unique("avro")
    conf_dir = user_scripts_dir() / "kafka-bridge.d"
    conf_dir.mkdir(exist_ok=True)
    path = conf_dir / f"{name}.conf"
    path.touch(mode=0o600)  # it may hold a registry password
    path.write_text(f"brokers = {broker.bootstrap}\ntopic = {topic}\n"
                    "columns = " + ",\n    ".join(columns) + "\n" + extra)
    return name


def structure(columns: list[str]) -> str:
    return ", ".join(c.split(" PATH ")[0] for c in columns)


def source(name: str, columns: list[str], fmt: str = "RowBinaryWithNamesAndTypes") -> str:
    flag = " -O Native" if fmt == "Native" else ""
    return (f"executable('kafka-bridge --pipeline {name}{flag}', '{fmt}', "
            f"'{sql_quote(structure(columns))}')")


def make_table(ch, columns: list[str]) -> str:
    name = unique("t")
    ch.query(f"CREATE TABLE {name} ({structure(columns)}) ENGINE = MergeTree ORDER BY tuple()")
    return name


def through_bridge(ch, broker, registry, columns, messages, extra="",
                   fmt="RowBinaryWithNamesAndTypes") -> str:
    topic = unique("avro")
    broker.create_topic(topic, 1)
    broker.produce(topic, messages)
    table = make_table(ch, columns)
    name = write_pipeline(broker, topic, columns,
                          f"format = avro-confluent\nschema-registry = {registry.url}\n" + extra)
    ch.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns, fmt)}")
    return table


def through_clickhouse(ch, registry, columns, messages, settings="") -> str:
    table = make_table(ch, columns)
    path = scratch_dir() / f"{table}.avro"
    path.write_bytes(b"".join(messages))
    ch.query(f"INSERT INTO {table} SELECT * FROM file('{path}', AvroConfluent, "
             f"'{sql_quote(structure(columns))}') "
             f"SETTINGS format_avro_schema_registry_url = '{registry.url}'{settings}")
    return table


def assert_same(ch, ours: str, theirs: str, n: int) -> None:
    assert ch.value(f"SELECT count() FROM {ours}") == str(n)
    assert ch.value(f"SELECT count() FROM {theirs}") == str(n)
    mine = ch.query(f"SELECT * FROM {ours} ORDER BY id FORMAT TSV").splitlines()
    oracle = ch.query(f"SELECT * FROM {theirs} ORDER BY id FORMAT TSV").splitlines()
    assert mine == oracle


def framed(registry, subject: str, schema: dict, records: list[dict]) -> list[bytes]:
    sid = registry.register(subject, schema)
    return [frame(sid, datum(schema, r)) for r in records]


def record(name: str, fields: list[dict]) -> dict:
    return {"type": "record", "name": name, "fields": fields}


# ---- corpora: schema fields, records, columns ------------------------------
CORPORA = {
    "primitives": (
        [{"name": "id", "type": "long"}, {"name": "i", "type": "int"}, {"name": "b", "type": "boolean"},
         {"name": "f", "type": "float"}, {"name": "d", "type": "double"}, {"name": "s", "type": "string"},
         {"name": "by", "type": "bytes"}],
        [{"id": 1, "i": -2147483648, "b": True, "f": 1.5, "d": -0.1, "s": "héllo", "by": b"\x00\xff"},
         {"id": 2, "i": 2147483647, "b": False, "f": -3.25e10, "d": 1e300, "s": "", "by": b""},
         {"id": 9223372036854775807, "i": 0, "b": True, "f": 0.0, "d": 5e-324, "s": "a\tb\n", "by": b"x"},
         {"id": -9223372036854775808, "i": 7, "b": False, "f": 1e-40, "d": 2.0, "s": "z", "by": b"y"}],
        ["id Int64", "i Int32", "b Bool", "f Float32", "d Float64", "s String", "by String"]),
    "widening": (
        [{"name": "id", "type": "long"}, {"name": "i", "type": "int"}, {"name": "f", "type": "float"},
         {"name": "s", "type": "string"}],
        [{"id": 1, "i": 5, "f": 2.5, "s": "ab"}, {"id": 2, "i": -1, "f": -1.0, "s": "abc"}],
        ["id Int64", "i Int64", "f Float64", "s FixedString(3)"]),
    "nullable": (
        [{"name": "id", "type": "long"}, {"name": "n", "type": ["null", "long"]},
         {"name": "m", "type": ["string", "null"]}, {"name": "d", "type": ["null", "int"]}],
        [{"id": 1, "n": None, "m": "x", "d": None}, {"id": 2, "n": 42, "m": None, "d": 3}],
        ["id Int64", "n Nullable(Int64)", "m Nullable(String)", "d Int32"]),
    "logical": (
        [{"name": "id", "type": "long"},
         {"name": "day", "type": {"type": "int", "logicalType": "date"}},
         {"name": "ts3", "type": {"type": "long", "logicalType": "timestamp-millis"}},
         {"name": "ts6", "type": {"type": "long", "logicalType": "timestamp-micros"}},
         {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
         {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
         {"name": "decf", "type": {"type": "fixed", "name": "D16", "size": 16, "logicalType": "decimal",
                                   "precision": 38, "scale": 4}}],
        [{"id": 1, "day": 19000, "ts3": 1700000000123, "ts6": 1700000000123456,
          "u": "0f2e5a9c-1b3d-4e5f-8a7b-9c0d1e2f3a4b", "dec": Decimal("-12345.67"),
          "decf": Decimal("1234567890123456789012345678.9012")},
         {"id": 2, "day": 0, "ts3": -1, "ts6": 0, "u": "00000000-0000-0000-0000-000000000000",
          "dec": Decimal("0.01"), "decf": Decimal("-0.0001")}],
        ["id Int64", "day Date32", "ts3 DateTime64(3, 'UTC')", "ts6 DateTime64(6, 'UTC')", "u UUID",
         "dec Decimal(9, 2)", "decf Decimal(38, 4)"]),
    "enum_fixed": (
        [{"name": "id", "type": "long"},
         {"name": "e", "type": {"type": "enum", "name": "Color", "symbols": ["red", "green", "blue"]}},
         {"name": "es", "type": {"type": "enum", "name": "Size", "symbols": ["S", "M"]}},
         {"name": "fx", "type": {"type": "fixed", "name": "F4", "size": 4}},
         {"name": "ip", "type": {"type": "fixed", "name": "IP", "size": 16}}],
        [{"id": 1, "e": "blue", "es": "M", "fx": b"abcd", "ip": bytes(range(16))},
         {"id": 2, "e": "red", "es": "S", "fx": b"\0\0\0\1", "ip": b"\xff" * 16}],
        ["id Int64", "e Enum8('red' = 1, 'green' = 2, 'blue' = 3)", "es String", "fx FixedString(4)",
         "ip IPv6"]),
    "composite": (
        [{"name": "id", "type": "long"},
         {"name": "tags", "type": {"type": "array", "items": "string"}},
         {"name": "scores", "type": {"type": "map", "values": "double"}},
         {"name": "addr", "type": record("Addr", [{"name": "city", "type": "string"},
                                                   {"name": "zip", "type": "int"}])},
         {"name": "nested", "type": {"type": "array", "items": {"type": "array", "items": "long"}}}],
        [{"id": 1, "tags": ["a", "b"], "scores": {"x": 1.5}, "addr": {"city": "Oslo", "zip": 150},
          "nested": [[1, 2], [], [3]]},
         {"id": 2, "tags": [], "scores": {}, "addr": {"city": "", "zip": -1}, "nested": []}],
        ["id Int64", "tags Array(String)", "scores Map(String, Float64)",
         "addr Tuple(city String, zip Int32)", "nested Array(Array(Int64))"]),
}


@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_same_as_avroconfluent(clickhouse, broker, registry, bridge, corpus):
    fields, records, columns = CORPORA[corpus]
    schema = record(f"R_{corpus}", fields)
    msgs = framed(registry, unique("s") + "-value", schema, records)
    ours = through_bridge(clickhouse, broker, registry, columns, msgs)
    theirs = through_clickhouse(clickhouse, registry, columns, msgs)
    assert_same(clickhouse, ours, theirs, len(records))


def test_several_schema_ids_in_one_topic(clickhouse, broker, registry, bridge):
    """Evolution while producers roll: a field added with a default, one
    removed, an int promoted to long; three ids interleaved in one topic."""
    subject = unique("evo") + "-value"
    v1 = record("E", [{"name": "id", "type": "long"}, {"name": "n", "type": "int"},
                      {"name": "old", "type": "string"}])
    v2 = record("E", [{"name": "id", "type": "long"}, {"name": "n", "type": "long"},
                      {"name": "old", "type": "string"},
                      {"name": "added", "type": ["null", "string"], "default": None}])
    v3 = record("E", [{"name": "id", "type": "long"}, {"name": "n", "type": "long"},
                      {"name": "added", "type": ["null", "string"], "default": None}])
    msgs = []
    ids = [registry.register(subject, v) for v in (v1, v2, v3)]
    assert len(set(ids)) == 3
    for i in range(30):
        v = (v1, v2, v3)[i % 3]
        rec = {"id": i, "n": i * 1000, "old": f"o{i}", "added": f"a{i}" if i % 2 else None}
        msgs.append(frame(ids[i % 3], datum(v, rec)))
    columns = ["id Int64", "n Int64", "old String", "added Nullable(String)"]
    ours = through_bridge(clickhouse, broker, registry, columns, msgs)
    # Deliberate difference: a column the writer schema lacks gets its
    # default here; ClickHouse wants a setting for it.
    with pytest.raises(ClickHouseError, match="Field added not found in Avro schema"):
        through_clickhouse(clickhouse, registry, columns, msgs)
    theirs = through_clickhouse(clickhouse, registry, columns, msgs,
                                ", input_format_avro_allow_missing_fields = 1")
    assert_same(clickhouse, ours, theirs, 30)
    assert clickhouse.value(f"SELECT countIf(old = '') FROM {ours}") == "10"


def test_paths_into_records(clickhouse, broker, registry, bridge):
    """Flat columns by PATH into nested records (ClickHouse's AvroConfluent
    has no paths; the values are checked directly)."""
    schema = record("P", [{"name": "id", "type": "long"},
                          {"name": "user", "type": ["null", record("U", [
                              {"name": "name", "type": "string"},
                              {"name": "geo", "type": record("G", [{"name": "city", "type": "string"}])}])]}])
    msgs = framed(registry, unique("p") + "-value", schema,
                  [{"id": 1, "user": {"name": "ann", "geo": {"city": "Rome"}}}, {"id": 2, "user": None}])
    columns = ["id Int64", "name String PATH '$.user.name'", "city Nullable(String) PATH '$.user.geo.city'"]
    table = through_bridge(clickhouse, broker, registry, columns, msgs)
    assert clickhouse.rows(f"SELECT * FROM {table} ORDER BY id") == [("1", "ann", "Rome"), ("2", "", None)]


def failure(ch, broker, registry, columns, messages, extra="", url=None) -> str:
    topic = unique("avro")
    broker.create_topic(topic, 1)
    broker.produce(topic, messages)
    table = make_table(ch, columns)
    name = write_pipeline(broker, topic, columns,
                          f"format = avro-confluent\nschema-registry = {url or registry.url}\n" + extra)
    with pytest.raises(ClickHouseError) as caught:
        ch.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns)}")
    assert ch.value(f"SELECT count() FROM {table}") == "0"
    return caught.value.message.replace("\\'", "'")


SIMPLE = record("S", [{"name": "id", "type": "long"}])


def test_bad_magic_byte_is_a_bad_message(clickhouse, broker, registry, bridge):
    good = framed(registry, unique("m") + "-value", SIMPLE, [{"id": 1}])[0]
    bad = b"\x01" + good[1:]
    msg = failure(clickhouse, broker, registry, ["id Int64"], [good, bad])
    assert "offset 1" in msg and "bad magic byte 0x01" in msg
    # Under --on-error skip the bad message is skipped and the good one kept.
    topic = unique("avro")
    broker.create_topic(topic, 1)
    broker.produce(topic, [good, bad, good[:5], good])
    table = make_table(clickhouse, ["id Int64"])
    name = write_pipeline(broker, topic, ["id Int64"],
                          f"format = avro-confluent\nschema-registry = {registry.url}\non-error = skip\n")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, ['id Int64'])}")
    assert clickhouse.value(f"SELECT count() FROM {table}") == "2"


def test_truncated_datum_names_the_column(clickhouse, broker, registry, bridge):
    schema = record("T", [{"name": "id", "type": "long"}, {"name": "s", "type": "string"}])
    good = framed(registry, unique("t") + "-value", schema, [{"id": 1, "s": "hello"}])[0]
    msg = failure(clickhouse, broker, registry, ["id Int64", "s String"], [good[:-2]])
    assert "column 's'" in msg and "truncated" in msg and "schema id" in msg


def test_unknown_id_fails_the_run_even_when_skipping(clickhouse, broker, registry, bridge):
    msg = failure(clickhouse, broker, registry, ["id Int64"], [frame(987654, datum(SIMPLE, {"id": 1}))],
                  extra="on-error = skip\n")
    assert "knows no schema id 987654" in msg


def test_registry_down_fails_the_run(clickhouse, broker, registry, bridge):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    msg = failure(clickhouse, broker, registry, ["id Int64"], [frame(1, datum(SIMPLE, {"id": 1}))],
                  extra="on-error = skip\n", url=f"http://127.0.0.1:{port}/apis/ccompat/v7")
    assert "did not answer" in msg and str(port) in msg


# A second registry, as a production one is set up: HTTPS only, with a
# certificate made here, and HTTP basic auth.  Apicurio does both itself
# (Quarkus's TLS settings and its embedded user list), so no proxy stands
# in front of it.
SECURE_USER, SECURE_PASSWORD = "ingest", "pw-8c1f"


@pytest.fixture(scope="module")
def secure_registry(tmp_path_factory):
    from harness.registry import Registry
    d = tmp_path_factory.mktemp("secure-registry")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    auth = ("-Dquarkus.http.auth.basic=true -Dapicurio.authn.enabled=true "
            "-Dquarkus.security.users.embedded.plain-text=true "
            f"-Dquarkus.security.users.embedded.users.{SECURE_USER}={SECURE_PASSWORD} "
            f"-Dquarkus.security.users.embedded.roles.{SECURE_USER}=sr-admin")
    r = Registry(d / "state", env={"REGISTRY_TLS_CERT": str(d / "cert.pem"),
                                   "REGISTRY_TLS_KEY": str(d / "key.pem"), "REGISTRY_JVM_OPTS": auth},
                 auth=(SECURE_USER, SECURE_PASSWORD), cafile=d / "cert.pem")
    r.start()
    r.cafile = d / "cert.pem"
    try:
        yield r
    finally:
        r.stop()


def secure_settings(reg, password=SECURE_PASSWORD, ca=True) -> str:
    return (f"schema-registry-user = {SECURE_USER}\nschema-registry-password = {password}\n"
            + (f"schema-registry-ca = {reg.cafile}\n" if ca else ""))


def test_registry_with_https_and_basic_auth(clickhouse, broker, secure_registry, bridge):
    assert secure_registry.url.startswith("https://")
    msgs = framed(secure_registry, unique("sec") + "-value", SIMPLE, [{"id": 1}, {"id": 2}])
    table = through_bridge(clickhouse, broker, secure_registry, ["id Int64"], msgs,
                           secure_settings(secure_registry))
    assert clickhouse.rows(f"SELECT id FROM {table} ORDER BY id") == [("1",), ("2",)]


def test_wrong_registry_credentials_fail_the_run(clickhouse, broker, secure_registry, bridge):
    msgs = framed(secure_registry, unique("cred") + "-value", SIMPLE, [{"id": 1}])
    msg = failure(clickhouse, broker, secure_registry, ["id Int64"], msgs,
                  extra="on-error = skip\n" + secure_settings(secure_registry, password="not-it"))
    assert "HTTP 401" in msg and "check the registry credentials" in msg
    assert "not-it" not in msg


def test_registry_certificate_not_trusted_without_the_ca_file(clickhouse, broker, secure_registry, bridge):
    msgs = framed(secure_registry, unique("ca") + "-value", SIMPLE, [{"id": 1}])
    msg = failure(clickhouse, broker, secure_registry, ["id Int64"], msgs,
                  extra="on-error = skip\n" + secure_settings(secure_registry, ca=False))
    assert secure_registry.url in msg and "certificate" in msg


def test_schema_that_cannot_fit_names_field_and_column(clickhouse, broker, registry, bridge):
    msgs = framed(registry, unique("f") + "-value", record("X", [{"name": "id", "type": "string"}]),
                  [{"id": "a"}])
    msg = failure(clickhouse, broker, registry, ["id Int64"], msgs)
    assert "field 'id' (Avro string) cannot go into column 'id' (Int64)" in msg and "schema id" in msg


def test_plain_datums_with_schema_file_and_skip_bytes(clickhouse, broker, bridge, tmp_path):
    """ClickHouse cannot read datums without the framing; the bridge can,
    with the writer schema in the pipeline file."""
    schema = record("Plain", [{"name": "id", "type": "long"}, {"name": "s", "type": "string"}])
    import json
    path = tmp_path / "plain.avsc"
    path.write_text(json.dumps(schema))
    topic = unique("plain")
    broker.create_topic(topic, 1)
    broker.produce(topic, [b"HDR" + datum(schema, {"id": i, "s": f"v{i}"}) for i in range(5)])
    columns = ["id Int64", "s String"]
    table = make_table(clickhouse, columns)
    name = write_pipeline(broker, topic, columns, f"format = avro\navro-schema = {path}\navro-skip-bytes = 3\n")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns)}")
    assert clickhouse.rows(f"SELECT id, s FROM {table} ORDER BY id") == [(str(i), f"v{i}") for i in range(5)]


def test_registry_url_is_not_taken_from_the_command_line(broker, bridge, registry):
    out = subprocess.run([str(BRIDGE), "-b", broker.bootstrap, "-t", "x", "--columns", "id Int64",
                          "--format", "avro-confluent", "--schema-registry", registry.url],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "schema-registry" in out.stderr


def test_describe_prints_columns_from_the_latest_schema(broker, registry, bridge, clickhouse):
    topic = unique("desc")
    schema = record("D", [{"name": "id", "type": "long"}, {"name": "name", "type": ["null", "string"]},
                          {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
                          {"name": "tags", "type": {"type": "array", "items": "string"}}])
    registry.register(f"{topic}-value", record("D", [{"name": "id", "type": "int"}]))
    registry.register(f"{topic}-value", schema)
    conf = user_scripts_dir() / "kafka-bridge.d" / f"{topic}.conf"
    conf.parent.mkdir(exist_ok=True)
    conf.write_text(f"brokers = {broker.bootstrap}\ntopic = {topic}\nschema-registry = {registry.url}\n")
    out = subprocess.run([str(BRIDGE), "--pipeline", topic, "--describe"], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, KAFKA_BRIDGE_PIPELINES=str(conf.parent)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(",\n") == ["`id` Int64", "`name` Nullable(String)",
                                       "`at` DateTime64(6, 'UTC')", "`tags` Array(String)\n"]
    # ClickHouse accepts it as a table structure.
    clickhouse.query(f"CREATE TABLE {unique('d')} ({out.stdout}) ENGINE = Memory")


def describe(broker, registry, topic: str, extra: str = "") -> subprocess.CompletedProcess:
    """--describe of a pipeline file; without a registry (None) none is named."""
    conf = user_scripts_dir() / "kafka-bridge.d" / f"{topic}.conf"
    conf.parent.mkdir(exist_ok=True)
    reg = f"schema-registry = {registry.url}\n" if registry else ""
    conf.write_text(f"brokers = {broker.bootstrap}\ntopic = {topic}\n{reg}{extra}")
    return subprocess.run([str(BRIDGE), "--pipeline", topic, "--describe"], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, KAFKA_BRIDGE_PIPELINES=str(conf.parent)))


def test_describe_lists_key_columns_when_the_key_is_avro(broker, registry, bridge, clickhouse):
    """With key-format = avro-confluent the key's fields come first, from
    `<topic>-key`, each with its PATH; the list runs a pipeline as it is."""
    topic = unique("desckey")
    key_schema = record("K", [{"name": "id", "type": "long"}, {"name": "region", "type": "string"}])
    value_schema = record("V", [{"name": "name", "type": "string"}, {"name": "n", "type": ["null", "int"]}])
    kid = registry.register(f"{topic}-key", key_schema)
    vid = registry.register(f"{topic}-value", value_schema)
    out = describe(broker, registry, topic, "format = avro-confluent\nkey-format = avro-confluent\n")
    assert out.returncode == 0, out.stderr
    columns = out.stdout.rstrip("\n").split(",\n")
    assert columns == ["`key_id` Int64 PATH '$key.id'", "`key_region` String PATH '$key.region'",
                       "`name` String", "`n` Nullable(Int32)"]
    broker.create_topic(topic, 1)
    broker.produce(topic, [(None, frame(kid, datum(key_schema, {"id": i, "region": f"r{i % 2}"})),
                            frame(vid, datum(value_schema, {"name": f"n{i}", "n": None if i == 2 else i})))
                           for i in range(4)])
    table = make_table(clickhouse, columns)
    name = write_pipeline(broker, topic, columns, "format = avro-confluent\nkey-format = avro-confluent\n"
                          f"schema-registry = {registry.url}\n")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns)}")
    assert clickhouse.rows(f"SELECT key_id, key_region, name, n FROM {table} ORDER BY key_id") == [
        ("0", "r0", "n0", "0"), ("1", "r1", "n1", "1"), ("2", "r0", "n2", None), ("3", "r1", "n3", "3")]
    # A primitive key is one column; a key without an Avro value is listed alone.
    topic2 = unique("desckey")
    registry.register(f"{topic2}-key", '"string"')
    out = describe(broker, registry, topic2, "format = json\nkey-format = avro-confluent\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "`key` String PATH '$key'\n"


def test_describe_key_names_never_repeat_a_value_column(broker, registry, bridge, clickhouse):
    """A key field whose key_<field> name a value field has: the key column
    is renamed (key_<field>_1, or the next free number), value columns keep
    their names; the printed list runs the pipeline as it is."""
    topic = unique("desckey")
    key_schema = record("K", [{"name": "id", "type": "long"}, {"name": "region", "type": "string"}])
    value_schema = record("V", [{"name": "key_id", "type": "long"}, {"name": "name", "type": "string"}])
    kid = registry.register(f"{topic}-key", key_schema)
    vid = registry.register(f"{topic}-value", value_schema)
    settings = "format = avro-confluent\nkey-format = avro-confluent\n"
    out = describe(broker, registry, topic, settings)
    assert out.returncode == 0, out.stderr
    columns = out.stdout.rstrip("\n").split(",\n")
    assert columns == ["`key_id_1` Int64 PATH '$key.id'", "`key_region` String PATH '$key.region'",
                       "`key_id` Int64", "`name` String"]
    # The same schemas give the same names again.
    assert describe(broker, registry, topic, settings).stdout == out.stdout
    broker.create_topic(topic, 1)
    broker.produce(topic, [(None, frame(kid, datum(key_schema, {"id": i, "region": f"r{i}"})),
                            frame(vid, datum(value_schema, {"key_id": 100 + i, "name": f"n{i}"})))
                           for i in range(3)])
    table = make_table(clickhouse, columns)
    name = write_pipeline(broker, topic, columns, settings + f"schema-registry = {registry.url}\n")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns)}")
    assert clickhouse.rows(f"SELECT key_id_1, key_region, key_id, name FROM {table} ORDER BY key_id_1") == [
        (str(i), f"r{i}", str(100 + i), f"n{i}") for i in range(3)]


def test_describe_of_plain_datums_uses_the_avro_schema(broker, bridge, clickhouse, tmp_path):
    """format = avro (and key-format = avro): --describe prints the columns
    of the pipeline's avro-schema, no registry needed; the printed list
    runs the pipeline as it is."""
    import json
    schema = record("Plain", [{"name": "id", "type": "long"}, {"name": "v", "type": ["null", "string", "long"]},
                              {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}])
    path = tmp_path / "plain.avsc"
    path.write_text(json.dumps(schema))
    topic = unique("descplain")
    settings = f"format = avro\navro-schema = {path}\n"
    out = describe(broker, None, topic, settings)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "`id` Int64,\n`v` Variant(Int64, String),\n`at` DateTime64(3, 'UTC')\n"
    keyed = describe(broker, None, topic, settings + "key-format = avro\n")
    assert keyed.returncode == 0, keyed.stderr
    columns = keyed.stdout.rstrip("\n").split(",\n")
    assert columns == ["`key_id` Int64 PATH '$key.id'", "`key_v` Variant(Int64, String) PATH '$key.v'",
                       "`key_at` DateTime64(3, 'UTC') PATH '$key.at'",
                       "`id` Int64", "`v` Variant(Int64, String)", "`at` DateTime64(3, 'UTC')"]
    missing = describe(broker, None, topic, "format = avro\n")
    assert missing.returncode != 0 and "format = avro needs avro-schema" in missing.stderr
    rows = [{"id": i, "v": [None, f"s{i}", i][i % 3], "at": 1700000000000 + i} for i in range(4)]
    broker.create_topic(topic, 1)
    broker.produce(topic, [(None, datum(schema, dict(r, id=10 + r["id"])), datum(schema, r)) for r in rows])
    table = make_table(clickhouse, columns)
    name = write_pipeline(broker, topic, columns, settings + "key-format = avro\n")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns)}")
    assert clickhouse.rows(f"SELECT key_id, id, v, variantType(v), key_v, at "
                           f"FROM {table} ORDER BY id") == [
        ("10", "0", None, "None", None, "2023-11-14 22:13:20.000"),
        ("11", "1", "s1", "String", "s1", "2023-11-14 22:13:20.001"),
        ("12", "2", "2", "Int64", "2", "2023-11-14 22:13:20.002"),
        ("13", "3", None, "None", None, "2023-11-14 22:13:20.003")]


def test_deliberate_differences(clickhouse, broker, registry, bridge):
    """docs/avro-rules.md, differences 2 and 3, against ClickHouse itself."""
    # 2: out of range. ClickHouse wraps 300 into a UInt8; the bridge refuses.
    msgs = framed(registry, unique("w") + "-value", record("W", [{"name": "id", "type": "long"},
                                                                 {"name": "v", "type": "long"}]),
                  [{"id": 1, "v": 300}])
    columns = ["id Int64", "v UInt8"]
    theirs = through_clickhouse(clickhouse, registry, columns, msgs)
    assert clickhouse.value(f"SELECT v FROM {theirs}") == "44"
    assert "value 300 is out of range for UInt8" in failure(clickhouse, broker, registry, columns, msgs)
    # 3: timestamp-millis into DateTime64(6): ClickHouse takes the number as
    # microsecond ticks, the bridge converts the instant.
    ts = {"type": "long", "logicalType": "timestamp-millis"}
    msgs = framed(registry, unique("ts") + "-value", record("T", [{"name": "id", "type": "long"},
                                                                  {"name": "at", "type": ts}]),
                  [{"id": 1, "at": 1700000000123}])
    columns = ["id Int64", "at DateTime64(6, 'UTC')"]
    ours = through_bridge(clickhouse, broker, registry, columns, msgs)
    theirs = through_clickhouse(clickhouse, registry, columns, msgs)
    assert clickhouse.value(f"SELECT at FROM {ours}") == "2023-11-14 22:13:20.123000"
    assert clickhouse.value(f"SELECT at FROM {theirs}") == "1970-01-20 16:13:20.000123"


# ---- unions of several types: Variant ------------------------------------------

VARIANT_SCHEMA = record("Var", [
    {"name": "id", "type": "long"},
    {"name": "v", "type": ["string", "long", "null", "double"]},
    {"name": "a", "type": {"type": "array", "items": ["null", "string", "long"]}},
    {"name": "t", "type": record("VT", [{"name": "x", "type": ["int", "string"]}])},
    {"name": "m", "type": {"type": "map", "values": ["boolean", "string"]}},
])
VARIANT_RECORDS = [
    {"id": 1, "v": "text", "a": [None, "x", 5], "t": {"x": 7}, "m": {"p": True, "q": "yes"}},
    {"id": 2, "v": 42, "a": [], "t": {"x": "seven"}, "m": {}},
    {"id": 3, "v": None, "a": [None], "t": {"x": -1}, "m": {"r": False}},
    {"id": 4, "v": 2.5, "a": ["5", 5], "t": {"x": ""}, "m": {"s": "true"}},
    {"id": 5, "v": "42", "a": [9223372036854775807], "t": {"x": 0}, "m": {"t": ""}},
]
VARIANT_COLUMNS = ["id Int64", "v Variant(Float64, Int64, String)", "a Array(Variant(Int64, String))",
                   "t Tuple(x Variant(Int32, String))", "m Map(String, Variant(Bool, String))"]
# What a Variant holds is its value and its type: "42" the String and 42
# the Int64 print alike, so the types are compared too.
VARIANT_TYPES = ("SELECT id, variantType(v), arrayMap(x -> variantType(x), a), variantType(t.x), "
                 "arrayMap(k -> variantType(m[k]), mapKeys(m)) FROM {} ORDER BY id FORMAT TSV")


@pytest.mark.parametrize("fmt", ["RowBinaryWithNamesAndTypes", "Native"])
def test_unions_into_variants_same_as_avroconfluent(clickhouse, broker, registry, bridge, fmt):
    """A union of several types into Variant columns (also in an Array, a
    Tuple and a Map, and NULL): the same framed bytes through the same
    registry, the bridge's rows (RowBinary and -O Native) against what
    ClickHouse's AvroConfluent stores."""
    msgs = framed(registry, unique("var") + "-value", VARIANT_SCHEMA, VARIANT_RECORDS)
    ours = through_bridge(clickhouse, broker, registry, VARIANT_COLUMNS, msgs, fmt=fmt)
    theirs = through_clickhouse(clickhouse, registry, VARIANT_COLUMNS, msgs)
    assert_same(clickhouse, ours, theirs, len(VARIANT_RECORDS))
    assert clickhouse.query(VARIANT_TYPES.format(ours)) == clickhouse.query(VARIANT_TYPES.format(theirs))
    assert clickhouse.rows(f"SELECT id, variantType(v), v IS NULL FROM {ours} ORDER BY id") == [
        ("1", "String", "0"), ("2", "Int64", "0"), ("3", "None", "1"), ("4", "Float64", "0"),
        ("5", "String", "0")]
    assert clickhouse.rows(f"SELECT toString(a), arrayMap(x -> variantType(x), a) FROM {ours} WHERE id = 1") == [
        ("[NULL,'x',5]", "['None','String','Int64']")]


def test_variant_with_a_type_the_union_lacks_is_refused(clickhouse, broker, registry, bridge):
    """A branch no type of the Variant takes: refused for the schema, as
    ClickHouse refuses it; a Variant with more types than the union is
    fine, and int and float go in as long and double (Avro's promotions)."""
    schema = record("VR", [{"name": "id", "type": "long"}, {"name": "v", "type": ["null", "string", "double"]}])
    msgs = framed(registry, unique("varr") + "-value", schema, [{"id": 1, "v": 1.5}])
    columns = ["id Int64", "v Variant(Int64, String)"]
    # ClickHouse shows the start of the reason (the end reads "no type of
    # the Variant takes it").
    msg = failure(clickhouse, broker, registry, columns, msgs)
    assert "field 'v' (Avro double) cannot go into column 'v' (Variant(Int64, String))" in msg
    with pytest.raises(ClickHouseError, match="are not compatible"):
        through_clickhouse(clickhouse, registry, columns, msgs)
    wide = record("VW", [{"name": "id", "type": "long"}, {"name": "v", "type": ["int", "float", "string"]}])
    msgs = framed(registry, unique("varw") + "-value", wide,
                  [{"id": 1, "v": 3}, {"id": 2, "v": 0.5}, {"id": 3, "v": "s"}])
    table = through_bridge(clickhouse, broker, registry,
                           ["id Int64", "v Variant(Bool, Float64, Int64, String)"], msgs)
    assert clickhouse.rows(f"SELECT id, toString(v), variantType(v) FROM {table} ORDER BY id") == [
        ("1", "3", "Int64"), ("2", "0.5", "Float64"), ("3", "s", "String")]


@pytest.mark.parametrize("fmt", ["RowBinaryWithNamesAndTypes", "Native"])
def test_describe_prints_variants(broker, registry, bridge, clickhouse, fmt):
    """--describe names a Variant for a union of several types, as
    ClickHouse infers it; the list it prints runs the pipeline as it is."""
    topic = unique("descvar")
    sid = registry.register(f"{topic}-value", VARIANT_SCHEMA)
    out = describe(broker, registry, topic, "format = avro-confluent\n")
    assert out.returncode == 0, out.stderr
    columns = out.stdout.rstrip("\n").split(",\n")
    assert columns == ["`id` Int64", "`v` Variant(Float64, Int64, String)", "`a` Array(Variant(Int64, String))",
                       "`t` Tuple(x Variant(Int32, String))", "`m` Map(String, Variant(Bool, String))"]
    msgs = [frame(sid, datum(VARIANT_SCHEMA, r)) for r in VARIANT_RECORDS]
    # The types ClickHouse itself infers from the same schema.
    path = scratch_dir() / f"{topic}.avro"
    path.write_bytes(msgs[0])
    inferred = clickhouse.rows(f"DESCRIBE file('{path}', AvroConfluent) "
                               f"SETTINGS format_avro_schema_registry_url = '{registry.url}', "
                               "print_pretty_type_names = 0")
    assert [f"`{r[0]}` {r[1]}" for r in inferred] == columns
    broker.create_topic(topic, 1)
    broker.produce(topic, msgs)
    table = make_table(clickhouse, columns)
    name = write_pipeline(broker, topic, columns,
                          f"format = avro-confluent\nschema-registry = {registry.url}\n")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns, fmt)}")
    theirs = through_clickhouse(clickhouse, registry, VARIANT_COLUMNS, msgs)
    assert_same(clickhouse, table, theirs, len(VARIANT_RECORDS))
    assert clickhouse.query(VARIANT_TYPES.format(table)) == clickhouse.query(VARIANT_TYPES.format(theirs))


# ---- Avro keys ---------------------------------------------------------------

def test_avro_key_with_avro_value(clickhouse, broker, registry, bridge):
    """A CDC topic: key and value both Confluent-framed, each with the id of
    its own subject (`<topic>-key`, `<topic>-value`); key columns by $key
    paths, the whole key of a primitive schema by `$key`."""
    topic = unique("keyed")
    key_schema = record("K", [{"name": "id", "type": "long"}, {"name": "region", "type": "string"}])
    value_schema = record("V", [{"name": "name", "type": "string"}, {"name": "n", "type": "int"}])
    kid = registry.register(f"{topic}-key", key_schema)
    vid = registry.register(f"{topic}-value", value_schema)
    assert kid != vid
    broker.create_topic(topic, 1)
    broker.produce(topic, [(None, frame(kid, datum(key_schema, {"id": i, "region": f"r{i % 2}"})),
                            frame(vid, datum(value_schema, {"name": f"n{i}", "n": i * 10})))
                           for i in range(5)])
    columns = ["id Int64 PATH '$key.id'", "region String PATH '$key.region'", "name String", "n Int32"]
    table = make_table(clickhouse, columns)
    name = write_pipeline(broker, topic, columns,
                          f"format = avro-confluent\nkey-format = avro-confluent\n"
                          f"schema-registry = {registry.url}\n")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns)}")
    assert clickhouse.rows(f"SELECT id, region, name, n FROM {table} ORDER BY id") == [
        (str(i), f"r{i % 2}", f"n{i}", str(i * 10)) for i in range(5)]
    # The same key bytes through ClickHouse's AvroConfluent agree.
    kcols = ["id Int64", "region String"]
    theirs = through_clickhouse(clickhouse, registry, kcols,
                                [frame(kid, datum(key_schema, {"id": i, "region": f"r{i % 2}"}))
                                 for i in range(5)])
    assert clickhouse.rows(f"SELECT id, region FROM {table} ORDER BY id") == \
        clickhouse.rows(f"SELECT id, region FROM {theirs} ORDER BY id")


def test_avro_primitive_key_as_whole_key(clickhouse, broker, registry, bridge):
    topic = unique("pkey")
    kid = registry.register(f"{topic}-key", "\"string\"")
    value_schema = record("V", [{"name": "n", "type": "long"}])
    vid = registry.register(f"{topic}-value", value_schema)
    broker.create_topic(topic, 1)
    broker.produce(topic, [(None, frame(kid, datum("\"string\"", f"user-{i}")),
                            frame(vid, datum(value_schema, {"n": i}))) for i in range(3)])
    columns = ["user String PATH '$key'", "n Int64"]
    table = make_table(clickhouse, columns)
    name = write_pipeline(broker, topic, columns,
                          f"format = avro-confluent\nkey-format = avro-confluent\n"
                          f"schema-registry = {registry.url}\n")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns)}")
    assert clickhouse.rows(f"SELECT user, n FROM {table} ORDER BY n") == [(f"user-{i}", str(i)) for i in range(3)]


def test_avro_key_faults_say_key(clickhouse, broker, registry, bridge):
    """A bad key is a bad message naming the key; a missing key likewise."""
    topic = unique("badkey")
    key_schema = record("K", [{"name": "id", "type": "long"}])
    kid = registry.register(f"{topic}-key", key_schema)
    good_key = frame(kid, datum(key_schema, {"id": 7}))
    broker.create_topic(topic, 1)
    broker.produce(topic, [(None, good_key, b"{}"), (None, b"\x05" + good_key[1:], b"{}")])
    columns = ["id Int64 PATH '$key.id'", "_offset UInt64"]
    table = make_table(clickhouse, columns)
    name = write_pipeline(broker, topic, columns,
                          f"format = json\nkey-format = avro-confluent\nschema-registry = {registry.url}\n")
    with pytest.raises(ClickHouseError) as caught:
        clickhouse.query(f"INSERT INTO {table} SELECT * FROM {source(name, columns)}")
    msg = caught.value.message.replace("\\'", "'")
    assert "offset 1" in msg and "in the key" in msg and "bad magic byte 0x05" in msg
    assert clickhouse.value(f"SELECT count() FROM {table}") == "0"


def test_renamed_field_aliases_are_not_followed(clickhouse, broker, registry, bridge):
    """A field renamed with the old name as an alias: ClickHouse's
    AvroConfluent matches columns by field name only (no reader schema, so
    no aliases), and so does the bridge: the column of the old name gets its
    default for messages of the new schema, in both.  docs/avro-rules.md."""
    subject = unique("alias") + "-value"
    v1 = record("A", [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}])
    v2 = record("A", [{"name": "id", "type": "long"},
                      {"name": "full_name", "type": "string", "aliases": ["name"]}])
    i1, i2 = registry.register(subject, v1), registry.register(subject, v2)
    msgs = [frame(i1, datum(v1, {"id": 1, "name": "old"})),
            frame(i2, datum(v2, {"id": 2, "full_name": "new"}))]
    columns = ["id Int64", "name String"]
    ours = through_bridge(clickhouse, broker, registry, columns, msgs)
    with pytest.raises(ClickHouseError, match="Field name not found in Avro schema"):
        through_clickhouse(clickhouse, registry, columns, msgs)
    theirs = through_clickhouse(clickhouse, registry, columns, msgs,
                                ", input_format_avro_allow_missing_fields = 1")
    assert_same(clickhouse, ours, theirs, 2)
    assert clickhouse.rows(f"SELECT id, name FROM {ours} ORDER BY id") == [("1", "old"), ("2", "")]


# ---- randomized schemas and values -------------------------------------------
# A seeded generator of record schemas of the types both readers take the
# same way (the deliberate differences left out), with the column each
# field maps to and a maker of random values for it.  The seed is printed
# on failure; AVRO_RANDOM_SEED replays one.

import random
import string
import datetime as _dt


def _ident(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 6)))


def _text(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + " \t\n\\'\"é漢😀"
    return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 12, 40])))


def _scalar(rng: random.Random, names: set):
    """(avro type, ClickHouse type, value maker) of a non-composite type."""
    kind = rng.choice(["int", "long", "boolean", "float", "double", "string", "bytes", "enum", "fixed",
                       "date", "ts-millis", "ts-micros", "uuid", "decimal"])
    if kind == "int":
        return "int", "Int32", lambda: rng.choice([0, -1, 2**31 - 1, -2**31, rng.randint(-2**31, 2**31 - 1)])
    if kind == "long":
        return "long", "Int64", lambda: rng.choice([0, 2**63 - 1, -2**63, rng.randint(-2**63, 2**63 - 1)])
    if kind == "boolean":
        return "boolean", "Bool", lambda: rng.random() < 0.5
    if kind == "float":
        return "float", "Float32", lambda: rng.choice([0.0, -0.0, 1.5, 3.4e38, rng.uniform(-1e6, 1e6)])
    if kind == "double":
        return "double", "Float64", lambda: rng.choice([0.0, 5e-324, -1.7e308, rng.uniform(-1e12, 1e12)])
    if kind == "string":
        return "string", "String", lambda: _text(rng)
    if kind == "bytes":
        return "bytes", "String", lambda: bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 7, 30])))
    if kind == "enum":
        name = _ident(rng, "E")
        while name in names:
            name = _ident(rng, "E")
        names.add(name)
        symbols = sorted({_ident(rng, "s") for _ in range(rng.randint(1, 6))})
        ch = "Enum8(" + ", ".join(f"'{s}' = {i + 1}" for i, s in enumerate(symbols)) + ")"
        return {"type": "enum", "name": name, "symbols": symbols}, ch, lambda: rng.choice(symbols)
    if kind == "fixed":
        name = _ident(rng, "F")
        while name in names:
            name = _ident(rng, "F")
        names.add(name)
        size = rng.randint(1, 20)
        return ({"type": "fixed", "name": name, "size": size}, f"FixedString({size})",
                lambda: bytes(rng.randrange(256) for _ in range(size)))
    if kind == "date":
        return {"type": "int", "logicalType": "date"}, "Date32", lambda: rng.randint(0, 100000)
    if kind == "ts-millis":
        return ({"type": "long", "logicalType": "timestamp-millis"}, "DateTime64(3, 'UTC')",
                lambda: _dt.datetime.fromtimestamp(rng.randint(0, 7_000_000_000_000) / 1000, _dt.timezone.utc))
    if kind == "ts-micros":
        return ({"type": "long", "logicalType": "timestamp-micros"}, "DateTime64(6, 'UTC')",
                lambda: _dt.datetime.fromtimestamp(rng.randint(0, 7_000_000_000), _dt.timezone.utc)
                + _dt.timedelta(microseconds=rng.randint(0, 999999)))
    if kind == "uuid":
        return ({"type": "string", "logicalType": "uuid"}, "UUID",
                lambda: str(uuid.UUID(int=rng.getrandbits(128))))
    precision = rng.randint(1, 18)
    scale = rng.randint(0, precision)
    return ({"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale},
            f"Decimal({precision}, {scale})",
            lambda: Decimal(rng.randint(-(10**precision - 1), 10**precision - 1)).scaleb(-scale))


def _field_type(rng: random.Random, names: set, depth: int = 0):
    shape = rng.choice(["scalar"] * 5 + ["nullable", "array", "map"] + (["record"] if depth == 0 else []))
    if shape == "scalar":
        return _scalar(rng, names)
    if shape == "nullable":
        a, c, make = _scalar(rng, names)
        first_null = rng.random() < 0.5
        return (["null", a] if first_null else [a, "null"], f"Nullable({c})",
                lambda: None if rng.random() < 0.3 else make())
    if shape == "array":
        a, c, make = _scalar(rng, names)
        return {"type": "array", "items": a}, f"Array({c})", lambda: [make() for _ in range(rng.randint(0, 4))]
    if shape == "map":
        a, c, make = _scalar(rng, names)
        return ({"type": "map", "values": a}, f"Map(String, {c})",
                lambda: {_text(rng): make() for _ in range(rng.randint(0, 3))})
    name = _ident(rng, "R")
    while name in names:
        name = _ident(rng, "R")
    names.add(name)
    fields, elems, makers = [], [], []
    for i in range(rng.randint(1, 4)):
        a, c, make = _field_type(rng, names, depth + 1)
        fields.append({"name": f"f{i}", "type": a})
        elems.append(f"f{i} {c}")
        makers.append((f"f{i}", make))
    return (record(name, fields), f"Tuple({', '.join(elems)})",
            lambda: {k: m() for k, m in makers})


def random_corpus(rng: random.Random, n_records: int):
    names: set = set()
    fields, columns, makers = [{"name": "id", "type": "long"}], ["id Int64"], []
    for i in range(rng.randint(1, 8)):
        a, c, make = _field_type(rng, names)
        fields.append({"name": f"c{i}", "type": a})
        columns.append(f"c{i} {c}")
        makers.append((f"c{i}", make))
    schema = record(_ident(rng, "Rand"), fields)
    records = [{"id": k, **{n: m() for n, m in makers}} for k in range(n_records)]
    return schema, records, columns


def test_randomized_schemas_same_as_avroconfluent(clickhouse, broker, registry, bridge):
    seed = int(os.environ.get("AVRO_RANDOM_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    for round_ in range(int(os.environ.get("AVRO_RANDOM_ROUNDS", "4"))):
        schema, records, columns = random_corpus(rng, 25)
        msgs = framed(registry, unique("rand") + "-value", schema, records)
        ours = through_bridge(clickhouse, broker, registry, columns, msgs)
        theirs = through_clickhouse(clickhouse, registry, columns, msgs)
        try:
            assert_same(clickhouse, ours, theirs, len(records))
        except AssertionError as e:
            raise AssertionError(f"AVRO_RANDOM_SEED={seed} round {round_}: columns {columns}\n{e}") from None
