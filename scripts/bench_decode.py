#!/usr/bin/env python3
"""Decode-only benchmark: the same file of JSON lines turned into rows by the
bridge's decoder and by ClickHouse's JSONEachRow parser. Run it through
scripts/bench-decode, which builds the bridge first.

Cases (files written to build/bench-decode/, once):
  narrow  1,000,000 lines of the 6-field message of scripts/bench
          (~117 bytes: integers, a string, a float, an ISO time, a boolean)
  wide    200,000 lines of 50 columns of mixed types (~1 KB): integers of
          every width, floats, decimals, strings, dates and times in two
          zones, UUIDs, IP addresses, enums, arrays, a map, a named tuple,
          Nullable and LowCardinality columns

Bridge: build/tests/bench/decode-bench FILE COLUMNS, which splits the file
into messages once, then times jsonrow_decode over all of them (best of
--rounds, CPU time of the process; it is single-threaded).

ClickHouse: chDB (the pinned ClickHouse build) runs
    SELECT * FROM file(FILE, JSONEachRow, 'COLUMNS') FORMAT Null
with the settings the bridge's rules assume; timed by the process's CPU
time (user + system, all threads) around the query, best of --rounds.
Two configurations: ClickHouse's defaults (parallel parsing over its
threads) and one thread (max_threads = 1, input_format_parallel_parsing =
0). "Per core" divides by CPU seconds, so both are comparable with the
bridge's single thread.

The bridge's side is the whole path to ClickHouse columns: decode-bench's
CPU time to read and split the file, plus its decoding, plus ClickHouse
parsing the bridge's RowBinary (SELECT * FROM file(RB, RowBinary, ...)
FORMAT Null, timed like the JSON query), since that parse is work the bridge
leaves to ClickHouse. ClickHouse's side reads the same file through file()
inside its query. The decoder alone is shown too, for the decoder's own cost.

A second line gives the path through -O Native: decode-bench's
native_cpu_seconds (the message decoder writing the columns of Native
blocks, as the bridge does) plus ClickHouse parsing those blocks.

Before timing, both RowBinary outputs of each file are compared byte for
byte, and the Native blocks read back must be the same rows, so the two
sides do the same work with the same result.

Avro (--avro-rows, 0 skips it): the narrow messages as Avro datums
(fastavro; ts a timestamp-millis), timed the same way: the bridge's side is
build/tests/bench/avro-bench (its compiled plan; reading and splitting the
file counted) plus ClickHouse's parse of its RowBinary, and a line with the
same rows handed over as Native instead, as -O Native does: the plan writing
Native columns directly (avro-bench's direct_native_cpu_seconds, the whole
decode) plus ClickHouse's Native parse; ClickHouse's side is AvroConfluent
on the same datums, Confluent-framed and concatenated, through a real
registry (scripts/registry, started and stopped here). A second Avro case,
avro-null, has page and ok as unions with null into Nullable columns (null
in every 5th and 7th row), the shape of most Connect-made schemas. A third,
avro-wide (--avro-wide-rows, 0 skips it), is a record of about 40 fields:
the narrow ones, a nested record into a Tuple, arrays, a map, an enum,
nullable unions, a decimal, a uuid, a date, timestamp-micros and 24
scalars.

--base-build DIR (a build of the tree to compare with, e.g. from `git
worktree add`): its avro-bench and this build's run alternately
--interleave times on the same datums, and the medians are shown side by
side: the base's RowBinary decode, its Native path (decode to RowBinary,
then native_encode's split, as -O Native did before the decoders wrote
columns), and this build's.
"""

from __future__ import annotations

import argparse
import decimal
import json
import random
import resource
import subprocess
import sys
import uuid
from pathlib import Path

SETTINGS = ("date_time_input_format = 'best_effort', input_format_skip_unknown_fields = 1, "
            "input_format_null_as_default = 1")

NARROW = ("id UInt64, user_id UInt64, page String, amount Float64, "
          "ts DateTime64(3, 'UTC'), ok Bool")


