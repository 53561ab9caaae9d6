"""The entities and observability recipes in sql/, run as written (prefixed only
with USE <a fresh database>) against the real broker, with the shipped
pipeline file pointed at the test's topic; checked by what ClickHouse
stored."""

from __future__ import annotations

import json
import re
import time

import pytest

from harness import REPO_ROOT
from harness.clickhouse import ClickHouseError
from harness.names import unique
from harness.scripts import user_scripts_dir

PIPELINES = REPO_ROOT / "clickhouse-config/user_scripts/kafka-bridge.d"


class Recipe:
    """A recipe file, its shipped pipeline pointed at a new topic, a database."""

    def __init__(self, broker, clickhouse, recipe: str, pipeline: str, partitions: int = 3):
        self.broker, self.ch = broker, clickhouse
        self.text = (REPO_ROOT / "sql" / recipe).read_text()
        self.pipeline = pipeline
        self.topic = unique("rt")
        self.db = unique("db")
        broker.create_topic(self.topic, partitions)
        clickhouse.query(f"CREATE DATABASE {self.db}")
        self.configure()
        # The recipe's dead-letter pipeline (written from SQL), if it has one.
        self.dlq = None
        dlq_conf = PIPELINES / f"{pipeline}_dlq.conf"
        if dlq_conf.exists():
            self.dlq = unique("dlq")
            broker.create_topic(self.dlq, 1)
            conf = re.sub(r"(?m)^brokers = .*$", f"brokers = {broker.bootstrap}", dlq_conf.read_text())
            conf = re.sub(r"(?m)^topic = .*$", f"topic = {self.dlq}", conf)
            (user_scripts_dir() / f"kafka-bridge.d/{pipeline}_dlq.conf").write_text(conf)

    def configure(self, extra: str = "") -> None:
        conf = (PIPELINES / f"{self.pipeline}.conf").read_text()
        conf = re.sub(r"(?m)^brokers = .*$", f"brokers = {self.broker.bootstrap}", conf)
        conf = re.sub(r"(?m)^topic = .*$", f"topic = {self.topic}", conf)
        (user_scripts_dir() / "kafka-bridge.d").mkdir(exist_ok=True)
        (user_scripts_dir() / f"kafka-bridge.d/{self.pipeline}.conf").write_text(conf + "\n" + extra + "\n")

    def sql(self, text: str) -> str:
        return self.ch.query(f"USE {self.db};\n{text}")

    def rows(self, text: str) -> list[tuple]:
        return self.ch.rows(f"USE {self.db};\n{text}")

    def run(self, settings: str = "") -> str | None:
        try:
            self.sql(settings + self.text)
            return None
        except ClickHouseError as e:
            return e.message

    def schema_only(self) -> None:
        """The recipe's statements before its first INSERT: the tables and views."""
        self.sql(self.text[:self.text.index("\nINSERT INTO")])


@pytest.fixture
def recipe(broker, clickhouse, bridge):
    made = []

    def make(*args, **kw) -> Recipe:
        made.append(Recipe(broker, clickhouse, *args, **kw))
        return made[-1]

    yield make
    clickhouse.query("USE default")
    for r in made:
        clickhouse.query(f"DROP DATABASE IF EXISTS {r.db} SYNC")


# ---- users/products/orders: one envelope topic routed into typed tables

def envelope(table: str, data: dict, mid: str) -> bytes:
    return json.dumps({"table": table, "data": data, "messageId": mid,
                       "timestamp": "2025-03-01T10:00:00.000Z"}).encode()


def good_records(start: int, n: int) -> list[bytes]:
    out = []
    for i in range(start, start + n):
        kind = i % 3
        if kind == 0:
            out.append(envelope("users", {"id": i, "name": f"user {i}", "email": f"u{i}@example.com"}, f"m-{i}"))
        elif kind == 1:
            out.append(envelope("products", {"id": i, "name": f"thing {i}", "price": f"{i % 100}.25",
                                             "stock": i % 7}, f"m-{i}"))
        else:
            out.append(envelope("orders", {"id": i, "user_id": i - 2, "product_id": i - 1, "quantity": 1 + i % 4,
                                           "total": f"{i % 50}.50", "status": "paid"}, f"m-{i}"))
    return out


