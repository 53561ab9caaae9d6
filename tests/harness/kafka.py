"""A real Kafka broker for tests, and the client calls tests need on it.

The broker itself is run by scripts/kafka; this module drives it with a
private state directory and talks to it through confluent_kafka.

Message forms accepted by Broker.produce and Broker.produce_many:
  value                                   bytes, str or None; partition chosen by the producer
  (partition, key, value)                 partition None lets the producer choose
  (partition, key, value, headers)        headers: list of (name, value) pairs or a dict
  (partition, key, value, timestamp_ms)   an int in fourth place is a timestamp
  (partition, key, value, headers, timestamp_ms)

Command line (used by `scripts/kafka topic`):
  python -m harness.kafka create-topic BOOTSTRAP NAME PARTITIONS
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from confluent_kafka import Consumer, KafkaError as _KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from . import REPO_ROOT, fdguard

KAFKA_SCRIPT = REPO_ROOT / "scripts" / "kafka"
TIMEOUT = 30.0  # seconds for admin operations and waits


class KafkaError(RuntimeError):
    pass


# librdkafka's own log lines go to Python logging (pytest shows them for failed tests).
_RDKAFKA_LOG = logging.getLogger("harness.kafka.rdkafka")


# Errors of an offset look-up that pass while leaders are being elected.
_TRANSIENT = {_KafkaError.NOT_LEADER_FOR_PARTITION, _KafkaError.LEADER_NOT_AVAILABLE,
              _KafkaError._UNKNOWN_PARTITION, _KafkaError._TRANSPORT, _KafkaError.REQUEST_TIMED_OUT}


def _admin(bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap, "logger": _RDKAFKA_LOG})


def _wait(cond: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise KafkaError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def _partitions_ready(admin: AdminClient, topic: str, partitions: int) -> bool:
    try:
        md = admin.list_topics(topic, timeout=5).topics.get(topic)
    except KafkaException:
        return False
    if md is None or md.error is not None or len(md.partitions) != partitions:
        return False
    return all(p.leader >= 0 and p.error is None for p in md.partitions.values())


def create_topic(bootstrap: str, name: str, partitions: int,
                 config: dict[str, str] | None = None) -> None:
    """Create a topic (replication factor 1) and wait until every partition has a leader."""
    admin = _admin(bootstrap)
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
    try:
        futures[name].result()
    except KafkaException as e:
        raise KafkaError(f"create topic {name}: {e.args[0].str()}") from None
    _wait(lambda: _partitions_ready(admin, name, partitions), f"leaders of {name}")


def delete_topic(bootstrap: str, name: str) -> None:
    """Delete a topic and wait until the broker no longer lists it."""
    admin = _admin(bootstrap)
    futures = admin.delete_topics([name], operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
    try:
        futures[name].result()
    except KafkaException as e:
        raise KafkaError(f"delete topic {name}: {e.args[0].str()}") from None
    _wait(lambda: name not in admin.list_topics(timeout=5).topics, f"deletion of {name}")


def _split(msg: Any) -> tuple[int | None, Any, Any, Any, int | None]:
    """Normalise one message to (partition, key, value, headers, timestamp_ms)."""
    if not isinstance(msg, tuple):
        return None, None, msg, None, None
    if len(msg) == 3:
        return msg[0], msg[1], msg[2], None, None
    if len(msg) == 4:
        if isinstance(msg[3], int):
            return msg[0], msg[1], msg[2], None, msg[3]
        return msg[0], msg[1], msg[2], msg[3], None
    if len(msg) == 5:
        return msg  # type: ignore[return-value]
    raise ValueError(f"a message tuple has 3 to 5 fields, got {len(msg)}: {msg!r}")


class Broker:
    """A single-node Kafka broker started through scripts/kafka.

    Each instance has its own state directory (a new temporary one unless
    given), so several brokers can run at once. Usable as a context manager.
    """

    def __init__(self, state_dir: str | os.PathLike | None = None):
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="kafka-"))
        self._bootstrap: str | None = None
        self._admin: AdminClient | None = None
        self._producers: dict[str, Producer] = {}
        self._bulk_errors: list[str] = []

    # ---- life cycle ------------------------------------------------------
    def _script(self, *args: str) -> str:
        env = dict(os.environ, KAFKA_STATE_DIR=str(self.state_dir))
        proc = subprocess.run([str(KAFKA_SCRIPT), *args], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            raise KafkaError(f"scripts/kafka {' '.join(args)} failed "
                             f"(exit {proc.returncode}):\n{proc.stderr.strip()}")
        return proc.stdout.strip()

    def start(self) -> str:
        self._bootstrap = self._script("start").splitlines()[-1]
        return self._bootstrap

    def security(self) -> dict[str, str]:
        """The broker's secured listeners (scripts/kafka security): keys
        sasl and ssl (addresses; SASL_PLAINTEXT takes PLAIN, SCRAM-SHA-256
        and SCRAM-SHA-512), ca (the PEM file of the CA that signed the SSL
        listener's certificate), user and password."""
        return dict(line.split("=", 1) for line in self._script("security").splitlines())

    def stop(self) -> None:
        # Drop the clients first, so they do not complain about the broker leaving.
        for p in self._producers.values():
            p.flush(5)
        fdguard.repair()
        self._producers.clear()
        self._admin = None
        self._bootstrap = None
        self._script("stop")

    def halt(self) -> None:
        """Stops the broker process but keeps its data and port, as a crash
        or a restart would; resume() brings it back."""
        self._script("halt")

    def resume(self) -> None:
        self._script("resume")
        self.wait_for_leaders()

    def wait_for_leaders(self) -> None:
        """Waits until every partition of every topic has a leader again, as
        after a restart the broker answers before it has elected them."""
        def ready() -> bool:
            md = self.admin.list_topics(timeout=5)
            return all(t.error is None and all(p.leader >= 0 and p.error is None
                                               for p in t.partitions.values())
                       for t in md.topics.values())
        _wait(ready, "partition leaders after a restart")

    def add_partitions(self, topic: str, total: int) -> None:
        """Grows the topic to `total` partitions and waits for their leaders."""
        futures = self.admin.create_partitions([NewPartitions(topic, total)])
        try:
            futures[topic].result()
        except KafkaException as e:
            raise KafkaError(f"add partitions to {topic}: {e.args[0].str()}") from None
        _wait(lambda: _partitions_ready(self.admin, topic, total), f"partitions of {topic}")
        # Producers cache the partition count; new ones learn it afresh.
        for p in self._producers.values():
            p.flush(10)
        self._producers.clear()

    def delete_records(self, topic: str, before: dict[int, int]) -> None:
        """Deletes each partition's records before the given offset, as
        retention would: the log start moves up."""
        futures = self.admin.delete_records([TopicPartition(topic, p, o) for p, o in before.items()])
        for f in futures.values():
            try:
                f.result()
            except KafkaException as e:
                raise KafkaError(f"delete records of {topic}: {e.args[0].str()}") from None

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """{partition: committed offset} of a consumer group (partitions
        without a commit are left out)."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                      "enable.auto.commit": False, "logger": _RDKAFKA_LOG})
        try:
            parts = [TopicPartition(topic, p) for p in self.partitions(topic)]
            return {tp.partition: tp.offset for tp in c.committed(parts, timeout=10) if tp.offset >= 0}
        finally:
            fdguard.repair()  # see fdguard: a client's destroy can hang otherwise
            c.close()

    def __enter__(self) -> "Broker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def bootstrap(self) -> str:
        """The broker's address, 127.0.0.1:PORT."""
        if self._bootstrap is None:
            raise KafkaError("broker not started")
        return self._bootstrap

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = _admin(self.bootstrap)
        return self._admin

    # ---- topics ----------------------------------------------------------
    def create_topic(self, name: str, partitions: int = 1,
                     config: dict[str, str] | None = None) -> None:
        create_topic(self.bootstrap, name, partitions, config)

    def delete_topic(self, name: str) -> None:
        delete_topic(self.bootstrap, name)

    def partitions(self, topic: str) -> list[int]:
        md = self.admin.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error is not None:
            raise KafkaError(f"no topic {topic}: {md.error if md else 'unknown'}")
        return sorted(md.partitions)

    def watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        """{partition: (low, high)}: first offset kept and offset of the next message."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "harness-watermarks",
                      "enable.auto.commit": False, "logger": _RDKAFKA_LOG})

        def ask(p: int) -> tuple[int, int]:
            # Right after a topic is created or the broker restarted, a
            # partition may answer "not leader" for a moment.
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    return c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                except KafkaException as e:
                    if e.args[0].code() not in _TRANSIENT or time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        try:
            return {p: ask(p) for p in self.partitions(topic)}
        finally:
            fdguard.repair()  # see fdguard: a client's destroy can hang otherwise
            c.close()

    # ---- producing -------------------------------------------------------
    # Producers are kept per broker: an idempotent producer needs about half a
    # second to obtain its producer id, which would dominate small tests.
    def _producer(self, kind: str, **extra: Any) -> Producer:
        p = self._producers.get(kind)
        if p is None or extra:
            conf = {"bootstrap.servers": self.bootstrap, "acks": "all",
                    "enable.idempotence": True, "linger.ms": 5, "logger": _RDKAFKA_LOG}
            if kind == "bulk":
                conf.update({"linger.ms": 50, "batch.size": 1 << 20,
                             "queue.buffering.max.messages": 1_000_000,
                             "queue.buffering.max.kbytes": 1 << 20,
                             "delivery.report.only.error": True,
                             "on_delivery": self._bulk_report})
            conf.update(extra)
            p = Producer(conf)
            if not extra:
                self._producers[kind] = p
        return p

    def _bulk_report(self, err: Any, _msg: Any) -> None:
        if err is not None and len(self._bulk_errors) < 10:
            self._bulk_errors.append(err.str())

    def produce(self, topic: str, messages: Iterable[Any]) -> list[tuple[int, int]]:
        """Produce messages in order (see the module doc for their forms) and
        wait for all of them. Returns (partition, offset) of each message, in
        input order. Raises KafkaError if any delivery failed."""
        results: list[tuple[int, int] | None] = []
        errors: list[str] = []

        def report(i: int) -> Callable[[Any, Any], None]:
            def cb(err: Any, msg: Any) -> None:
                if err is not None:
                    errors.append(f"message {i}: {err.str()}")
                else:
                    results[i] = (msg.partition(), msg.offset())
            return cb

        p = self._producer("single")
        for i, m in enumerate(messages):
            results.append(None)
            self._send(p, topic, m, report(i))
        self._flush(p, errors)
        return results  # type: ignore[return-value]

    def produce_many(self, topic: str, n: int, make_value: Callable[[int], Any],
                     **producer_conf: Any) -> int:
        """Bulk load: produce make_value(i) for i in range(n), which returns a
        message in any form produce() accepts, with large batches and no
        per-message bookkeeping. Extra keyword arguments are librdkafka
        producer settings (dots as in librdkafka: pass them with **{...}).
        Returns n; raises KafkaError if any delivery failed."""
        self._bulk_errors = []
        p = self._producer("bulk", **producer_conf)
        send = self._send
        for i in range(n):
            send(p, topic, make_value(i), None)
            if i & 0xFFF == 0:
                p.poll(0)
        self._flush(p, self._bulk_errors)
        if producer_conf:  # a producer of its own, destroyed on return
            fdguard.repair()
        return n

    @staticmethod
    def _send(p: Producer, topic: str, m: Any, cb: Any) -> None:
        partition, key, value, headers, ts = _split(m)
        kwargs: dict[str, Any] = {"key": key, "value": value}
        if partition is not None:
            kwargs["partition"] = partition
        if headers is not None:
            kwargs["headers"] = headers
        if ts is not None:
            kwargs["timestamp"] = ts
        if cb is not None:
            kwargs["on_delivery"] = cb
        while True:
            try:
                p.produce(topic, **kwargs)
                return
            except BufferError:  # local queue full: let deliveries drain
                p.poll(0.1)

    @staticmethod
    def _flush(p: Producer, errors: list[str]) -> None:
        left = p.flush(TIMEOUT * 4)
        if left:
            errors.append(f"{left} messages still undelivered after flush")
        if errors:
            raise KafkaError("produce failed: " + "; ".join(errors[:10]))

    # ---- reading back ----------------------------------------------------
    def consume_all(self, topic: str, timeout: float = TIMEOUT) -> list[tuple]:
        """Every message now in the topic as (partition, offset, key, value,
        headers, timestamp_ms), ordered by partition then offset.  Committed
        messages only: a transaction's markers and aborted messages take
        offsets too, so each partition is read to its end (EOF) rather than
        counted."""
        marks = self.watermarks(topic)
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "harness-reader",
                      "enable.auto.commit": False, "enable.partition.eof": True,
                      "logger": _RDKAFKA_LOG})
        out: list[tuple] = []
        pending = {p for p, (low, high) in marks.items() if high > low}
        try:
            c.assign([TopicPartition(topic, p, low) for p in pending for low in [marks[p][0]]])
            deadline = time.monotonic() + timeout
            while pending:
                if time.monotonic() > deadline:
                    raise KafkaError(f"read {len(out)} messages of {topic}; partitions {sorted(pending)} "
                                     "not read to their end")
                for m in c.consume(10_000, 0.5):
                    if m.error() is not None:
                        if m.error().code() == _KafkaError._PARTITION_EOF:
                            if m.offset() >= marks[m.partition()][1]:
                                pending.discard(m.partition())
                            continue
                        raise KafkaError(f"consume {topic}: {m.error().str()}")
                    if m.offset() < marks[m.partition()][1]:
                        out.append((m.partition(), m.offset(), m.key(), m.value(),
                                    m.headers(), m.timestamp()[1]))
                    if m.offset() >= marks[m.partition()][1] - 1:
                        pending.discard(m.partition())
        finally:
            fdguard.repair()  # see fdguard: a client's destroy can hang otherwise
            c.close()
        return sorted(out, key=lambda t: (t[0], t[1]))


def _main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "create-topic" and argv[3].isdigit():
        try:
            create_topic(argv[1], argv[2], int(argv[3]))
        except KafkaError as e:
            print(f"kafka: {e}", file=sys.stderr)
            return 1
        return 0
    print("usage: python -m harness.kafka create-topic BOOTSTRAP NAME PARTITIONS", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
