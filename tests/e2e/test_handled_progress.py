"""Messages that cannot become rows count as progress (--on-error skip and
dead-letter): over any number of runs, every message is stored,
dead-lettered or counted exactly once.

Each test runs sql/dead-letter.sql as written with the shipped pipeline
`events_dlq` pointed at the test's topics, and checks what ClickHouse
stored (events, events_errors) and what the dead-letter topic holds
(committed messages, by their kafka-bridge.* origin headers)."""

from __future__ import annotations

import json
import re

import pytest

from harness import REPO_ROOT
from harness.scripts import user_scripts_dir
from test_exactly_once import SLOW, Pipeline, fault_during_run, payload, this_suites_bridge, unique

SHIPPED = REPO_ROOT / "clickhouse-config/user_scripts/kafka-bridge.d/events_dlq.conf"
RECIPE = "dead-letter.sql"


class DeadLetterPipeline(Pipeline):
    """The events_dlq pipeline, a topic, its dead-letter topic, a database."""

    def __init__(self, broker, clickhouse, policy: str = "dead-letter", **kw):
        self.dlq = unique("dlq")
        self.policy = policy
        broker.create_topic(self.dlq, 1)
        self.bad: set[tuple[int, int]] = set()
        super().__init__(broker, clickhouse, **kw)

    def configure(self, extra: str = "") -> None:
        conf = SHIPPED.read_text()
        conf = re.sub(r"(?m)^brokers = .*$", f"brokers = {self.broker.bootstrap}", conf)
        conf = re.sub(r"(?m)^topic = .*$", f"topic = {self.topic}", conf)
        conf = re.sub(r"(?m)^dead-letter-topic = .*$", f"dead-letter-topic = {self.dlq}", conf)
        conf = re.sub(r"(?m)^on-error = .*$", f"on-error = {self.policy}", conf)
        (user_scripts_dir() / "kafka-bridge.d").mkdir(exist_ok=True)
        (user_scripts_dir() / "kafka-bridge.d/events_dlq.conf").write_text(conf + "\n" + extra + "\n")

    def produce_bad(self, n: int, partition: int | None = None) -> None:
        msgs = [(partition, b"bad", b"{not json %d" % i) for i in range(n)]
        self.bad.update(self.broker.produce(self.topic, msgs))

    def produce_mixed(self, n: int, bad_every: int) -> None:
        """n messages over the partitions, one in bad_every not JSON."""
        msgs, good_ids = [], []
        for _ in range(n):
            i = self.next_id
            self.next_id += 1
            if i % bad_every == 0:
                msgs.append((None, b"bad", b"{not json"))
                good_ids.append(None)
            else:
                msgs.append((None, str(i).encode(), json.dumps(payload(i)).encode()))
                good_ids.append(i)
        for uid, pos in zip(good_ids, self.broker.produce(self.topic, msgs)):
            if uid is None:
                self.bad.add(pos)
            else:
                self.produced[pos] = uid

    def run(self, name: str = RECIPE, settings: str = "") -> str | None:
        return super().run(name, settings)

    def dead_letters(self) -> list[tuple[int, int]]:
        """The origin (partition, offset) of every committed dead letter."""
        out = []
        for *_, headers, _ts in self.broker.consume_all(self.dlq):
            h = {k: v.decode() for k, v in headers or []}
            assert h["kafka-bridge.topic"] == self.topic
            out.append((int(h["kafka-bridge.partition"]), int(h["kafka-bridge.offset"])))
        return sorted(out)

    def errors(self) -> list[tuple[int, int]]:
        rows = self.ch.rows(f"SELECT _partition, _offset FROM {self.db}.events_errors ORDER BY 1, 2")
        return [(int(p), int(o)) for p, o in rows]

    def assert_handled_once(self, dead_lettered: bool = True) -> None:
        self.assert_exactly_once()
        assert self.errors() == sorted(self.bad)
        assert self.dead_letters() == (sorted(self.bad) if dead_lettered else [])


@pytest.fixture
def dlq_pipeline(broker, clickhouse, bridge):
    made = []

    def make(**kw) -> DeadLetterPipeline:
        made.append(DeadLetterPipeline(broker, clickhouse, **kw))
        return made[-1]

    yield make
    clickhouse.query("USE default")
    for p in made:
        clickhouse.query(f"DROP DATABASE IF EXISTS {p.db} SYNC")


def test_bad_messages_at_the_tail_are_dead_lettered_once_over_runs(dlq_pipeline):
    p = dlq_pipeline(partitions=2)
    p.produce(40)
    p.produce_bad(3, partition=0)
    p.produce_bad(2, partition=1)
    for _ in range(4):
        assert p.run() is None
        p.assert_handled_once()
    # The stored positions are past the bad tail: the next run starts there.
    start = dict(p.ch.rows(f"SELECT _partition, max(_offset) + 1 FROM (SELECT _partition, _offset "
                           f"FROM {p.db}.events UNION ALL SELECT _partition, _offset FROM "
                           f"{p.db}.events_errors) GROUP BY _partition"))
    ends = p.broker.watermarks(p.topic)
    assert {int(k): int(v) for k, v in start.items()} == {k: high for k, (_, high) in ends.items()}
    p.produce(20)
    p.produce_bad(1, partition=1)
    for _ in range(2):
        assert p.run() is None
    p.assert_handled_once()
    # Each handled row says why; the dead letter carries the same reason.
    assert p.ch.value(f"SELECT countIf(_error = '') FROM {p.db}.events_errors") == "0"


