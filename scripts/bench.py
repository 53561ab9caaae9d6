#!/usr/bin/env python3
"""End-to-end ingestion benchmark: Kafka topic -> ClickHouse MergeTree table.

Run it through scripts/bench, which installs the dependencies, builds the
bridge and build/bench-floor, and starts (and always stops) a private Kafka
broker. This is a benchmark, not a test: it prints numbers, and fails only
when a case loads the wrong data.

The matrix. Each cell is a topic of one message shape on P partitions
(message i into partition i % P), compressed with lz4 by default:
  narrow  ~117 B, 6 fields:
    {"id":0,"user_id":1000,"page":"/cat/00/item/0000000","amount":0.00,
     "ts":"2024-05-01T12:34:56.789Z","ok":false}
  wide    ~1.3 KB, 35 fields (41 with the nested objects' members): the narrow
          ones plus Array(String), Map(String, String), two named Tuples read
          from JSON objects, Array(Float64), 12 UInt32 and 12 String fields
  large   ~10 KB: the narrow fields, a 9-10 KB String and an Array(UInt32)
  avro    ~46 B: the narrow fields as a Confluent-framed Avro datum (ts a
          timestamp-millis), its schema in a real registry (scripts/registry,
          started and stopped here); (a) reads it with format avro-confluent,
          (c) with kafka_format = 'AvroConfluent'; (b) is left out (kcat
          cannot turn Avro into rows)
The default run is a subset (narrow on 4 and 128 partitions, wide on 16, large
and avro on 4; a few minutes); --full runs every shape on 1, 4, 16 and 128 partitions
with more messages; --shapes/--partitions pick cells. While producing, the
script adds up what each message contributes to a set of verification sums
(count, uniqExact(id), sums of every numeric field, lengths of the strings,
arrays and maps); each case's table is then checked against those sums. Any
difference makes the benchmark fail loudly.

The cases, all loading the same topic into an identical MergeTree table
(ORDER BY id; --order-by changes it for every case, and --insert-settings
adds settings to every case's INSERT):
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
  (e) ClickHouse alone, (a) replayed: the same INSERT as (a), the same
                      executable() format and structure, but the user_scripts
                      program is `cat FILE`, FILE holding the bytes the bridge
                      wrote to stdout for this cell (recorded once per cell,
                      untimed, before the first run: the bridge alone with
                      (a)'s pipeline file and output format). The program's
                      own CPU is next to nothing, so (e) is ClickHouse alone
                      ingesting (a)'s rows: the ceiling of any program feeding
                      ClickHouse through executable() on this machine. It
                      leaves out Kafka, the broker and any decoding.
  (f) a base build:   with --base-bridge PATH, case (a) again with another
                      kafka-bridge binary (the build before a change),
                      interleaved with (a) in the same repeats, so that a
                      change's effect on the whole path is measured side by
                      side rather than in two runs of a noisy machine.
--bridge-output picks the format (a) writes and (e) replays:
RowBinaryWithNamesAndTypes (the default), RowBinary or Native; executable()
is given the same format.

How a case is measured. Each case runs in a fresh process: (a)-(c) in a new
Python subprocess (this script with --child) holding its own chDB engine and
data directory, since chDB allows one engine per process; (d) is the C program
itself. The parent waits for it with os.wait4(), which gives:
  - wall time, from spawning the process to reaping it;
  - CPU time, user + sys, of the process and of every descendant it waited for:
    ClickHouse's threads, and for (a) and (b) the program executable() ran
    (ClickHouse reaps it before the INSERT returns);
  - the process's peak RSS (ru_maxrss).
For (a), (b) and (e) the program in user_scripts is a shell wrapper that execs GNU
time (/usr/bin/time -o FILE) around kafka-bridge or kcat, so the table shows
that program's own peak RSS and its share of the CPU; for (c) and (d) the peak
RSS is the whole process's.
The whole-process numbers include starting Python and the chDB engine (about
0.3-0.5 s of CPU and 250 MiB, the same for (a)-(c)) and the verification
query. A second table therefore shows the INSERT alone, measured inside the
child around the INSERT with time.monotonic() and getrusage() of the process
and of its reaped children.
--repeat K runs the cases K times, interleaved (a b c d e, a b c d e, ...), and
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

Output: a table per cell on stdout (the INSERT alone: rows/s, MB/s of
message payload, CPU s per million rows of the whole and of the program
alone, peak RSS of the program and of the tree, i.e. the program's peak plus
its chDB process's, ratios to the bridge) and, with (e), the ceiling: (e)'s
rows/s over kcat's (ceiling_over_kcat) and the bridge's over (e)'s
(bridge_share_of_ceiling); everything in
build/bench-results.json and one Markdown table per shape in
build/bench-results.md.
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
PARTITIONS = 4  # --partitions changes it
TS_BASE_MS = 1714566896789  # 2024-05-01T12:34:56.789Z; message i is i * 37 ms later
BRIDGE_OUTPUTS = ["RowBinaryWithNamesAndTypes", "RowBinary", "Native"]  # kafka-bridge -O
CASES = {
    "a": "kafka-bridge (executable, RowBinaryWithNamesAndTypes)",  # main() names --bridge-output
    "b": "kcat (executable, JSONEachRow)",
    "c": "Kafka table engine (direct SELECT)",
    "d": "floor: librdkafka consume + discard",
    "e": "ClickHouse alone, (a) replayed (cat of the bridge's output)",
    "f": "kafka-bridge, --base-bridge build (as a)",
}
PROGRAM_CASES = "abef"  # the cases whose user_scripts program runs under GNU time
CAT = "/bin/cat"
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


class Shape:
    """One kind of message: its columns, its generator and its checks.

    row(i) returns the message text and, in VERIFY key order, what message i
    adds to each verification sum; load_topic() adds them up while
    producing, and each case's table must give the same totals."""

    def __init__(self, name, columns, row, verify_sql, verify_keys, messages, full_messages, avro=False):
        self.name, self.columns, self.row, self.avro = name, columns, row, avro
        self.verify_sql, self.verify_keys = verify_sql, verify_keys
        self.messages, self.full_messages = messages, full_messages
        self.structure = ", ".join(f"{n} {t}" for n, t in columns)


