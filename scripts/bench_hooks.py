#!/usr/bin/env python3
"""Benchmarks of the SQL hooks; run through scripts/bench-hooks.

Produce. The same N lines (default 1,000,000: key = the row number as
text, value = a JSON object of about 100 bytes) are produced to two new
topics of 4 partitions, by
  (a) kafkaProduce in chDB, as a user would write it:
        SELECT count(), countIf(r.error != '') FROM (SELECT kafkaProduce(
            'bench', toString(number), <json>) AS r FROM numbers(N))
      through the shipped XML and pipeline settings (lz4, idempotent,
      acks=all; blocks of max_block_size = 65,409 rows);
  (b) kcat -P -l reading the same lines from a file (written by ClickHouse
      beforehand, not timed) with the same producer settings: -z lz4,
      -X enable.idempotence=true -X acks=all -X linger.ms=5.
Both count as done when every message is acknowledged; each topic's
watermarks must add up to N afterwards, and (a) must report no error.
Wall time; CPU of the producing processes (for (a) the kafka-produce pool,
measured by GNU time around it, and ClickHouse's own share is left out
because chDB runs in this process).

Dictionary. K keys (default 1,000,000) written to a compacted topic, then
20% of them updated and 5% deleted (tombstones), so the log holds 1.25 K
records and 0.95 K live keys; then the shipped DDL dictionary is loaded
with SYSTEM RELOAD DICTIONARY. Load wall time, kafka-dict's peak RSS (GNU
time around it) and the dictionary's bytes_allocated in ClickHouse.
--repeat K repeats each measurement and prints the median.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import REPO_ROOT
from harness.clickhouse import ClickHouse
from harness.kafka import Broker

BUILD = REPO_ROOT / "build"
VALUE_SQL = ("formatRowNoNewline('JSONEachRow', number AS id, number % 1000 AS user_id, "
             "concat('/cat/', toString(number % 97), '/item/', toString(number)) AS page, "
             "round(number % 10000 / 100, 2) AS amount, number % 3 = 0 AS ok)")


def log(msg: str) -> None:
    print(f"bench-hooks: {msg}", file=sys.stderr, flush=True)


def wrapper(path: Path, real: Path, time_file: Path, pipelines: Path) -> None:
    """A user_scripts program that runs `real` under GNU time; the pipeline
    directory is given explicitly since argv[0] no longer sits in it."""
    path.write_text(f"#!/bin/sh\nexport KAFKA_BRIDGE_PIPELINES={pipelines}\n"
                    f"exec /usr/bin/time -a -o {time_file} -f '%e %U %S %M' {real} \"$@\"\n")
    path.chmod(0o755)


def gnu_time(path: Path) -> tuple[float, float]:
    """(CPU seconds, peak RSS MiB) summed / maxed over the runs in the file."""
    cpu, rss = 0.0, 0
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4 and re.match(r"^[\d.]+$", parts[0]):
            cpu += float(parts[1]) + float(parts[2])
            rss = max(rss, int(parts[3]))
    return cpu, rss / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-hooks-"))
    scripts, pipes = work / "user_scripts", work / "user_scripts/kafka-bridge.d"
    pipes.mkdir(parents=True)
    cfg = work / "functions"
    cfg.mkdir()
    shutil.copy(REPO_ROOT / "clickhouse-config/kafka_produce_function.xml", cfg)
    broker = Broker(work / "kafka")
    broker.start()
    try:
        ch = ClickHouse(work / "chdb", scripts, user_defined_executable_functions_config=f"{cfg}/*_function.xml")
        produce_times = work / "produce.time"
        wrapper(scripts / "kafka-produce", BUILD / "udf/kafka-produce", produce_times, pipes)
        shipped = (REPO_ROOT / "clickhouse-config/user_scripts/kafka-bridge.d/orders_out.conf").read_text()
        lines = work / "lines.txt"
        ch.query(f"SELECT toString(number), {VALUE_SQL} FROM numbers({args.rows}) "
                 f"INTO OUTFILE '{lines}' FORMAT TSVRaw")
        res = {"a": [], "b": [], "a_cpu": [], "b_cpu": []}
        for run in range(args.repeat):
            for case in "ab":
                topic = f"bench_{case}_{run}_{os.getpid()}"
                broker.create_topic(topic, 4)
                if case == "a":
                    (pipes / "bench.conf").write_text(shipped.replace("127.0.0.1:9092", broker.bootstrap)
                                                      .replace("topic = orders_out", f"topic = {topic}"))
                    produce_times.write_text("")
                    t0 = time.monotonic()
                    got = ch.rows(f"SELECT count(), countIf(r.error != '') FROM (SELECT kafkaProduce('bench', "
                                  f"toString(number), {VALUE_SQL}) AS r FROM numbers({args.rows}))")
                    wall = time.monotonic() - t0
                    assert got == [(str(args.rows), "0")], got
                    # The pool processes end when the engine does; their CPU
                    # is read after a query that makes them exit: reload.
                    ch.query("SYSTEM RELOAD FUNCTIONS")
                    time.sleep(1)
                    cpu, _ = gnu_time(produce_times)
                else:
                    t0 = time.monotonic()
                    before = os.times()
                    subprocess.run(["kcat", "-P", "-b", broker.bootstrap, "-t", topic, "-K", "\t", "-z", "lz4",
                                    "-X", "enable.idempotence=true", "-X", "acks=all", "-X", "linger.ms=5",
                                    "-l", str(lines)], check=True)
                    wall = time.monotonic() - t0
                    after = os.times()
                    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
                total = sum(h - lo for lo, h in broker.watermarks(topic).values())
                assert total == args.rows, (case, total)
                res[case].append(args.rows / wall)
                res[case + "_cpu"].append(cpu)
                log(f"produce {case} run {run}: {args.rows / wall:,.0f} rows/s, {cpu:.2f} CPU s")
        a, b = statistics.median(res["a"]), statistics.median(res["b"])
        print(f"\nProduce {args.rows:,} rows (lz4, idempotent, acks=all), median of {args.repeat}:")
        print(f"  {'case':<40} {'rows/s':>12} {'CPU s (producer)':>18} {'vs kcat':>8}")
        print(f"  {'kafkaProduce from chDB':<40} {a:>12,.0f} {statistics.median(res['a_cpu']):>18.2f} {a / b:>8.2f}")
        print(f"  {'kcat -P -l, same lines':<40} {b:>12,.0f} {statistics.median(res['b_cpu']):>18.2f} {1:>8.2f}")

        # ---- dictionary -------------------------------------------------
        topic = f"bench_users_{os.getpid()}"
        broker.create_topic(topic, 4, {"cleanup.policy": "compact"})
        k = args.keys

        def rec(i: int):
            if i < k:
                key, v = i, 1
            elif i < k + k // 5:
                key, v = (i - k) * 5, 2
            else:
                key, v = (i - k - k // 5) * 20 + 1, None
            value = None if v is None else json.dumps(
                {"name": f"user{key}-v{v}", "country": ["FR", "DE", "JP"][key % 3], "score": key / 7}).encode()
            return (None, f"u{key}".encode(), value)
        n_records = k + k // 5 + k // 20
        broker.produce_many(topic, n_records, rec)
        live = k - k // 20
        dict_times = work / "dict.time"
        wrapper(scripts / "kafka-dict", BUILD / "udf/kafka-dict", dict_times, pipes)
        conf = (REPO_ROOT / "clickhouse-config/user_scripts/kafka-bridge.d/users.conf").read_text()
        (pipes / "users.conf").write_text(conf.replace("127.0.0.1:9092", broker.bootstrap)
                                          .replace("topic = users", f"topic = {topic}"))
        ddl = re.sub(r"(?m)^\s*--.*$", "", (REPO_ROOT / "sql/dictionary.sql").read_text())
        ch.query(ddl.replace("LIFETIME(MIN 300 MAX 360)", "LIFETIME(0)"))
        loads, rss, alloc = [], [], []
        for run in range(args.repeat):
            dict_times.write_text("")
            t0 = time.monotonic()
            ch.query("SYSTEM RELOAD DICTIONARY users_dict")
            loads.append(time.monotonic() - t0)
            _, peak = gnu_time(dict_times)
            rss.append(peak)
            got = ch.rows("SELECT element_count, bytes_allocated FROM system.dictionaries WHERE name = 'users_dict'")
            assert int(got[0][0]) == live, got
            alloc.append(int(got[0][1]) / 2**20)
            log(f"dictionary run {run}: {loads[-1]:.2f} s, kafka-dict {peak:.0f} MiB")
        assert ch.value("SELECT dictGet('users_dict', 'name', 'u5')") == "user5-v2"
        assert ch.value("SELECT dictHas('users_dict', 'u21')") == "0"
        print(f"\nDictionary from a compacted topic: {n_records:,} records, {live:,} live keys, "
              f"median of {args.repeat}:")
        print(f"  load (SYSTEM RELOAD DICTIONARY)   {statistics.median(loads):8.2f} s "
              f"({live / statistics.median(loads):,.0f} keys/s)")
        print(f"  kafka-dict peak RSS               {statistics.median(rss):8.0f} MiB "
              f"({statistics.median(rss) * 2**20 / live:.0f} bytes per live key)")
        print(f"  dictionary in ClickHouse          {statistics.median(alloc):8.0f} MiB (bytes_allocated)")
        ch.close()
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
