"""Ingestion through the real broker's secured listeners (scripts/kafka
starts one broker with PLAINTEXT, SASL_PLAINTEXT for PLAIN, SCRAM-SHA-256
and SCRAM-SHA-512, and SSL with a certificate made by openssl), with the
credentials only in an admin's pipeline file, through ClickHouse."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from harness.clickhouse import ClickHouseError
from harness.scripts import user_scripts_dir


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def secured(broker):
    """The security listeners and a topic with three messages on it."""
    sec = broker.security()
    topic = unique("sec")
    broker.create_topic(topic, 1)
    broker.produce(topic, [json.dumps({"id": i, "name": f"n{i}"}).encode() for i in range(3)])
    return sec, topic


def pipeline(name: str, text: str, mode: int = 0o600) -> None:
    conf = user_scripts_dir() / "kafka-bridge.d" / f"{name}.conf"
    conf.write_text(text)
    conf.chmod(mode)


def sasl_pipeline(sec: dict[str, str], topic: str, mechanism: str, password: str) -> str:
    name = unique("sasl")
    pipeline(name, f"brokers = {sec['sasl']}\ntopic = {topic}\n"
                   "columns = id Int64, name String, _offset Int64\n"
                   "timeout = 20000\n"
                   "kafka.security.protocol = SASL_PLAINTEXT\n"
                   f"kafka.sasl.mechanisms = {mechanism}\n"
                   f"kafka.sasl.username = {sec['user']}\n"
                   f"kafka.sasl.password = {password}\n")
    return name


def ingest(clickhouse, name: str) -> list[tuple]:
    table = unique("t")
    clickhouse.query(f"CREATE TABLE {table} (id Int64, name String, _offset Int64) "
                     "ENGINE = MergeTree ORDER BY id")
    clickhouse.query(f"INSERT INTO {table} SELECT * FROM executable('kafka-bridge --pipeline {name}', "
                     "'RowBinaryWithNamesAndTypes', 'id Int64, name String, _offset Int64')")
    return clickhouse.rows(f"SELECT id, name, _offset FROM {table} ORDER BY id")


STORED = [("0", "n0", "0"), ("1", "n1", "1"), ("2", "n2", "2")]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_listener_with_credentials_in_the_pipeline(secured, clickhouse, bridge, mechanism):
    sec, topic = secured
    assert ingest(clickhouse, sasl_pipeline(sec, topic, mechanism, sec["password"])) == STORED


def test_ssl_listener_with_the_test_ca(secured, clickhouse, bridge):
    sec, topic = secured
    name = unique("ssl")
    pipeline(name, f"brokers = {sec['ssl']}\ntopic = {topic}\n"
                   "columns = id Int64, name String, _offset Int64\n"
                   "timeout = 20000\n"
                   "kafka.security.protocol = SSL\n"
                   f"kafka.ssl.ca.location = {sec['ca']}\n")
    assert ingest(clickhouse, name) == STORED


def test_ssl_listener_refuses_an_unknown_ca(secured, clickhouse, bridge):
    """Without the CA the broker's certificate cannot be verified: a clear
    error, not rows."""
    sec, topic = secured
    name = unique("sslnoca")
    pipeline(name, f"brokers = {sec['ssl']}\ntopic = {topic}\n"
                   "columns = id Int64, name String, _offset Int64\n"
                   "timeout = 5000\n"
                   "kafka.security.protocol = SSL\n"
                   "kafka.ssl.ca.location = /etc/ssl/certs/ca-certificates.crt\n")
    with pytest.raises(ClickHouseError, match="certificate verify failed"):
        ingest(clickhouse, name)


def shown_message(e: ClickHouseError) -> str:
    """The bridge's own message, as ClickHouse's error quotes it."""
    m = re.search(r"@'(.*)", e.message, re.S)
    assert m, e.message
    return m.group(1)


@pytest.mark.parametrize("mechanism,cause", [
    ("PLAIN", "Authentication failed: Invalid username or password"),
    ("SCRAM-SHA-256", "Authentication failed during authentication due to invalid credentials"),
    ("SCRAM-SHA-512", "Authentication failed during authentication due to invalid credentials"),
])
def test_wrong_password_says_so_first(secured, clickhouse, bridge, mechanism, cause):
    """Finding 13: the broker's reason came after "Local: Broker transport
    failure; last broker error: [thrd:sasl_plaintext://...", past what
    ClickHouse shows. It must come within the first 160 characters, and the
    password must not appear anywhere."""
    sec, topic = secured
    wrong = "not-" + sec["password"]
    name = sasl_pipeline(sec, topic, mechanism, wrong)
    with pytest.raises(ClickHouseError) as e:
        ingest(clickhouse, name)
    shown = shown_message(e.value)
    assert cause in shown[:160], shown
    assert wrong not in e.value.message and sec["password"] not in e.value.message


def test_secret_pipeline_readable_by_others_is_refused(secured, clickhouse, bridge):
    sec, topic = secured
    name = sasl_pipeline(sec, topic, "PLAIN", sec["password"])
    (user_scripts_dir() / "kafka-bridge.d" / f"{name}.conf").chmod(0o644)
    with pytest.raises(ClickHouseError, match="is a credential, but group or others may read") as e:
        ingest(clickhouse, name)
    assert sec["password"] not in e.value.message