def narrow_line(i: int) -> str:
    return (f'{{"id":{i},"user_id":{1000 + i % 5000},"page":"/cat/{i % 100:02d}/item/{i:07d}",'
            f'"amount":{(i % 100000) / 100:.2f},"ts":"2024-05-01T12:{i // 60 % 60:02d}:{i % 60:02d}.'
            f'{i % 1000:03d}Z","ok":{"true" if i % 3 == 0 else "false"}}}')


WIDE_COLUMNS = [
    ("i8", "Int8", lambda r, i: r.randint(-128, 127)),
    ("i16", "Int16", lambda r, i: r.randint(-32768, 32767)),
    ("i32", "Int32", lambda r, i: r.randint(-2**31, 2**31 - 1)),
    ("i64", "Int64", lambda r, i: r.randint(-2**63, 2**63 - 1)),
    ("u8", "UInt8", lambda r, i: r.randint(0, 255)),
    ("u16", "UInt16", lambda r, i: r.randint(0, 65535)),
    ("u32", "UInt32", lambda r, i: r.randint(0, 2**32 - 1)),
    ("u64", "UInt64", lambda r, i: r.randint(0, 2**64 - 1)),
    ("i128", "Int128", lambda r, i: r.randint(-2**100, 2**100)),
    ("u256", "UInt256", lambda r, i: r.randint(0, 2**100)),
    ("f32", "Float32", lambda r, i: round(r.uniform(-1e4, 1e4), 3)),
    ("f64a", "Float64", lambda r, i: r.uniform(-1e9, 1e9)),
    ("f64b", "Float64", lambda r, i: round(r.random(), 6)),
    ("price", "Decimal(18, 4)", lambda r, i: f"{r.randint(0, 10**8)}.{r.randint(0, 9999):04d}"),
    ("total", "Decimal(38, 2)", lambda r, i: float(f"{r.randint(0, 10**9)}.{r.randint(0, 99):02d}")),
    ("name", "String", lambda r, i: f"user-{i}-" + "x" * r.randint(5, 30)),
    ("email", "String", lambda r, i: f"person{i}@example{i % 97}.com"),
    ("url", "String", lambda r, i: f"https://shop.example.com/c/{i % 500}/p/{i}?ref=campaign-{i % 13}"),
    ("agent", "String", lambda r, i: "Mozilla/5.0 (X11; Linux)"),
    ("note", "String", lambda r, i: "caf\u00e9 \"quoted\" line\nbreak" if i % 7 == 0 else "plain note text"),
    ("city", "LowCardinality(String)", lambda r, i: r.choice(["Berlin", "Paris", "Tokyo", "Lima"])),
    ("country", "LowCardinality(String)", lambda r, i: r.choice(["DE", "FR", "JP", "PE"])),
    ("lang", "FixedString(2)", lambda r, i: r.choice(["de", "fr", "ja", "es"])),
    ("tag", "Nullable(String)", lambda r, i: None if i % 4 == 0 else f"tag{i % 50}"),
    ("ref", "Nullable(UInt64)", lambda r, i: None if i % 3 == 0 else i * 7),
    ("day", "Date", lambda r, i: f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"),
    ("day32", "Date32", lambda r, i: f"19{50 + i % 50}-06-15"),
    ("born", "Date", lambda r, i: 18000 + i % 3000),
    ("created", "DateTime('UTC')", lambda r, i: f"2024-05-01 12:{i // 60 % 60:02d}:{i % 60:02d}"),
    ("updated", "DateTime('Europe/Berlin')", lambda r, i: f"2024-07-01 10:{i // 60 % 60:02d}:{i % 60:02d}"),
    ("ts_ms", "DateTime64(3, 'UTC')", lambda r, i: f"2024-05-01T12:34:56.{i % 1000:03d}Z"),
    ("ts_us", "DateTime64(6, 'UTC')", lambda r, i: f"2024-05-01T12:34:56.{i % 1000000:06d}+02:00"),
    ("epoch", "DateTime('UTC')", lambda r, i: 1700000000 + i),
    ("uid", "UUID", lambda r, i: "61f0c404-5cb3-11e7-907b-%012x" % i),
    ("session", "UUID", lambda r, i: "00112233-4455-6677-8899-%012x" % (i * 31)),
    ("ip", "IPv4", lambda r, i: f"10.{i % 256}.{i // 256 % 256}.{i % 200}"),
    ("ip2", "IPv4", lambda r, i: f"192.168.{i % 256}.1"),
    ("ip6", "IPv6", lambda r, i: f"2001:db8::{i % 65536:x}"),
    ("level", "Enum8('debug' = 1, 'info' = 2, 'warn' = 3, 'error' = 4)",
     lambda r, i: ["debug", "info", "warn", "error"][i % 4]),
    ("status", "Enum16('ok' = 200, 'moved' = 301, 'missing' = 404, 'failed' = 500)",
     lambda r, i: [200, 301, 404, 500][i % 4]),
    ("ok", "Bool", lambda r, i: i % 2 == 0),
    ("flag", "Bool", lambda r, i: i % 5 == 0),
    ("scores", "Array(Int32)", lambda r, i: [r.randint(0, 1000) for _ in range(5)]),
    ("ratios", "Array(Float64)", lambda r, i: [round(r.random(), 4) for _ in range(3)]),
    ("labels", "Array(String)", lambda r, i: [f"l{i % 9}", "new", "sale"]),
    ("attrs", "Map(String, UInt32)", lambda r, i: {"clicks": i % 100, "views": i % 1000}),
    ("geo", "Tuple(lat Float64, lon Float64)", lambda r, i: {"lat": round(r.uniform(-90, 90), 5),
                                                           "lon": round(r.uniform(-180, 180), 5)}),
    ("version", "UInt16", lambda r, i: "7"),
    ("extra", "String", lambda r, i: {"k": [1, 2, {"z": None}]}),
    ("seq", "UInt64", lambda r, i: i),
]
assert len(WIDE_COLUMNS) == 50
WIDE = ", ".join(f"{name} {t}" for name, t, _ in WIDE_COLUMNS)


def wide_line(r: random.Random, i: int) -> str:
    return json.dumps({name: make(r, i) for name, _, make in WIDE_COLUMNS}, ensure_ascii=False)


def write_file(path: Path, n: int, make) -> None:
    if path.exists() and sum(1 for _ in path.open("rb")) == n:
        return
    with path.open("w") as f:
        for i in range(n):
            f.write(make(i) + "\n")


AVRO_SCHEMA = {"type": "record", "name": "Event", "fields": [
    {"name": "id", "type": "long"}, {"name": "user_id", "type": "long"}, {"name": "page", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "ok", "type": "boolean"}]}
# The same fields with page and ok as unions with null, into Nullable
# columns: most Avro schemas made by Connect and Debezium look like this.
AVRO_NULLABLE_SCHEMA = {"type": "record", "name": "Event", "fields": [
    {"name": "id", "type": "long"}, {"name": "user_id", "type": "long"}, {"name": "page", "type": ["null", "string"]},
    {"name": "amount", "type": "double"},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "ok", "type": ["null", "boolean"]}]}
