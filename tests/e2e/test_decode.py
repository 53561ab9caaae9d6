"""kafkaDecode: MessagePack payloads as JSON text, through the shipped
XML; ClickHouse's own MsgPack writer makes payloads and its JSON
functions read the answers."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import uuid
from pathlib import Path

import pytest

from harness.clickhouse import ClickHouseError

PEEK = ("partition Int32, offset Int64, timestamp Nullable(DateTime64(3, \\'UTC\\')), key Nullable(String), "
        "value Nullable(String), headers Array(Tuple(name String, value Nullable(String)))")


@pytest.fixture(scope="module")
def decoder(user_scripts: Path) -> Path:
    prog = user_scripts / "kafka-decode"
    if not prog.exists():
        pytest.skip("kafka-decode not built")
    return prog


def leb(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def run(prog: Path, payloads: list[bytes | None], *flags: str) -> subprocess.CompletedProcess:
    body = b"".join(leb(7) + b"msgpack" + (b"\x01" if p is None else b"\x00" + leb(len(p)) + p) for p in payloads)
    return subprocess.run([str(prog), *flags], input=f"{len(payloads)}\n".encode() + body, capture_output=True,
                          timeout=30)


def answers(out: bytes) -> list[str | None]:
    res, i = [], 0
    while i < len(out):
        if out[i] == 1:
            res.append(None)
            i += 1
            continue
        i += 1
        n = shift = 0
        while True:
            b = out[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        res.append(out[i:i + n].decode("utf-8", "replace"))
        i += n
    return res


def test_edge_values_directly(decoder):
    cases = [
        (b"\xc0", "null"), (b"\xc3", "true"), (b"\x7f", "127"), (b"\xe0", "-32"),
        (b"\xcf" + struct.pack(">Q", 2**64 - 1), "18446744073709551615"),
        (b"\xd3" + struct.pack(">q", -2**63), "-9223372036854775808"),
        (b"\xca" + struct.pack(">f", 1.1), "1.1"), (b"\xcb" + struct.pack(">d", 0.1), "0.1"),
        (b"\xcb" + struct.pack(">d", 3.0), "3.0"),
        (b"\xa5" + "é\"\n".encode() + b"\x01", '"é\\"\\n\\u0001"'),
        (b"\xc4\x02\xff\x00", '"\xff\\u0000"'.encode("latin-1").decode("utf-8", "replace")),
        (b"\x82\xa1a\x91\x01\x02\xc2", '{"a":[1],"2":false}'),
        (b"\xd6\xff" + struct.pack(">I", 1_700_000_000), '"2023-11-14T22:13:20.000000000Z"'),
        # Keys that are not strings: their JSON text is the key.
        (b"\x83\x01\xa1a\x92\x01\x02\xa1b\xc0\xa1c", '{"1":"a","[1,2]":"b","null":"c"}'),
        (b"\x81\x81\xa1k\x01\x02", '{"{\\"k\\":1}":2}'),
    ]
    done = run(decoder, [c for c, _ in cases] + [None])
    assert done.returncode == 0 and done.stderr == b""
    assert answers(done.stdout) == [j for _, j in cases] + [None]
    # Each answer is JSON that reads back as the value.
    assert json.loads(answers(done.stdout)[11]) == {"a": [1], "2": False}


@pytest.mark.parametrize("payload,reason", [
    (b"\x92\x01", "msgpack: input ends inside a value (2 bytes): a container declares 2 more elements "
                  "with 1 bytes left (at byte 1)"),
    (b"\x91\xcd\x01", "msgpack: input ends inside a value (3 bytes)"),
    (b"\x01\x02", "msgpack: 1 bytes after the value (at byte 1)"),
    (b"\xcb" + struct.pack(">d", float("nan")), "msgpack: NaN has no JSON form"),
    (b"\xd4\x05\x00", "msgpack: extension type 5 has no JSON form"),
    # Five bytes that declare 4 billion elements: refused before any allocation.
    (b"\xdd\xff\xff\xff\xff", "msgpack: input ends inside a value (5 bytes): a container declares "
                              "4294967295 more elements with 0 bytes left (at byte 5)"),
    (b"\x92\xc1\x00", "msgpack: invalid byte 0xc1 (at byte 1)"),
    (b"\x91" * 80 + b"\xc0", "msgpack: nested deeper than 32, or out of memory (81 bytes)"),
    # A non-string key inside another would have its text escaped twice.
    (b"\x81\x81\x81\x01\x02\x03\x04", "msgpack: a map key that holds another non-string map key has no JSON form"),
])
def test_bad_payload_fails_or_gives_null(decoder, payload, reason):
    done = run(decoder, [b"\xc0", payload])
    assert done.returncode == 1 and done.stdout == b""
    assert done.stderr.decode() == f"kafka-decode: block 1 row 2: {reason}\n"
    lenient = run(decoder, [b"\xc0", payload], "--or-null")
    assert lenient.returncode == 0 and answers(lenient.stdout) == ["null", None]


def test_clickhouse_msgpack_through_kafka_and_back(broker, clickhouse, bridge, decoder):
    """Payloads written by ClickHouse's MsgPack format, stored in Kafka,
    peeked by the bridge and decoded in SQL, equal what ClickHouse's
    toJSONString makes of the same values."""
    topic = f"mp_{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, 1)
    value = ("map('id', toString(number), 'tags', toString(range(number % 4)), 'name', concat('n\"', toString(number)))")
    payloads = clickhouse.rows(f"SELECT hex(formatRowNoNewline('MsgPack', {value})) FROM numbers(50)")
    broker.produce(topic, [(0, None, bytes.fromhex(h)) for (h,) in payloads])
    rows = clickhouse.rows(
        f"SELECT offset, kafkaDecode('msgpack', value) FROM executable('kafka-bridge -b {broker.bootstrap} -t {topic} "
        f"-c 50 --inspect peek', 'RowBinaryWithNamesAndTypes', '{PEEK}') ORDER BY offset")
    expected = clickhouse.rows(f"SELECT number, toJSONString({value}) FROM numbers(50)")
    assert len(rows) == 50
    assert [(o, json.loads(j)) for o, j in rows] == [(n, json.loads(j)) for n, j in expected]
    assert clickhouse.value(f"SELECT JSONExtractString(kafkaDecode('msgpack', unhex('{payloads[7][0]}')), 'name')") \
        == 'n"7'
    with pytest.raises(ClickHouseError) as e:
        clickhouse.query("SELECT kafkaDecode('avro', 'x')")
    # Block numbers count from the start of the pool process, which has
    # served the queries above.
    assert re.search(r"kafka-decode: block \d+ row 1: unknown format 'avro' \(supported: msgpack\)",
                     e.value.message), e.value.message
    assert clickhouse.value("SELECT kafkaDecodeOrNull('msgpack', unhex('9201')) IS NULL") == "1"
