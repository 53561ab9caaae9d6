"""Exactly-once ingestion, proven under failure.

Every test runs the recipes shipped in sql/ as written (prefixed only with
USE <a fresh database>), with the shipped pipeline file pointed at the test's
topic, and checks the table against what was produced: per partition the
count, the sum of offsets and a checksum of the payload fields, and overall
that no (partition, offset) is stored twice."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from harness import REPO_ROOT
from harness.clickhouse import ClickHouseError
from harness.names import unique
from harness.scripts import user_scripts_dir

EVENTS = ["view", "click", "add_to_cart", "purchase"]
SHIPPED_PIPELINE = REPO_ROOT / "clickhouse-config/user_scripts/kafka-bridge.d/events.conf"
MASK = (1 << 64) - 1


def recipe(name: str) -> str:
    return (REPO_ROOT / "sql" / name).read_text()


def payload(user_id: int) -> dict:
    return {"user_id": user_id, "event": EVENTS[user_id % 4], "amount": (user_id % 10000) / 100,
            "currency": "EUR", "happened": f"2025-01-01T00:00:{user_id % 60:02d}.{user_id % 1000:03d}Z",
            "ok": user_id % 3 != 0}


def checksum(user_id: int, offset: int) -> int:
    """The same formula as CHECKSUM_SQL, over one message."""
    p = payload(user_id)
    return (user_id * 1000003 + round(p["amount"] * 100) * 31 + len(p["event"]) * 7
            + int(p["ok"]) + offset * 13) & MASK


CHECKSUM_SQL = ("sum(user_id * 1000003 + toUInt64(round(amount * 100)) * 31 + length(event) * 7 "
                "+ toUInt64(ok) + _offset * 13)")


class Pipeline:
    """A topic, the `events` pipeline pointed at it, and a database."""

    def __init__(self, broker, clickhouse, partitions: int = 3, extra: str = ""):
        self.broker, self.ch = broker, clickhouse
        self.topic = unique("eo")
        self.db = unique("db")
        broker.create_topic(self.topic, partitions)
        clickhouse.query(f"CREATE DATABASE {self.db}")
        self.next_id = 0
        self.produced: dict[tuple[int, int], int] = {}  # (partition, offset) -> user_id
        self.configure(extra)

    def configure(self, extra: str = "") -> None:
        conf = SHIPPED_PIPELINE.read_text()
        conf = re.sub(r"(?m)^brokers = .*$", f"brokers = {self.broker.bootstrap}", conf)
        conf = re.sub(r"(?m)^topic = .*$", f"topic = {self.topic}", conf)
        (user_scripts_dir() / "kafka-bridge.d").mkdir(exist_ok=True)
        (user_scripts_dir() / "kafka-bridge.d/events.conf").write_text(conf + "\n" + extra + "\n")

    def produce(self, n: int, partition: int | None = None) -> None:
        ids = range(self.next_id, self.next_id + n)
        self.next_id += n
        msgs = [(partition, str(i).encode(), json.dumps(payload(i)).encode()) for i in ids]
        for i, (p, o) in zip(ids, self.broker.produce(self.topic, msgs)):
            self.produced[(p, o)] = i

    def produce_bulk(self, n: int) -> None:
        """Many messages quickly; positions are read back from the topic."""
        start = self.next_id
        self.broker.produce_many(self.topic, n, lambda i: (None, str(start + i).encode(),
                                                           json.dumps(payload(start + i)).encode()))
        self.next_id += n
        for p, o, key, _value, *_ in self.broker.consume_all(self.topic):
            self.produced[(p, o)] = int(key)

    def sql(self, text: str, fmt: str = "TSV") -> str:
        return self.ch.query(f"USE {self.db};\n{text}", fmt)

    def run(self, name: str = "ingest.sql", settings: str = "") -> str | None:
        """Runs a recipe; returns ClickHouse's error message, or None."""
        try:
            self.sql(settings + recipe(name))
            return None
        except ClickHouseError as e:
            return e.message

    def expected(self) -> dict[int, tuple[int, int, int]]:
        out: dict[int, list[int]] = {}
        for (p, o), uid in self.produced.items():
            c = out.setdefault(p, [0, 0, 0])
            c[0] += 1
            c[1] += o
            c[2] = (c[2] + checksum(uid, o)) & MASK
        return {p: tuple(v) for p, v in out.items()}

    def stored(self, table: str = "events", final: bool = False,
               payload_checksum: bool = True) -> dict[int, tuple[int, ...]]:
        checksum_sql = CHECKSUM_SQL if payload_checksum else "0"
        rows = self.ch.rows(f"SELECT _partition, count(), sum(_offset), {checksum_sql} "
                            f"FROM {self.db}.{table} {'FINAL' if final else ''} GROUP BY _partition")
        return {int(p): (int(c), int(s), int(h)) for p, c, s, h in rows}

    def assert_exactly_once(self, table: str = "events", final: bool = False,
                            payload_checksum: bool = True) -> None:
        """Every produced message once: count and offsets per partition, and
        (for tables that keep the payload fields) their checksum."""
        dups = self.ch.value(f"SELECT count() - uniqExact(_partition, _offset) "
                             f"FROM {self.db}.{table} {'FINAL' if final else ''}")
        assert dups == "0", f"{dups} messages stored more than once in {table}"
        expected = self.expected()
        if not payload_checksum:
            expected = {k: (c, o, 0) for k, (c, o, _) in expected.items()}
        assert self.stored(table, final, payload_checksum) == expected