AVRO_NULLABLE_COLUMNS = ("id UInt64, user_id UInt64, page Nullable(String), amount Float64, "
                         "ts DateTime64(3, 'UTC'), ok Nullable(Bool)")


def avro_value(i: int, nullable: bool) -> dict:
    """The values of narrow_line(i); with nullable, page null every 5th row and ok every 7th."""
    v = {"id": i, "user_id": 1000 + i % 5000, "page": f"/cat/{i % 100:02d}/item/{i:07d}",
         "amount": float(f"{(i % 100000) / 100:.2f}"),
         "ts": 1714564800000 + (i // 60 % 60) * 60000 + (i % 60) * 1000 + i % 1000, "ok": i % 3 == 0}
    if nullable:
        if i % 5 == 0:
            v["page"] = None
        if i % 7 == 0:
            v["ok"] = None
    return v


# A wide record, about 40 fields as in scripts/bench's wide shape: the
# narrow fields, a nested record, arrays, a map, an enum, nullable unions,
# a decimal, a uuid, dates and timestamps of both precisions, and 24
# scalars; every column one ClickHouse's AvroConfluent fills the same way.
AVRO_WIDE_SCHEMA = {"type": "record", "name": "WideEvent", "fields": [
    *AVRO_SCHEMA["fields"],
    {"name": "level", "type": {"type": "enum", "name": "Level", "symbols": ["debug", "info", "warn", "error"]}},
    {"name": "tag", "type": ["null", "string"]}, {"name": "ref", "type": ["null", "long"]},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 4}},
    {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "ratio", "type": "float"},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "scores", "type": {"type": "array", "items": "double"}},
    {"name": "attrs", "type": {"type": "map", "values": "string"}},
    {"name": "geo", "type": {"type": "record", "name": "Geo", "fields": [
        {"name": "lat", "type": "double"}, {"name": "lon", "type": "double"}, {"name": "city", "type": "string"}]}},
    *({"name": f"n{k:02d}", "type": "int"} for k in range(12)),
    *({"name": f"s{k:02d}", "type": "string"} for k in range(12))]}