def narrow_row(i: int, cache: dict) -> tuple[str, tuple]:
    ms = TS_BASE_MS + i * 37
    return message(i, cache), (1, 1, i, 1000 + i % 50000, len("/cat/00/item/0000000"),
                               (i % 1000) * 100 + i % 100, ms, 1 if i % 3 else 0)


NARROW_VERIFY = """SELECT count(), uniqExact(id), sum(id), sum(user_id), sum(length(page)),
    sum(toInt64(round(amount * 100))), sum(toUnixTimestamp64Milli(ts)), countIf(ok)
FROM target"""
NARROW_KEYS = ["count", "distinct_id", "sum_id", "sum_user_id", "sum_page_len", "sum_amount_cents", "sum_ts_ms",
               "count_ok"]
WIDE_INTS = [f"n{k:02d}" for k in range(12)]
WIDE_STRS = [f"s{k:02d}" for k in range(12)]
WIDE_COLUMNS = COLUMNS + [
    ("tags", "Array(String)"), ("attrs", "Map(String, String)"),
    ("geo", "Tuple(lat Float64, lon Float64, city String)"),
    ("device", "Tuple(os String, version String, model String)"), ("scores", "Array(Float64)"),
] + [(c, "UInt32") for c in WIDE_INTS] + [(c, "String") for c in WIDE_STRS]


