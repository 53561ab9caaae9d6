"""kafkaProduce and kafkaDecode on Avro pipelines, end to end: a real
broker, a real Apicurio registry and chDB loading the shipped XML.

Rows go from a table through kafkaProduce as Confluent-framed Avro; the
topic is then read back by ClickHouse's own AvroConfluent reader and by
the bridge's Avro pipeline, and both must store the source rows.  The
schema is the one ClickHouse's own AvroConfluent output registers for the
same columns, and the bytes kafkaProduce sends must be the bytes that
output writes for each row.  kafkaDecode of the payloads gives back the
JSON that was produced; rows that do not fit the schema, and payloads
that do not decode, give their errors."""

from __future__ import annotations

import decimal
import io
import json
import re
import struct
from pathlib import Path

import fastavro
import pytest

from harness.clickhouse import ClickHouseError
from harness.names import sql_quote, unique
from harness.registry import datum, frame
from harness.scripts import scratch_dir, user_scripts_dir

COLUMNS = ("id Int64, name String, amount Decimal(12, 2), at DateTime64(3, 'UTC'), day Date32, "
           "tags Array(String), score Nullable(Float64), ok Bool, kind Enum8('small' = 1, 'big' = 2), "
           "attrs Map(String, Int32), u UUID")


@pytest.fixture(scope="module")
def programs(user_scripts: Path) -> Path:
    for p in ("kafka-produce", "kafka-decode"):
        if not (user_scripts / p).exists():
            pytest.skip(f"{p} not built")
    return user_scripts


def write_pipeline(broker, registry, topic: str, *extra: str) -> str:
    name = unique("avout")
    d = user_scripts_dir() / "kafka-bridge.d"
    d.mkdir(exist_ok=True)
    path = d / f"{name}.conf"
    path.touch(mode=0o600)
    path.write_text(f"brokers = {broker.bootstrap}\ntopic = {topic}\nallow-produce = true\n"
                    f"format = avro-confluent\nschema-registry = {registry.url}\n" + "\n".join(extra) + "\n")
    return name


def source_table(ch, n: int) -> str:
    src = unique("src")
    ch.query(f"CREATE TABLE {src} ({COLUMNS}) ENGINE = MergeTree ORDER BY id")
    ch.query(f"INSERT INTO {src} SELECT number - 20, concat('n-', toString(number), if(number % 7 = 0, ' \"q\"\\n', '')), "
             f"toDecimal64(number * 1.25 - 30, 2), toDateTime64('2024-02-29 23:59:59.999', 3, 'UTC') + number, "
             f"toDate32('1969-12-25') + number, arrayMap(i -> concat('t', toString(i)), range(number % 3)), "
             f"if(number % 4 = 0, NULL, number / 8), number % 2 = 0, if(number % 3 = 0, 'big', 'small'), "
             f"map('a', toInt32(number), 'b', -1), generateUUIDv4(number) FROM numbers({n})")
    return src


