#!/usr/bin/env python3
"""Time to the first row of a LIMIT 1 query through executable(), on topics
of 1, 16 and 128 partitions. Run it through scripts/bench-first-row, which
starts a broker and builds the bridge.

Each topic holds N narrow messages of scripts/bench (message i in partition
i % P). One child process holds one chDB engine and runs, --repeat times,
for every partition count in turn:
    SELECT * FROM executable('kafka-bridge --pipeline P<n>',
        'RowBinaryWithNamesAndTypes', '<narrow columns>') LIMIT 1
through Session.send_query(), which streams: the first chunk arrives as soon
as ClickHouse has the row, before the query has torn the program down.

Measures, per query (all from CLOCK_REALTIME, so that the child and the
program's wrapper share one clock):
  first    query start -> the first chunk in Python: what a user waits for;
  query    query start -> the stream ended (the program stopped, the query
           finished);
  bridge   the program's start (the wrapper's $EPOCHREALTIME just before it
           execs the bridge) -> the first chunk: the bridge's own
           start-to-first-row, ClickHouse's reading of one row included;
  spawn    query start -> the program's start: ClickHouse parsing and
           planning the query and forking the program.
Each is the median over the repeats; the row is checked to be one of the
topic's (its id below N).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the data and the chDB runner)


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    from chdb import session as chdb_session
    sess = chdb_session.Session(f"file:{spec['datadir']}?user_scripts_path={spec['scripts']}")
    shape = bench.SHAPES["narrow"]
    runs: dict[str, list[dict]] = {str(p): [] for p in spec["partitions"]}
    for _ in range(spec["repeat"]):
        for p in spec["partitions"]:
            start_file = Path(spec["scripts"]) / f"started-p{p}"
            start_file.unlink(missing_ok=True)
            sql = (f"SELECT * FROM executable('kafka-bridge --pipeline p{p}', 'RowBinaryWithNamesAndTypes', "
                   f"'{shape.structure}') LIMIT 1")
            t0 = time.time()
            stream = sess.send_query(sql, "TSV")
            first_at, text = None, ""
            for chunk in stream:
                data = chunk.bytes().decode() if hasattr(chunk, "bytes") else str(chunk)
                if data and first_at is None:
                    first_at = time.time()
                text += data
            ended = time.time()
            if first_at is None:
                raise bench.BenchError(f"{p} partitions: the query returned no row")
            rows = [r for r in text.splitlines() if r]
            if len(rows) != 1 or not 0 <= int(rows[0].split("\t")[0]) < spec["messages"]:
                raise bench.BenchError(f"{p} partitions: not one row of the topic: {text[:200]!r}")
            started = float(start_file.read_text().strip())
            runs[str(p)].append({"first_s": first_at - t0, "query_s": ended - t0,
                                 "bridge_s": first_at - started, "spawn_s": started - t0})
    print(json.dumps(runs), flush=True)
    os._exit(0)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--child":
        try:
            return child_main(argv[1])
        except Exception as e:  # noqa: BLE001
            print(f"bench-first-row: {e}", file=sys.stderr, flush=True)
            os._exit(1)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--bridge", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--partitions", default="1,16,128")
    p.add_argument("--messages", type=int, default=200_000, help="per topic (200,000)")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--bridge-args", default="", help="more options for the bridge, e.g. '-X fetch.wait.max.ms=10'")
    args = p.parse_args(argv)
    parts = [int(x) for x in args.partitions.split(",")]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    work = Path(tempfile.mkdtemp(prefix="bench-first-row-"))
    try:
        scripts, pipelines = work / "user_scripts", work / "pipelines"
        scripts.mkdir()
        pipelines.mkdir()
        shape = bench.SHAPES["narrow"]
        for n in parts:
            topic = f"bench-first-row-{n}-{uuid.uuid4().hex[:8]}"
            bench.log(f"producing {args.messages:,} narrow messages into {topic} ({n} partitions)")
            bench.load_topic(args.bootstrap, topic, args.messages, "lz4", shape, n)
            (pipelines / f"p{n}.conf").write_text(
                f"brokers = {args.bootstrap}\ntopic = {topic}\ncolumns = {shape.structure}\n")
        # bash's $EPOCHREALTIME costs no fork: the stamp is the moment before exec.
        wrapper = scripts / "kafka-bridge"
        wrapper.write_text(
            "#!/bin/bash\n# Written by scripts/bench_first_row.py for one benchmark run.\n"
            f"export KAFKA_BRIDGE_PIPELINES='{pipelines}'\n"
            'prev=; for a; do [ "$prev" = --pipeline ] && p=$a; prev=$a; done\n'
            f'printf "%s\\n" "$EPOCHREALTIME" > \'{scripts}\'/started-"$p"\n'
            f"exec '{args.bridge.resolve()}' \"$@\" {args.bridge_args}\n")
        wrapper.chmod(0o755)
        spec = {"datadir": str(work / "chdb"), "scripts": str(scripts), "partitions": parts,
                "repeat": args.repeat, "messages": args.messages}
        (work / "spec.json").write_text(json.dumps(spec))
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(work / "spec.json")],
                             stdout=subprocess.PIPE, text=True, timeout=900)
        if out.returncode != 0:
            raise bench.BenchError(f"the chDB child failed (exit {out.returncode})")
        runs = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nLIMIT 1 through executable(), {args.messages:,} narrow messages per topic, "
          f"median of {args.repeat} (min-max), milliseconds")
    print(f"{'partitions':>10} {'first row':>18} {'query':>18} {'bridge':>18} {'spawn':>14}")
    med = {}
    for n in parts:
        r = runs[str(n)]
        med[n] = {k: statistics.median(x[k] for x in r) for k in r[0]}

        def cell(k, w):
            xs = [x[k] * 1000 for x in r]
            return f"{statistics.median(xs):.0f} ({min(xs):.0f}-{max(xs):.0f})".rjust(w)
        print(f"{n:>10} {cell('first_s', 18)} {cell('query_s', 18)} {cell('bridge_s', 18)} {cell('spawn_s', 14)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"messages": args.messages, "bridge_args": args.bridge_args,
                                    "median": med, "runs": runs}, indent=2) + "\n")
    print(f"\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except bench.BenchError as e:
        print(f"bench-first-row: error: {e}", file=sys.stderr)
        sys.exit(1)