BAD = [
    (envelope("products", {"id": 1, "name": "x", "price": "abc"}, "bad-1"), "column 'price'"),
    (envelope("orders", {"id": 2, "user_id": 1, "product_id": 1, "quantity": 1, "total": 1, "status": "lost"},
              "bad-2"), "column 'status'"),
    (envelope("refunds", {"id": 3}, "bad-3"), "unknown table 'refunds'"),
    (envelope("users", {"id": 4, "name": "no mail"}, "bad-4"), "users: data.name or data.email missing"),
    (json.dumps({"table": "users", "data": {"id": 5, "name": "n", "email": "e"}}).encode(), "no messageId"),
    (b"{not json", "malformed JSON"),
]


class Entities:
    def __init__(self, r: Recipe):
        self.r = r
        self.next = 0
        self.good: dict[str, set[str]] = {"users": set(), "products": set(), "orders": set()}

    def produce_good(self, n: int) -> list[bytes]:
        msgs = good_records(self.next, n)
        for i in range(self.next, self.next + n):
            self.good[["users", "products", "orders"][i % 3]].add(f"m-{i}")
        self.next += n
        self.r.broker.produce(self.r.topic, msgs)
        return msgs

    def assert_tables(self) -> None:
        for table, ids in self.good.items():
            got = [m for (m,) in self.r.rows(f"SELECT message_id FROM {table} FINAL")]
            assert len(got) == len(set(got)) and set(got) == ids, table


def assert_dead_letters(r: Recipe) -> None:
    """The dead-letter topic holds each bad record once, at the position
    entity_dead_letters says, with its origin and reason in headers, and
    as its value the message as sent when it did not decode, or its
    decoded fields when the routing refused it."""
    copies = r.broker.consume_all(r.dlq)
    errors = {(int(p), int(o)): (problem, raw, mid) for p, o, problem, raw, mid in
              r.rows("SELECT _partition, _offset, problem, raw, message_id FROM entity_errors FINAL")}
    assert len(errors) == len(BAD)
    recorded = {(int(p), int(o)): (int(dp), int(do)) for p, o, dp, do, e in
                r.rows("SELECT _partition, _offset, r.partition, r.offset, r.error FROM entity_dead_letters")
                if e == ""}
    origins = []
    for part, off, key, value, headers, _ts in copies:
        h = {k: v.decode() for k, v in headers}
        origin = (int(h["kafka-bridge.partition"]), int(h["kafka-bridge.offset"]))
        origins.append(origin)
        problem, raw, mid = errors[origin]
        assert recorded[origin] == (part, off)
        assert (key or b"").decode() == mid and value.decode() == raw and h["kafka-bridge.error"] == problem
    assert sorted(origins) == sorted(errors), "dead letters lost or doubled"
    sent = {m for m, _why in BAD}
    for _problem, raw, _mid in errors.values():
        data = json.loads(raw) if raw.startswith("{\"") else None
        assert raw.encode() in sent or (data is not None and "message_id" in data), raw


def test_entities_recipe_routes_validates_and_logs(recipe):
    r = recipe("entities.sql", "entities")
    ent = Entities(r)
    first = ent.produce_good(300)
    r.broker.produce(r.topic, [m for m, _ in BAD])
    r.broker.produce(r.topic, first[:5])  # the producer sends five records again: same messageIds
    assert r.run() is None
    ent.assert_tables()
    assert r.sql("SELECT count() FROM entity_landing FINAL").strip() == str(300 + len(BAD) + 5)
    problems = sorted(p for (p,) in r.rows("SELECT problem FROM entity_errors FINAL"))
    assert len(problems) == len(BAD)
    for _msg, why in BAD:
        assert sum(why in p for p in problems) == 1, (why, problems)
    assert r.sql("SELECT price FROM products FINAL WHERE message_id = 'm-4'").strip() == "4.25"
    assert_dead_letters(r)

    ent.produce_good(90)
    assert r.run() is None
    assert r.run() is None  # nothing new: a log row with no rows
    ent.assert_tables()
    assert_dead_letters(r)  # each bad record copied once, however many runs
    log = r.rows("SELECT status, rows, errors, rows_by_table['errors'], "
                 "arraySum(mapValues(positions_before)), arraySum(mapValues(positions_after)), "
                 "duration_s >= 0, finished >= run_started "
                 "FROM ingestion_log FINAL ORDER BY run_started")
    total1 = 300 + len(BAD) + 5
    assert log == [("done", str(total1), str(len(BAD)), str(len(BAD)), "0", str(total1), "1", "1"),
                   ("done", "90", "0", "0", str(total1), str(total1 + 90), "1", "1"),
                   ("done", "0", "0", "0", str(total1 + 90), str(total1 + 90), "1", "1")]


