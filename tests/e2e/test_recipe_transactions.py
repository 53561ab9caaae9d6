"""sql/transactions.sql as written, against a real transactional producer
(confluent_kafka) that commits and aborts transactions over three
partitions and leaves one open while the recipe runs. What ClickHouse
stored must be exactly the committed messages, once each, and the recipe's
own queries must say so: every stored transaction whole, per partition the
offsets that are markers or aborted messages, and the aborted and open
transactions as in the log but not in the table.

With kafka.isolation.level = read_uncommitted in payments.conf this test
fails: the aborted transactions are stored."""

from __future__ import annotations

import json
import uuid

from confluent_kafka import Producer

from harness.clickhouse import parse_tsv

from test_recipes import db, install_pipeline, recipe, unique  # noqa: F401 (db is a fixture)

PARTITIONS = 3


class TxnProducer:
    """One transactional producer, and what it wrote: per transaction its
    messages' (partition, offset, seq) and whether it was committed."""

    def __init__(self, bootstrap: str, topic: str):
        self.topic = topic
        self.p = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"payments-{uuid.uuid4().hex[:8]}",
                           "linger.ms": 5})
        self.p.init_transactions(30)
        self.txns: dict[str, dict] = {}
        self.n = 0

    def begin(self, size: int, on_every_partition: bool = False) -> str:
        """Begins a transaction of `size` messages keyed by account (or one
        on each partition) and waits until the broker has them all."""
        txn = f"t{len(self.txns):03d}"
        self.p.begin_transaction()
        state = {"messages": [], "status": "open", "errors": []}
        self.txns[txn] = state

        def report(seq: int):
            def cb(err, msg):
                if err is not None:
                    state["errors"].append(err.str())
                else:
                    state["messages"].append((msg.partition(), msg.offset(), seq))
            return cb

        for seq in range(size):
            self.n += 1
            value = json.dumps({"txn_id": txn, "txn_size": size, "seq": seq, "account": f"acct-{self.n % 11}",
                                "amount": round(self.n * 1.25 % 1000, 2)}).encode()
            kw = {"partition": seq % PARTITIONS} if on_every_partition else {}
            self.p.produce(self.topic, key=f"acct-{self.n % 11}".encode(), value=value,
                           on_delivery=report(seq), **kw)
        assert self.p.flush(30) == 0
        assert not state["errors"], state["errors"]
        assert len(state["messages"]) == size
        return txn

    def end(self, txn: str, commit: bool) -> None:
        if commit:
            self.p.commit_transaction(30)
        else:
            self.p.abort_transaction(30)
        self.txns[txn]["status"] = "committed" if commit else "aborted"

    def batch(self, sizes: list[int], abort_every: int) -> None:
        for k, size in enumerate(sizes):
            self.end(self.begin(size), commit=(k + 1) % abort_every != 0)

    def ids(self, status: str) -> list[str]:
        return sorted(t for t, s in self.txns.items() if s["status"] == status)

    def committed_rows(self) -> list[tuple[str, str, str, str]]:
        return sorted((t, str(seq), str(part), str(off)) for t in self.ids("committed")
                      for part, off, seq in self.txns[t]["messages"])

    def expected_partitions(self, fence: str) -> list[tuple[str, str, str, str]]:
        """Per partition what query 2 must say while `fence` is open on
        every partition: the stable end is the fence's first offset there,
        and below it one marker per earlier transaction that wrote to the
        partition plus every aborted message."""
        out = []
        for part in range(PARTITIONS):
            end = min(off for p, off, _s in self.txns[fence]["messages"] if p == part)
            stored = markers = aborted = 0
            for t, s in self.txns.items():
                if t == fence:
                    continue
                mine = [m for m in s["messages"] if m[0] == part]
                assert s["status"] != "open" or not mine, "only the fence may be open"
                markers += bool(mine)
                if s["status"] == "committed":
                    stored += len(mine)
                else:
                    aborted += len(mine)
            assert end == stored + markers + aborted  # the broker's offsets agree with the bookkeeping
            out.append((str(part), str(end), str(stored), str(markers + aborted)))
        return out

    def close(self) -> None:
        for t, s in self.txns.items():
            if s["status"] == "open":
                self.end(t, commit=False)
        self.p = None  # its threads go before the broker does


def run_recipe(clickhouse, db: str) -> tuple[list, list, list]:
    """The whole file, as a user runs it; its three result sets."""
    rows = parse_tsv(clickhouse.query(f"USE {db};\n{recipe('transactions.sql')}"))
    return rows[:1], rows[1:1 + PARTITIONS], rows[1 + PARTITIONS:]


def stored_rows(clickhouse, db: str) -> list[tuple]:
    return sorted(clickhouse.rows(f"SELECT txn_id, seq, _partition, _offset FROM {db}.payments"))


def test_transactions_recipe_stores_committed_only_once(broker, clickhouse, db):
    topic = unique("payments")
    broker.create_topic(topic, PARTITIONS)
    install_pipeline("payments", broker.bootstrap, topic=topic)
    install_pipeline("payments-log", broker.bootstrap, topic=topic)
    prod = TxnProducer(broker.bootstrap, topic)
    try:
        # Every third transaction aborted; then one left open on every
        # partition while the recipe runs. The open one's messages were
        # acknowledged, which the broker allows only after the markers of
        # the transaction before it are written: the stable ends are known.
        prod.batch([3, 5, 8, 4, 6, 7, 3, 9, 5, 4, 6, 8], abort_every=3)
        open_txn = prod.begin(PARTITIONS * 2, on_every_partition=True)
        summary, partitions, missing = run_recipe(clickhouse, db)
        committed = prod.ids("committed")
        assert stored_rows(clickhouse, db) == prod.committed_rows()
        assert summary == [(str(len(committed)), str(len(prod.committed_rows())), "0")]
        assert partitions == prod.expected_partitions(open_txn)
        assert [t for t, _n, _p in missing] == sorted(prod.ids("aborted") + [open_txn])
        assert dict((t, n) for t, n, _p in missing)[open_txn] == str(PARTITIONS * 2)

        # The open transaction is committed, more come (one aborted), and a
        # new one is left open: the next run stores the rest, once.
        prod.end(open_txn, commit=True)
        prod.batch([4, 7, 2, 6], abort_every=4)
        fence = prod.begin(PARTITIONS, on_every_partition=True)
        for _ in range(2):  # the second run finds nothing new
            summary, partitions, missing = run_recipe(clickhouse, db)
            assert stored_rows(clickhouse, db) == prod.committed_rows()
            assert summary == [(str(len(prod.ids("committed"))), str(len(prod.committed_rows())), "0")]
            assert partitions == prod.expected_partitions(fence)
            assert [t for t, _n, _p in missing] == sorted(prod.ids("aborted") + [fence])
        assert clickhouse.value(f"SELECT count() - uniqExact(_partition, _offset) FROM {db}.payments") == "0"
        # Transactions span partitions, and the recipe's view says which.
        spans = dict(clickhouse.rows(f"SELECT txn_id, length(partitions) FROM {db}.payment_transactions"))
        assert max(int(n) for n in spans.values()) == PARTITIONS
        for t in prod.ids("committed"):
            assert int(spans[t]) == len({p for p, _o, _s in prod.txns[t]["messages"]}), t
    finally:
        prod.close()