@pytest.fixture
def pipeline(broker, clickhouse, bridge):
    made = []

    def make(**kw) -> Pipeline:
        made.append(Pipeline(broker, clickhouse, **kw))
        return made[-1]

    yield make
    clickhouse.query("USE default")  # the session outlives the test; USE sticks to it
    for p in made:
        clickhouse.query(f"DROP DATABASE IF EXISTS {p.db} SYNC")


def this_suites_bridge() -> str:
    """A pgrep -f pattern for the events bridge that this test process's
    chDB started: ClickHouse runs it by its full user_scripts path, which
    is per process, so suites running side by side never hit each other's
    bridges. The bracket keeps the pattern from matching the shell that
    carries it."""
    path = re.escape(str(user_scripts_dir() / "kafka-bridge"))
    return f"[{path[0]}]{path[1:]} --pipeline events"


def fault_during_run(action: str, delay: float = 1.0, env: dict | None = None) -> subprocess.Popen:
    """Starts a shell that waits for the pipeline's bridge to be running,
    waits `delay` seconds more, then runs `action` (shell). chDB keeps the
    Python interpreter busy for the length of a query, so the fault comes
    from another process; the caller runs the INSERT meanwhile."""
    script = (f"for i in $(seq 1500); do pgrep -f '{this_suites_bridge()}' >/dev/null && break; "
              f"sleep 0.02; done; sleep {delay}; {action}")
    return subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, text=True)


# Throttles a run so that a fault can land in the middle of it: librdkafka
# 2.0 pauses a partition for a second whenever its small prefetch queue is
# full (bridge/consumer.c), so a run takes seconds instead of milliseconds.
SLOW = "kafka.queued.max.messages.kbytes = 8\nkafka.max.partition.fetch.bytes = 8192"


def test_repeated_runs_resume_and_report_lag(pipeline):
    p = pipeline()
    p.produce(500)
    assert p.run() is None
    p.assert_exactly_once()
    p.produce(300)
    assert p.run() is None
    assert p.run() is None  # nothing new: nothing added
    p.assert_exactly_once()

    p.produce(120)
    lag_query = recipe("progress.sql").split(";")[0]
    lag = p.sql(lag_query)
    assert sum(int(line.split("\t")[4]) for line in lag.splitlines()) == 120
    assert p.run() is None
    p.assert_exactly_once()
    assert all(line.split("\t")[4] == "0" for line in p.sql(lag_query).splitlines())
    # The whole recipe as written: lag per partition, then progress from the table.
    out = p.sql(recipe("progress.sql")).splitlines()
    parts = sorted(p.expected())
    assert len(out) == 2 * len(parts)
    last = {part: max(o for (pp, o) in p.produced if pp == part) for part in parts}
    assert [line.split("\t")[:3] for line in out[len(parts):]] == [
        [str(part), str(p.expected()[part][0]), str(last[part])] for part in parts]


