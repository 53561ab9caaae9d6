#!/usr/bin/env python3
"""End-to-end ingestion benchmark: Kafka topic -> ClickHouse MergeTree table.

Run it through scripts/bench, which installs the dependencies, builds the
bridge and build/bench-floor, and starts (and always stops) a private Kafka
broker. This is a benchmark, not a test: it prints numbers, and fails only
when a case loads the wrong data.

The data. N JSON messages (default 1,000,000) of about 120 bytes, six fields:
    {"id":0,"user_id":1000,"page":"/cat/00/item/0000000","amount":0.00,
     "ts":"2024-05-01T12:34:56.789Z","ok":false}
(integers, a string, a float with two decimals, an ISO-8601 time with
milliseconds and Z, a boolean), produced with confluent-kafka into a new topic
with 4 partitions (message i into partition i % 4), compressed with lz4 by
default (--compression none to change). The watermarks must add up to N. While
producing, the script sums every field in Python; each case's table is then
checked against those sums (count, count(DISTINCT id), sum(id), sum(user_id),
sum(length(page)), sum of the amount in cents, sum of ts in ms, countIf(ok)).
Any difference makes the benchmark fail loudly.

The cases, all loading the same topic into an identical MergeTree table
(ORDER BY id):
  (a) kafka-bridge:   INSERT INTO t SELECT * FROM executable('kafka-bridge -b B
                      -t T --columns=...', 'RowBinaryWithNamesAndTypes', '...')
  (b) kcat:           the same through a user_scripts wrapper that runs Debian's
                      kcat -C -b B -t T -o beginning -e -q -f '%s\\n', read as
                      'JSONEachRow': what a user would script today.
  (c) Kafka engine:   ClickHouse's own Kafka table engine in the same chDB
                      build; see "How (c) is driven" below.
  (d) floor:          build/bench-floor (scripts/bench-floor.c): librdkafka
                      fetching the same messages the way the bridge does and
                      discarding them. No ClickHouse at all.

How a case is measured. Each case runs in a fresh process: (a)-(c) in a new
Python subprocess (this script with --child) holding its own chDB engine and
data directory, since chDB allows one engine per process; (d) is the C program
itself. The parent waits for it with os.wait4(), which gives:
  - wall time, from spawning the process to reaping it;
  - CPU time, user + sys, of the process and of every descendant it waited for:
    ClickHouse's threads, and for (a) and (b) the program executable() ran
    (ClickHouse reaps it before the INSERT returns);
  - the process's peak RSS (ru_maxrss).
For (a) and (b) the program in user_scripts is a shell wrapper that execs GNU
time (/usr/bin/time -o FILE) around kafka-bridge or kcat, so the table shows
that program's own peak RSS and its share of the CPU; for (c) and (d) the peak
RSS is the whole process's.
The whole-process numbers include starting Python and the chDB engine (about
0.3-0.5 s of CPU and 250 MiB, the same for (a)-(c)) and the verification
query. A second table therefore shows the INSERT alone, measured inside the
child around the INSERT with time.monotonic() and getrusage() of the process
and of its reaped children.
--repeat K runs the cases K times, interleaved (a b c d, a b c d, ...), and
reports each case's median of each measure. The machine is shared: the broker,
ClickHouse and the consumer compete for the same cores, so look at CPU per
row as much as at rows per second.

How (c) is driven, and what limits that measurement. chDB is ClickHouse
in-process with no server. The usual Kafka engine set-up, a materialized view
streaming into the table in the background, cannot be timed here: chDB gives
no handle on background consumption and it never ends on its own. So (c)
reads the Kafka table directly, in the foreground:
    CREATE TABLE queue (...) ENGINE = Kafka SETTINGS kafka_broker_list = B,
        kafka_topic_list = T, kafka_group_name = '<fresh uuid per run>',
        kafka_format = 'JSONEachRow', <tuning below>
    INSERT INTO target SELECT * FROM queue
        SETTINGS stream_like_engine_allow_direct_select = 1
repeated until the table holds N rows, since one direct SELECT returns one
block (about one poll batch) and stops. A fresh consumer group starts at the
earliest offsets; the measured time includes joining the group (subscribe,
not assign) and every SELECT's planning and final empty polls.
The default tuning (--kafka-engine-settings replaces it) was the fastest
stable one found on this 2-core machine:
    kafka_commit_on_select = 1, kafka_num_consumers = 1,
    kafka_max_block_size = 131072, kafka_poll_max_batch_size = 131072,
    kafka_poll_timeout_ms = 20 (kafka_flush_interval_ms left at its default)
kafka_commit_on_select = 1 is required: without it a direct SELECT does not
commit, the consumer is marked dirty, and every later SELECT rejoins the
group, drops what it polled and returns nothing. A short poll timeout cuts
each SELECT's idle tail (the default 500 ms cost about a second per million
rows here). Larger blocks (up to 1M rows) were no faster and used more
memory; kafka_flush_interval_ms did not matter. Two consumers were the
fastest when the group settled at once (about 4 s per million rows) but often
took 18-20 s waiting for rebalances, so the default stays at one.
Seen on chDB 26.7.3 (ClickHouse 26.7.2.1): CREATE TABLE ... ENGINE = Kafka
reports "Shutdown was called (LOGICAL_ERROR)" yet the table exists and reads;
the benchmark notes it and goes on. The loop fails if three SELECTs in a row
add no rows, or after 10 minutes; duplicates fail the count(DISTINCT id)
check.

Output: a table on stdout, and the same in build/bench-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [("id", "UInt64"), ("user_id", "UInt32"), ("page", "String"),
           ("amount", "Float64"), ("ts", "DateTime64(3)"), ("ok", "Bool")]
STRUCTURE = ", ".join(f"{n} {t}" for n, t in COLUMNS)
BRIDGE_COLUMNS = ",".join(f"{n}:{t}" for n, t in COLUMNS)  # no spaces: one argv word
PARTITIONS = 4
TS_BASE_MS = 1714566896789  # 2024-05-01T12:34:56.789Z; message i is i * 37 ms later
CASES = {
    "a": "kafka-bridge (executable, RowBinaryWithNamesAndTypes)",
    "b": "kcat (executable, JSONEachRow)",
    "c": "Kafka table engine (direct SELECT)",
    "d": "floor: librdkafka consume + discard",
}
GNU_TIME = "/usr/bin/time"
KCAT = "/usr/bin/kcat"
TIME_FORMAT = "%M %U %S %e %x"  # peak RSS KiB, user s, sys s, wall s, exit status
CHILD_TIMEOUT = 900  # seconds; a case that takes longer is killed
KAFKA_ENGINE_TIMEOUT = 600
KAFKA_ENGINE_MAX_IDLE_PASSES = 3


class BenchError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the data --
def message(i: int, ts_cache: dict[int, str]) -> str:
    ms = TS_BASE_MS + i * 37
    sec = ms // 1000
    stamp = ts_cache.get(sec)
    if stamp is None:
        ts_cache.clear()
        stamp = ts_cache[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return ('{"id":%d,"user_id":%d,"page":"/cat/%02d/item/%07d","amount":%d.%02d,'
            '"ts":"%s.%03dZ","ok":%s}') % (
        i, 1000 + i % 50000, i % 17, i * 7919 % 10000000, i % 1000, i % 100,
        stamp, ms % 1000, "true" if i % 3 else "false")


def expected_sums(n: int) -> dict[str, int]:
    """The verification sums, computed from the formulas in message()."""
    page_len = len("/cat/00/item/0000000")
    return {
        "count": n,
        "distinct_id": n,
        "sum_id": n * (n - 1) // 2,
        "sum_user_id": sum(1000 + i % 50000 for i in range(n)),
        "sum_page_len": n * page_len,
        "sum_amount_cents": sum((i % 1000) * 100 + i % 100 for i in range(n)),
        "sum_ts_ms": n * TS_BASE_MS + 37 * n * (n - 1) // 2,
        "count_ok": n - (n + 2) // 3,
    }


VERIFY_SQL = """SELECT count(), uniqExact(id), sum(id), sum(user_id), sum(length(page)),
    sum(toInt64(round(amount * 100))), sum(toUnixTimestamp64Milli(ts)), countIf(ok)