def test_produced_avro_is_what_clickhouse_writes_and_reads(clickhouse, broker, registry, bridge, programs):
    n = 500
    topic = unique("avro_out")
    broker.create_topic(topic, 2)
    src = source_table(clickhouse, n)
    subject = f"{topic}-value"
    # ClickHouse's own AvroConfluent output registers the schema it derives
    # from the columns, then writes each row framed with its id.
    theirs = clickhouse.query_bytes(
        f"SELECT * FROM {src} ORDER BY id SETTINGS format_avro_schema_registry_url = '{registry.url}', "
        f"output_format_avro_confluent_subject = '{subject}'", fmt="AvroConfluent")
    schema_id = struct.unpack(">I", theirs[1:5])[0]
    schema = json.loads(registry.schema(schema_id))
    key_id = registry.register(f"{topic}-key", {"type": "record", "name": "k",
                                                "fields": [{"name": "id", "type": "long"}]})
    pipe = write_pipeline(broker, registry, topic, "key-format = avro-confluent")

    res = unique("res")
    clickhouse.query(
        f"CREATE TABLE {res} ENGINE = MergeTree ORDER BY id AS "
        f"SELECT id, kafkaProduce('{pipe}', formatRowNoNewline('JSONEachRow', id), "
        f"formatRowNoNewline('JSONEachRow', *)) AS r FROM {src} SETTINGS max_block_size = 128")
    assert clickhouse.rows(f"SELECT count(), countIf(r.error = ''), uniqExact(r.partition, r.offset) FROM {res}") \
        == [(str(n), str(n), str(n))]

    messages = broker.consume_all(topic)
    assert len(messages) == n
    where = {(int(p), int(o)): int(i) for i, p, o in
             clickhouse.rows(f"SELECT id, r.partition, r.offset FROM {res}")}
    by_id = {where[(m[0], m[1])]: m for m in messages}
    # Byte for byte what ClickHouse's AvroConfluent output writes for the
    # same rows, the framing included.
    ours = b"".join(by_id[i][3] for i in sorted(by_id))
    assert ours[:5] == b"\0" + struct.pack(">I", schema_id)
    assert ours == theirs
    for i, m in by_id.items():
        assert m[2] == frame(key_id, datum({"type": "record", "name": "k",
                                            "fields": [{"name": "id", "type": "long"}]}, {"id": i}))

    # (a) ClickHouse's AvroConfluent reader over the topic's bytes...
    path = scratch_dir() / f"{topic}.avro"
    path.write_bytes(b"".join(m[3] for m in messages))
    ch_table = unique("ch")
    clickhouse.query(f"CREATE TABLE {ch_table} ({COLUMNS}) ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"INSERT INTO {ch_table} SELECT * FROM file('{path}', AvroConfluent, '{sql_quote(COLUMNS)}') "
                     f"SETTINGS format_avro_schema_registry_url = '{registry.url}'")
    # ... and the bridge's Avro pipeline over the topic, the key's field too.
    read = write_pipeline(broker, registry, topic, "key-format = avro-confluent",
                          "columns = " + COLUMNS + ", kid Int64 PATH '$key.id'")
    br_table = unique("br")
    clickhouse.query(f"CREATE TABLE {br_table} ({COLUMNS}, kid Int64) ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"INSERT INTO {br_table} SELECT * FROM executable('kafka-bridge --pipeline {read}', "
                     f"'RowBinaryWithNamesAndTypes', '{sql_quote(COLUMNS)}, kid Int64')")
    want = clickhouse.query(f"SELECT * FROM {src} ORDER BY id FORMAT TSV")
    assert clickhouse.query(f"SELECT * FROM {ch_table} ORDER BY id FORMAT TSV") == want
    assert clickhouse.query(f"SELECT * EXCEPT kid FROM {br_table} ORDER BY id FORMAT TSV") == want
    assert clickhouse.value(f"SELECT countIf(kid != id) FROM {br_table}") == "0"

    # (b) kafkaDecode of the payloads gives the JSON that was produced.
    peek = ("partition Int32, offset Int64, timestamp Nullable(DateTime64(3, \\'UTC\\')), key Nullable(String), "
            "value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))")
    decoded = clickhouse.rows(
        f"SELECT partition, offset, kafkaDecode('{pipe}', value) FROM executable('kafka-bridge -b {broker.bootstrap} "
        f"-t {topic} -c {n} --inspect peek', 'RowBinaryWithNamesAndTypes', '{peek}')")
    assert len(decoded) == n
    produced = dict(clickhouse.rows(
        f"SELECT id, formatRowNoNewline('JSONEachRow', *) FROM {src} "
        f"SETTINGS output_format_json_quote_64bit_integers = 0"))
    for p, o, text in decoded:
        i = where[(int(p), int(o))]
        got = json.loads(text, parse_float=decimal.Decimal)
        expect = json.loads(produced[str(i)], parse_float=decimal.Decimal)
        assert got == expect, (i, text, produced[str(i)])


def test_rows_that_do_not_fit_the_schema_get_their_error(clickhouse, broker, registry, programs):
    topic = unique("avro_bad")
    broker.create_topic(topic, 1)
    schema = {"type": "record", "name": "o", "fields": [
        {"name": "id", "type": "long"}, {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                                                    "precision": 6, "scale": 2}},
        {"name": "note", "type": ["null", "string"]}]}
    sid = registry.register(f"{topic}-value", schema)
    pipe = write_pipeline(broker, registry, topic)
    values = ['{"id":1,"amount":1.5}', '{"id":"x","amount":1}', '{"id":3,"amount":1.234}',
              '{"id":4,"amount":2,"note":7}', '{"id":5,"amount":2,"extra":1}', 'not json', '{"id":7,"amount":"3"}']
    rows = clickhouse.rows(
        "SELECT i, r.partition, r.offset, r.error FROM (SELECT i, kafkaProduce('" + pipe + "', NULL, v) AS r "
        "FROM (SELECT arrayJoin(arrayEnumerate(vs)) AS i, vs[i] AS v FROM (SELECT ["
        + ", ".join(f"'{sql_quote(v)}'" for v in values) + "] AS vs))) ORDER BY i")
    errors = {int(i): e for i, _, _, e in rows}
    assert errors[1] == "" and errors[7] == ""
    assert errors[2] == "value does not fit the Avro schema: field 'id': 'x' is not an integer"
    assert errors[3] == "value does not fit the Avro schema: field 'amount': 1.234 has more than 2 digits after the point"
    assert errors[4] == "value does not fit the Avro schema: field 'note': expected a string, got a number"
    assert errors[5] == "value does not fit the Avro schema: field 'extra': no such field in o"
    assert errors[6] == "value does not fit the Avro schema: expected an object (a record)"
    assert all(p == "-1" and o == "-1" for i, p, o, e in rows if e)
    # Only the good rows reached the topic, framed with the subject's id.
    got = broker.consume_all(topic)
    assert [m[3][:5] for m in got] == [frame(sid, b"")] * 2
    parsed = fastavro.parse_schema(schema)
    assert [fastavro.schemaless_reader(io.BytesIO(m[3][5:]), parsed) for m in got] == [
        {"id": 1, "amount": decimal.Decimal("1.50"), "note": None},
        {"id": 7, "amount": decimal.Decimal("3.00"), "note": None}]
    # The OrFail form fails the query on the first such row, naming it.
    with pytest.raises(ClickHouseError, match=r"row 1: value does not fit the Avro schema: field 'id': 'x'"):
        clickhouse.query(f"SELECT kafkaProduceOrFail('{pipe}', NULL, '{{\"id\":\"x\",\"amount\":1}}')")


