"""Exactly-once ingestion on a real three-node cluster (3-voter KRaft
quorum, replication factor 3, min.insync.replicas=2) while nodes fail.

Slow (three JVMs, failovers wait for fencing), so run by
`scripts/test --cluster` (KAFKA_CLUSTER_TESTS=1), not by default.

Most tests run sql/dead-letter.sql as written against a topic on the cluster,
with some bad messages sent to a dead-letter topic, breaks a node, runs
again until a run succeeds, and checks the table (count, offsets, payload
checksum per partition, no (partition, offset) twice) and the dead-letter
topic (every bad message there, by its origin headers; once each unless a
run failed). The UDF tests produce rows from SQL through kafkaProduce while
the leader of a partition is killed, and check the topic by key."""

from __future__ import annotations

import json
import os
from collections import Counter
import subprocess
import sys
import time

import pytest

from harness import REPO_ROOT
from harness.clickhouse import ClickHouseError
from harness.cluster import Cluster
from harness.scripts import scratch_dir
from test_exactly_once import SLOW, fault_during_run, payload
from test_handled_progress import DeadLetterPipeline
from test_udf import unique, write_pipeline

pytestmark = pytest.mark.skipif(os.environ.get("KAFKA_CLUSTER_TESTS") != "1",
                                reason="cluster tests run with scripts/test --cluster")

KAFKA = REPO_ROOT / "scripts/kafka"
BAD_EVERY = 997  # one message in BAD_EVERY is not JSON


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(scratch_dir() / "kafka-cluster")
    c.start()
    try:
        yield c
    finally:
        c.stop()


class ClusterPipeline(DeadLetterPipeline):
    """sql/dead-letter.sql on the cluster: bad messages are dead-lettered
    and recorded in events_errors, so the positions move past them."""

    def __init__(self, cluster, clickhouse, **kw):
        self.failed_runs = 0
        super().__init__(cluster, clickhouse, **kw)

    def produce_bulk(self, n: int) -> None:
        """n good messages, and after them one bad message per BAD_EVERY;
        positions are read back from the topic."""
        start = self.next_id
        self.broker.produce_many(self.topic, n, lambda i: (None, str(start + i).encode(),
                                                           json.dumps(payload(start + i)).encode()))
        self.next_id += n
        bad = [(None, b"bad", b"{not json") for i in range(start, start + n) if i % BAD_EVERY == 0]
        self.bad.update(self.broker.produce(self.topic, bad))
        for part, off, key, *_ in self.broker.consume_all(self.topic):
            if key != b"bad":
                self.produced[(part, off)] = int(key)

    def assert_all(self) -> None:
        self.assert_exactly_once()
        assert self.errors() == sorted(self.bad)
        self.wait_stable(self.dlq)
        copies = self.broker.consume_all(self.dlq)
        origins = [(int(dict(h)["kafka-bridge.partition"]), int(dict(h)["kafka-bridge.offset"]))
                   for *_x, h, _t in copies]
        assert set(origins) == self.bad, "dead letters lost"
        # A run that fails after copying a dead letter but before ClickHouse
        # stored the rows reads it again, and finds it below the marks that
        # were committed with the copy: once, failed runs or not.
        assert sorted(origins) == sorted(self.bad), "dead letters doubled"

    def wait_stable(self, topic: str, timeout: float = 90) -> None:
        """Waits until no transaction is open in `topic`: a committed
        transaction's markers are written after the commit returns, and
        later still when the partition's leader has just moved; until then
        read-committed readers stop before it."""
        from confluent_kafka import Consumer, TopicPartition
        ends = {}
        for level in ("read_committed", "read_uncommitted"):
            c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "stable",
                          "isolation.level": level})
            ends[level] = c
        deadline = time.monotonic() + timeout
        try:
            while True:
                parts = [TopicPartition(topic, p) for p in self.broker.partitions(topic)]
                try:
                    marks = {level: [c.get_watermark_offsets(tp, timeout=5, cached=False)[1] for tp in parts]
                             for level, c in ends.items()}
                    if marks["read_committed"] == marks["read_uncommitted"]:
                        return
                except Exception:
                    pass
                assert time.monotonic() < deadline, f"a transaction in {topic} still open after {timeout} s"
                time.sleep(0.2)
        finally:
            for c in ends.values():
                c.close()

    def run(self, *args, **kw) -> str | None:
        err = super().run(*args, **kw)
        self.failed_runs += err is not None
        return err

    def run_until_ok(self, tries: int = 4) -> None:
        err = None
        for _ in range(tries):
            err = self.run()
            if err is None:
                return
        raise AssertionError(f"no run succeeded in {tries}: {err}")