def test_refreshable_view_ingests_continuously(pipeline, clickhouse):
    p = pipeline()
    p.sql(recipe("ingest.sql").split("INSERT INTO")[0])  # the table only
    p.produce(200)
    try:
        assert p.run("refreshable.sql") is None
        p.sql("SYSTEM REFRESH VIEW events_ingest; SYSTEM WAIT VIEW events_ingest")
        p.assert_exactly_once()
        p.produce(150)
        p.sql("SYSTEM REFRESH VIEW events_ingest; SYSTEM WAIT VIEW events_ingest")
        p.assert_exactly_once()
        assert p.sql("SELECT exception FROM system.view_refreshes "
                     f"WHERE database = '{p.db}' AND view = 'events_ingest'").strip() == ""
    finally:
        p.sql("DROP VIEW IF EXISTS events_ingest")


def test_kill_9_in_the_middle_of_a_run(pipeline):
    p = pipeline(extra=SLOW)
    p.produce_bulk(30000)
    killer = fault_during_run(f"pkill -9 -f '{this_suites_bridge()}' && echo killed", delay=0.5)
    p.run()  # fails, or ends early on a row boundary: either way a prefix
    assert killer.communicate(timeout=60)[0].strip() == "killed"
    assert int(p.ch.value(f"SELECT count() FROM {p.db}.events")) < 30000
    p.configure()  # full speed again
    assert p.run() is None
    p.assert_exactly_once()


def test_insert_failing_half_way_in_a_view(pipeline):
    """A view of the fan-out chain refuses a block in the middle of a run
    (a constraint); the landing table has stored it, the view's table has
    not. The next run resumes from the least advanced table, once
    lock-grace has passed: until then it cannot tell the failed INSERT
    from one still committing (README, Exactly once)."""
    p = pipeline(extra="lock-grace = 1")
    p.produce(3000)
    poison = 1700
    small_blocks = "SET max_insert_block_size = 300, min_insert_block_size_rows = 300, max_block_size = 300;\n"
    p.sql(recipe("fan-out.sql").split("INSERT INTO events_raw")[0])
    p.sql(f"ALTER TABLE events_typed ADD CONSTRAINT no_poison CHECK user_id != {poison}")
    err = p.run("fan-out.sql", small_blocks)
    assert err is not None and "no_poison" in err
    raw = int(p.ch.value(f"SELECT count() FROM {p.db}.events_raw"))
    typed = int(p.ch.value(f"SELECT count() FROM {p.db}.events_typed"))
    assert typed < raw <= 3000, (typed, raw)  # the gap the defence must close

    p.sql("ALTER TABLE events_typed DROP CONSTRAINT no_poison")
    time.sleep(1.1)
    assert p.run("fan-out.sql", small_blocks) is None
    p.assert_exactly_once("events_raw", final=True)
    p.assert_exactly_once("events_typed", final=True, payload_checksum=False)
    p.assert_exactly_once("events_by_user", final=True, payload_checksum=False)


def test_broker_restarted_during_a_run(pipeline, broker):
    p = pipeline(extra=SLOW)
    p.produce_bulk(30000)
    kafka = REPO_ROOT / "scripts/kafka"
    restart = fault_during_run(
        f"pgrep -f '{this_suites_bridge()}' >/dev/null && echo mid-run; "
        f"{kafka} halt && {kafka} resume >/dev/null && echo restarted", delay=0.5,
        env={**os.environ, "KAFKA_STATE_DIR": str(broker.state_dir)})
    p.run()  # usually fails (no progress while the broker is away): fine
    assert restart.communicate(timeout=120)[0].split() == ["mid-run", "restarted"]
    broker.wait_for_leaders()
    p.configure()
    for _ in range(3):
        if p.run() is None:
            break
    p.assert_exactly_once()


def test_broker_down_when_a_run_starts(pipeline, broker):
    p = pipeline()
    p.produce(400)
    assert p.run() is None
    p.produce(100)
    broker.halt()
    try:
        err = p.run()
        assert err is not None and "cannot read metadata" in err
    finally:
        broker.resume()
    assert p.run() is None
    p.assert_exactly_once()


def test_topic_deleted_and_recreated(pipeline, broker):
    p = pipeline(partitions=2)
    p.produce(300)
    assert p.run() is None
    before = dict(p.produced)
    broker.delete_topic(p.topic)
    broker.create_topic(p.topic, 2)
    p.produced = {}
    p.produce(40)

    err = p.run()  # the stored positions are past the new log's end: refused by default
    assert err is not None and "past the log end (topic recreated?)" in err

    p.configure("on-out-of-range = earliest")
    assert p.run() is None
    assert p.run() is None  # resumes from the newest rows, not the old offsets
    # Old and new messages share (partition, offset): check them by content.
    got = p.ch.rows(f"SELECT user_id FROM {p.db}.events ORDER BY user_id")
    assert [int(u) for (u,) in got] == sorted(list(before.values()) + list(p.produced.values()))


