#!/usr/bin/env python3
"""Output-format benchmark: the same topic loaded by the bridge through
executable() in RowBinaryWithNamesAndTypes, RowBinary and Native. Run it
through scripts/bench-native, which starts a broker and builds the bridge.

The data, the table (MergeTree ORDER BY id) and the checks are those of
scripts/bench.py (its narrow and wide shapes; the topic is produced once and
every case reads all of it). Each case runs in a fresh Python process
holding its own chDB engine and data directory; the cases are interleaved
(RB-header, RB, Native, RB-header, ...) --repeat times, and each measure is
the median of its runs.

Measures, per case:
  wall     the INSERT ... SELECT FROM executable(...) alone, timed inside
           the child with time.monotonic();
  bridge   the bridge's own CPU (user + sys), from GNU time wrapped around
           it in user_scripts;
  chDB     the CPU of the chDB process during the INSERT (getrusage of the
           process: all ClickHouse threads, reading the format, building
           parts), without the bridge;
  total    bridge + chDB;
  RSS      the bridge's peak RSS, from GNU time.
--native-variant LABEL=PATH adds a Native case run by another build of the
bridge (scripts/bench-native builds none: e.g. one configured with
-Dc_args=-DOUTPUT_NATIVE_BLOCK_BYTES=...), to compare block limits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the data, the checks and the process helpers)

FORMATS = {"rbh": ("RowBinaryWithNamesAndTypes", ""), "rb": ("RowBinary", " -O RowBinary"),
           "native": ("Native", " -O Native")}


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())

    datadir = Path(spec["datadir"])
    datadir.mkdir(parents=True)
    q = bench.chdb_runner(datadir, spec["scripts"])

    shape = bench.SHAPES[spec["shape"]]
    q(f"CREATE TABLE target ({shape.structure}) ENGINE = MergeTree ORDER BY id")
    fmt, flag = FORMATS[spec["case"].split(":")[0]]
    sql = (f"INSERT INTO target SELECT * FROM executable('kafka-bridge --pipeline bench{flag}', "
           f"'{fmt}', '{shape.structure}')")
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    q(sql)
    wall = time.monotonic() - started
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    got = json.loads(q(shape.verify_sql, "JSONCompactEachRow"))
    got = dict(zip(shape.verify_keys, (int(v) for v in got)))
    bad = {k: (got[k], v) for k, v in spec["expect"].items() if got[k] != v}
    if bad:
        raise bench.BenchError(f"{fmt}: the table does not hold the topic: {bad}")
    cpu = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
    print(json.dumps({"wall_s": wall, "chdb_cpu_s": cpu}), flush=True)
    os._exit(0)


def run_case(case: str, args, shape, topic: str, expect: dict) -> dict:
    bridge = args.variants.get(case, args.bridge)
    work = Path(tempfile.mkdtemp(prefix=f"bench-native-{case}-"))
    try:
        scripts, pipelines = work / "user_scripts", work / "pipelines"
        scripts.mkdir()
        pipelines.mkdir()
        (pipelines / "bench.conf").write_text(
            f"brokers = {args.bootstrap}\ntopic = {topic}\ncolumns = {shape.structure}\n")
        time_file = work / "program.time"
        bench.write_wrapper(scripts / "kafka-bridge", time_file, [str(bridge)], pass_args=True,
                            env={"KAFKA_BRIDGE_PIPELINES": str(pipelines)})
        spec = {"case": case, "shape": shape.name, "datadir": str(work / "chdb"), "scripts": str(scripts),
                "expect": expect}
        (work / "spec.json").write_text(json.dumps(spec))
        meas = bench.run_measured([sys.executable, str(Path(__file__).resolve()), "--child",
                                   str(work / "spec.json")], work / "stdout")
        out = (work / "stdout").read_text().strip().splitlines()
        if meas["exit"] != 0 or not out:
            raise bench.BenchError(f"case {case} failed (exit {meas['exit']})")
        child = json.loads(out[-1])
        prog = bench.read_gnu_time(time_file)
        if prog["exit_status"] != 0:
            raise bench.BenchError(f"case {case}: the bridge exited with {prog['exit_status']}")
        # The bridge is a child of the chDB process, but not a thread of it:
        # RUSAGE_SELF leaves it out.
        return {"wall_s": child["wall_s"], "bridge_cpu_s": prog["cpu_s"], "chdb_cpu_s": child["chdb_cpu_s"],
                "total_cpu_s": prog["cpu_s"] + child["chdb_cpu_s"], "bridge_rss_mib": prog["rss_mib"]}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--child":
        try:
            return child_main(argv[1])
        except Exception as e:  # noqa: BLE001
            print(f"bench-native: {e}", file=sys.stderr, flush=True)
            os._exit(1)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--bridge", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--shapes", default="narrow,wide")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--messages", type=int, default=None, help="per shape (default: scripts/bench's)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--native-variant", action="append", default=[], metavar="LABEL=PATH",
                   help="one more Native case, run by the bridge at PATH (e.g. a build with other "
                        "block limits)")
    args = p.parse_args(argv)
    args.bridge = args.bridge.resolve()
    args.variants = {}
    for v in args.native_variant:
        label, sep, path = v.partition("=")
        if not sep or not label or not Path(path).is_file():
            raise bench.BenchError(f"--native-variant {v!r}: LABEL=PATH of a bridge program")
        args.variants[f"native:{label}"] = Path(path).resolve()
    cases = {**FORMATS, **{c: ("Native " + c.split(":", 1)[1], FORMATS["native"][1]) for c in args.variants}}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    results = []
    for name in args.shapes.split(","):
        shape = bench.SHAPES[name]
        n = args.messages or shape.messages
        topic = f"bench-native-{name}-{uuid.uuid4().hex[:8]}"
        bench.log(f"producing {n:,} {name} messages into {topic} ({args.partitions} partitions)")
        loaded = bench.load_topic(args.bootstrap, topic, n, "lz4", shape, args.partitions)
        runs: dict[str, list[dict]] = {c: [] for c in cases}
        for r in range(args.repeat):
            for c in cases:
                res = run_case(c, args, shape, topic, loaded["expect"])
                bench.log(f"{name} run {r + 1}/{args.repeat} {cases[c][0]}: {res['wall_s']:.2f} s wall, "
                          f"bridge {res['bridge_cpu_s']:.2f} s, chDB {res['chdb_cpu_s']:.2f} s CPU")
                runs[c].append(res)
        med = {c: {k: statistics.median(x[k] for x in runs[c]) for k in runs[c][0]} for c in cases}
        results.append({"shape": name, "messages": n, "partitions": args.partitions, "median": med,
                        "runs": runs})
        print(f"\n{name}: {n:,} messages, {args.partitions} partitions, median of {args.repeat} "
              f"interleaved runs")
        print(f"{'format':28} {'wall s':>8} {'rows/s':>10} {'bridge CPU s':>13} {'chDB CPU s':>11} "
              f"{'total CPU s':>12} {'total vs RBWNAT':>15} {'bridge RSS MiB':>15}")
        for c in cases:
            m = med[c]
            print(f"{cases[c][0]:28} {m['wall_s']:8.2f} {n / m['wall_s']:10,.0f} {m['bridge_cpu_s']:13.2f} "
                  f"{m['chdb_cpu_s']:11.2f} {m['total_cpu_s']:12.2f} "
                  f"{m['total_cpu_s'] / med['rbh']['total_cpu_s']:15.2f} {m['bridge_rss_mib']:15.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results}, indent=2) + "\n")
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except bench.BenchError as e:
        print(f"bench-native: error: {e}", file=sys.stderr)
        sys.exit(1)