AVRO_WIDE_COLUMNS = (NARROW + ", level Enum8('debug' = 1, 'info' = 2, 'warn' = 3, 'error' = 4), "
                     "tag Nullable(String), ref Nullable(Int64), price Decimal(18, 4), uid UUID, day Date32, "
                     "ts_us DateTime64(6, 'UTC'), ratio Float32, tags Array(String), scores Array(Float64), "
                     "attrs Map(String, String), geo Tuple(lat Float64, lon Float64, city String), "
                     + ", ".join(f"n{k:02d} Int32" for k in range(12)) + ", "
                     + ", ".join(f"s{k:02d} String" for k in range(12)))


def avro_wide_value(i: int) -> dict:
    """avro_value(i) and the wide fields, varied by i (no randomness, so
    files are the same from run to run)."""
    v = avro_value(i, False)
    v.update({"level": ["debug", "info", "warn", "error"][i % 4],
              "tag": None if i % 4 == 0 else f"tag-{i % 50}", "ref": None if i % 3 == 0 else i * 7,
              "price": decimal.Decimal(i * 7919 % 10**9).scaleb(-4),
              "uid": uuid.UUID(int=(0x61F0C4045CB311E7907B << 48) | i),
              "day": 19000 + i % 3000, "ts_us": 1714564800000000 + i * 37001,
              "ratio": float(i % 1000) / 8, "tags": [f"tag-{(i + k * 7) % 1000:03d}" for k in range(i % 6)],
              "scores": [(i * k % 10000) / 100 for k in range(1, 1 + i % 4)],
              "attrs": {f"key{k}": f"value-{(i * 13 + k) % 10**7:07d}" for k in range(i % 5)},
              "geo": {"lat": (i % 180000 - 90000) / 1000, "lon": (i * 7 % 360000 - 180000) / 1000,
                      "city": f"city-{i % 100000}"}})
    for k in range(12):
        v[f"n{k:02d}"] = (i * (k + 1) * 2654435761) % 2**31 - 2**30
        v[f"s{k:02d}"] = f"value {k} of row {i % 100000}"
    return v