FROM target"""
VERIFY_KEYS = ["count", "distinct_id", "sum_id", "sum_user_id", "sum_page_len",
               "sum_amount_cents", "sum_ts_ms", "count_ok"]


def load_topic(bootstrap: str, topic: str, n: int, compression: str) -> dict:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)],
                              operation_timeout=30, request_timeout=30)[topic]
    fut.result()
    deadline = time.monotonic() + 30
    while True:
        md = admin.list_topics(topic, timeout=5).topics.get(topic)
        if md and md.error is None and len(md.partitions) == PARTITIONS and \
                all(p.leader >= 0 for p in md.partitions.values()):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"topic {topic}: partitions have no leader after 30 s")
        time.sleep(0.1)

    errors: list[str] = []

    def report(err, _msg):
        if err is not None and len(errors) < 5:
            errors.append(err.str())

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 50,
                         "batch.size": 1 << 20, "compression.type": compression,
                         "queue.buffering.max.messages": 1_000_000,
                         "queue.buffering.max.kbytes": 1 << 20,
                         "delivery.report.only.error": True, "on_delivery": report})
    started = time.monotonic()
    total_bytes = 0
    cache: dict[int, str] = {}
    produce = producer.produce
    for i in range(n):
        value = message(i, cache)
        total_bytes += len(value)
        while True:
            try:
                produce(topic, value, partition=i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.05)
        if i & 0xFFF == 0:
            producer.poll(0)
    left = producer.flush(120)
    seconds = time.monotonic() - started
    if left or errors:
        raise BenchError(f"producing failed: {left} undelivered; {'; '.join(errors)}")

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    try:
        marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                 for p in range(PARTITIONS)}
    finally:
        consumer.close()
    in_topic = sum(high - low for low, high in marks.values())
    if in_topic != n:
        raise BenchError(f"topic {topic} holds {in_topic} messages by its watermarks, expected {n}: {marks}")
    return {"seconds": seconds, "bytes": total_bytes, "watermarks": marks}


# ------------------------------------------------------- one measured case --
def write_wrapper(path: Path, time_file: Path, argv: list[str], pass_args: bool) -> None:
    """A user_scripts program that runs argv under GNU time."""
    cmd = " ".join(shlex.quote(a) for a in
                   [GNU_TIME, "-f", TIME_FORMAT, "-o", str(time_file), *argv])
    if pass_args:
        cmd += ' "$@"'
    path.write_text(f"#!/bin/sh\n# Written by scripts/bench.py for one benchmark run.\nexec {cmd}\n")
    path.chmod(0o755)


def read_gnu_time(path: Path) -> dict:
    try:
        lines = path.read_text().strip().splitlines()
    except FileNotFoundError:
        raise BenchError(f"the program never ran under {GNU_TIME} (no {path})") from None
    if not lines:
        raise BenchError(f"{path} is empty")
    # A non-zero exit adds a "Command exited with non-zero status" line first.
    rss_kib, user, sys_, wall, status = lines[-1].split()
    return {"rss_mib": int(rss_kib) / 1024, "cpu_s": float(user) + float(sys_),
            "wall_s": float(wall), "exit_status": int(status), "notes": lines[:-1]}


def run_measured(argv: list[str], stdout_path: Path, env: dict | None = None) -> dict:
    """Runs argv in a new process; wall, CPU (process + reaped descendants)
    and peak RSS from os.wait4()."""
    with open(stdout_path, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, env=env)
        watchdog = threading.Timer(CHILD_TIMEOUT, proc.kill)
        watchdog.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            watchdog.cancel()
        wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if wall >= CHILD_TIMEOUT:
        raise BenchError(f"{argv[0]} did not finish within {CHILD_TIMEOUT} s and was killed")
    return {"exit": proc.returncode, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024}


def run_case(case: str, args: argparse.Namespace, topic: str, expect: dict, run_no: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-{case}{run_no}-", dir=args.tmp))
    try:
        if case == "d":
            meas = run_measured([str(args.floor), args.bootstrap, topic], work / "stdout")
            out = (work / "stdout").read_text().strip()
            if meas["exit"] != 0:
                raise BenchError(f"case d: bench-floor exited with {meas['exit']}")
            res = json.loads(out.splitlines()[-1])
            if res["messages"] != args.messages:
                raise BenchError(f"case d: bench-floor read {res['messages']} messages, expected {args.messages}")
            return {"process": meas, "insert": {"wall_s": res["seconds"], "cpu_s": None},
                    "rss_mib": meas["rss_mib"]}

        scripts = work / "user_scripts"
        scripts.mkdir()
        time_file = work / "program.time"
        if case == "a":
            # The ad-hoc command line below needs the admin's consent.
            (scripts / "kafka-bridge.d").mkdir()
            (scripts / "kafka-bridge.d/_server.conf").write_text("adhoc = true\n")
            write_wrapper(scripts / "kafka-bridge", time_file,
                          ["env", f"KAFKA_BRIDGE_PIPELINES={scripts / 'kafka-bridge.d'}", str(args.bridge)],
                          pass_args=True)
        elif case == "b":
            write_wrapper(scripts / "kcat-json", time_file,
                          [KCAT, "-C", "-b", args.bootstrap, "-t", topic, "-o", "beginning",
                           "-e", "-q", "-f", "%s\\n"], pass_args=False)
        spec = {"case": case, "bootstrap": args.bootstrap, "topic": topic, "n": args.messages,
                "datadir": str(work / "chdb"), "scripts": str(scripts), "expect": expect,
                "kafka_engine_settings": kafka_engine_settings(args), "bridge_args": args.bridge_args}
        (work / "spec.json").write_text(json.dumps(spec))
        meas = run_measured([sys.executable, str(Path(__file__).resolve()), "--child", str(work / "spec.json")],
                            work / "stdout")
        out = (work / "stdout").read_text().strip().splitlines()
        if meas["exit"] != 0 or not out:
            raise BenchError(f"case {case} failed (exit {meas['exit']}); see the lines above")
        child = json.loads(out[-1])
        result = {"process": meas, "insert": child["insert"], "engine_version": child["version"],
                  "notes": child.get("notes", []), "rss_mib": meas["rss_mib"]}
        if case in ("a", "b"):
            prog = read_gnu_time(time_file)
            if prog["exit_status"] != 0:
                raise BenchError(f"case {case}: the program exited with {prog['exit_status']} "
                                 f"({'; '.join(prog['notes'])})")
            result["program"] = prog
            result["rss_mib"] = prog["rss_mib"]
            # The program's CPU must be inside the INSERT's reaped-children CPU,
            # or the process totals would miss it.
            if child["insert"]["children_cpu_s"] < 0.9 * prog["cpu_s"]:
                result["notes"].append(
                    f"ClickHouse had not reaped the program when the INSERT returned: its "
                    f"{prog['cpu_s']:.2f} s CPU may be missing from the totals")
        return result
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def kafka_engine_settings(args: argparse.Namespace) -> str:
    if args.kafka_engine_settings is not None:
        return args.kafka_engine_settings.replace("{N}", str(args.messages))
    return ("kafka_commit_on_select = 1, kafka_num_consumers = 1, kafka_max_block_size = 131072, "
            "kafka_poll_max_batch_size = 131072, kafka_poll_timeout_ms = 20")


# --------------------------------------------- the child: one chDB engine --
def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    from chdb import session as chdb_session

    notes: list[str] = []
    datadir = Path(spec["datadir"])
    datadir.mkdir(parents=True)
    sess = chdb_session.Session(f"file:{datadir}?user_scripts_path={spec['scripts']}")

    def q(sql: str, fmt: str = "TSV") -> str:
        res = sess.query(sql, fmt)
        err = getattr(res, "error_message", None)
        if callable(err):
            err = err()
        if err:
            raise BenchError(str(err).strip())
        return res.bytes().decode()

    def count() -> int:
        return int(q("SELECT count() FROM target"))

    version = q("SELECT version()").strip()
    q(f"CREATE TABLE target ({STRUCTURE}) ENGINE = MergeTree ORDER BY id")
    case, n = spec["case"], spec["n"]
    passes = None
    if case == "a":
        cmd = f"kafka-bridge -b {spec['bootstrap']} -t {spec['topic']} --columns={BRIDGE_COLUMNS}"
        if spec["bridge_args"]:
            cmd += " " + spec["bridge_args"]
        sql = (f"INSERT INTO target SELECT * FROM executable('{cmd}', "
               f"'RowBinaryWithNamesAndTypes', '{STRUCTURE}')")
    elif case == "b":
        sql = f"INSERT INTO target SELECT * FROM executable('kcat-json', 'JSONEachRow', '{STRUCTURE}')"
    elif case == "c":
        group = f"bench-{uuid.uuid4().hex}"
        create = (f"CREATE TABLE queue ({STRUCTURE}) ENGINE = Kafka SETTINGS "
                  f"kafka_broker_list = '{spec['bootstrap']}', kafka_topic_list = '{spec['topic']}', "
                  f"kafka_group_name = '{group}', kafka_format = 'JSONEachRow'")
        if spec["kafka_engine_settings"]:
            create += ", " + spec["kafka_engine_settings"]
        sql = "INSERT INTO target SELECT * FROM queue SETTINGS stream_like_engine_allow_direct_select = 1"
    else:
        raise BenchError(f"unknown case {case}")

    self0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    if case != "c":
        q(sql)
    else:
        try:
            q(create)
        except (BenchError, RuntimeError) as e:
            # chDB 26.7: the table is created and works, but CREATE reports this.
            if "Shutdown was called" not in str(e):
                raise
            notes.append("CREATE TABLE ... ENGINE = Kafka reported 'Shutdown was called' "
                         "(LOGICAL_ERROR); the table was created and read anyway")
        passes, idle, have = 0, 0, 0
        while have < n:
            q(sql)
            passes += 1
            now = count()
            idle = idle + 1 if now == have else 0
            have = now
            if idle >= KAFKA_ENGINE_MAX_IDLE_PASSES:
                raise BenchError(
                    f"case c: {KAFKA_ENGINE_MAX_IDLE_PASSES} direct SELECTs in a row added no rows, "
                    f"stuck at {have} of {n} (without kafka_commit_on_select = 1 a direct "
                    "SELECT does not commit, and the next one returns nothing)")
            if time.monotonic() - started > KAFKA_ENGINE_TIMEOUT:
                raise BenchError(f"case c: {have} of {n} rows after {KAFKA_ENGINE_TIMEOUT} s")
    wall = time.monotonic() - started
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)

    got = json.loads(q(VERIFY_SQL, "JSONCompactEachRow"))
    got = dict(zip(VERIFY_KEYS, (int(v) for v in got)))
    bad = {k: (got[k], v) for k, v in spec["expect"].items() if got[k] != v}
    if bad:
        detail = ", ".join(f"{k} = {g} (expected {e})" for k, (g, e) in bad.items())
        raise BenchError(f"case {case}: the table does not hold the topic: {detail}")

    cpu_self = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
    cpu_kids = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    print(json.dumps({"version": version, "notes": notes,
                      "insert": {"wall_s": wall, "cpu_s": cpu_self + cpu_kids,
                                 "children_cpu_s": cpu_kids, "passes": passes}}), flush=True)
    # Skip the engine's shutdown: it is not part of loading, and background
    # merges have nothing left worth waiting for.
    os._exit(0)


# ------------------------------------------------------------- reporting --
def versions(args: argparse.Namespace) -> dict:
    from importlib import metadata

    import confluent_kafka

    v: dict[str, str] = {}
    engine = subprocess.run([sys.executable, "-c", "import chdb; print(chdb.query('SELECT version()', 'TSV'))"],
                            capture_output=True, text=True).stdout.strip() or "?"
    v["chdb"] = f"chdb-core {metadata.version('chdb-core')} (ClickHouse {engine}, its own bundled librdkafka)"
    v["librdkafka (bridge, kcat, floor)"] = subprocess.run(
        [str(args.floor), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    kcat = subprocess.run([KCAT, "-V"], capture_output=True, text=True).stdout
    m = re.search(r"Version (\S+) .*?(librdkafka \S+)", kcat)
    v["kcat"] = f"{m.group(1)} ({m.group(2)})" if m else "?"
    v["confluent-kafka (producer)"] = f"{confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]})"
    pom = (ROOT / "scripts/kafka-deps/pom.xml").read_text()
    m = re.search(r"<kafka.version>(.*?)</kafka.version>", pom)
    v["kafka broker"] = m.group(1) if m else "?"
    return v


def median(values: list) -> float | None:
    values = [x for x in values if x is not None]
    return statistics.median(values) if values else None


def summarize(case: str, runs: list[dict], n: int, basis: str) -> dict:
    wall = median([r[basis]["wall_s"] for r in runs])
    cpu = median([r[basis]["cpu_s"] for r in runs])
    return {"case": case, "name": CASES[case], "runs": len(runs), "wall_s": wall,
            "rows_per_s": n / wall if wall else None, "cpu_s": cpu,
            "cpu_s_per_million": cpu / n * 1e6 if cpu is not None else None,
            "peak_rss_mib": median([r["rss_mib"] for r in runs])}


def add_ratios(rows: list[dict]) -> None:
    a = next((r for r in rows if r["case"] == "a"), None)
    for r in rows:
        r["speed_ratio_a_over_x"] = (a["rows_per_s"] / r["rows_per_s"]
                                     if a and a["rows_per_s"] and r["rows_per_s"] else None)
        r["cpu_ratio_x_over_a"] = (r["cpu_s"] / a["cpu_s"]
                                   if a and a["cpu_s"] and r["cpu_s"] is not None else None)


def fmt(x, spec: str, none: str = "-") -> str:
    return none if x is None else format(x, spec)


def print_table(title: str, rows: list[dict], rss_header: str) -> None:
    head = ["case", "rows/s", "wall s", "CPU s", "CPU s / M rows", rss_header, "speed a/x", "CPU x/a"]
    body = [[f"({r['case']}) {r['name']}", fmt(r["rows_per_s"], ",.0f"), fmt(r["wall_s"], ".2f"),
             fmt(r["cpu_s"], ".2f"), fmt(r["cpu_s_per_million"], ".2f"),
             fmt(r["peak_rss_mib"], ".1f"), fmt(r["speed_ratio_a_over_x"], ".2f"),
             fmt(r["cpu_ratio_x_over_a"], ".2f")] for r in rows]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    print(f"\n{title}")
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in body:
        print(line(row))


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--child":
        try:
            return child_main(argv[1])
        except Exception as e:  # noqa: BLE001 - the parent reports the failure
            print(f"bench: {e}", file=sys.stderr, flush=True)
            os._exit(1)

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", required=True, help="the broker, host:port")
    p.add_argument("--messages", type=int, default=1_000_000, metavar="N", help="messages to load (1000000)")
    p.add_argument("--repeat", type=int, default=1, metavar="K", help="runs of each case; the median is reported (1)")
    p.add_argument("--cases", default="abcd", help="which cases to run, e.g. ad (abcd)")
    p.add_argument("--compression", choices=["lz4", "none"], default="lz4", help="producer compression (lz4)")
    p.add_argument("--kafka-engine-settings", metavar="SQL",
                   help="settings for case (c)'s Kafka table, replacing the default tuning; "
                        "{N} stands for --messages")
    p.add_argument("--bridge-args", default="", metavar="ARGS",
                   help="extra kafka-bridge arguments for case (a), e.g. '-X queued.min.messages=1000000'")
    p.add_argument("--bridge", type=Path, default=ROOT / "build/bridge/kafka-bridge")
    p.add_argument("--floor", type=Path, default=ROOT / "build/bench-floor")
    p.add_argument("--out", type=Path, default=ROOT / "build/bench-results.json")
    p.add_argument("--tmp", default=None, help="directory for the runs' scratch data (system temp)")
    p.add_argument("--keep", action="store_true", help="keep each run's scratch directory")
    args = p.parse_args(argv)
    if args.messages < 1 or args.repeat < 1 or not set(args.cases) <= set(CASES) or not args.cases:
        p.error("--messages and --repeat must be positive; --cases takes letters from abcd")
    if any(ch in args.bridge_args for ch in "'\\"):
        p.error("--bridge-args cannot hold quotes or backslashes (they go inside an SQL string)")
    cases = [c for c in CASES if c in args.cases]
    for path, what in [(args.bridge, "the bridge"), (args.floor, "bench-floor"),
                       (Path(KCAT), "kcat"), (Path(GNU_TIME), "GNU time")]:
        if not os.access(path, os.X_OK):
            raise BenchError(f"{what} not found at {path}")
    args.bridge = args.bridge.resolve()
    args.floor = args.floor.resolve()

    n = args.messages
    vers = versions(args)
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
          f"{platform.machine()}, Linux {platform.release()}, load average {os.getloadavg()[0]:.2f}")
    for k, v in vers.items():
        print(f"{k}: {v}")
    topic = f"bench-{n}-{uuid.uuid4().hex[:8]}"
    log(f"producing {n:,} messages into {topic} ({PARTITIONS} partitions, {args.compression})")
    loaded = load_topic(args.bootstrap, topic, n, args.compression)
    print(f"topic: {topic}, {n:,} messages, {PARTITIONS} partitions, compression {args.compression}, "
          f"{loaded['bytes'] / n:.1f} bytes per message on average; produced in {loaded['seconds']:.1f} s")
    if "c" in cases:
        print(f"case (c) Kafka table settings: {kafka_engine_settings(args)}")
    if args.bridge_args and "a" in cases:
        print(f"case (a) extra bridge arguments: {args.bridge_args}")
    log("computing the expected sums")
    expect = expected_sums(n)

    runs: dict[str, list[dict]] = {c: [] for c in cases}
    for r in range(1, args.repeat + 1):
        for c in cases:
            log(f"run {r}/{args.repeat}: ({c}) {CASES[c]}")
            res = run_case(c, args, topic, expect, r)
            for note in res.get("notes", []):
                log(f"  note: {note}")
            log(f"  {res['process']['wall_s']:.2f} s wall, {res['process']['cpu_s']:.2f} s CPU, "
                f"{res['rss_mib']:.0f} MiB peak")
            runs[c].append(res)

    total = [summarize(c, runs[c], n, "process") for c in cases]
    insert = [summarize(c, runs[c], n, "insert") for c in cases]
    add_ratios(total)
    for row in insert:  # the floor has no separate window; its process CPU stands in
        if row["case"] == "d":
            row["cpu_s"] = median([x["process"]["cpu_s"] for x in runs["d"]])
            row["cpu_s_per_million"] = row["cpu_s"] / n * 1e6
    add_ratios(insert)
    program_cpu = {c: median([x["program"]["cpu_s"] for x in runs[c]]) for c in cases if c in ("a", "b")}

    rep = f"median of {args.repeat} runs" if args.repeat > 1 else "one run"
    print_table(f"Whole process, measured by os.wait4 ({rep}, {n:,} rows; peak RSS: the program "
                "executable() ran for a and b, the process for c and d)", total, "peak RSS MiB")
    print_table("The INSERT alone, measured inside the chDB process (d: its own read loop; "
                "CPU as above)", insert, "peak RSS MiB")
    print()
    for c, cpu in program_cpu.items():
        whole = median([x["process"]["cpu_s"] for x in runs[c]])
        rss = median([x["process"]["rss_mib"] for x in runs[c]])
        print(f"({c}) CPU split: the program {cpu:.2f} s, the chDB process (ClickHouse, Python, start-up, "
              f"verification) {whole - cpu:.2f} s; the chDB process peaked at {rss:.0f} MiB")
    if "c" in cases:
        print(f"(c) direct SELECT passes: {[x['insert']['passes'] for x in runs['c']]}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")

    results = {
        "messages": n, "partitions": PARTITIONS, "compression": args.compression,
        "bytes_per_message": loaded["bytes"] / n, "topic": topic, "repeat": args.repeat,
        "nproc": len(os.sched_getaffinity(0)), "versions": vers,
        "clickhouse_engine": next((x["engine_version"] for rs in runs.values() for x in rs
                                   if "engine_version" in x), None),
        "kafka_engine_settings": kafka_engine_settings(args) if "c" in cases else None,
        "bridge_args": args.bridge_args,
        "whole_process": total, "insert_only": insert, "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