@pytest.fixture
def pipeline(cluster, clickhouse, bridge):
    made = []

    def make(**kw) -> ClusterPipeline:
        made.append(ClusterPipeline(cluster, clickhouse, **kw))
        return made[-1]

    yield make
    clickhouse.query("USE default")
    for p in made:
        clickhouse.query(f"DROP DATABASE IF EXISTS {p.db} SYNC")
    # Every test starts with all three nodes up and in sync.
    for n in (1, 2, 3):
        if n not in cluster.nodes_up():
            cluster.resume_node(n)
    cluster.wait_for_leaders()


def env(cluster):
    return {**os.environ, "KAFKA_STATE_DIR": str(cluster.state_dir)}


def test_partition_leader_killed_mid_run(pipeline, cluster):
    p = pipeline(extra=SLOW)
    p.produce_bulk(20000)
    victim = cluster.leader(p.topic, 0)
    killer = fault_during_run(f"{KAFKA} cluster kill {victim} && echo killed", delay=0.5, env=env(cluster))
    p.run()  # may fail or succeed: either way a prefix is stored
    assert killer.communicate(timeout=60)[0].strip() == "killed"
    cluster.wait_for_leaders_on(p.topic, {1, 2, 3} - {victim})
    p.configure()
    p.produce_bulk(3000)  # acks=all with one node down: min.insync.replicas=2 holds
    p.run_until_ok()
    p.assert_all()


def test_broker_down_for_a_whole_run(pipeline, cluster):
    p = pipeline()
    p.produce_bulk(5000)
    cluster.kill(2)
    cluster.wait_for_leaders_on(p.topic, {1, 3})
    p.produce_bulk(2000)
    p.run_until_ok()
    p.assert_all()
    cluster.resume_node(2)
    p.produce_bulk(1000)
    p.run_until_ok()
    p.assert_all()


def test_active_controller_killed_mid_run(pipeline, cluster):
    p = pipeline(extra=SLOW)
    p.produce_bulk(20000)
    victim = cluster.controller()
    killer = fault_during_run(f"{KAFKA} cluster kill {victim} && echo killed", delay=0.5, env=env(cluster))
    p.run()
    assert killer.communicate(timeout=60)[0].strip() == "killed"
    cluster.wait_for_leaders_on(p.topic, {1, 2, 3} - {victim})
    assert cluster.controller() != victim  # the quorum elected another leader
    p.configure()
    p.produce_bulk(2000)
    p.run_until_ok()
    p.assert_all()


def test_broker_restarted_with_a_lagging_replica(pipeline, cluster):
    """Node 3 is down while thousands of messages arrive; it comes back with
    replicas behind the others and, while it catches up, the leaders of the
    partitions move again (node 1 killed). Unclean election is off, so the
    lagging replica is never made leader with messages missing."""
    p = pipeline()
    p.produce_bulk(3000)
    p.run_until_ok()
    cluster.halt_node(3)
    p.produce_bulk(20000)
    cluster.resume_node(3)
    cluster.kill(1)
    cluster.wait_for_leaders_on(p.topic, {2, 3})
    p.run_until_ok()
    p.assert_all()
    cluster.resume_node(1)
    cluster.wait_in_sync(p.topic)
    p.produce_bulk(1000)
    p.run_until_ok()
    p.assert_all()


# ---- rows produced from SQL (kafkaProduce: acks=all, idempotent) ----------

# Waits until the topic holds `need` messages, then kills a node; prints how
# many messages the topic held just before. chDB keeps this process busy for
# the length of the query, so the fault comes from another process.
KILLER = r'''
import subprocess, sys, time
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, parts, need, command = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "killer"})
seen, deadline = 0, time.monotonic() + 300
while seen < need and time.monotonic() < deadline:
    try:
        seen = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)[1]
                   for p in range(parts))
    except Exception:
        pass
    time.sleep(0.05)
subprocess.run(command, shell=True, check=True)
print(seen, flush=True)
'''


@pytest.fixture
def produce_db(cluster, clickhouse, user_scripts):
    if not (user_scripts / "kafka-produce").exists():
        pytest.skip("kafka-produce not built")
    name = unique("db")
    clickhouse.query(f"CREATE DATABASE {name}")
    yield name
    clickhouse.query("USE default")
    clickhouse.query(f"DROP DATABASE IF EXISTS {name} SYNC")
    for n in (1, 2, 3):
        if n not in cluster.nodes_up():
            cluster.resume_node(n)
    cluster.wait_for_leaders()


