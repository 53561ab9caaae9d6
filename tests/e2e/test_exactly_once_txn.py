"""Exactly once with transactional producers, and with runs that overlap
ClickHouse's commit of the previous run.

The transactional producer runs in its own process (chDB keeps this one
busy for the length of a query), so that it keeps committing while runs go
on, as it would in production."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from harness.clickhouse import ClickHouseError
from harness.scripts import install_script, scratch_dir, user_scripts_dir
from test_exactly_once import SLOW, fault_during_run, pipeline, recipe, this_suites_bridge  # noqa: F401

# A transactional producer: `loop SECONDS` commits (and every third time
# aborts) small transactions until the time is up; `open` commits one
# transaction, then leaves a second open until it reads a line on stdin.
# Either prints the ids it committed and aborted, as JSON, at the end.
PRODUCER = r'''
import json, sys, time
from confluent_kafka import Producer
bootstrap, topic, mode, first = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-{mode}",
              "linger.ms": 5})
p.init_transactions(30)
nid = first
done = {"committed": [], "aborted": []}
def txn(n, commit):
    global nid
    p.begin_transaction()
    ids = list(range(nid, nid + n))
    nid += n
    for i in ids:
        p.produce(topic, key=str(i).encode(), value=json.dumps(PAYLOAD(i)).encode())
    p.flush(30)
    return ids
EVENTS = ["view", "click", "add_to_cart", "purchase"]
def PAYLOAD(i):  # as test_exactly_once.payload, which the checksum reads
    return {"user_id": i, "event": EVENTS[i % 4], "amount": (i % 10000) / 100, "currency": "EUR",
            "happened": f"2025-01-01T00:00:{i % 60:02d}.{i % 1000:03d}Z", "ok": i % 3 != 0}
if mode == "loop":
    end = time.monotonic() + float(sys.argv[5])
    k = 0
    while time.monotonic() < end:
        k += 1
        ids = txn(20, k % 3 != 0)
        if k % 3:
            p.commit_transaction(30)
            done["committed"] += ids
        else:
            p.abort_transaction(30)
            done["aborted"] += ids
        time.sleep(0.02)
else:
    done["committed"] += txn(100, True)
    p.commit_transaction(30)
    done["open"] = txn(50, True)
    print("open", flush=True)
    sys.stdin.readline()
    p.commit_transaction(30)
    done["committed"] += done.pop("open")
print(json.dumps(done), flush=True)
'''

def producer(p, mode: str, *args: str) -> subprocess.Popen:
    script = scratch_dir() / "txn_producer.py"
    script.write_text(PRODUCER)
    proc = subprocess.Popen([sys.executable, str(script), p.broker.bootstrap, p.topic, mode, "0", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc


def stored_ids(p) -> list[int]:
    return [int(u) for (u,) in p.ch.rows(f"SELECT user_id FROM {p.db}.events ORDER BY user_id")]


def assert_once(p, want: list[int]) -> None:
    dups = p.ch.value(f"SELECT count() - uniqExact(_partition, _offset) FROM {p.db}.events")
    assert dups == "0", f"{dups} messages stored twice"
    got = stored_ids(p)
    assert got == sorted(want), (len(got), len(want), sorted(set(got) ^ set(want))[:10])


def runs_while_producing(p, uncommitted: bool) -> None:
    # A short idle timeout: a run left waiting for a partition EOF fails
    # within it, while the producer is still writing.
    extra = "idle-timeout = 2"
    if uncommitted:
        extra += "\nkafka.isolation.level = read_uncommitted"
    p.configure(extra)
    prod = producer(p, "loop", "7")
    try:
        runs = 0
        time.sleep(1)
        while prod.poll() is None:
            err = p.run()
            assert err is None, f"run {runs + 1} while the producer commits: {err}"
            runs += 1
            time.sleep(0.3)
        out = json.loads(prod.communicate(timeout=60)[0].splitlines()[-1])
    finally:
        if prod.poll() is None:
            prod.kill()
    assert runs >= 3, runs
    assert p.run() is None
    assert p.run() is None  # nothing new
    want = out["committed"] + (out["aborted"] if uncommitted else [])
    assert out["aborted"] and out["committed"]
    assert_once(p, want)


def test_transactional_producer_commits_and_aborts_during_runs(pipeline):
    """Runs end at the last stable offset even though the offset just
    before it is a commit or abort marker that is never delivered, while
    the producer keeps writing; aborted transactions are never stored."""
    runs_while_producing(pipeline(partitions=2), uncommitted=False)


def test_read_uncommitted_while_a_producer_commits(pipeline):
    """With isolation.level = read_uncommitted the stop is the high
    watermark and aborted messages are read too, as that level says."""
    runs_while_producing(pipeline(partitions=2), uncommitted=True)


def test_transaction_open_at_start(pipeline):
    """A transaction still open when the run starts: the run stops at the
    last stable offset (before it), promptly, and a later run reads the
    rest once it is committed."""
    p = pipeline(partitions=1)
    p.configure("idle-timeout = 2")
    prod = producer(p, "open")
    try:
        assert prod.stdout.readline().strip() == "open"
        started = time.monotonic()
        assert p.run() is None
        assert time.monotonic() - started < 30
        assert stored_ids(p) == list(range(100))
        prod.stdin.write("commit\n")
        prod.stdin.flush()
        out = json.loads(prod.communicate(timeout=60)[0].splitlines()[-1])
    finally:
        if prod.poll() is None:
            prod.kill()
    assert p.run() is None
    assert_once(p, out["committed"])
    assert len(out["committed"]) == 150


# ---- runs overlapping ClickHouse's commit ---------------------------------

# The first INSERT, made slow after the bridge has handed over every row:
# ClickHouse filters the rows only once the bridge has exited, so its lock
# is free while the rows are not in the table yet.
def slow_insert(extra_where: str = "") -> str:
    text = recipe("ingest.sql")
    head, tail = text.rsplit(");", 1)
    return f"{head}) WHERE sleepEachRow(0.003) = 0 {extra_where};{tail}"


COLUMNS = ("user_id UInt64, event LowCardinality(String), amount Float64, currency LowCardinality(String), "
           "happened DateTime64(3, 'UTC'), ok Bool, _partition UInt32, _offset UInt64, "
           "_timestamp DateTime64(3, 'UTC')")


def run_sql(p, text: str) -> str | None:
    try:
        p.sql(text)
        return None
    except ClickHouseError as e:
        return e.message


def positions_stdin(p) -> bytes:
    """The resume query's rows as ClickHouse would write them to stdin."""
    rows = p.ch.rows(f"SELECT _partition, argMax(_offset, (_ingested, _offset)) + 1 "
                     f"FROM {p.db}.events GROUP BY _partition")
    out = b"\x02\x0a_partition\x04next\x06UInt32\x06UInt64"
    for part, nxt in rows:
        out += int(part).to_bytes(4, "little") + int(nxt).to_bytes(8, "little")
    return out