def test_entities_failed_run_is_logged_and_repaired(recipe):
    r = recipe("entities.sql", "entities")
    ent = Entities(r)
    ent.produce_good(150)
    assert r.run() is None
    ent.produce_good(900)
    r.schema_only()
    r.sql("ALTER TABLE orders ADD CONSTRAINT no_poison CHECK message_id != 'm-800'")
    r.configure("lock-grace = 1")  # the repair waits this long after a failed INSERT
    small_blocks = "SET max_insert_block_size = 100, min_insert_block_size_rows = 100, max_block_size = 100;\n"
    err = r.run(small_blocks)
    assert err is not None and "no_poison" in err
    assert int(r.sql("SELECT count() FROM orders").strip()) < 350  # the view stopped half way
    r.sql("ALTER TABLE orders DROP CONSTRAINT no_poison")
    time.sleep(1.1)
    assert r.run(small_blocks) is None
    ent.assert_tables()
    assert r.sql("SELECT count() FROM entity_errors").strip() == "0"
    assert [s for (s,) in r.rows("SELECT status FROM ingestion_log FINAL ORDER BY run_started")] == [
        "done", "failed", "done"]


def test_observability_views_and_prometheus_handler(recipe):
    """sql/observability.sql on top of sql/entities.sql, and the query that
    clickhouse-config/config.d/prometheus.xml serves, run as written."""
    import xml.etree.ElementTree as ET

    r = recipe("entities.sql", "entities", partitions=2)
    ent = Entities(r)
    ent.produce_good(120)
    r.broker.produce(r.topic, [m for m, _ in BAD[:2]])
    assert r.run() is None
    r.sql((REPO_ROOT / "sql/observability.sql").read_text())
    ent.produce_good(30)  # not loaded yet: lag

    assert sum(int(n) for (_p, n) in r.rows("SELECT partition, lag FROM entities_lag")) == 30
    assert r.rows("SELECT status, rows, errors FROM entities_runs") == [("done", "122", "2")]
    assert sum(int(n) for (n,) in r.rows("SELECT records FROM entities_errors_per_hour")) == 2
    health = r.rows("SELECT last_status, failed_runs_24h, error_records, dead_letters, lag, "
                    "seconds_since_success BETWEEN 0 AND 600 FROM entities_health")
    assert health == [("done", "0", "2", "2", "30", "1")]

    config = ET.parse(REPO_ROOT / "clickhouse-config/config.d/prometheus.xml").getroot()
    query = config.find("http_handlers/rule/handler/query").text
    assert config.find("http_handlers/defaults") is not None  # the server's own handlers stay
    text = r.sql(query.replace("default.", ""))
    lines = text.splitlines()
    assert "# TYPE kafka_bridge_lag_messages gauge" in lines
    lag = [line for line in lines if line.startswith("kafka_bridge_lag_messages{")]
    assert len(lag) == 2 and sum(float(line.rsplit(" ", 1)[1]) for line in lag) == 30
    assert 'kafka_bridge_rows_total{pipeline="entities"} 122' in lines
    assert 'kafka_bridge_error_records_total{pipeline="entities"} 2' in lines
    assert 'kafka_bridge_failed_runs_total{pipeline="entities"} 0' in lines
    assert 'kafka_bridge_dead_letters_total{pipeline="entities"} 2' in lines
    assert any(line.startswith('kafka_bridge_last_success_seconds{pipeline="entities"} 1') for line in lines)
