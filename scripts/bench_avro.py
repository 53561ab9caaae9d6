"""Avro decode benchmark (not a test): the bridge's compiled plan, avro-c's
generic value API and ClickHouse's AvroConfluent on the same datums.

The standard 6-field messages of scripts/bench (id, user_id, page, amount,
ts timestamp-millis, ok) are written with fastavro.  build/tests/bench/
avro-bench decodes them both ways into the same RowBinary (it checks the
bytes are equal) and reports CPU time; ClickHouse (chDB) reads the same
datums, Confluent-framed and concatenated in a file, with AvroConfluent
through a real registry (scripts/registry), FORMAT Null, timed by this
process's CPU time, best of --rounds, with its defaults and on one thread.
ClickHouse's parse of the bridge's RowBinary is not counted here.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import struct
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fastavro  # noqa: E402

from harness.registry import Registry  # noqa: E402

SCHEMA = {"type": "record", "name": "Event", "fields": [
    {"name": "id", "type": "long"}, {"name": "user_id", "type": "long"}, {"name": "page", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "ok", "type": "boolean"}]}
COLUMNS = ("id UInt64, user_id UInt64, page String, amount Float64, "
           "ts DateTime64(3, 'UTC'), ok Bool")


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    from chdb import session as chdb_session

    work = args.build / "bench-avro"
    work.mkdir(parents=True, exist_ok=True)
    parsed = fastavro.parse_schema(SCHEMA)
    datums = []
    for i in range(args.rows):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, {
            "id": i, "user_id": 1000 + i % 5000, "page": f"/cat/{i % 100:02d}/item/{i:07d}",
            "amount": (i % 100000) / 100, "ts": 1714564800000 + i * 7, "ok": i % 3 == 0})
        datums.append(out.getvalue())
    (work / "narrow.bin").write_bytes(b"".join(struct.pack("<I", len(d)) + d for d in datums))
    (work / "narrow.avsc").write_text(json.dumps(SCHEMA))

    reg = Registry(work / "registry")
    reg.start()
    try:
        sid = reg.register("bench-narrow-value", SCHEMA)
        framed = work / "narrow.framed"
        framed.write_bytes(b"".join(b"\0" + struct.pack(">I", sid) + d for d in datums))
        ours = subprocess.run([str(args.build / "tests" / "bench" / "avro-bench"), str(work / "narrow.bin"),
                               str(work / "narrow.avsc"), str(args.rounds)],
                              check=True, capture_output=True, text=True).stdout
        sess = chdb_session.Session(f"file:{work / 'chdb'}")
        select = (f"SELECT * FROM file('{framed}', AvroConfluent, '{COLUMNS.replace(chr(39), chr(92) + chr(39))}')")
        results = {}
        for label, extra in (("ClickHouse AvroConfluent", ""),
                             ("  same, one thread", ", max_threads = 1, input_format_parallel_parsing = 0")):
            best = 1e30
            for _ in range(args.rounds):
                t0 = cpu()
                sess.query(f"{select} FORMAT Null SETTINGS format_avro_schema_registry_url = '{reg.url}'{extra}",
                           "Null")
                best = min(best, cpu() - t0)
            results[label] = best
    finally:
        reg.stop()
    print(ours, end="")
    plan_ns = float(ours.split("compiled plan :")[1].split("k rows/s")[1].split("ns/row")[0])
    for label, s in results.items():
        ns = s / args.rows * 1e9
        print(f"{label:26}: {args.rows / s / 1e3:8.0f} k rows/s  {ns:6.1f} ns/row  "
              f"(the compiled plan is {ns / plan_ns:.2f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