def test_subject_without_schema_fails_the_query(clickhouse, broker, registry, programs):
    topic = unique("avro_none")
    broker.create_topic(topic, 1)
    pipe = write_pipeline(broker, registry, topic)
    with pytest.raises(ClickHouseError, match=rf"pipeline '{pipe}': format: the latest schema of subject "
                                              rf"'{topic}-value'"):
        clickhouse.query(f"SELECT kafkaProduce('{pipe}', NULL, '{{}}')")


def test_decode_errors(clickhouse, broker, registry, programs):
    topic = unique("avro_dec")
    schema = {"type": "record", "name": "d", "fields": [{"name": "a", "type": "long"},
                                                         {"name": "s", "type": "string"}]}
    sid = registry.register(f"{topic}-value", schema)
    pipe = write_pipeline(broker, registry, topic)
    good = frame(sid, datum(schema, {"a": 1, "s": "x"}))

    def hexed(b: bytes) -> str:
        return f"unhex('{b.hex()}')"

    assert clickhouse.value(f"SELECT kafkaDecode('{pipe}', {hexed(good)})") == '{"a":1,"s":"x"}'
    assert clickhouse.value(f"SELECT kafkaDecode('{pipe}', CAST(NULL, 'Nullable(String)')) IS NULL") == "1"
    bad = {"magic": b"\x01" + good[1:], "truncated": good[:-1], "trailing": good + b"\0"}
    with pytest.raises(ClickHouseError, match=r"row 1: bad magic byte 0x01"):
        clickhouse.query(f"SELECT kafkaDecode('{pipe}', {hexed(bad['magic'])})")
    with pytest.raises(ClickHouseError, match=r"row 1: schema id \d+: Avro datum, field 's', byte 2: "
                                              r"the datum ends early"):
        clickhouse.query(f"SELECT kafkaDecode('{pipe}', {hexed(bad['truncated'])})")
    with pytest.raises(ClickHouseError, match=r"1 bytes after the datum"):
        clickhouse.query(f"SELECT kafkaDecode('{pipe}', {hexed(bad['trailing'])})")
    rows = clickhouse.rows(f"SELECT kafkaDecodeOrNull('{pipe}', v) FROM (SELECT arrayJoin(["
                           + ", ".join(hexed(b) for b in [good, *bad.values()]) + "]) AS v)")
    assert rows == [('{"a":1,"s":"x"}',), (None,), (None,), (None,)]
    # An id the registry does not know is not the payload's fault: the
    # query fails even with OrNull.
    unknown = frame(987654321, datum(schema, {"a": 1, "s": "x"}))
    with pytest.raises(ClickHouseError, match=r"pipeline '" + pipe + r"': .*987654321"):
        clickhouse.query(f"SELECT kafkaDecodeOrNull('{pipe}', {hexed(unknown)})")
    with pytest.raises(ClickHouseError, match=r"unknown format 'no_such_pipe' \(supported: msgpack\), and no such"):
        clickhouse.query(f"SELECT kafkaDecode('no_such_pipe', 'x')")


