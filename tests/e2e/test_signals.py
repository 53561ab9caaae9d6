"""Signals and pipes, with the bridge run directly: ClickHouse sends SIGTERM
after command_termination_timeout, and the bridge must then end in every
state; a closed stdout must never turn another file into the output."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BRIDGE
from harness.names import unique
from harness.scripts import scratch_dir

# A bound for "promptly" that no loaded machine reaches; without the fix
# the bridge waits for an hour.
ENDS_WITHIN = 30


@pytest.fixture
def conf_dir():
    d = scratch_dir() / unique("conf")
    d.mkdir()
    (d / "_server.conf").write_text("adhoc = true\n")
    return d


def start(conf_dir, *args, **kw):
    if not BRIDGE.is_file():
        pytest.skip(f"bridge not built: {BRIDGE}")
    env = {**os.environ, "KAFKA_BRIDGE_PIPELINES": str(conf_dir)}
    return subprocess.Popen([str(BRIDGE), *args], env=env, stderr=subprocess.PIPE, **kw)


def test_sigterm_while_holding_stdout(conf_dir):
    """Finding 11: a failed RowBinary run of one-byte rows holds stdout until
    the reader leaves; SIGTERM was ignored there."""
    p = start(conf_dir, "-b", "127.0.0.1:9", "-t", "x", "--columns=a:UInt8", "-O", "RowBinary", "--bogus",
              stdout=subprocess.PIPE)
    assert b"unknown or incomplete option --bogus" in p.stderr.readline()  # now it holds stdout
    p.send_signal(signal.SIGTERM)
    try:
        assert p.wait(ENDS_WITHIN) != 0
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()


def test_sigterm_while_waiting_for_the_input_query(conf_dir):
    """Finding 11: SIGTERM was ignored while waiting for the input query."""
    p = start(conf_dir, "-b", "127.0.0.1:9", "-t", "x", "--columns=a:UInt8,_partition:UInt32,_offset:UInt64", "--offsets-from", "stdin",
              "--idle-timeout", "3600", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        # Whenever it lands, the signal must end the run: before the handler
        # is installed by default, after it by the handler.
        try:
            p.wait(0.5)
        except subprocess.TimeoutExpired:
            pass
        p.send_signal(signal.SIGTERM)
        assert p.wait(ENDS_WITHIN) != 0
        assert b"SIGTERM" in p.stderr.read()
    finally:
        p.kill()
        p.wait()
        for f in (p.stdin, p.stdout, p.stderr):
            f.close()


def test_sigterm_inside_a_metadata_wait(conf_dir):
    """Finding 11: SIGTERM while the bridge waits inside librdkafka for the
    metadata of an unreachable broker (a ten-minute --timeout) ends it at
    once, through its handler."""
    p = start(conf_dir, "-b", "127.0.0.1:9", "-t", "x", "--columns=a:String", "--timeout", "600000",
              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        # librdkafka's threads exist once the client does: from then on the
        # main thread is in the metadata wait.
        tasks = f"/proc/{p.pid}/task"
        while p.poll() is None and len(os.listdir(tasks)) < 3:
            time.sleep(0.05)
        assert p.poll() is None, p.stderr.read()
        p.send_signal(signal.SIGTERM)
        assert p.wait(ENDS_WITHIN) != 0
        assert b"stopped by SIGTERM" in p.stderr.read()
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()


def test_closed_stdout_is_not_replaced_by_the_lock_file(broker, conf_dir):
    """Finding 12: with stdout closed, fd 1 became NAME.lock and the rows
    went into it."""
    topic = unique("closed")
    broker.create_topic(topic, 1)
    broker.produce(topic, [json.dumps({"a": i}).encode() for i in range(5)])
    (conf_dir / "p.conf").write_text(f"brokers = {broker.bootstrap}\ntopic = {topic}\ncolumns = a UInt8\n")
    p = start(conf_dir, "--pipeline", "p", stdout=None, stdin=subprocess.DEVNULL,
              preexec_fn=lambda: os.close(1))
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1, err
    assert b"stdout is closed" in err
    lock = conf_dir / "p.lock"
    assert not lock.exists() or re.fullmatch(rb"\d*\n?", lock.read_bytes())


def test_help_text(conf_dir):
    """Finding 17: --help printed `p %% N == I` and five metadata columns."""
    p = start(conf_dir, "--help", stdout=subprocess.PIPE)
    out, _ = p.communicate(timeout=60)
    text = out.decode()
    assert p.returncode == 0
    assert "p % N == I" in text and "%%" not in text
    for col in ("_topic", "_partition", "_offset", "_timestamp", "_key", "_error", "_raw",
                "_headers.name", "_headers.value", "_headers Map"):
        assert col in text