def avro_case(args, work: Path, sess, timed, best_of, name: str) -> dict | None:
    """name: avro (the narrow messages as Avro: see the module doc),
    avro-null (AVRO_NULLABLE_SCHEMA into AVRO_NULLABLE_COLUMNS) or
    avro-wide (AVRO_WIDE_SCHEMA into AVRO_WIDE_COLUMNS)."""
    import io
    import struct
    import fastavro
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from harness.registry import Registry

    n, schema, columns, value = {
        "avro": (args.avro_rows, AVRO_SCHEMA, NARROW, lambda i: avro_value(i, False)),
        "avro-null": (args.avro_rows, AVRO_NULLABLE_SCHEMA, AVRO_NULLABLE_COLUMNS, lambda i: avro_value(i, True)),
        "avro-wide": (args.avro_wide_rows, AVRO_WIDE_SCHEMA, AVRO_WIDE_COLUMNS, avro_wide_value)}[name]
    # avro-bench's own column list is the standard one; another is passed.
    columns_arg = [columns] if name != "avro" else []
    lengths, framed = work / f"{name}.avro-datums", work / f"{name}.avro-framed"
    schema_file = work / f"{name}.avsc"
    schema_file.write_text(json.dumps(schema))
    parsed = fastavro.parse_schema(schema)
    datums = []
    for i in range(n):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, value(i))
        datums.append(out.getvalue())
    lengths.write_bytes(b"".join(struct.pack("<I", len(d)) + d for d in datums))
    reg = Registry(work / "registry")
    reg.start()
    try:
        sid = reg.register(f"bench-decode-{name}-value", schema)
        framed.write_bytes(b"".join(b"\0" + struct.pack(">I", sid) + d for d in datums))
        bench = args.build / "tests" / "bench" / "avro-bench"
        ours_rb = work / f"{name}.bridge.rowbinary"
        out = subprocess.run([str(bench), str(lengths), str(schema_file), str(args.rounds), str(ours_rb)]
                             + columns_arg, check=True, capture_output=True, text=True).stdout
        ours = json.loads(out.split("json ", 1)[1])
        quoted = columns.replace("'", "\\'")
        settings = f"format_avro_schema_registry_url = '{reg.url}'"
        select = f"SELECT * FROM file('{framed}', AvroConfluent, '{quoted}')"
        theirs = sess.query(f"{select} SETTINGS {settings}", "RowBinary").bytes()
        if ours_rb.read_bytes() != theirs:
            print(f"bench-decode: {name}: the bridge's RowBinary differs from ClickHouse's", file=sys.stderr)
            return None
        # Framed, as the bridge reads them from Kafka (5 bytes more a message).
        size = framed.stat().st_size
        row = {"case": name, "format": "AvroConfluent", "rows": n, "bytes": size, "bytes_per_row": size / n,
               "bridge_decode_cpu_s": ours["cpu_seconds"], "bridge_read_cpu_s": ours["read_cpu_seconds"]}
        row["bridge_direct_native_cpu_s"] = ours["direct_native_cpu_seconds"]
        row["bridge_split_native_cpu_s"] = ours["native_cpu_seconds"]
        if args.base_build:
            interleaved(args, row, lengths, schema_file, work, columns_arg)
        timed(row, select, f"SELECT * FROM file('{ours_rb}', RowBinary, '{quoted}')", settings)
        # The same rows handed over as Native (-O Native): the plan writing
        # the columns directly counted, then ClickHouse's Native parse.
        if not via_native(row, sess, best_of, Path(f"{ours_rb}.native"), quoted, settings, theirs):
            return None
        return row
    finally:
        reg.stop()


def via_native(row: dict, sess, best_of, native: Path, quoted: str, settings: str, theirs: bytes) -> bool:
    """The path through -O Native: the bridge's Native blocks (its decoder
    writing the columns, row["bridge_direct_native_cpu_s"]) must read back
    as ClickHouse's own rows (theirs, RowBinary); then ClickHouse's parse of
    them is timed and added, like the RowBinary path's."""
    native_select = f"SELECT * FROM file('{native}', Native, '{quoted}')"
    if sess.query(f"{native_select} SETTINGS {settings}", "RowBinary").bytes() != theirs:
        print(f"bench-decode: {row['case']}: the bridge's Native blocks read back differently", file=sys.stderr)
        return False
    for label, extra in (("", ""), ("_1thread", ", max_threads = 1, input_format_parallel_parsing = 0")):
        row[f"native_parse{label}_cpu_s"] = best_of(f"{native_select} FORMAT Null SETTINGS {settings}{extra}")
        row[f"bridge_via_native{label}_cpu_s"] = (row["bridge_read_cpu_s"] + row["bridge_direct_native_cpu_s"]
                                                  + row[f"native_parse{label}_cpu_s"])
        if "base_decode_cpu_s" in row:
            row[f"base_via_native{label}_cpu_s"] = (row["bridge_read_cpu_s"] + row["base_decode_cpu_s"]
                                                    + row["base_split_native_cpu_s"]
                                                    + row[f"native_parse{label}_cpu_s"])
    return True


