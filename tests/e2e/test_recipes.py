"""The seeds' pipelines, as the recipes in sql/ ship them, run as written
(prefixed only by USE <a fresh database>) against the real broker, with the
shipped pipeline files pointed at the test's topics. Each test checks what
ClickHouse stored against what was produced."""

from __future__ import annotations

import json
import os
from decimal import Decimal
import shutil
import re
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness import REPO_ROOT
from harness.names import unique
from harness.scripts import user_scripts_dir

PIPELINES = REPO_ROOT / "clickhouse-config/user_scripts/kafka-bridge.d"
DEVICES = ["desktop", "mobile", "tablet"]
TYPES = ["page_view", "click", "signup", "purchase"]


def recipe(name: str) -> str:
    return (REPO_ROOT / "sql" / name).read_text()


def install_pipeline(name: str, brokers: str, **keys: str) -> None:
    """The shipped pipeline file with brokers and the given keys replaced."""
    conf = (PIPELINES / f"{name}.conf").read_text()
    conf = re.sub(r"(?m)^brokers = .*$", f"brokers = {brokers}", conf)
    for key, value in keys.items():
        key = key.replace("_", "-")
        conf, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", conf)
        assert n == 1, f"{name}.conf has no line '{key} = ...'"
    (user_scripts_dir() / "kafka-bridge.d").mkdir(exist_ok=True)
    (user_scripts_dir() / f"kafka-bridge.d/{name}.conf").write_text(conf)


@pytest.fixture
def db(clickhouse, bridge):
    name = unique("db")
    clickhouse.query(f"CREATE DATABASE {name}")
    yield name
    clickhouse.query("USE default")
    clickhouse.query(f"DROP DATABASE IF EXISTS {name} SYNC")


def site_event(i: int) -> dict:
    # Days spread over a week, so the events table has several partitions
    # and each block of a run spans them.
    return {"user_id": f"u{i % 97}", "event_type": TYPES[i % 4],
            "timestamp": f"2025-03-{1 + i % 7:02d}T{i % 24:02d}:00:00.{i % 1000:03d}Z",
            "session_id": f"s{i // 10}", "device": DEVICES[i % 3]}


def test_events_recipe(broker, clickhouse, db):
    topic = unique("events")
    broker.create_topic(topic, 3)
    install_pipeline("site-events", broker.bootstrap, topic=topic)

    def produce(lo: int, hi: int) -> None:
        broker.produce(topic, [(None, f"u{i % 97}".encode(), json.dumps(site_event(i)).encode())
                               for i in range(lo, hi)])

    def run() -> None:
        clickhouse.query(f"USE {db};\n{recipe('events.sql')}")

    def stored() -> list[tuple]:
        return clickhouse.rows(f"SELECT user_id, event_type, toString(timestamp), session_id, device "
                               f"FROM {db}.events FINAL ORDER BY session_id, timestamp, user_id")

    def expected(n: int) -> list[tuple]:
        rows = [(e["user_id"], e["event_type"], e["timestamp"].replace("T", " ").rstrip("Z"),
                 e["session_id"], e["device"]) for e in map(site_event, range(n))]
        return sorted(rows, key=lambda r: (r[3], r[2], r[0]))

    produce(0, 700)
    run()
    assert stored() == expected(700)
    assert int(clickhouse.value(f"SELECT uniqExact(toYYYYMMDD(timestamp)) FROM {db}.events")) == 7
    produce(700, 1000)
    lag = clickhouse.rows(f"SELECT partition, lag FROM {db}.events_lag")
    assert len(lag) == 3 and sum(int(l) for _p, l in lag) == 300
    run()
    run()  # nothing new: nothing added
    assert stored() == expected(1000)
    assert int(clickhouse.value(f"SELECT count() FROM {db}.events")) == 1000  # not even before merges
    assert all(l == "0" for _p, l in clickhouse.rows(f"SELECT partition, lag FROM {db}.events_lag"))
    assert int(clickhouse.value(f"SELECT sum(rows) FROM {db}.events_throughput")) == 1000

    # A run that failed inside the view: events_landing has rows that events
    # lacks. The next run's repair step copies them.
    clickhouse.query(f"DELETE FROM {db}.events WHERE _partition = 1 AND _offset >= 100")
    run()
    assert stored() == expected(1000)


# ---- docker/: what can be checked without a Docker engine ---------------
DOCKER = REPO_ROOT / "docker"


