"""The demo behind scripts/demo: Kafka -> kafka-bridge -> ClickHouse, with
every part real and started here."""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness.clickhouse import ClickHouse  # noqa: E402
from harness.kafka import Broker  # noqa: E402
from harness.registry import Registry, datum, frame  # noqa: E402

MESSAGES = 20_000
PARTITIONS = 4


def sample_event(i: int, rng: random.Random) -> tuple:
    user = rng.randrange(1, 5000)
    return None, str(user).encode(), json.dumps({  # keyed by user: spread over partitions
        "user_id": user,
        "event": rng.choice(["view", "click", "add_to_cart", "purchase"]),
        "amount": round(rng.uniform(0, 250), 2),
        "currency": rng.choice(["EUR", "USD", "GBP"]),
        "happened": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_735_689_600 + i)) + f".{i % 1000:03d}Z",
        "ok": rng.random() > 0.05,
        "session": {"id": f"s{i // 10}", "agent": "demo"},  # not a column: skipped
    }).encode()


def show(ch: ClickHouse, title: str, sql: str) -> None:
    code = "\n".join(line for line in sql.strip().splitlines() if not line.lstrip().startswith("--"))
    print(f"\n-- {title}\n{code}")
    print(ch.query(sql, "PrettyCompactMonoBlock"), end="")


ORDER_SCHEMA = {"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"}, {"name": "customer", "type": "string"},
    {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "coupon", "type": ["null", "string"], "default": None}]}


def avro_part(work: Path, broker: Broker, ch: ClickHouse, scripts: Path) -> int:
    """A Confluent-framed Avro topic through a real schema registry: the
    table made from the registry's schema (--describe), one pipeline file."""
    import datetime
    import os
    import subprocess
    from decimal import Decimal

    registry = Registry(work / "registry")
    try:
        print("\nstarting a schema registry (Apicurio) ...", flush=True)
        registry.start()
        sid = registry.register("orders-value", ORDER_SCHEMA)
        broker.create_topic("orders", 2)
        n = 1_000
        start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
        broker.produce("orders", [frame(sid, datum(ORDER_SCHEMA, {
            "id": i, "customer": f"c{i % 37}", "total": Decimal(i * 7 % 10000) / 100,
            "at": start + datetime.timedelta(minutes=i), "coupon": "WINTER" if i % 5 == 0 else None}))
            for i in range(n)])
        print(f"produced {n} Avro orders (Confluent framing, schema id {sid}) to topic 'orders'")
        pipelines = scripts / "kafka-bridge.d"
        (pipelines / "orders.conf").write_text(
            f"brokers = {broker.bootstrap}\ntopic = orders\nformat = avro-confluent\n"
            f"schema-registry = {registry.url}\n")
        described = subprocess.run([str(scripts / "kafka-bridge"), "--pipeline", "orders", "--describe"],
                                   capture_output=True, text=True, timeout=60, check=True,
                                   env=dict(os.environ, KAFKA_BRIDGE_PIPELINES=str(pipelines))).stdout
        columns = described.replace("\n", " ").strip()
        print(f"\nkafka-bridge --pipeline orders --describe:\n{described}", end="")
        with (pipelines / "orders.conf").open("a") as f:
            f.write(f"columns = {columns}\n")
        ch.query(f"CREATE TABLE orders ({columns}) ENGINE = MergeTree ORDER BY id")
        quoted = columns.replace("\\", "\\\\").replace("'", "\\'")
        ch.query("INSERT INTO orders SELECT * FROM executable('kafka-bridge --pipeline orders', "
                 f"'RowBinaryWithNamesAndTypes', '{quoted}')")
        show(ch, "Avro orders that landed", "SELECT count() AS rows, sum(total) AS total, "
             "countIf(coupon IS NOT NULL) AS with_coupon FROM orders")
        show(ch, "a few orders", "SELECT * FROM orders ORDER BY id LIMIT 3")
        stored = int(ch.value("SELECT uniqExact(id) FROM orders"))
        if stored != n:
            print(f"\nERROR: {stored} Avro orders stored, {n} produced", file=sys.stderr)
            return 1
        return 0
    finally:
        registry.stop()


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="kafka-bridge-demo-"))
    scripts = work / "user_scripts"
    (scripts / "kafka-bridge.d").mkdir(parents=True)
    (scripts / "kafka-bridge").symlink_to(ROOT / "build" / "bridge" / "kafka-bridge")
    broker = Broker(work / "kafka")
    try:
        print("starting Kafka ...", flush=True)
        broker.start()
        broker.create_topic("events", PARTITIONS)
        rng = random.Random(7)
        broker.produce_many("events", MESSAGES, lambda i: sample_event(i, rng))
        print(f"produced {MESSAGES} JSON events to topic 'events' ({PARTITIONS} partitions) at {broker.bootstrap}")

        # The shipped example pipeline, pointed at this broker.
        conf = (ROOT / "clickhouse-config/user_scripts/kafka-bridge.d/events.conf").read_text()
        conf = conf.replace("brokers = 127.0.0.1:9092", f"brokers = {broker.bootstrap}")
        (scripts / "kafka-bridge.d/events.conf").write_text(conf)

        ch = ClickHouse(work / "chdb", scripts)
        ingest = (ROOT / "sql/ingest.sql").read_text()
        started = time.monotonic()
        ch.query(ingest)  # the whole file, as written: ClickHouse runs its statements in turn
        took = time.monotonic() - started
        print(f"\nran sql/ingest.sql in {took:.2f} s: ClickHouse launched kafka-bridge through executable()")

        show(ch, "what landed", "SELECT count() AS rows, uniqExact(_partition, _offset) AS distinct_messages FROM events")
        show(ch, "per partition", "SELECT _partition, count() AS rows, min(_offset) AS first, max(_offset) AS last "
             "FROM events GROUP BY _partition ORDER BY _partition")
        show(ch, "by event", "SELECT event, count() AS n, round(sum(amount), 2) AS amount FROM events "
             "GROUP BY event ORDER BY n DESC")
        show(ch, "a few rows", "SELECT * EXCEPT _ingested FROM events ORDER BY _partition, _offset LIMIT 5")

        more = 5_000
        broker.produce_many("events", more, lambda i: sample_event(MESSAGES + i, rng))
        lag_query = (ROOT / "sql/progress.sql").read_text().split(";")[0]
        show(ch, f"after producing {more} more: lag per partition (sql/progress.sql)", lag_query)
        ch.query(ingest)
        print("\nran sql/ingest.sql again: each partition resumed where the table said it stopped")
        show(ch, "lag now", lag_query)

        total = MESSAGES + more
        stored = int(ch.value("SELECT count() FROM events"))
        distinct = int(ch.value("SELECT uniqExact(_partition, _offset) FROM events"))
        if stored != total or distinct != total:
            print(f"\nERROR: {stored} rows ({distinct} distinct) stored, {total} produced", file=sys.stderr)
            return 1
        print(f"\nall {total} messages stored exactly once")
        if avro_part(work, broker, ch, scripts):
            return 1
        ch.close()
        return 0
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
