"""The soak behind scripts/soak.

Three processes: this one runs sql/ingest.sql again and again in chDB (as a
refreshable view or cron would); a producer process writes N messages as fast
as it can; a chaos process halts and resumes the broker at one third and two
thirds of the production. Ingestion goes on until everything produced is in
the table. Then the table must hold every message exactly once: N rows, N
distinct (partition, offset), per partition the offsets 0..end-1 (sum
checked), and the sum of the user ids 0..N-1.

The bridge runs through a wrapper that records its peak RSS with GNU time, so
"bridge peak RSS" is the largest of any run, whatever the topic size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness.clickhouse import ClickHouse, ClickHouseError  # noqa: E402
from harness.kafka import Broker  # noqa: E402

EVENTS = ["view", "click", "add_to_cart", "purchase"]


def produce(bootstrap: str, topic: str, n: int, progress: Path) -> None:
    """Child process: n messages, ids 0..n-1, as fast as the broker takes them,
    riding out broker restarts (idempotent producer, long delivery timeout)."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 20, "batch.size": 1 << 20, "compression.type": "lz4",
                  "queue.buffering.max.messages": 1_000_000, "message.timeout.ms": 600_000,
                  "logger": __import__("logging").getLogger("soak-producer")})
    failures = []

    def report(count: int) -> None:  # atomically, for the readers
        tmp = progress.with_suffix(".tmp")
        tmp.write_text(str(count))
        tmp.replace(progress)

    for i in range(n):
        value = json.dumps({"user_id": i, "event": EVENTS[i % 4], "amount": (i % 10000) / 100,
                            "currency": "EUR", "happened": "2025-01-01T00:00:00.000Z",
                            "ok": i % 3 != 0}, separators=(",", ":")).encode()
        while True:
            try:
                p.produce(topic, value, key=str(i).encode(),
                          on_delivery=lambda err, _m: err and failures.append(err.str()))
                break
            except BufferError:
                p.poll(0.05)
        if i % 50_000 == 0:
            p.poll(0)
            report(i)
    remaining = p.flush(600)
    report(n)
    if remaining or failures:
        raise SystemExit(f"producer: {remaining} undelivered, failures: {failures[:3]}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--produce", nargs=3, metavar=("BOOTSTRAP", "TOPIC", "PROGRESS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.produce:
        produce(args.produce[0], args.produce[1], args.messages, Path(args.produce[2]))
        return 0

    n = args.messages
    work = Path(tempfile.mkdtemp(prefix="kafka-bridge-soak-"))
    scripts = work / "user_scripts"
    (scripts / "kafka-bridge.d").mkdir(parents=True)
    rss_log = work / "bridge-rss.log"
    wrapper = scripts / "kafka-bridge"
    wrapper.write_text("#!/bin/sh\n"
                       f"export KAFKA_BRIDGE_PIPELINES={scripts / 'kafka-bridge.d'}\n"
                       f"exec /usr/bin/time -a -o {rss_log} -f '%M' {ROOT / 'build/bridge/kafka-bridge'} \"$@\"\n")
    wrapper.chmod(0o755)
    broker = Broker(work / "kafka")
    producer = chaos = None
    try:
        broker.start()
        broker.create_topic("events", args.partitions)
        conf = (ROOT / "clickhouse-config/user_scripts/kafka-bridge.d/events.conf").read_text()
        (scripts / "kafka-bridge.d/events.conf").write_text(
            conf.replace("brokers = 127.0.0.1:9092", f"brokers = {broker.bootstrap}"))
        ch = ClickHouse(work / "chdb", scripts)
        ingest = (ROOT / "sql/ingest.sql").read_text()
        lag_query = (ROOT / "sql/progress.sql").read_text().split(";")[0]

        progress = work / "produced"
        progress.write_text("0")
        started = time.monotonic()
        producer = subprocess.Popen([sys.executable, __file__, "--messages", str(n), "--produce",
                                     broker.bootstrap, "events", str(progress)])
        kafka = ROOT / "scripts/kafka"
        # The restarts are keyed to production progress, from a process of their own.
        chaos = subprocess.Popen(["bash", "-c", f"""
            for third in 1 2; do
              until [ "$(cat {progress})" -ge $(( {n} * third / 3 )) ]; do sleep 0.5; done
              echo "chaos: restarting the broker at $(cat {progress}) produced"
              {kafka} halt && {kafka} resume >/dev/null
            done"""], env={**os.environ, "KAFKA_STATE_DIR": str(broker.state_dir)})

        runs, lag_series, failed_runs = [], [], 0
        ch.query(ingest.split("INSERT INTO")[0])
        while True:
            t0 = time.monotonic()
            before = int(ch.value("SELECT count() FROM events"))
            try:
                ch.query(ingest)
                ok = True
            except ClickHouseError as e:
                ok, failed_runs = False, failed_runs + 1
                print(f"soak: a run failed (continued by the next): {e.message[:160]}", flush=True)
            added = int(ch.value("SELECT count() FROM events")) - before
            runs.append({"t": round(t0 - started, 2), "seconds": round(time.monotonic() - t0, 3),
                         "rows": added, "ok": ok})
            try:
                lag = sum(int(line.split("\t")[4]) for line in ch.query(lag_query).splitlines())
            except ClickHouseError:
                lag = None  # the broker is away
            lag_series.append({"t": round(time.monotonic() - started, 2), "lag": lag,
                               "produced": int(progress.read_text() or 0)})
            if len(runs) % 20 == 0:
                print(f"soak: {time.monotonic() - started:6.1f} s  stored {before + added:>10,}  "
                      f"produced {lag_series[-1]['produced']:>10,}  lag {lag}", flush=True)
            if producer.poll() is not None and lag == 0:
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        if producer.returncode != 0:
            raise SystemExit("the producer failed")
        chaos.wait(timeout=60)

        stored, distinct, ids = (int(x) for x in ch.rows(
            "SELECT count(), uniqExact(_partition, _offset), sum(user_id) FROM events")[0])
        marks = broker.watermarks("events")
        per_partition = {int(p): (int(c), int(s)) for p, c, s in ch.rows(
            "SELECT _partition, count(), sum(_offset) FROM events GROUP BY _partition")}
        expected = {p: (high - low, sum(range(low, high))) for p, (low, high) in marks.items()}
        exactly_once = (stored == n and distinct == n and ids == n * (n - 1) // 2
                        and per_partition == expected)
        peak_rss_kb = max(int(x) for x in rss_log.read_text().split() if x.isdigit())
        ingest_rows = sum(r["rows"] for r in runs)
        result = {
            "messages": n, "partitions": args.partitions, "seconds": round(elapsed, 1),
            "rows_per_s_overall": round(n / elapsed), "runs": len(runs), "failed_runs": failed_runs,
            "rows_per_s_while_running": round(ingest_rows / sum(r["seconds"] for r in runs)),
            "bridge_peak_rss_mib": round(peak_rss_kb / 1024, 1),
            "max_lag": max((x["lag"] or 0) for x in lag_series),
            "exactly_once": exactly_once, "stored": stored, "distinct": distinct,
            "lag_over_time": lag_series[:: max(1, len(lag_series) // 40)],
        }
        out = ROOT / "build/soak-results.json"
        out.write_text(json.dumps(result, indent=1))
        print(f"\nsoak: {n:,} messages, {args.partitions} partitions, broker restarted twice")
        print(f"  {elapsed:.1f} s in all, {result['rows_per_s_overall']:,} rows/s overall "
              f"(bounded by the producer), {result['rows_per_s_while_running']:,} rows/s while a run ran")
        print(f"  {len(runs)} runs, {failed_runs} failed and continued by the next")
        print(f"  bridge peak RSS {result['bridge_peak_rss_mib']} MiB; max lag {result['max_lag']:,}")
        print("  lag over time (s: lag / produced):")
        for x in result["lag_over_time"]:
            print(f"    {x['t']:7.1f}: {x['lag']} / {x['produced']:,}")
        print(f"  exactly once: {'yes' if exactly_once else 'NO'} ({stored:,} rows, {distinct:,} distinct)")
        print(f"  results: {out}")
        return 0 if exactly_once else 1
    finally:
        for proc in (producer, chaos):
            if proc and proc.poll() is None:
                proc.kill()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
