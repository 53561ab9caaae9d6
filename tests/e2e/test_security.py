"""Ingestion through the real broker's secured listeners (scripts/kafka
starts one broker with PLAINTEXT, SASL_PLAINTEXT for PLAIN, SCRAM-SHA-256
and SCRAM-SHA-512, and SSL with a certificate made by openssl), with the
credentials only in an admin's pipeline file, through ClickHouse."""

from __future__ import annotations

import json
import re

import pytest

from harness.clickhouse import ClickHouseError
from harness.names import unique
from harness.scripts import user_scripts_dir


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


# ---- the SQL hooks on the secured listeners ------------------------------
# A refused password is known as soon as the broker answers the handshake,
# but librdkafka keeps retrying it. The pipelines below allow far longer
# waits (message.timeout.ms, timeout) than ClickHouse's own read timeout of
# the program, so only a program that stops at the refusal gets its own
# message, with the broker's reason, into the query's error.

def produce_pipeline(sec: dict[str, str], topic: str, password: str) -> str:
    name = unique("saslout")
    pipeline(name, f"brokers = {sec['sasl']}\ntopic = {topic}\nallow-produce = true\n"
                   "kafka.security.protocol = SASL_PLAINTEXT\n"
                   "kafka.sasl.mechanisms = SCRAM-SHA-256\n"
                   f"kafka.sasl.username = {sec['user']}\n"
                   f"kafka.sasl.password = {password}\n"
                   "kafka.message.timeout.ms = 600000\n")
    return name


def program_message(e: ClickHouseError, program: str) -> str:
    """The program's stderr line, as ClickHouse quotes it in the error."""
    i = e.message.find(f"{program}: ")
    assert i >= 0, e.message
    return e.message[i + len(program) + 2:]


SCRAM_REFUSED = "Authentication failed during authentication due to invalid credentials"


def test_produce_through_sasl_with_credentials_in_the_pipeline(broker, secured, clickhouse):
    sec, _ = secured
    topic = unique("secout")
    broker.create_topic(topic, 1)
    name = produce_pipeline(sec, topic, sec["password"])
    got = clickhouse.rows(f"SELECT countIf(r.error = ''), count() FROM (SELECT kafkaProduce('{name}', "
                          f"toString(number), concat('v', toString(number))) AS r FROM numbers(50))")
    assert got == [("50", "50")]
    assert sorted(m[3] for m in broker.consume_all(topic)) == sorted(f"v{i}".encode() for i in range(50))


@pytest.mark.parametrize("function", ["kafkaProduce", "kafkaProduceOrFail"])
def test_produce_with_a_wrong_password_fails_with_the_brokers_reason(broker, secured, clickhouse, function):
    """A refused password fails the query in both forms (no row could be
    delivered), at once, the broker's reason first, naming pipeline and
    topic, and the password appears nowhere."""
    sec, _ = secured
    topic = unique("secout")
    broker.create_topic(topic, 1)
    wrong = "not-" + sec["password"]
    name = produce_pipeline(sec, topic, wrong)
    with pytest.raises(ClickHouseError) as e:
        clickhouse.query(f"SELECT {function}('{name}', toString(number), 'v') FROM numbers(10)")
    shown = program_message(e.value, "kafka-produce")
    assert shown.startswith("SASL authentication error: " + SCRAM_REFUSED), shown
    assert f"pipeline '{name}' topic '{topic}'" in shown, shown
    assert wrong not in e.value.message and sec["password"] not in e.value.message
    assert broker.watermarks(topic) == {0: (0, 0)}


@pytest.mark.parametrize("mode", ["topics", "groups", "peek"])
def test_inspect_with_a_wrong_password_fails_with_the_brokers_reason(secured, clickhouse, bridge, mode):
    sec, topic = secured
    wrong = "not-" + sec["password"]
    name = unique("saslins")
    pipeline(name, f"brokers = {sec['sasl']}\ntopic = {topic}\n"
                   "timeout = 600000\n"
                   "kafka.security.protocol = SASL_PLAINTEXT\n"
                   "kafka.sasl.mechanisms = SCRAM-SHA-256\n"
                   f"kafka.sasl.username = {sec['user']}\n"
                   f"kafka.sasl.password = {wrong}\n")
    structure = {"topics": "topic String, partition Int32, leader Int32, replicas Array(Int32), isr Array(Int32), "
                           "log_start Int64, log_end Int64, error String",
                 "groups": "group String, state String, topic String, partition Int32, committed Int64, "
                           "log_end Int64, lag Int64",
                 "peek": "partition Int32, offset Int64, timestamp Nullable(DateTime64(3, \\'UTC\\')), "
                         "key Nullable(String), value Nullable(String), "
                         "headers Array(Tuple(name String, value Nullable(String)))"}[mode]
    with pytest.raises(ClickHouseError) as e:
        clickhouse.query(f"SELECT * FROM executable('kafka-bridge --pipeline {name} --inspect {mode}', "
                         f"'RowBinaryWithNamesAndTypes', '{structure}')")
    shown = shown_message(e.value)
    assert shown.startswith("SASL authentication error: " + SCRAM_REFUSED), shown
    assert wrong not in e.value.message and sec["password"] not in e.value.message