@pytest.mark.parametrize("function", ["kafkaProduce", "kafkaProduceWithHeadersOrFail"])
def test_udf_produce_with_the_partition_leader_killed(cluster, clickhouse, produce_db, function):
    """An INSERT ... SELECT kafkaProduce(...) of N rows, paced so that it
    takes seconds, while the leader of partition 0 is killed. Afterwards
    no message is in the topic twice or with other content, every row the
    UDF reported produced is where it said, and every row is in the topic
    unless the UDF reported it failed (or the query failed: then nothing
    was reported). A second query, as sql/produce.sql does it, produces
    what was not acknowledged; then every row is in the topic once."""
    n = 6000
    topic = unique("udf")
    cluster.create_topic(topic, 3)
    pipe = write_pipeline(cluster, topic)
    db = produce_db
    clickhouse.query(f"CREATE TABLE {db}.published (id UInt64, r Tuple(partition Int32, offset Int64, error String)) "
                     f"ENGINE = MergeTree ORDER BY id")
    headers = ", map('row', toString(id))" if "Headers" in function else ""

    def produce(where: str) -> str | None:
        # Blocks of 100 rows, each answered after all its acks; the WHERE
        # paces the source so that the kill lands while blocks are in flight.
        try:
            clickhouse.query(
                f"INSERT INTO {db}.published SELECT id, {function}('{pipe}', toString(id), "
                f"concat('row-', toString(id)){headers}) FROM (SELECT number AS id FROM numbers({n})) "
                f"WHERE {where} AND sleepEachRow(0.001) = 0 "
                f"SETTINGS max_block_size = 100, max_threads = 1, max_insert_block_size = 100, "
                f"min_insert_block_size_rows = 100")
            return None
        except ClickHouseError as e:
            return e.message

    victim = cluster.leader(topic, 0)
    script = scratch_dir() / "killer.py"
    script.write_text(KILLER)
    killer = subprocess.Popen([sys.executable, str(script), cluster.bootstrap, topic, "3", str(n // 6),
                               f"{KAFKA} cluster kill {victim}"], env=env(cluster), stdout=subprocess.PIPE,
                              text=True)
    err = produce("1")
    out, _ = killer.communicate(timeout=120)
    assert killer.returncode == 0
    seen = int(out)
    assert seen < n, "the node was killed after the query had produced everything"

    def check(may_repeat: set[int] = set()) -> tuple[set[int], dict[int, tuple[int, int]]]:
        msgs = cluster.consume_all(topic)
        keys = [int(k) for _p, _o, k, *_ in msgs]
        twice = {k for k, c in Counter(keys).items() if c > 1}
        assert twice <= may_repeat, f"rows in the topic twice: {sorted(twice)[:10]}"
        for part, off, key, value, hdrs, _ts in msgs:
            assert value == b"row-" + key, (part, off, key, value)
            if headers:
                assert hdrs == [("row", key)], (part, off, hdrs)
        where: dict[int, set[tuple[int, int]]] = {}
        for p, o, k, *_ in msgs:
            where.setdefault(int(k), set()).add((p, o))
        acked = {int(i): (int(p), int(o)) for i, p, o, e in
                 clickhouse.rows(f"SELECT id, r.partition, r.offset, r.error FROM {db}.published") if e == ""}
        for i, pos in acked.items():
            assert pos in where.get(i, ()), f"row {i} reported at {pos}, in the topic at {where.get(i)}"
        return set(where), acked

    in_topic, acked = check()
    assert in_topic <= set(range(n))
    reported = clickhouse.rows(f"SELECT id, r.error FROM {db}.published")
    assert len(reported) == len({i for i, _e in reported}), "a row reported twice"
    if err is None:
        # Every row answered; those not in the topic were reported failed.
        assert len(reported) == n
        failed = {int(i) for i, e in reported if e != ""}
        assert set(range(n)) - in_topic <= failed
    print(f"{function}: node {victim} killed at {seen} of {n} rows; query {'ok' if err is None else 'failed: ' + err[:200]}; "
          f"{len(in_topic)} of {n} in the topic, {len(acked)} acknowledged")

    # What was not acknowledged is produced again, with the node still down
    # (two replicas of three are in sync: acks=all holds).
    cluster.wait_for_leaders_on(topic, {1, 2, 3} - {victim})
    # A row of a failed block, or one reported failed after it was sent
    # (timed out), may be in the topic already: producing it again makes a
    # second copy (README, "Produce to Kafka from SQL"). Acknowledged rows
    # are never produced again.
    missing = set(range(n)) - set(acked)
    if missing:
        assert produce(f"id NOT IN (SELECT id FROM {db}.published WHERE r.error = '')") is None
    in_topic, acked = check(may_repeat=missing & in_topic)
    assert in_topic == set(range(n)) and set(acked) == set(range(n))