def test_shipped_avro_recipe(clickhouse, broker, registry, bridge, programs):
    """The Avro part of sql/produce.sql as written, with the shipped
    orders_avro pipeline pointed at a test broker, topic and registry."""
    root = Path(__file__).resolve().parents[2]
    topic = unique("orders_avro")
    broker.create_topic(topic, 2)
    conf = (root / "clickhouse-config/user_scripts/kafka-bridge.d/orders_avro.conf").read_text()
    conf = (conf.replace("127.0.0.1:9092", broker.bootstrap).replace("topic = orders_avro", f"topic = {topic}")
            .replace("http://127.0.0.1:8081/apis/ccompat/v7", registry.url))
    (user_scripts_dir() / "kafka-bridge.d/orders_avro.conf").write_text(conf)
    text = (root / "sql/produce.sql").read_text()
    json_part, avro_part = text.split("-- == Avro")
    avro_part = avro_part.split("\n", 1)[1]  # the rest of the marker line
    strip = lambda t: [s for s in re.sub(r"(?m)^\s*--.*$", "", t).split(";") if s.strip()]
    db = unique("db")
    clickhouse.query(f"CREATE DATABASE {db}")
    try:
        clickhouse.query(f"USE {db}; {strip(json_part)[0]}")
        clickhouse.query(f"USE {db}; INSERT INTO orders SELECT number, concat('c', toString(number % 7)), "
                         f"number / 100, toDateTime64('2025-01-01 00:00:00', 3, 'UTC') + number FROM numbers(300)")
        # The registration the recipe's comment describes.
        clickhouse.query_bytes(
            f"SELECT id, customer, amount, created FROM {db}.orders LIMIT 1 SETTINGS "
            f"format_avro_schema_registry_url = '{registry.url}', "
            f"output_format_avro_confluent_subject = '{topic}-value'", fmt="AvroConfluent")
        out = clickhouse.query(f"USE {db}; " + "; ".join(strip(avro_part)) + " FORMAT TSV")
        lines = out.splitlines()
        assert len(lines) == 3  # no failed rows listed, three payloads decoded
        for line in lines:
            offset, row, customer = line.split("\t")
            got = json.loads(row.replace("\\\\", "\\"))
            assert customer == f"c{got['id'] % 7}"
        assert clickhouse.value(f"SELECT count() FROM {db}.orders_avro_published WHERE r.error = ''") == "300"
        assert clickhouse.query(f"SELECT * FROM {db}.orders_avro_copy ORDER BY id FORMAT TSV") == \
            clickhouse.query(f"SELECT * FROM {db}.orders ORDER BY id FORMAT TSV")
    finally:
        clickhouse.query("USE default")
        clickhouse.query(f"DROP DATABASE {db}")


def test_named_subject_plain_datums_and_msgpack_pipelines(clickhouse, broker, registry, programs):
    """avro-subject picks another subject; format = avro writes and reads
    plain datums of avro-schema (no framing, no registry); a msgpack
    pipeline decodes as kafkaDecode('msgpack', ...) does."""
    schema = {"type": "record", "name": "p", "fields": [{"name": "a", "type": "long"},
                                                         {"name": "b", "type": ["null", "string"]}]}
    topic = unique("avro_named")
    broker.create_topic(topic, 1)
    named = unique("custom")
    sid = registry.register(named, schema)
    pipe = write_pipeline(broker, registry, topic, f"avro-subject = {named}")
    assert clickhouse.value(f"SELECT concat('[', tupleElement(kafkaProduce('{pipe}', NULL, "
                            f"'{{\"a\":5,\"b\":\"x\"}}'), 'error'), ']')") == "[]"

    plain_topic = unique("avro_plain")
    broker.create_topic(plain_topic, 1)
    d = user_scripts_dir() / "kafka-bridge.d"
    plain = unique("plain")
    (d / f"{plain}.conf").write_text(f"brokers = {broker.bootstrap}\ntopic = {plain_topic}\nallow-produce = true\n"
                                     f"format = avro\navro-schema = {json.dumps(schema)}\n")
    assert clickhouse.value(f"SELECT concat('[', tupleElement(kafkaProduce('{plain}', NULL, '{{\"a\":-1}}'), "
                            f"'error'), ']')") == "[]"
    assert [m[3] for m in broker.consume_all(topic)] == [frame(sid, datum(schema, {"a": 5, "b": "x"}))]
    got = broker.consume_all(plain_topic)
    assert [m[3] for m in got] == [datum(schema, {"a": -1, "b": None})]
    assert clickhouse.value(f"SELECT kafkaDecode('{plain}', unhex('{got[0][3].hex()}'))") == '{"a":-1,"b":null}'

    mp = unique("mp")
    (d / f"{mp}.conf").write_text(f"brokers = {broker.bootstrap}\ntopic = {plain_topic}\nformat = msgpack\n")
    assert clickhouse.value(f"SELECT kafkaDecode('{mp}', unhex('81a16101'))") == '{"a":1}'
    js = unique("js")
    (d / f"{js}.conf").write_text(f"brokers = {broker.bootstrap}\ntopic = {plain_topic}\n")
    with pytest.raises(ClickHouseError, match=rf"pipeline '{js}': its format 'json' is not one kafkaDecode reads"):
        clickhouse.query(f"SELECT kafkaDecode('{js}', '{{}}')")
