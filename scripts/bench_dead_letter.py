#!/usr/bin/env python3
"""What dead-lettering costs, one bridge build against another: run it
through scripts/bench-dead-letter, which starts a broker and builds the
bridge.

One topic of --partitions partitions holds --messages JSON messages, one in
--bad-every not JSON. Each run reads it all with --on-error dead-letter to a
dead-letter topic of its own (so no run finds the marks of another and every
run copies every bad message), writing its rows to /dev/null: the bridge's
own cost, without ClickHouse. The two builds alternate, --repeat times
each, and the copies each run left are counted (read_committed) and must
equal the bad messages. Prints wall and CPU seconds per build, medians and
ranges, and the ratio of the medians."""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def make_topic(admin: AdminClient, partitions: int) -> str:
    name = f"dlq_bench_{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result()
    return name


def committed_copies(bootstrap: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlq-bench", "isolation.level": "read_committed"})
    try:
        tp = TopicPartition(topic, 0)
        deadline = time.monotonic() + 30
        while True:  # the commit's markers may trail the run's end
            low, high = c.get_watermark_offsets(tp, timeout=10, cached=False)
            c.assign([TopicPartition(topic, 0, low)])
            n = 0
            while True:
                msgs = c.consume(1000, timeout=1.0)
                if not msgs:
                    break
                n += sum(1 for m in msgs if not m.error())
            if n or time.monotonic() > deadline:
                return n
    finally:
        c.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--base-bridge", required=True)
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--bad-every", type=int, default=7)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=6)
    ap.add_argument("--bridge-args", default="")
    args = ap.parse_args()

    # Runs without a pipeline file are the admin's to allow: each build is
    # copied beside a server file that allows them.
    work = Path(tempfile.mkdtemp(prefix="bench-dead-letter."))
    builds = {}
    for name, exe in (("bridge", args.bridge), ("base", args.base_bridge)):
        d = work / name
        (d / "kafka-bridge.d").mkdir(parents=True)
        (d / "kafka-bridge.d/_server.conf").write_text("adhoc = true\n")
        shutil.copy2(exe, d / "kafka-bridge")
        builds[name] = str(d / "kafka-bridge")

    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    source = make_topic(admin, args.partitions)
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 50, "compression.type": "lz4"})
    bad = 0
    for i in range(args.messages):
        if i % args.bad_every == 0:
            value, bad = b"{not json", bad + 1
        else:
            value = json.dumps({"id": i, "name": f"name-{i:08d}"}).encode()
        while True:
            try:
                producer.produce(source, value, partition=i % args.partitions)
                break
            except BufferError:
                producer.poll(0.1)
    producer.flush()

    times: dict[str, list[tuple[float, float]]] = {name: [] for name in builds}
    order = list(builds)
    for r in range(args.repeat):
        for name in order if r % 2 == 0 else order[::-1]:
            dlq = make_topic(admin, 1)
            cmd = [builds[name], "-b", args.bootstrap, "-t", source,
                   "--columns", "id UInt64, name String, _error String",
                   "--on-error", "dead-letter", "--dead-letter-topic", dlq, *args.bridge_args.split()]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wall = time.monotonic() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                sys.exit(f"bench-dead-letter: {name} failed: {done.stderr.decode().strip()}")
            copies = committed_copies(args.bootstrap, dlq)
            if copies != bad:
                sys.exit(f"bench-dead-letter: {name} left {copies} copies of {bad} bad messages")
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            times[name].append((wall, cpu))
    shutil.rmtree(work, ignore_errors=True)

    print(f"{args.messages} messages over {args.partitions} partitions, {bad} bad, "
          f"bridge args '{args.bridge_args}', {args.repeat} runs each")
    med = {}
    for name, runs in times.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        med[name] = statistics.median(walls), statistics.median(cpus)
        print(f"  {name:6}  wall s {med[name][0]:.2f} ({min(walls):.2f}-{max(walls):.2f})"
              f"  CPU s {med[name][1]:.2f} ({min(cpus):.2f}-{max(cpus):.2f})")
    print(f"  bridge / base: wall {med['bridge'][0] / med['base'][0]:.2f}, "
          f"CPU {med['bridge'][1] / med['base'][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
