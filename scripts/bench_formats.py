#!/usr/bin/env python3
"""Decode-only benchmark for MessagePack: the bridge's decoders against
ClickHouse's MsgPack input format on the same records. Run it through
scripts/bench-formats, which builds the bridge first.

Cases (files written to build/bench-formats/, once):
  narrow  1,000,000 records of 6 columns (integers, a string, a float, a
          DateTime64 as ticks, a boolean)
  wide    200,000 records of 24 columns of mixed types (integers of every
          width up to 64 bits, floats, strings, Nullable and LowCardinality,
          dates, times, arrays, a map, a tuple)

Each case is written three ways: positional (ClickHouse's MsgPack: the
values one after another) framed for tests/bench/format-bench, the same
values as one stream for ClickHouse's file(..., MsgPack), and as a map
per message (fields by name) for the bridge's msgpack format.

Figures, per CPU core (CPU seconds of the process, best of --rounds):
  bridge msgpack-positional / msgpack    format-bench alone
  + ClickHouse reading its RowBinary     the same, plus chDB's CPU time for
                                         SELECT * FROM file(out, RowBinary)
                                         FORMAT Null, since an INSERT through
                                         the bridge pays both
  ClickHouse MsgPack                     SELECT * FROM file(in, MsgPack)
                                         FORMAT Null, default threads and
                                         one thread
Also msgpack-c's two parse APIs on the same messages
(tests/bench/msgpack-unpack-bench). Before timing, the bridge's RowBinary
of the positional file must equal ClickHouse's reading of the stream.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import struct
import subprocess
import sys
from pathlib import Path

import msgpack

NARROW = [("id", "UInt64", lambda r, i: i), ("user_id", "UInt64", lambda r, i: 1000 + i % 5000),
          ("page", "String", lambda r, i: f"/cat/{i % 100:02d}/item/{i:07d}"),
          ("amount", "Float64", lambda r, i: (i % 100000) / 100),
          ("ts", "DateTime64(3, 'UTC')", lambda r, i: 1714564800000 + i),
          ("ok", "Bool", lambda r, i: i % 3 == 0)]

WIDE = [("i8", "Int8", lambda r, i: r.randint(-128, 127)), ("i16", "Int16", lambda r, i: r.randint(-32768, 32767)),
        ("i32", "Int32", lambda r, i: r.randint(-2**31, 2**31 - 1)), ("i64", "Int64", lambda r, i: r.randint(-2**63, 2**63 - 1)),
        ("u8", "UInt8", lambda r, i: r.randint(0, 255)), ("u32", "UInt32", lambda r, i: r.randint(0, 2**32 - 1)),
        ("u64", "UInt64", lambda r, i: r.randint(0, 2**64 - 1)), ("f64a", "Float64", lambda r, i: r.uniform(-1e9, 1e9)),
        ("f64b", "Float64", lambda r, i: round(r.random(), 6)),
        ("name", "String", lambda r, i: f"user-{i}-" + "x" * r.randint(5, 30)),
        ("email", "String", lambda r, i: f"person{i}@example{i % 97}.com"),
        ("url", "String", lambda r, i: f"https://shop.example.com/c/{i % 500}/p/{i}?ref=campaign-{i % 13}"),
        ("city", "LowCardinality(String)", lambda r, i: r.choice(["Berlin", "Paris", "Tokyo", "Lima"])),
        ("tag", "Nullable(String)", lambda r, i: None if i % 4 == 0 else f"tag{i % 50}"),
        ("ref", "Nullable(UInt64)", lambda r, i: None if i % 3 == 0 else i * 7),
        ("day", "Date", lambda r, i: 19000 + i % 1000), ("day32", "Date32", lambda r, i: -5000 + i % 9000),
        ("created", "DateTime('UTC')", lambda r, i: 1700000000 + i),
        ("ts_us", "DateTime64(6, 'UTC')", lambda r, i: 1714564800000000 + i),
        ("ok", "Bool", lambda r, i: i % 2 == 0),
        ("scores", "Array(Int32)", lambda r, i: [r.randint(0, 1000) for _ in range(5)]),
        ("labels", "Array(String)", lambda r, i: [f"l{i % 9}", "new", "sale"]),
        ("attrs", "Map(String, UInt32)", lambda r, i: {"clicks": i % 100, "views": i % 1000}),
        ("geo", "Tuple(lat Float64, lon Float64)", lambda r, i: [round(r.uniform(-90, 90), 5),
                                                               round(r.uniform(-180, 180), 5)])]


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def write_case(work: Path, name: str, cols, n: int) -> dict[str, Path]:
    paths = {k: work / f"{name}.{k}" for k in ("positional.frames", "positional.stream", "map.frames")}
    if all(p.exists() for p in paths.values()) and (work / f"{name}.n").exists() \
            and (work / f"{name}.n").read_text() == str(n):
        return paths
    r = random.Random(7)
    with paths["positional.frames"].open("wb") as pf, paths["positional.stream"].open("wb") as ps, \
            paths["map.frames"].open("wb") as mf:
        for i in range(n):
            values = [make(r, i) for _, _, make in cols]
            pos = b"".join(msgpack.packb(v) for v in values)
            pf.write(struct.pack("<I", len(pos)) + pos)
            ps.write(pos)
            m = msgpack.packb({c[0]: v for c, v in zip(cols, values)})
            mf.write(struct.pack("<I", len(m)) + m)
    (work / f"{name}.n").write_text(str(n))
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--narrow-rows", type=int, default=1_000_000)
    ap.add_argument("--wide-rows", type=int, default=200_000)
    args = ap.parse_args()

    from chdb import session as chdb_session

    work = args.build / "bench-formats"
    work.mkdir(parents=True, exist_ok=True)
    bench = args.build / "tests" / "bench" / "format-bench"
    unpack = args.build / "tests" / "bench" / "msgpack-unpack-bench"
    sess = chdb_session.Session(f"file:{work / 'chdb'}")
    results = []
    for name, cols, n in (("narrow", NARROW, args.narrow_rows), ("wide", WIDE, args.wide_rows)):
        paths = write_case(work, name, cols, n)
        columns = ", ".join(f"{c} {t}" for c, t, _ in cols)
        quoted = columns.replace("\\", "\\\\").replace("'", "\\'")
        ours_rb = work / f"{name}.bridge.rowbinary"
        subprocess.run([str(bench), "msgpack-positional", str(paths["positional.frames"]), columns, "1",
                        str(ours_rb)], check=True, stdout=subprocess.DEVNULL)
        theirs = sess.query(f"SELECT * FROM file('{paths['positional.stream']}', MsgPack, '{quoted}')",
                            "RowBinary").bytes()
        if ours_rb.read_bytes() != theirs:
            print(f"bench-formats: {name}: the bridge's RowBinary differs from ClickHouse's", file=sys.stderr)
            return 1
        row = {"case": name, "rows": n, "bytes": paths["positional.stream"].stat().st_size}
        for fmt, key in (("msgpack-positional", "positional.frames"), ("msgpack", "map.frames")):
            out = subprocess.run([str(bench), fmt, str(paths[key]), columns, str(args.rounds)], check=True,
                                 capture_output=True, text=True).stdout
            row[f"bridge_{fmt}_cpu_s"] = json.loads(out)["cpu_seconds"]
        for label, select, extra in (
                ("clickhouse_msgpack", f"file('{paths['positional.stream']}', MsgPack, '{quoted}')", ""),
                ("clickhouse_msgpack_1thread", f"file('{paths['positional.stream']}', MsgPack, '{quoted}')",
                 " SETTINGS max_threads = 1, input_format_parallel_parsing = 0"),
                ("clickhouse_rowbinary", f"file('{ours_rb}', RowBinary, '{quoted}')", "")):
            best = 1e30
            for _ in range(args.rounds):
                t0 = cpu()
                sess.query(f"SELECT * FROM {select} FORMAT Null{extra}", "Null")
                best = min(best, cpu() - t0)
            row[f"{label}_cpu_s"] = best
        row["msgpack_c"] = json.loads(subprocess.run([str(unpack), str(paths["positional.frames"]),
                                                      str(args.rounds)], check=True, capture_output=True,
                                                     text=True).stdout)
        results.append(row)

    print(f"{'case':7} {'rows':>8} | {'decoder':40} {'rows/s/core':>12} {'ns/row':>8}")
    for row in results:
        rb = row["clickhouse_rowbinary_cpu_s"]
        lines = [("bridge msgpack-positional", row["bridge_msgpack-positional_cpu_s"]),
                 ("  + ClickHouse reading its RowBinary", row["bridge_msgpack-positional_cpu_s"] + rb),
                 ("bridge msgpack (map per message)", row["bridge_msgpack_cpu_s"]),
                 ("  + ClickHouse reading its RowBinary", row["bridge_msgpack_cpu_s"] + rb),
                 ("ClickHouse MsgPack", row["clickhouse_msgpack_cpu_s"]),
                 ("  same, one thread", row["clickhouse_msgpack_1thread_cpu_s"])]
        for label, s in lines:
            print(f"{row['case']:7} {row['rows']:8} | {label:40} {row['rows'] / s:12,.0f} {s * 1e9 / row['rows']:8.0f}")
        m = row["msgpack_c"]
        print(f"{row['case']:7} {row['rows']:8} | msgpack-c parse only: reused zone {m['reused_zone_ns']:.0f} ns, "
              f"zone per message {m['zone_per_message_ns']:.0f} ns")
    out = args.build / "bench-formats-results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