def interleaved(args, row: dict, lengths: Path, schema_file: Path, work: Path, columns_arg: list) -> None:
    """The base build's avro-bench and this build's, alternately: medians."""
    import statistics
    runs = {"base": [], "new": []}
    for _ in range(args.interleave):
        for side, build in (("base", args.base_build), ("new", args.build)):
            out = subprocess.run([str(build / "tests" / "bench" / "avro-bench"), str(lengths), str(schema_file),
                                  str(args.rounds), str(work / f"{row['case']}.{side}.rowbinary")] + columns_arg,
                                 check=True, capture_output=True, text=True).stdout
            runs[side].append(json.loads(out.split("json ", 1)[1]))
    med = lambda side, key: statistics.median(r[key] for r in runs[side])
    row["base_decode_cpu_s"] = med("base", "cpu_seconds")
    row["base_split_native_cpu_s"] = med("base", "native_cpu_seconds")
    row["bridge_decode_cpu_s"] = med("new", "cpu_seconds")
    row["bridge_split_native_cpu_s"] = med("new", "native_cpu_seconds")
    row["bridge_direct_native_cpu_s"] = med("new", "direct_native_cpu_seconds")
    row["interleaved_runs"] = runs
    n = row["rows"]
    print(f"{row['case']}: avro-bench, {args.interleave} interleaved runs, medians, ns/row: "
          f"base RowBinary {row['base_decode_cpu_s'] / n * 1e9:.1f}, "
          f"base RowBinary+split to Native {(row['base_decode_cpu_s'] + row['base_split_native_cpu_s']) / n * 1e9:.1f}, "
          f"new RowBinary {row['bridge_decode_cpu_s'] / n * 1e9:.1f}, "
          f"new straight to Native {row['bridge_direct_native_cpu_s'] / n * 1e9:.1f}", flush=True)


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--narrow-rows", type=int, default=1_000_000)
    ap.add_argument("--wide-rows", type=int, default=200_000)
    ap.add_argument("--avro-rows", type=int, default=1_000_000)
    ap.add_argument("--avro-wide-rows", type=int, default=200_000)
    ap.add_argument("--base-build", type=Path, help="a build to compare avro-bench with (see the module doc)")
    ap.add_argument("--interleave", type=int, default=3, help="alternate runs of each avro-bench (--base-build)")
    args = ap.parse_args()

    from chdb import session as chdb_session

    work = args.build / "bench-decode"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    cases = [("narrow", NARROW, work / "narrow.jsonl", args.narrow_rows, narrow_line),
             ("wide", WIDE, work / "wide.jsonl", args.wide_rows, lambda i: wide_line(rng, i))]
    bench = args.build / "tests" / "bench" / "decode-bench"
    sess = chdb_session.Session(f"file:{work / 'chdb'}")
    results = []
    def best_of(sql: str) -> float:
        best = 1e30
        for _ in range(args.rounds):
            t0 = cpu()
            sess.query(sql, "Null")
            best = min(best, cpu() - t0)
        return best

    def timed(row: dict, select: str, rb_select: str, settings: str) -> None:
        for label, extra in (("", ""),
                             ("_1thread", ", max_threads = 1, input_format_parallel_parsing = 0")):
            row[f"clickhouse{label}_cpu_s"] = best_of(f"{select} FORMAT Null SETTINGS {settings}{extra}")
            # The bridge's output still has to become ClickHouse columns.
            row[f"rowbinary_parse{label}_cpu_s"] = best_of(f"{rb_select} FORMAT Null SETTINGS {settings}{extra}")
            row[f"bridge{label}_cpu_s"] = (row["bridge_read_cpu_s"] + row["bridge_decode_cpu_s"]
                                           + row[f"rowbinary_parse{label}_cpu_s"])

    for name, columns, path, n, make in cases:
        write_file(path, n, make)
        size = path.stat().st_size
        quoted = columns.replace("\\", "\\\\").replace("'", "\\'")
        select = f"SELECT * FROM file('{path}', JSONEachRow, '{quoted}')"

        # Same bytes out of both, or the comparison means nothing.
        ours_rb = work / f"{name}.bridge.rowbinary"
        subprocess.run([str(bench), str(path), columns, "1", str(ours_rb)], check=True,
                       stdout=subprocess.DEVNULL)
        theirs = sess.query(f"{select} SETTINGS {SETTINGS}", "RowBinary").bytes()
        if ours_rb.read_bytes() != theirs:
            print(f"bench-decode: {name}: the bridge's RowBinary differs from ClickHouse's", file=sys.stderr)
            return 1

        out = subprocess.run([str(bench), str(path), columns, str(args.rounds)], check=True,
                             capture_output=True, text=True).stdout
        ours = json.loads(out)
        row = {"case": name, "format": "JSONEachRow", "rows": n, "bytes": size, "bytes_per_row": size / n,
               "bridge_decode_cpu_s": ours["cpu_seconds"], "bridge_read_cpu_s": ours["read_cpu_seconds"],
               "bridge_direct_native_cpu_s": ours["native_cpu_seconds"]}
        timed(row, select, f"SELECT * FROM file('{ours_rb}', RowBinary, '{quoted}')", SETTINGS)
        if not via_native(row, sess, best_of, Path(f"{ours_rb}.native"), quoted, SETTINGS, theirs):
            return 1
        results.append(row)

    for name in ("avro", "avro-null", "avro-wide"):
        if args.avro_wide_rows if name == "avro-wide" else args.avro_rows:
            row = avro_case(args, work, sess, timed, best_of, name)
            if row is None:
                return 1
            results.append(row)

    print(f"{'case':9} {'rows':>9} {'B/row':>6} | {'path to ClickHouse columns':44} {'CPU s':>7} "
          f"{'MB/s/core':>10} {'rows/s/core':>12} {'x/bridge':>8} {'ns/row':>7} {'CH/x':>6}")
    for row in results:
        lines = [("bridge: decoder alone (no read)", "bridge_decode_cpu_s", "bridge_cpu_s"),
                 ("bridge: read+decode+CH RowBinary parse", "bridge_cpu_s", "bridge_cpu_s")]
        if "base_via_native_cpu_s" in row:
            lines += [("base: read+decode+split to Native+CH parse", "base_via_native_cpu_s", "bridge_cpu_s")]
        if "bridge_via_native_cpu_s" in row:
            lines += [("bridge: read+decode into Native+CH parse", "bridge_via_native_cpu_s", "bridge_cpu_s")]
        lines += [(f"ClickHouse {row['format']}", "clickhouse_cpu_s", "bridge_cpu_s"),
                  ("bridge, CH one thread", "bridge_1thread_cpu_s", "bridge_1thread_cpu_s")]
        if "base_via_native_cpu_s" in row:
            lines += [("base via Native, CH one thread", "base_via_native_1thread_cpu_s",
                       "bridge_1thread_cpu_s")]
        if "bridge_via_native_cpu_s" in row:
            lines += [("bridge via Native, CH one thread", "bridge_via_native_1thread_cpu_s",
                       "bridge_1thread_cpu_s")]
        lines += [(f"ClickHouse {row['format']}, one thread", "clickhouse_1thread_cpu_s", "bridge_1thread_cpu_s")]
        for label, key, base in lines:
            s = row[key]
            print(f"{row['case']:9} {row['rows']:9} {row['bytes_per_row']:6.0f} | {label:44} {s:7.3f} "
                  f"{row['bytes'] / s / 1e6:10.1f} {row['rows'] / s:12,.0f} {s / row[base]:8.2f} "
                  f"{s / row['rows'] * 1e9:7.1f} {row['clickhouse_cpu_s'] / s:6.2f}")
    out = args.build / "bench-decode-results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