def milli(v: int) -> str:
    """v / 1000 as exact decimal text."""
    return "%s%d.%03d" % ("-" if v < 0 else "", abs(v) // 1000, abs(v) % 1000)


def wide_row(i: int, cache: dict) -> tuple[str, tuple]:
    """About 1.3 KB: the narrow fields plus arrays, a map, two nested objects
    and 24 scalars (35 fields, 41 counting the nested objects' members)."""
    base, sums = narrow_row(i, cache)
    tags = ['"tag-%03d"' % ((i + k * 7) % 1000) for k in range(8)]
    attrs = ['"key%d":"value-%07d"' % (k, (i * 13 + k) % 10000000) for k in range(8)]
    lat, lon = (i % 180000) - 90000, (i * 7 % 360000) - 180000
    city = "city-%d" % (i % 100000)
    scores = [(i + k) % 10000 for k in range(6)]
    ints = [(i * (k + 3)) % 4000000000 for k in range(12)]
    strs = ["%s-%08d-%s" % (WIDE_STRS[k], (i * (k + 11)) % 100000000, "x" * (20 + (i + k) % 16))
            for k in range(12)]
    parts = [base[:-1],
             '"tags":[%s]' % ",".join(tags), '"attrs":{%s}' % ",".join(attrs),
             '"geo":{"lat":%s,"lon":%s,"city":"%s"}' % (milli(lat), milli(lon), city),
             '"device":{"os":"os-%d","version":"%d.%d.%d","model":"model-%05d"}' % (
                 i % 5, i % 17, i % 11, i % 7, i % 30000),
             '"scores":[%s]' % ",".join("%d.%02d" % (v // 100, v % 100) for v in scores)]
    parts += ['"%s":%d' % (c, v) for c, v in zip(WIDE_INTS, ints)]
    parts += ['"%s":"%s"' % (c, v) for c, v in zip(WIDE_STRS, strs)]
    text = ",".join(parts) + "}"
    extra = (sum(len(t) - 2 for t in tags), 8, lat, lon, len(city), sum(scores), sum(ints),
             sum(len(x) for x in strs))
    return text, sums + extra


WIDE_VERIFY = NARROW_VERIFY.replace("\nFROM target", """,
    sum(length(arrayStringConcat(tags))), sum(length(attrs)), sum(toInt64(round(geo.lat * 1000))),
    sum(toInt64(round(geo.lon * 1000))), sum(length(geo.city)),
    sum(toInt64(round(arraySum(scores) * 100))), sum(%s), sum(%s)
FROM target""" % ("+".join(f"toUInt64({c})" for c in WIDE_INTS),
                  "+".join(f"length({c})" for c in WIDE_STRS)))
WIDE_KEYS = NARROW_KEYS + ["sum_tags_len", "sum_attrs", "sum_lat_milli", "sum_lon_milli",
                           "sum_city_len", "sum_scores_cents", "sum_ints", "sum_strs_len"]
LARGE_COLUMNS = COLUMNS + [("body", "String"), ("items", "Array(UInt32)")]


def large_row(i: int, cache: dict) -> tuple[str, tuple]:
    """About 10 KB: the narrow fields, a 9-10 KB string and 50 numbers."""
    base, sums = narrow_row(i, cache)
    body = ("%07d-lorem-ipsum-dolor-sit-amet-" % i) * (265 + i % 16)
    items = [(i * 31 + k * 977) % 1000000 for k in range(50)]
    text = base[:-1] + ',"body":"%s","items":[%s]}' % (body, ",".join(map(str, items)))
    return text, sums + (len(body), sum(items))


LARGE_VERIFY = NARROW_VERIFY.replace("\nFROM target", ", sum(length(body)), sum(arraySum(items))\nFROM target")
LARGE_KEYS = NARROW_KEYS + ["sum_body_len", "sum_items"]

AVRO_SCHEMA = {"type": "record", "name": "Event", "fields": [
    {"name": "id", "type": "long"}, {"name": "user_id", "type": "long"}, {"name": "page", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "ok", "type": "boolean"}]}
AVRO = {"schema_id": None, "url": None}  # set by main() once the registry runs


def avro_row(i: int, cache: dict) -> tuple[bytes, tuple]:
    """The narrow message's values as a Confluent-framed Avro datum."""
    import io
    import struct
    import fastavro
    parsed = cache.get("parsed")
    if parsed is None:
        parsed = cache["parsed"] = fastavro.parse_schema(AVRO_SCHEMA)
    _, sums = narrow_row(i, {})
    out = io.BytesIO()
    out.write(b"\0" + struct.pack(">I", AVRO["schema_id"]))
    fastavro.schemaless_writer(out, parsed, {
        "id": i, "user_id": 1000 + i % 50000, "page": "/cat/%02d/item/%07d" % (i % 17, i * 7919 % 10000000),
        "amount": float("%d.%02d" % (i % 1000, i % 100)), "ts": TS_BASE_MS + i * 37, "ok": i % 3 != 0})
    return out.getvalue(), sums


SHAPES = {
    "narrow": Shape("narrow", COLUMNS, narrow_row, NARROW_VERIFY, NARROW_KEYS, 300_000, 1_000_000),
    "wide": Shape("wide", WIDE_COLUMNS, wide_row, WIDE_VERIFY, WIDE_KEYS, 60_000, 200_000),
    "large": Shape("large", LARGE_COLUMNS, large_row, LARGE_VERIFY, LARGE_KEYS, 8_000, 30_000),
    "avro": Shape("avro", COLUMNS, avro_row, NARROW_VERIFY, NARROW_KEYS, 300_000, 1_000_000, avro=True),
}


def load_topic(bootstrap: str, topic: str, n: int, compression: str, shape: Shape | None = None,
               partitions: int | None = None) -> dict:
    global PARTITIONS
    shape = shape or SHAPES["narrow"]
    PARTITIONS = partitions or PARTITIONS
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
    row = shape.row
    sums = [0] * len(shape.verify_keys)
    for i in range(n):
        value, adds = row(i, cache)
        for k, v in enumerate(adds):
            sums[k] += v
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
    return {"seconds": seconds, "bytes": total_bytes, "watermarks": marks,
            "expect": dict(zip(shape.verify_keys, sums))}


# ------------------------------------------------------- one measured case --
def write_wrapper(path: Path, time_file: Path, argv: list[str], pass_args: bool,
                  env: dict | None = None) -> None:
    """A user_scripts program that runs argv under GNU time."""
    cmd = " ".join(shlex.quote(a) for a in
                   [GNU_TIME, "-f", TIME_FORMAT, "-o", str(time_file), *argv])
    if pass_args:
        cmd += ' "$@"'
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in (env or {}).items())
    path.write_text(f"#!/bin/sh\n# Written by scripts/bench.py for one benchmark run.\n{exports}exec {cmd}\n")
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


def write_pipeline(work: Path, args: argparse.Namespace, topic: str, shape: Shape) -> Path:
    """The pipeline directory of case (a) and of (e)'s recording: everything
    but the start comes from the admin's pipeline file, since under the trust
    model a query may not name brokers or topics."""
    pipelines = work / "pipelines"
    pipelines.mkdir()
    (pipelines / "bench.conf").write_text(
        f"brokers = {args.bootstrap}\ntopic = {topic}\ncolumns = {shape.structure}\n"
        f"memory-budget = {args.memory_budget}\n"
        + (f"format = avro-confluent\nschema-registry = {AVRO['url']}\n" if shape.avro else ""))
    return pipelines


def bridge_command(args: argparse.Namespace) -> list[str]:
    """Case (a)'s command line after the program name, as executable() passes it."""
    return ["--pipeline", "bench", "-O", args.bridge_output, *args.bridge_args.split()]


def record_bridge_output(args: argparse.Namespace, topic: str, shape: Shape, work: Path) -> Path:
    """Untimed: the bridge alone with (a)'s pipeline file and output format,
    its stdout kept in work/bridge.out for case (e) to replay."""
    pipelines = write_pipeline(work, args, topic, shape)
    out_path = work / "bridge.out"
    with open(out_path, "wb") as out, open(work / "bridge.err", "wb") as err:
        rc = subprocess.run([str(args.bridge), *bridge_command(args)], stdin=subprocess.DEVNULL,
                            stdout=out, stderr=err, timeout=CHILD_TIMEOUT,
                            env={**os.environ, "KAFKA_BRIDGE_PIPELINES": str(pipelines)}).returncode
    if rc != 0:
        tail = (work / "bridge.err").read_text(errors="replace").strip().splitlines()[-3:]
        raise BenchError(f"recording for case e: kafka-bridge exited with {rc}: {' / '.join(tail)}")
    size = out_path.stat().st_size
    if size == 0:
        raise BenchError("recording for case e: kafka-bridge wrote nothing")
    log(f"recorded the bridge's {args.bridge_output} output for case e: {size / 1e6:.1f} MB")
    return out_path


def run_case(case: str, args: argparse.Namespace, topic: str, expect: dict, run_no: int,
             shape: Shape | None = None, recording: Path | None = None) -> dict:
    shape = shape or SHAPES["narrow"]
    work = Path(tempfile.mkdtemp(prefix=f"bench-{case}{run_no}-", dir=args.tmp))
    try:
        if case == "d":
            # Under GNU time: wait4() on a child of this process reports the
            # RSS of the fork it started from (Python's, 150 MiB or so) when
            # that is larger than the floor's own peak.
            meas = run_measured([GNU_TIME, "-f", TIME_FORMAT, "-o", str(work / "floor.time"),
                                 str(args.floor), args.bootstrap, topic,
                                 "--memory-budget", args.memory_budget], work / "stdout")
            meas["rss_mib"] = read_gnu_time(work / "floor.time")["rss_mib"]
            out = (work / "stdout").read_text().strip()
            if meas["exit"] != 0:
                raise BenchError(f"case d: bench-floor exited with {meas['exit']}")
            res = json.loads(out.splitlines()[-1])
            if res["messages"] != expect["count"]:
                raise BenchError(f"case d: bench-floor read {res['messages']} messages, expected {expect['count']}")
            return {"process": meas, "insert": {"wall_s": res["seconds"], "cpu_s": None},
                    "rss_mib": meas["rss_mib"]}

        scripts = work / "user_scripts"
        scripts.mkdir()
        time_file = work / "program.time"
        if case in ("a", "f"):
            pipelines = write_pipeline(work, args, topic, shape)
            program = args.bridge if case == "a" else args.base_bridge
            write_wrapper(scripts / "kafka-bridge", time_file, [str(program)], pass_args=True,
                          env={"KAFKA_BRIDGE_PIPELINES": str(pipelines)})
        elif case == "b":
            write_wrapper(scripts / "kcat-json", time_file,
                          [KCAT, "-C", "-b", args.bootstrap, "-t", topic, "-o", "beginning",
                           "-e", "-q", "-f", "%s\\n"], pass_args=False)
        elif case == "e":
            if recording is None:
                raise BenchError("case e: no recording of the bridge's output")
            write_wrapper(scripts / "replay", time_file, [CAT, str(recording)], pass_args=False)
        spec = {"case": case, "shape": shape.name, "bootstrap": args.bootstrap, "topic": topic, "n": expect["count"],
                "datadir": str(work / "chdb"), "scripts": str(scripts), "expect": expect,
                "kafka_engine_settings": kafka_engine_settings(args), "bridge_args": args.bridge_args,
                "bridge_output": args.bridge_output, "order_by": args.order_by,
                "insert_settings": args.insert_settings, "registry_url": AVRO["url"] if shape.avro else None}
        (work / "spec.json").write_text(json.dumps(spec))
        meas = run_measured([sys.executable, str(Path(__file__).resolve()), "--child", str(work / "spec.json")],
                            work / "stdout")
        out = (work / "stdout").read_text().strip().splitlines()
        if meas["exit"] != 0 or not out:
            raise BenchError(f"case {case} failed (exit {meas['exit']}); see the lines above")
        child = json.loads(out[-1])
        result = {"process": meas, "insert": child["insert"], "engine_version": child["version"],
                  "notes": child.get("notes", []), "rss_mib": meas["rss_mib"]}
        if case in PROGRAM_CASES:
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
        return args.kafka_engine_settings.replace("{N}", str(getattr(args, "messages_now", 0)))
    return ("kafka_commit_on_select = 1, kafka_num_consumers = 1, kafka_max_block_size = 131072, "
            "kafka_poll_max_batch_size = 131072, kafka_poll_timeout_ms = 20")


# --------------------------------------------- the child: one chDB engine --
def chdb_runner(datadir: Path, scripts: str):
    """A chDB session on datadir running executable() programs from
    scripts, as a function from SQL (and a format) to its output; a failed
    query raises BenchError."""
    from chdb import session as chdb_session
    sess = chdb_session.Session(f"file:{datadir}?user_scripts_path={scripts}")

    def q(sql: str, fmt: str = "TSV") -> str:
        res = sess.query(sql, fmt)
        err = getattr(res, "error_message", None)
        if callable(err):
            err = err()
        if err:
            raise BenchError(str(err).strip())
        return res.bytes().decode()
    return q


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of every CPU since boot, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    total = sum(ticks[:8])  # guest time is already inside user
    return total - idle, total


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """How many of the machine's CPUs were busy between two machine_jiffies(),
    whoever used them (ClickHouse, the program, the broker, other tenants)."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total * (os.cpu_count() or 1) if total > 0 else None


def child_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())

    notes: list[str] = []
    datadir = Path(spec["datadir"])
    datadir.mkdir(parents=True)
    q = chdb_runner(datadir, spec["scripts"])

    def count() -> int:
        return int(q("SELECT count() FROM target"))

    version = q("SELECT version()").strip()
    shape = SHAPES[spec["shape"]]
    STRUCTURE = shape.structure
    q(f"CREATE TABLE target ({STRUCTURE}) ENGINE = MergeTree ORDER BY {spec['order_by']}")
    case, n = spec["case"], spec["n"]
    passes = None
    if case in ("a", "f"):
        # The columns come from a pipeline file: types such as Tuple(a T)
        # hold spaces, which an executable() command cannot carry.
        cmd = f"kafka-bridge --pipeline bench -O {spec['bridge_output']}"
        if spec["bridge_args"]:
            cmd += " " + spec["bridge_args"]
        sql = (f"INSERT INTO target SELECT * FROM executable('{cmd}', "
               f"'{spec['bridge_output']}', '{STRUCTURE}')")
    elif case == "e":
        sql = f"INSERT INTO target SELECT * FROM executable('replay', '{spec['bridge_output']}', '{STRUCTURE}')"
    elif case == "b":
        sql = f"INSERT INTO target SELECT * FROM executable('kcat-json', 'JSONEachRow', '{STRUCTURE}')"
    elif case == "c":
        group = f"bench-{uuid.uuid4().hex}"
        create = (f"CREATE TABLE queue ({STRUCTURE}) ENGINE = Kafka SETTINGS "
                  f"kafka_broker_list = '{spec['bootstrap']}', kafka_topic_list = '{spec['topic']}', "
                  f"kafka_group_name = '{group}', kafka_format = "
                  + (f"'AvroConfluent', format_avro_schema_registry_url = '{spec['registry_url']}'"
                     if spec["registry_url"] else "'JSONEachRow'"))
        if spec["kafka_engine_settings"]:
            create += ", " + spec["kafka_engine_settings"]
        sql = "INSERT INTO target SELECT * FROM queue SETTINGS stream_like_engine_allow_direct_select = 1"
    else:
        raise BenchError(f"unknown case {case}")
    if spec["insert_settings"]:
        sql += (", " if " SETTINGS " in sql else " SETTINGS ") + spec["insert_settings"]

    self0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = machine_jiffies()
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
    busy1 = machine_jiffies()
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)

    got = json.loads(q(shape.verify_sql, "JSONCompactEachRow"))
    got = dict(zip(shape.verify_keys, (int(v) for v in got)))
    bad = {k: (got[k], v) for k, v in spec["expect"].items() if got[k] != v}
    if bad:
        detail = ", ".join(f"{k} = {g} (expected {e})" for k, (g, e) in bad.items())
        raise BenchError(f"case {case}: the table does not hold the topic: {detail}")

    cpu_self = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
    cpu_kids = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    # This process's own share (ClickHouse's threads, not the program) in user
    # and system time, its minor page faults, and how busy the whole machine
    # was (the broker included): in the JSON's runs only.
    print(json.dumps({"version": version, "notes": notes,
                      "insert": {"wall_s": wall, "cpu_s": cpu_self + cpu_kids,
                                 "children_cpu_s": cpu_kids, "passes": passes,
                                 "self_user_s": self1.ru_utime - self0.ru_utime,
                                 "self_sys_s": self1.ru_stime - self0.ru_stime,
                                 "self_minflt": self1.ru_minflt - self0.ru_minflt,
                                 "machine_busy_cores": busy_cores(busy0, busy1)}}), flush=True)
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


DEFAULT_MATRIX = [("narrow", 4), ("narrow", 128), ("wide", 16), ("large", 4), ("avro", 4)]
FULL_PARTITIONS = [1, 4, 16, 128]


def summarize_shape(shape: Shape, partitions: int, n: int, nbytes: int, cases: list[str],
                    runs: dict[str, list[dict]]) -> dict:
    total = [summarize(c, runs[c], n, "process") for c in cases]
    insert = [summarize(c, runs[c], n, "insert") for c in cases]
    for row in insert:  # the floor has no separate window; its process CPU stands in
        if row["case"] == "d":
            row["cpu_s"] = median([x["process"]["cpu_s"] for x in runs["d"]])
            row["cpu_s_per_million"] = row["cpu_s"] / n * 1e6
    for rows in (total, insert):
        for r in rows:
            r["mb_per_s"] = nbytes / r["wall_s"] / 1e6 if r["wall_s"] else None
            rs = runs[r["case"]]
            r["program_rss_mib"] = median([x["program"]["rss_mib"] for x in rs]) if r["case"] in PROGRAM_CASES else \
                median([x["process"]["rss_mib"] for x in rs])
            # The program and the chDB process that ran it live at once, so
            # the tree's peak is at most the sum of their peaks.
            r["tree_rss_mib"] = median([x["process"]["rss_mib"] + (x["program"]["rss_mib"] if "program" in x else 0)
                                        for x in rs])
            r["program_cpu_s_per_million"] = median([x["program"]["cpu_s"] for x in rs]) / n * 1e6 \
                if r["case"] in PROGRAM_CASES else r["cpu_s_per_million"]
        add_ratios(rows)
    return {"shape": shape.name, "partitions": partitions, "messages": n,
            "bytes_per_message": nbytes / n, "whole_process": total, "insert_only": insert,
            **ceiling(insert)}


def ceiling(insert: list[dict]) -> dict:
    """(e)'s rows/s over kcat's whole path, and the bridge's over (e)'s, from
    the INSERT alone; a ratio is None when a case is missing (avro has no kcat)."""
    speed = {r["case"]: r["rows_per_s"] for r in insert}
    ratio = lambda x, y: speed[x] / speed[y] if speed.get(x) and speed.get(y) else None
    return {"ceiling_over_kcat": ratio("e", "b"), "bridge_share_of_ceiling": ratio("a", "e")}


def ceiling_line(res: dict) -> str | None:
    over, share = res.get("ceiling_over_kcat"), res.get("bridge_share_of_ceiling")
    if over is None and share is None:
        return None
    parts = []
    if over is not None:
        parts.append(f"ClickHouse alone reads (a)'s rows {over:.2f}× as fast as kcat's whole path")
    if share is not None:
        parts.append(f"the bridge reaches {share * 100:.0f}% of it" if over is not None else
                     f"the bridge reaches {share * 100:.0f}% of ClickHouse alone reading (a)'s rows")
    return "ceiling: " + "; ".join(parts)


def print_matrix_row(res: dict) -> None:
    print(f"\n{res['shape']}, {res['partitions']} partitions, {res['messages']:,} messages of "
          f"{res['bytes_per_message']:.0f} B (the INSERT alone, d its read loop; CPU includes "
          "ClickHouse and the program; RSS: peaks of the program and of the whole tree)")
    head = ["case", "rows/s", "MB/s", "CPU s/M", "prog CPU s/M", "prog RSS", "tree RSS", "a/x speed", "x/a CPU"]
    body = [[f"({r['case']}) {r['name'][:30]}", fmt(r["rows_per_s"], ",.0f"), fmt(r["mb_per_s"], ".1f"),
             fmt(r["cpu_s_per_million"], ".2f"), fmt(r["program_cpu_s_per_million"], ".2f"),
             fmt(r["program_rss_mib"], ".0f"), fmt(r["tree_rss_mib"], ".0f"),
             fmt(r["speed_ratio_a_over_x"], ".2f"), fmt(r["cpu_ratio_x_over_a"], ".2f")]
            for r in res["insert_only"]]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for row in body:
        print(line(row))
    text = ceiling_line(res)
    if text:
        print(text)


README_NAMES = {"a": "kafka-bridge", "b": "kcat → JSONEachRow", "c": "Kafka engine", "d": "floor",
                "e": "ClickHouse alone, (a) replayed", "f": "kafka-bridge, base build"}


def markdown(results: list[dict]) -> str:
    """One README table per shape, as the README shows them."""
    out = []
    for shape in SHAPES:
        rows = [r for r in results if r["shape"] == shape]
        if not rows:
            continue
        out.append(f"\n{shape}, {rows[0]['messages']:,} messages of {rows[0]['bytes_per_message']:.0f} B\n")
        out.append("| partitions | case | rows/s | MB/s | CPU s / M rows | program CPU s / M rows | program RSS MiB "
                   "| tree RSS MiB | bridge speed ÷ case | case CPU ÷ bridge |")
        out.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            for c in r["insert_only"]:
                out.append(f"| {r['partitions']} | {README_NAMES[c['case']]} | {fmt(c['rows_per_s'], ',.0f')} | "
                           f"{fmt(c['mb_per_s'], '.1f')} | {fmt(c['cpu_s_per_million'], '.2f')} | "
                           f"{fmt(c.get('program_cpu_s_per_million'), '.2f')} | "
                           f"{fmt(c['program_rss_mib'], '.0f')} | {fmt(c['tree_rss_mib'], '.0f')} | "
                           f"{fmt(c['speed_ratio_a_over_x'], '.2f')} | {fmt(c['cpu_ratio_x_over_a'], '.2f')} |")
            for c, why in r.get("gave_up", {}).items():
                out.append(f"| {r['partitions']} | {README_NAMES[c]} | left out: {why} | | | | | | | |")
        lines = [(r["partitions"], ceiling_line(r)) for r in rows]
        if any(text for _, text in lines):
            out.append("")
            out += [f"- {p} partition{'' if p == 1 else 's'}, {text}" for p, text in lines if text]
    return "\n".join(out) + "\n"


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
    p.add_argument("--full", action="store_true",
                   help="every shape on 1, 4, 16 and 128 partitions, with more messages")
    p.add_argument("--shapes", default=None, help="shapes to run: narrow,wide,large (with --partitions)")
    p.add_argument("--partitions", default=None, metavar="LIST", help="partition counts, e.g. 1,16")
    p.add_argument("--messages", type=int, default=None, metavar="N",
                   help="messages per topic (default: per shape, see SHAPES)")
    p.add_argument("--repeat", type=int, default=2, metavar="K",
                   help="interleaved runs of each case; the median is reported (2)")
    p.add_argument("--cases", default="abcde", help="which cases to run, e.g. ade (abcde)")
    p.add_argument("--compression", choices=["lz4", "none"], default="lz4", help="producer compression (lz4)")
    p.add_argument("--memory-budget", default="48M", help="the bridge's and the floor's --memory-budget (48M)")
    p.add_argument("--kafka-engine-settings", metavar="SQL",
                   help="settings for case (c)'s Kafka table, replacing the default tuning; "
                        "{N} stands for the message count")
    p.add_argument("--bridge-args", default="", metavar="ARGS",
                   help="extra kafka-bridge arguments for case (a) and (e)'s recording, "
                        "e.g. '-X fetch.wait.max.ms=50'")
    p.add_argument("--bridge-output", choices=BRIDGE_OUTPUTS, default=BRIDGE_OUTPUTS[0],
                   help="the bridge's -O and executable()'s format, for case (a) and the "
                        "recording case (e) replays (RowBinaryWithNamesAndTypes)")
    p.add_argument("--order-by", default="id", metavar="SQL",
                   help="the target table's ORDER BY in every case, e.g. 'tuple()' for no sort (id)")
    p.add_argument("--insert-settings", default="", metavar="SQL",
                   help="settings for the INSERT of every case, e.g. "
                        "'min_insert_block_size_bytes = 16777216' (none)")
    p.add_argument("--bridge", type=Path, default=ROOT / "build/bridge/kafka-bridge")
    p.add_argument("--base-bridge", type=Path, default=None, metavar="PATH",
                   help="another kafka-bridge build, run as case (f) exactly as (a) and "
                        "interleaved with it: before and after a change, in one run")
    p.add_argument("--floor", type=Path, default=ROOT / "build/bench-floor")
    p.add_argument("--out", type=Path, default=ROOT / "build/bench-results.json")
    p.add_argument("--tmp", default=None, help="directory for the runs' scratch data (system temp)")
    p.add_argument("--keep", action="store_true", help="keep each run's scratch directory")
    args = p.parse_args(argv)
    if args.shapes or args.partitions:
        shapes = (args.shapes or "narrow").split(",")
        parts = [int(x) for x in (args.partitions or "4").split(",")]
        if not set(shapes) <= set(SHAPES) or any(x < 1 for x in parts):
            p.error("--shapes takes narrow, wide, large, avro; --partitions positive counts")
        matrix = [(s_, n_) for s_ in shapes for n_ in parts]
    elif args.full:
        matrix = [(s_, n_) for s_ in SHAPES for n_ in FULL_PARTITIONS]
    else:
        matrix = DEFAULT_MATRIX
    if (args.messages is not None and args.messages < 1) or args.repeat < 1 or \
            not set(args.cases) <= set(CASES) or not args.cases:
        p.error(f"--messages and --repeat must be positive; --cases takes letters from {''.join(CASES)}")
    if any(ch in args.bridge_args for ch in "'\\"):
        p.error("--bridge-args cannot hold quotes or backslashes (they go inside an SQL string)")
    if args.base_bridge and "f" not in args.cases:
        args.cases += "f"
    if "f" in args.cases and not args.base_bridge:
        p.error("case f needs --base-bridge PATH")
    cases = [c for c in CASES if c in args.cases]
    CASES["a"] = f"kafka-bridge (executable, {args.bridge_output})"
    for path, what in [(args.bridge, "the bridge"), (args.floor, "bench-floor"),
                       (Path(KCAT), "kcat"), (Path(GNU_TIME), "GNU time"), (Path(CAT), "cat")] + \
            ([(args.base_bridge, "the base bridge")] if args.base_bridge else []):
        if not os.access(path, os.X_OK):
            raise BenchError(f"{what} not found at {path}")
    args.bridge = args.bridge.resolve()
    args.floor = args.floor.resolve()
    if args.base_bridge:
        args.base_bridge = args.base_bridge.resolve()
        print(f"case (f): {args.base_bridge}")

    vers = versions(args)
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
          f"{platform.machine()}, Linux {platform.release()}, load average {os.getloadavg()[0]:.2f}")
    for k, v in vers.items():
        print(f"{k}: {v}")
    if "c" in cases:
        print(f"case (c) Kafka table settings: {kafka_engine_settings(args)}")
    print(f"memory budget of the bridge and the floor: {args.memory_budget}")
    print(f"the bridge's output (case a, and what case e replays): {args.bridge_output}")
    if args.order_by != "id":
        print(f"the target table: MergeTree ORDER BY {args.order_by}")
    if args.insert_settings:
        print(f"every case's INSERT: SETTINGS {args.insert_settings}")
    if args.bridge_args and ("a" in cases or "e" in cases):
        print(f"case (a) extra bridge arguments: {args.bridge_args}")

    registry = None
    if any(SHAPES[s_].avro for s_, _ in matrix):
        sys.path.insert(0, str(ROOT / "tests"))
        from harness.registry import Registry
        registry = Registry(Path(tempfile.mkdtemp(prefix="bench-registry-", dir=args.tmp)) / "state")
        log("starting a schema registry for the avro shape")
        AVRO["url"] = registry.start()
        AVRO["schema_id"] = registry.register("bench-avro-value", AVRO_SCHEMA)
    try:
        return run_matrix(args, matrix, cases, vers)
    finally:
        if registry:
            registry.stop()


def run_matrix(args: argparse.Namespace, matrix: list, all_cases: list[str], vers: dict) -> int:
    results, all_runs = [], []
    for shape_name, partitions in matrix:
        shape = SHAPES[shape_name]
        cases = [c for c in all_cases if not (shape.avro and c == "b")]
        n = args.messages or (shape.full_messages if args.full else shape.messages)
        args.messages_now = n
        topic = f"bench-{shape_name}-{partitions}-{uuid.uuid4().hex[:8]}"
        log(f"producing {n:,} {shape_name} messages into {topic} ({partitions} partitions, {args.compression})")
        loaded = load_topic(args.bootstrap, topic, n, args.compression, shape, partitions)
        expect = loaded["expect"]
        runs: dict[str, list[dict]] = {c: [] for c in cases}
        gave_up: dict[str, str] = {}
        replay = Path(tempfile.mkdtemp(prefix="bench-replay-", dir=args.tmp)) if "e" in cases else None
        try:
            recording = record_bridge_output(args, topic, shape, replay) if replay else None
            run_cell(args, f"{shape_name}/{partitions}p", topic, expect, shape, cases, runs, gave_up, recording)
        finally:
            if replay and not args.keep:
                shutil.rmtree(replay, ignore_errors=True)
        summary = summarize_shape(shape, partitions, n, loaded["bytes"], cases, runs)
        summary["gave_up"] = gave_up
        print_matrix_row(summary)
        for c, why in gave_up.items():
            print(f"({c}) {CASES[c]}: left out, {why}")
        results.append(summary)
        all_runs.append({"shape": shape_name, "partitions": partitions, "runs": runs})
        # Written after every cell: a later cell that fails keeps the earlier ones.
        write_results(args, results, all_runs, all_cases, vers)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    md = write_results(args, results, all_runs, all_cases, vers)
    print(f"results: {args.out}, tables for the README: {md}")
    return 0


def run_cell(args: argparse.Namespace, label: str, topic: str, expect: dict, shape: Shape, cases: list[str],
             runs: dict[str, list[dict]], gave_up: dict[str, str], recording: Path | None) -> None:
    """The cases of one cell, interleaved --repeat times; cases may lose (c)."""
    for r in range(1, args.repeat + 1):
        for c in list(cases):
            log(f"{label} run {r}/{args.repeat}: ({c}) {CASES[c]}")
            try:
                res = run_case(c, args, topic, expect, r, shape, recording)
            except BenchError as e:
                # The Kafka engine stalling (its direct SELECTs stop
                # adding rows, seen on 10 KB messages) is a finding about
                # that peer, not a failure of the benchmark: the cell goes
                # on without it, and the reason is in the log above.
                if c != "c":
                    raise
                log(f"  {e}; this cell goes on without case c")
                gave_up[c] = str(e)
                cases.remove(c)
                runs.pop(c)
                continue
            for note in res.get("notes", []):
                log(f"  note: {note}")
            busy = res["insert"].get("machine_busy_cores")
            log(f"  {res['process']['wall_s']:.2f} s wall, {res['process']['cpu_s']:.2f} s CPU, "
                f"{res['rss_mib']:.0f} MiB peak"
                + (f"; the INSERT {res['insert']['wall_s']:.2f} s, the machine {busy:.2f} CPUs busy"
                   if busy is not None else ""))
            runs[c].append(res)


def write_results(args: argparse.Namespace, results: list, all_runs: list, all_cases: list[str],
                  vers: dict) -> Path:
    out = {
        "compression": args.compression, "repeat": args.repeat, "memory_budget": args.memory_budget,
        "nproc": len(os.sched_getaffinity(0)), "versions": vers,
        "kafka_engine_settings": kafka_engine_settings(args) if "c" in all_cases else None,
        "bridge_args": args.bridge_args, "bridge_output": args.bridge_output, "order_by": args.order_by,
        "insert_settings": args.insert_settings,
        "matrix": results, "runs": all_runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    md = args.out.with_suffix(".md")
    md.write_text(markdown(results))
    return md


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        sys.exit(130)