def test_positions_deleted_by_retention(pipeline, broker):
    """The table's next position was deleted from the log before it was
    read: refused by default; with `on-out-of-range = earliest` the run
    starts at the new log start and says so. The deleted messages are gone
    from Kafka; what is left is stored exactly once."""
    p = pipeline(partitions=1)
    p.produce(100, partition=0)
    assert p.run() is None
    p.produce(100, partition=0)
    broker.delete_records(p.topic, {0: 150})
    err = p.run()
    assert err is not None and ("partition 0: start offset 100 is below the log start "
                                "(deleted by retention?): the log holds 150..200") in err.replace("\\'", "'")
    p.configure("on-out-of-range = earliest")
    # The move is reported on stderr (ClickHouse's log, with stderr_reaction):
    # (partition 0, next 100) as the input query would send it.
    stdin = (b"\x02\x0a_partition\x04next\x06UInt32\x06UInt64"
             + (0).to_bytes(4, "little") + (100).to_bytes(8, "little"))
    direct = subprocess.run([str(user_scripts_dir() / "kafka-bridge"), "--pipeline", "events", "--watermarks"],
                            input=stdin, capture_output=True, timeout=30)
    assert direct.returncode == 0, direct.stderr
    assert direct.stderr.decode() == (f"kafka-bridge: note: topic '{p.topic}' partition 0: start offset 100 "
                                      "was below the log start (deleted by retention?), started at 150\n")
    assert p.run() is None
    for (part, off) in [k for k in p.produced if 100 <= k[1] < 150]:
        del p.produced[(part, off)]  # deleted by "retention" before they were read
    p.assert_exactly_once()


def test_partition_added_while_runs_go_on(pipeline, broker):
    p = pipeline(partitions=2)
    p.produce(200)
    assert p.run() is None
    broker.add_partitions(p.topic, 4)
    p.produce(50, partition=3)
    p.produce(200)
    assert p.run() is None
    p.assert_exactly_once()
    assert set(p.stored()) == {0, 1, 2, 3} or set(p.stored()) == set(p.expected())


def test_two_runs_at_once(pipeline):
    """Runs of one pipeline hold its lock: a second one started while the
    first runs fails at once instead of reading the same messages again."""
    p = pipeline(extra=SLOW)
    p.produce_bulk(30000)
    bridge = user_scripts_dir() / "kafka-bridge"
    second = fault_during_run(f"{bridge} --pipeline events </dev/null >/dev/null; echo exit=$?", delay=0.3)
    first = p.run()
    out = second.communicate(timeout=60)[0]
    assert "another run holds" in out and "events.lock" in out and "exit=1" in out
    assert first is None, first
    p.configure()
    assert p.run() is None
    p.assert_exactly_once()


def test_two_nodes_split_the_partitions(pipeline, clickhouse):
    """Scale-out: each node's pipeline reads partitions p % 2 == i and each
    node's table resumes only its own partitions."""
    p = pipeline(partitions=4)
    p.produce(800)
    node_b = unique("db")
    clickhouse.query(f"CREATE DATABASE {node_b}")
    try:
        for _ in range(2):
            p.configure("shard = 0/2")
            assert p.run() is None
            p.configure("shard = 1/2")
            db_a, p.db = p.db, node_b
            try:
                assert p.run() is None
            finally:
                p.db = db_a
        a = {int(x) for (x,) in clickhouse.rows(f"SELECT DISTINCT _partition FROM {p.db}.events")}
        b = {int(x) for (x,) in clickhouse.rows(f"SELECT DISTINCT _partition FROM {node_b}.events")}
        assert a == {0, 2} and b == {1, 3}
        clickhouse.query(f"CREATE TABLE {p.db}.both AS {p.db}.events ENGINE = MergeTree ORDER BY tuple()")
        clickhouse.query(f"INSERT INTO {p.db}.both SELECT * FROM {p.db}.events UNION ALL "
                         f"SELECT * FROM {node_b}.events")
        p.assert_exactly_once("both")
    finally:
        clickhouse.query(f"DROP DATABASE IF EXISTS {node_b} SYNC")
