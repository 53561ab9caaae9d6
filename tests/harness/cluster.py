"""A three-node Kafka cluster for tests (scripts/kafka cluster).

Cluster is a Broker whose topics have three replicas, whose bootstrap is
the list of all three nodes, and whose nodes can be killed, halted and
resumed one by one. Nodes are numbered 1..3, as their node.id.
"""

from __future__ import annotations


from confluent_kafka import KafkaException
from confluent_kafka.admin import NewTopic

from .kafka import TIMEOUT, Broker, KafkaError, _partitions_ready, _wait


class Cluster(Broker):
    def start(self) -> str:
        self._bootstrap = self._script("cluster", "start").splitlines()[-1]
        return self._bootstrap

    def stop(self) -> None:
        for p in self._producers.values():
            p.flush(5)
        self._producers.clear()
        self._admin = None
        self._script("cluster", "stop")

    def create_topic(self, name: str, partitions: int = 1,
                     config: dict[str, str] | None = None) -> None:
        futures = self.admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=3, config=config or {})],
            operation_timeout=TIMEOUT, request_timeout=TIMEOUT)
        try:
            futures[name].result()
        except KafkaException as e:
            raise KafkaError(f"create topic {name}: {e.args[0].str()}") from None
        _wait(lambda: _partitions_ready(self.admin, name, partitions), f"leaders of {name}")
        _wait(lambda: self.fully_replicated(name), f"replicas of {name}", timeout=60)

    # ---- nodes -----------------------------------------------------------
    def kill(self, node: int) -> None:
        self._script("cluster", "kill", str(node))

    def halt_node(self, node: int) -> None:
        self._script("cluster", "halt", str(node))

    def resume_node(self, node: int) -> None:
        self._script("cluster", "resume", str(node))

    def controller(self) -> int:
        return int(self._script("cluster", "controller"))

    def nodes_up(self) -> set[int]:
        return {int(n) for n, _addr, state in
                (line.split() for line in self._script("cluster", "nodes").splitlines()) if state == "up"}

    def leader(self, topic: str, partition: int) -> int:
        """The partition's leader. A node that has just come back may answer
        metadata before it knows a new topic, so ask until one knows it."""
        found: list[int] = []

        def known() -> bool:
            try:
                p = self.admin.list_topics(topic, timeout=10).topics[topic].partitions.get(partition)
            except (KafkaException, KeyError):
                return False
            if p is None or p.leader < 0:
                return False
            found.append(p.leader)
            return True
        _wait(known, f"the leader of {topic} partition {partition}")
        return found[-1]

    def fully_replicated(self, topic: str) -> bool:
        try:
            md = self.admin.list_topics(topic, timeout=5).topics[topic]
        except (KafkaException, KeyError):
            return False
        return md.error is None and all(len(p.isrs) == 3 and p.leader >= 0 for p in md.partitions.values())

    def wait_for_leaders_on(self, topic: str, alive: set[int]) -> None:
        """Waits until every partition of `topic` is led by a node in `alive`."""
        def ready() -> bool:
            try:
                md = self.admin.list_topics(topic, timeout=5).topics[topic]
            except (KafkaException, KeyError):
                return False
            return md.error is None and all(p.leader in alive for p in md.partitions.values())
        _wait(ready, f"leaders of {topic} on nodes {sorted(alive)}", timeout=60)

    def wait_in_sync(self, topic: str) -> None:
        _wait(lambda: self.fully_replicated(topic), f"all replicas of {topic} in sync", timeout=90)

    def heal(self) -> None:
        """Brings every node back up."""
        for n in (1, 2, 3):
            if n not in self.nodes_up():
                self.resume_node(n)
