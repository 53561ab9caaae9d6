"""Shared pytest fixtures for the end-to-end tests.

Session-scoped, because both services are expensive (and chDB allows only one
engine per process):
  broker        a real Kafka broker (harness.kafka.Broker), started once
  user_scripts  the directory ClickHouse runs executable() programs from
  clickhouse    the embedded ClickHouse engine (harness.clickhouse.ClickHouse)
  bridge        the name of the bridge program in user_scripts; skips the
                test when the bridge is not built
  registry      a real schema registry (harness.registry.Registry), started
                on first use

install_script(path_or_binary, name) puts a program into user_scripts (see
harness.scripts). The bridge under test is $KAFKA_BRIDGE (default
build/bridge/kafka-bridge, relative to the repository root); when it exists it
is installed as `kafka-bridge`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import REPO_ROOT, fdguard
from harness.clickhouse import ClickHouse
from harness.kafka import Broker
from harness.registry import Registry
from harness.scripts import cleanup, install_script, scratch_dir, user_scripts_dir

__all__ = ["BRIDGE", "install_script"]

BRIDGE = Path(os.environ.get("KAFKA_BRIDGE", "build/bridge/kafka-bridge"))
if not BRIDGE.is_absolute():
    BRIDGE = REPO_ROOT / BRIDGE
# The UDF programs of the same build, and the XML users install for them.
UDF_PROGRAMS = ["kafka-produce", "kafka-dict", "kafka-decode"]
UDF_DIR = BRIDGE.parent.parent / "udf"
FUNCTIONS_XML = REPO_ROOT / "clickhouse-config" / "*_function.xml"


def pytest_configure(config: pytest.Config) -> None:
    # The harness's Kafka clients share this process with chDB: see
    # harness/fdguard.py for why their wake-up pipes are watched.
    fdguard.start()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if fdguard.repaired():
        terminalreporter.write_line(
            f"fdguard: made {fdguard.repaired()} librdkafka wake-up pipe(s) non-blocking again "
            "after chDB had made their read end blocking (tests/harness/fdguard.py)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Runs after the session fixtures are torn down (broker stopped).
    cleanup()


@pytest.fixture(scope="session")
def broker():
    b = Broker(scratch_dir() / "kafka")
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture(scope="session")
def registry():
    r = Registry(scratch_dir() / "registry")
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture(scope="session")
def user_scripts() -> Path:
    d = user_scripts_dir()
    # Most tests run the bridge ad-hoc (no --pipeline), which a server's
    # admin must turn on; tests of the trust model turn it off and on again.
    (d / "kafka-bridge.d").mkdir(exist_ok=True)
    (d / "kafka-bridge.d/_server.conf").write_text("adhoc = true\n")
    if BRIDGE.is_file():
        install_script(BRIDGE, "kafka-bridge")
    for name in UDF_PROGRAMS:
        if (UDF_DIR / name).is_file():
            install_script(UDF_DIR / name, name)
    return d


@pytest.fixture(scope="session")
def clickhouse(user_scripts: Path):
    ch = ClickHouse(scratch_dir() / "chdb", user_scripts,
                    user_defined_executable_functions_config=str(FUNCTIONS_XML))
    try:
        yield ch
    finally:
        ch.close()


@pytest.fixture(scope="session")
def bridge(user_scripts: Path) -> str:
    if not BRIDGE.is_file():
        pytest.skip(f"bridge not built: {BRIDGE} (build it or set KAFKA_BRIDGE)")
    return "kafka-bridge"
