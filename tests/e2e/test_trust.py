"""The trust model through ClickHouse: the executable() command line is
written by SQL users, so it cannot run programs, touch files or redirect a
pipeline's credentials (README, "Security")."""

from __future__ import annotations

import json

import pytest

from harness.clickhouse import ClickHouseError
from harness.names import unique
from harness.scripts import scratch_dir, user_scripts_dir


def test_kinit_cmd_from_sql_runs_nothing(clickhouse, bridge):
    """Finding 1: sasl.kerberos.kinit.cmd in -X ran a shell command."""
    marker = scratch_dir() / unique("pwned")
    for cmd in ("head${IFS}-3${IFS}/etc/passwd", f"id>{marker}"):
        sql = ("SELECT * FROM executable('kafka-bridge -b 127.0.0.1:9 -t x --columns=a:String "
               "-X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=GSSAPI "
               f"-X sasl.kerberos.kinit.cmd={cmd}', 'LineAsString', 'line String')")
        try:
            rows = clickhouse.rows(sql)
        except ClickHouseError as e:
            assert "root:" not in str(e)
        else:
            assert not any("root:" in "".join(r) for r in rows), rows
    assert not marker.exists()


def test_lock_from_sql_touches_no_file(clickhouse, bridge):
    """Finding 2: --lock FILE truncated the file and wrote a pid into it."""
    victim = scratch_dir() / unique("victim")
    victim.write_text("precious\n")
    with pytest.raises(ClickHouseError, match="--lock"):
        clickhouse.rows(f"SELECT * FROM executable('kafka-bridge -b 127.0.0.1:9 -t x --columns=a:String "
                        f"--lock {victim}', 'RowBinaryWithNamesAndTypes', 'a String')")
    assert victim.read_text() == "precious\n"


def test_query_cannot_redirect_a_pipelines_credentials(broker, clickhouse, bridge):
    """Finding 3: -b sent the pipeline's SASL credentials to a host of the
    query's choice; finding 4: -F read any file."""
    name = unique("secure")
    conf = user_scripts_dir() / "kafka-bridge.d" / f"{name}.conf"
    conf.write_text(f"brokers = {broker.bootstrap}\ntopic = t\ncolumns = a String\n"
                    "kafka.sasl.username = u\nkafka.sasl.password = hunter2\n")
    conf.chmod(0o600)
    with pytest.raises(ClickHouseError, match="does not let a query set this") as e:
        clickhouse.rows(f"SELECT * FROM executable('kafka-bridge --pipeline {name} -b 127.0.0.1:9', "
                        "'RowBinaryWithNamesAndTypes', 'a String')")
    assert "hunter2" not in str(e.value)
    with pytest.raises(ClickHouseError, match="cannot be given on the command line") as e:
        clickhouse.rows("SELECT * FROM executable('kafka-bridge -F /etc/passwd', "
                        "'RowBinaryWithNamesAndTypes', 'a String')")
    assert "root" not in str(e.value)


def test_adhoc_runs_are_off_without_the_server_file(broker, clickhouse, bridge):
    server = user_scripts_dir() / "kafka-bridge.d" / "_server.conf"
    topic = unique("adhoc")
    broker.create_topic(topic, 1)
    broker.produce(topic, [json.dumps({"a": "x"}).encode()])
    sql = (f"SELECT a FROM executable('kafka-bridge -b {broker.bootstrap} -t {topic} --columns=a:String', "
           "'RowBinaryWithNamesAndTypes', 'a String')")
    server.unlink()
    try:
        with pytest.raises(ClickHouseError, match="runs without one are off"):
            clickhouse.rows(sql)
    finally:
        server.write_text("adhoc = true\n")
    assert clickhouse.rows(sql) == [("x",)]


def test_resuming_needs_the_stored_positions(broker, clickhouse, bridge):
    """Finding 8: a pipeline without _offset resumed from positions the table
    never stored: each run started again (5, 9, 13 rows for 5 messages)."""
    topic = unique("noffset")
    broker.create_topic(topic, 1)
    broker.produce(topic, [json.dumps({"a": str(i)}).encode() for i in range(5)])
    name = unique("nooffset")
    (user_scripts_dir() / "kafka-bridge.d" / f"{name}.conf").write_text(
        f"brokers = {broker.bootstrap}\ntopic = {topic}\ncolumns = a String, _partition UInt32\n"
        "offsets-from = stdin\n")
    table = unique("t")
    clickhouse.query(f"CREATE TABLE {table} (a String, _partition UInt32, _offset UInt64) "
                     "ENGINE = MergeTree ORDER BY a")
    with pytest.raises(ClickHouseError, match="the columns lack _offset"):
        clickhouse.query(f"INSERT INTO {table} SELECT * FROM executable('kafka-bridge --pipeline {name}', "
                         "'RowBinaryWithNamesAndTypes', 'a String, _partition UInt32, _offset UInt64', "
                         f"(SELECT _partition, max(_offset) + 1 FROM {table} GROUP BY _partition))")
    assert clickhouse.value(f"SELECT count() FROM {table}") == "0"