def test_a_long_bad_stretch_keeps_the_insert_alive(dlq_pipeline):
    """20000 bad messages, flushed every 20 ms: one copy each, no pipe read
    timeout while the bridge works through them."""
    p = dlq_pipeline(partitions=1, extra="flush-interval = 20")
    p.broker.produce_many(p.topic, 20000, lambda i: (0, b"bad", b"{not json %d" % i))
    p.bad.update((0, o) for o in range(20000))
    p.produce(10, partition=0)
    err = p.run()
    assert err is None, err
    assert int(p.ch.value(f"SELECT count() FROM {p.db}.events_errors")) == 20000
    assert p.run() is None  # nothing new
    p.assert_handled_once()


def test_skip_moves_past_a_bad_stretch(dlq_pipeline):
    p = dlq_pipeline(policy="skip", partitions=1)
    p.produce(30, partition=0)
    p.produce_bad(300, partition=0)
    p.produce(30, partition=0)
    assert p.run() is None
    p.assert_handled_once(dead_lettered=False)
    p.produce_bad(50, partition=0)  # a bad tail: counted once, not once per run
    for _ in range(3):
        assert p.run() is None
    p.assert_handled_once(dead_lettered=False)


def test_skip_or_dead_letter_without_progress_rows_is_refused(dlq_pipeline):
    """Without an _error column a handled message leaves no row, and a run
    resuming from the table would handle it again and again."""
    p = dlq_pipeline(partitions=1)
    conf = user_scripts_dir() / "kafka-bridge.d/events_dlq.conf"
    conf.write_text(conf.read_text().replace(",\n          _error String", ""))
    p.produce_bad(2, partition=0)
    recipe_text = (REPO_ROOT / "sql" / RECIPE).read_text().replace(", _error String'", "'").replace(
        "_timestamp, _error)", "_timestamp)")
    err = None
    try:
        p.sql(recipe_text)
    except Exception as e:  # ClickHouseError
        err = str(e)
    assert err is not None and "needs an _error String column" in err, err
    assert p.dead_letters() == []


def test_mixed_good_and_bad_exactly_once_through_kill_9(dlq_pipeline):
    p = dlq_pipeline(partitions=3, extra=SLOW)
    p.produce_mixed(6000, bad_every=7)
    killer = fault_during_run(f"pkill -9 -f '{this_suites_bridge()}' && echo killed", delay=1.0)
    # Fails (killed mid-row), or ends early on a row boundary: either way a prefix.
    failed = [p.run()]
    assert killer.communicate(timeout=60)[0].strip() == "killed"
    stored = int(p.ch.value(f"SELECT count() FROM {p.db}.events")) + len(p.errors())
    assert stored < 6000, stored
    p.configure()  # full speed again
    for _ in range(3):
        failed.append(p.run())
        if failed[-1] is None:
            break
    assert p.run() is None
    # Whether a run was killed before or after committing its copies, and
    # whether ClickHouse failed the INSERT or kept a prefix: once each.
    p.assert_handled_once()


def test_copies_whose_rows_were_never_stored_are_not_made_again(dlq_pipeline):
    """The copies of a flush are committed before its rows are written. When
    those rows never land (here the recipe's SELECT runs without its INSERT;
    an INSERT that fails afterwards, or a kill -9 between the commit and the
    write, leaves the same state), the next run reads the same messages
    again and finds them below the marks committed with the copies. (The
    lock's handover check, which would refuse the runs after a SELECT that
    stored nothing, is turned off.)"""
    p = dlq_pipeline(partitions=2, extra="lock-grace = 0")
    p.produce(30)
    p.produce_bad(3, partition=0)
    p.produce(10)
    p.produce_bad(2, partition=1)
    text = (REPO_ROOT / "sql" / RECIPE).read_text()
    creates, insert = text.split("INSERT INTO events_incoming", 1)
    thrown_away = creates + "SELECT count() FROM executable(" + insert.split("FROM executable(", 1)[1]
    for _ in range(2):
        assert p.sql(thrown_away).strip() == str(40 + 5)
        assert p.ch.value(f"SELECT count() FROM {p.db}.events") == "0"
        assert p.dead_letters() == sorted(p.bad)
    assert p.run() is None
    p.assert_handled_once()
    p.produce_bad(1, partition=1)  # copied after the marks, as usual
    assert p.run() is None
    p.assert_handled_once()