def test_docker_stack_static():
    """The compose file parses (Debian's docker-compose, which needs no
    engine for `config`), every file it mounts and every file the image
    copies exists, and the image installs the very files the tests load."""
    proc = subprocess.run(["docker-compose", "-f", str(DOCKER / "compose.yaml"), "-p", "kafka-bridge",
                           "config", "--services"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert {"kafka-1", "kafka-2", "kafka-3", "topics", "registry", "clickhouse", "kafka-ui"} <= set(proc.stdout.split())

    compose = (DOCKER / "compose.yaml").read_text()
    mounts = re.findall(r"(?m)^\s*-\s*(\.\.?/[^:\s]+):", compose)
    assert mounts, "no bind mounts found"
    for src in mounts:
        assert (DOCKER / src).resolve().exists(), f"compose.yaml mounts a missing {src}"

    copies = [line.split()[1:-1] for line in (DOCKER / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY ") and "--from=" not in line]
    assert copies
    for srcs in copies:
        for src in srcs:
            assert (REPO_ROOT / src).exists(), f"the Dockerfile copies a missing {src}"
    dockerfile = (DOCKER / "Dockerfile").read_text()
    # The server settings the image installs are the files in clickhouse-config/.
    for xml in (REPO_ROOT / "clickhouse-config/config.d").glob("*.xml"):
        assert f"COPY clickhouse-config/config.d/{xml.name} /etc/clickhouse-server/config.d/{xml.name}" \
            in dockerfile, f"the image does not install {xml.name}"
        ElementTree.parse(xml)

    # The UDF and dictionary XML the tests load is what the image installs,
    # and the server is told where to find it.
    for xml in (REPO_ROOT / "clickhouse-config").glob("kafka_*.xml"):
        assert f"clickhouse-config/{xml.name}" in dockerfile, f"the image does not install {xml.name}"
    for program in ("kafka-bridge", "kafka-produce", "kafka-decode", "kafka-dict"):
        assert f"/{program}" in dockerfile, f"the image does not install {program}"
    services = set(proc.stdout.split())
    assert {"clickhouse-init", "grafana"} <= services

    # The broker creates no topic by itself: every topic a pipeline of the
    # image names (after the Dockerfile's rewrites) is made by the topics job.
    created = set(re.findall(r"(?<=[ ])([\w.-]+):\d+:(?:delete|compact)\b", compose))
    renamed = dict((conf, t) for t, conf in re.findall(r"s/\^topic = \.\*/topic = ([\w.-]+)/' ([\w.-]+)\.conf",
                                                        dockerfile))
    assert "KAFKA_AUTO_CREATE_TOPICS_ENABLE: \"false\"" in compose
    for conf in PIPELINES.glob("*.conf"):
        text = conf.read_text()
        named = re.findall(r"(?m)^(?:dead-letter-)?topic = (\S+)$", text)
        if conf.stem in renamed:
            named = [renamed[conf.stem] if t == re.search(r"(?m)^topic = (\S+)$", text)[1] else t for t in named]
        for t in named:
            assert t in created, f"{conf.name} reads or writes {t}, which the topics job does not create"


def dockerfile_build_stage() -> tuple[list[list[str]], list[str]]:
    """The build stage of docker/Dockerfile: its COPY sources and its RUN
    commands, continuation lines joined."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    stage = text.split(" AS build", 1)[1].split("\nFROM ", 1)[0]
    copies, runs = [], []
    for line in stage.splitlines():
        if line.startswith("COPY "):
            copies.append(line.split()[1:])
        elif line.startswith("RUN "):
            runs.append(line[4:])
    return copies, runs


def test_docker_image_builds_from_what_it_copies(tmp_path):
    """The image's build stage, replayed on this machine: only the files its
    COPY lines bring, the meson and ninja commands of its RUN line, and the
    runtime-packages script that chooses what the final stage installs.
    What differs from a real image build: this machine's compiler and
    libraries instead of the server image's."""
    copies, runs = dockerfile_build_stage()
    src = tmp_path / "src"
    src.mkdir()
    bin_dir = tmp_path / "bin"  # COPY to an absolute path: a tool on the image's PATH
    for *sources, dest in copies:
        for s in sources:
            if dest.startswith("/"):
                target = bin_dir / Path(dest).name
            elif dest.endswith("/") or dest == ".":
                target = src / dest / Path(s).name
            else:
                target = src / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            if (REPO_ROOT / s).is_dir():
                shutil.copytree(REPO_ROOT / s, target)
            else:
                shutil.copy2(REPO_ROOT / s, target)
    build = [r for r in runs if "meson setup" in r]
    assert len(build) == 1, "expected one RUN with the meson build"
    command = build[0].replace("/build", str(tmp_path / "build"))
    proc = subprocess.run(["bash", "-c", f"set -e; {command}"], cwd=src, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    packages = (tmp_path / "build/runtime-packages.txt").read_text().split()
    assert "librdkafka1" in packages and "libc6" in packages, packages
    for p in packages:
        assert subprocess.run(["dpkg", "-s", p], capture_output=True).returncode == 0, p
    for program in ("bridge/kafka-bridge", "udf/kafka-produce", "udf/kafka-decode", "udf/kafka-dict"):
        assert (tmp_path / "build" / program).exists(), program


def test_grafana_provisioning_is_consistent():
    """The data source the dashboard names is the one provisioned, and both
    parse (with the YAML parser Debian's docker-compose brings)."""
    grafana = DOCKER / "grafana"
    proc = subprocess.run(["/usr/bin/python3", "-c",
                           "import json, sys, yaml; print(json.dumps([yaml.safe_load(open(f)) for f in sys.argv[1:]]))",
                           str(grafana / "provisioning/datasources/clickhouse.yaml"),
                           str(grafana / "provisioning/dashboards/kafka-bridge.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    datasources, dashboards = json.loads(proc.stdout)
    (ds,) = datasources["datasources"]
    assert ds["type"] == "grafana-clickhouse-datasource" and ds["jsonData"]["host"] == "clickhouse"
    assert dashboards["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    dash = json.loads((grafana / "dashboards/kafka-bridge.json").read_text())
    assert dash["panels"]
    for panel in dash["panels"]:
        for t in [panel, *panel["targets"]]:
            assert t["datasource"]["uid"] == ds["uid"], panel["title"]


def test_grafana_dashboard_queries_run(broker, clickhouse, db):
    """Every panel's SQL runs, as Grafana sends it, against the recipes'
    objects: the site-events recipe (sql/events.sql) in the dashboard's
    `database`, and the events table of sql/ingest.sql in the data
    source's default database."""
    topic = unique("events")
    broker.create_topic(topic, 2)
    install_pipeline("site-events", broker.bootstrap, topic=topic)
    broker.produce(topic, [(None, None, json.dumps(site_event(i)).encode()) for i in range(40)])
    site = unique("site")
    clickhouse.query(f"CREATE DATABASE {site}")
    try:
        clickhouse.query(f"USE {site};\n{recipe('events.sql')}")
        clickhouse.query(f"USE {db};\n" + recipe("ingest.sql").split("INSERT INTO")[0])
        dash = json.loads((DOCKER / "grafana/dashboards/kafka-bridge.json").read_text())
        results = {}
        for panel in dash["panels"]:
            (target,) = panel["targets"]
            sql = target["rawSql"].replace("${database}", site)
            assert "$" not in sql, f"{panel['title']}: a Grafana variable the test does not know"
            results[panel["id"]] = clickhouse.rows(f"USE {db};\n{sql}")
        assert sorted(int(p) for p, _lag in results[1]) == [0, 1]
        assert all(lag == "0" for _p, lag in results[1])
        assert sum(float(r[1]) for r in results[2]) > 0
    finally:
        clickhouse.query("USE default")
        clickhouse.query(f"DROP DATABASE IF EXISTS {site} SYNC")


def test_several_topics_recipe(broker, clickhouse, db):
    """sql/topics.sql as written: two topics through two pipelines into one
    table, each resuming from its own rows; every message once, under its
    topic, and the recipe's positions per (source, topic, partition)."""
    topics = {"orders-eu": unique("orders_eu"), "orders-us": unique("orders_us")}
    for name, topic in topics.items():
        broker.create_topic(topic, 2)
        install_pipeline(name, broker.bootstrap, topic=topic)
    produced: dict[tuple[str, int, int], tuple[int, str]] = {}
    next_id = [0]

    def produce(name: str, n: int) -> None:
        ids = range(next_id[0], next_id[0] + n)
        next_id[0] += n
        msgs = [(None, str(i).encode(), json.dumps({"order_id": i, "customer": f"c{i % 5}",
                                                     "amount": f"{i % 300}.10"}).encode()) for i in ids]
        for i, (part, off) in zip(ids, broker.produce(topics[name], msgs)):
            produced[(topics[name], part, off)] = (i, name)

    def run() -> list[tuple]:
        return clickhouse.rows(f"USE {db};\n{recipe('topics.sql')}")

    def check(positions: list[tuple]) -> None:
        stored = clickhouse.rows(f"SELECT _topic, _partition, _offset, order_id, source, customer, amount "
                                 f"FROM {db}.regional_orders")
        assert len(stored) == len(produced)
        assert {(t, int(p), int(o)): (int(i), s) for t, p, o, i, s, _c, _a in stored} == produced
        assert all(c == f"c{int(i) % 5}" and Decimal(a) == Decimal(f"{int(i) % 300}.10") for _t, _p, _o, i, _s, c, a in stored)
        want = {}
        for (t, p, o), (_i, s) in produced.items():
            n, last = want.get((s, t, p), (0, -1))
            want[(s, t, p)] = (n + 1, max(last, o))
        assert positions == [(s, t, str(p), str(n), str(last + 1)) for (s, t, p), (n, last) in sorted(want.items())]

    produce("orders-eu", 200)
    produce("orders-us", 150)
    check(run())
    produce("orders-us", 80)  # one topic moves on, the other does not
    check(run())
    check(run())  # nothing new
