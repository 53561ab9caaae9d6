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

from harness import REPO_ROOT
from harness.clickhouse import ClickHouse
from harness.kafka import Broker
from harness.registry import Registry
from harness.scripts import cleanup, install_script, scratch_dir, user_scripts_dir

__all__ = ["BRIDGE", "install_script"]

BRIDGE = Path(os.environ.get("KAFKA_BRIDGE", "build/bridge/kafka-bridge"))
if not BRIDGE.is_absolute():
    BRIDGE = REPO_ROOT / BRIDGE


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
    if BRIDGE.is_file():
        install_script(BRIDGE, "kafka-bridge")
    return d


@pytest.fixture(scope="session")
def clickhouse(user_scripts: Path):
    ch = ClickHouse(scratch_dir() / "chdb", user_scripts)
    try:
        yield ch
    finally:
        ch.close()


@pytest.fixture(scope="session")
def bridge(user_scripts: Path) -> str:
    if not BRIDGE.is_file():
        pytest.skip(f"bridge not built: {BRIDGE} (build it or set KAFKA_BRIDGE)")
    return "kafka-bridge"