def test_overlapping_run_during_the_commit_does_not_duplicate(pipeline):
    """Forced window: the first run's bridge has exited (its lock is free)
    but ClickHouse has not stored its rows yet. A second run given the old
    positions in that window must not read them again."""
    p = pipeline(partitions=1)
    p.produce(200, partition=0)
    assert p.run() is None
    p.produce(800, partition=0)
    stale = scratch_dir() / "stale-positions.bin"
    stale.write_bytes(positions_stdin(p))  # what the table says before the slow run
    p.configure(SLOW)  # a bridge that lives long enough to be seen
    out = scratch_dir() / "second-run.bin"
    bridge = user_scripts_dir() / "kafka-bridge"
    # Wait for the first bridge, then for it to exit, then start the second
    # (through $B, so that this shell's own command line does not match).
    second = fault_during_run(
        f"for i in $(seq 3000); do pgrep -f '{this_suites_bridge()}' >/dev/null || break; sleep 0.01; done; "
        f"B={bridge}; \"$B\" --pipeline events <{stale} >{out}; echo exit=$?", delay=0)
    assert run_sql(p, slow_insert()) is None
    said = second.communicate(timeout=60)[0]
    # Had the second run read, its INSERT would store what it wrote.
    if "exit=0" in said:
        install_script(f"#!/bin/sh\ncat {out}\n".encode(), "replay")
        p.sql("INSERT INTO events (user_id, event, amount, currency, happened, ok, _partition, _offset, "
              f"_timestamp) SELECT * FROM executable('replay', 'RowBinaryWithNamesAndTypes', '{COLUMNS}')"
              .replace("'UTC'", "\\'UTC\\'"))
    p.assert_exactly_once()
    assert "exit=1" in said, said
    assert ("rows of the previous run are not in the table yet (topic '" + p.topic + "' partition 0: "
            "table at 200, that run wrote up to offset 999") in said, said
    # Once the rows are in, the next run goes on.
    p.produce(50, partition=0)
    assert p.run() is None
    p.assert_exactly_once()


def test_run_after_a_failed_insert_waits_out_the_grace(pipeline):
    """The bridge handed every row over, then the INSERT failed: the table
    stays behind the record. Within lock-grace the next run refuses (it
    cannot tell this from a commit still under way); after it, the run
    trusts the table and reads those messages again, once."""
    p = pipeline(partitions=2)
    p.configure("lock-grace = 3")
    p.produce(300)
    err = run_sql(p, slow_insert("AND throwIf(_offset >= 0, 'refused by the test')"))
    assert err is not None and "refused by the test" in err
    assert stored_ids(p) == []
    err = p.run()
    assert err is not None
    err = err.replace("\\'", "'")
    assert "rows of the previous run are not in the table yet (topic '" + p.topic + "' partition" in err
    assert ": table at none, that run wrote up to offset" in err
    time.sleep(3.2)
    assert p.run() is None
    p.assert_exactly_once()
    # Without a lock there is no record and nothing to wait for.
    p.configure("lock = none")
    p.produce(100)
    assert run_sql(p, slow_insert("AND throwIf(_offset >= 0, 'refused by the test')")) is not None
    assert p.run() is None
    p.assert_exactly_once()
