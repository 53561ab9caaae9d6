"""A compacted topic as a dictionary: kafka-dict as an executable source,
created from the shipped DDL (sql/dictionary.sql) in chDB, looked up with
dictGet; and the shipped XML for servers saying the same thing."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from harness import REPO_ROOT
from harness.clickhouse import ClickHouseError
from harness.names import unique
from harness.scripts import user_scripts_dir

DDL = REPO_ROOT / "sql" / "dictionary.sql"
XML = REPO_ROOT / "clickhouse-config" / "kafka_dictionary.xml"
PIPELINE = REPO_ROOT / "clickhouse-config/user_scripts/kafka-bridge.d/users.conf"


@pytest.fixture()
def users(broker, clickhouse, user_scripts):
    """A compacted topic, the shipped `users` pipeline pointed at it, and the
    shipped DDL run in a fresh database."""
    if not (user_scripts / "kafka-dict").exists():
        pytest.skip("kafka-dict not built")
    topic = unique("users")
    broker.create_topic(topic, 3, {"cleanup.policy": "compact"})
    conf = PIPELINE.read_text().replace("127.0.0.1:9092", broker.bootstrap).replace("topic = users", f"topic = {topic}")
    (user_scripts_dir() / "kafka-bridge.d").mkdir(exist_ok=True)
    (user_scripts_dir() / "kafka-bridge.d/users.conf").write_text(conf)
    db = unique("db")
    clickhouse.query(f"CREATE DATABASE {db}")
    clickhouse.query(f"USE {db}")
    try:
        clickhouse.query(re.sub(r"(?m)^\s*--.*$", "", DDL.read_text()))
        yield topic, db
    finally:
        clickhouse.query("USE default")
        clickhouse.query(f"DROP DATABASE {db}")


def user(i: int, version: int) -> bytes:
    return json.dumps({"name": f"user{i}-v{version}", "country": ["FR", "DE", "JP"][i % 3],
                       "score": i + version / 10}).encode()


def test_latest_value_per_key_and_tombstones(broker, clickhouse, users):
    topic, db = users
    msgs = [(None, f"u{i}".encode(), user(i, 1)) for i in range(200)]
    msgs += [(None, f"u{i}".encode(), user(i, 2)) for i in range(0, 200, 2)]   # even keys updated
    msgs += [(None, f"u{i}".encode(), None) for i in range(0, 200, 5)]          # every 5th deleted
    msgs += [(None, b"u10", user(10, 3))]                                       # deleted, then back
    broker.produce(topic, msgs)
    live = {i for i in range(200) if i % 5 != 0} | {10}
    assert clickhouse.value("SELECT count() FROM users_dict") == str(len(live))
    rows = clickhouse.rows("SELECT key, name, country, score FROM users_dict")
    got = {r[0]: r[1:] for r in rows}
    for i in live:
        v = 3 if i == 10 else 2 if i % 2 == 0 else 1
        assert got[f"u{i}"] == (f"user{i}-v{v}", ["FR", "DE", "JP"][i % 3], str(i + v / 10))
    assert clickhouse.value(f"SELECT dictGet('{db}.users_dict', 'name', 'u7')") == "user7-v1"
    assert clickhouse.value(f"SELECT dictGet('{db}.users_dict', 'name', 'u8')") == "user8-v2"
    assert clickhouse.value(f"SELECT dictHas('{db}.users_dict', 'u5')") == "0"
    assert clickhouse.value(f"SELECT dictGetOrDefault('{db}.users_dict', 'country', 'u15', '?')") == "?"
    # A reload (what LIFETIME does) reads the topic again.
    broker.produce(topic, [(None, b"u7", user(7, 9)), (None, b"u1", None)])
    clickhouse.query(f"SYSTEM RELOAD DICTIONARY {db}.users_dict")
    assert clickhouse.value(f"SELECT dictGet('{db}.users_dict', 'name', 'u7')") == "user7-v9"
    assert clickhouse.value(f"SELECT dictHas('{db}.users_dict', 'u1')") == "0"
    assert clickhouse.value("SELECT count() FROM users_dict") == str(len(live) - 1)


def test_bad_latest_record_fails_the_load(broker, clickhouse, users):
    """Only the latest record of a key is decoded; when it is bad the load
    fails, naming where it is (an older bad record is not looked at)."""
    topic, db = users
    positions = broker.produce(topic, [(0, b"a", b"old, replaced"), (0, b"a", user(1, 1)),
                                       (0, b"b", b"not json")])
    with pytest.raises(ClickHouseError) as e:
        clickhouse.query(f"SELECT dictGet('{db}.users_dict', 'name', 'a')")
    assert f"kafka-dict: topic '{topic}' partition 0 offset {positions[2][1]}: " \
        in e.value.message.replace("\\'", "'"), e.value.message


def xml_dictionary() -> dict:
    d = ET.parse(XML).getroot().find("dictionary")
    src = d.find("source/executable")
    return {
        "name": d.findtext("name"),
        "source": {c.tag: (c.text or "").strip() for c in src},
        "layout": d.find("layout")[0].tag,
        "key": [(a.findtext("name"), a.findtext("type")) for a in d.findall("structure/key/attribute")],
        "attributes": [(a.findtext("name"), a.findtext("type")) for a in d.findall("structure/attribute")],
        "lifetime": (d.findtext("lifetime/min"), d.findtext("lifetime/max")),
    }


def test_xml_and_ddl_describe_the_same_dictionary(clickhouse, users):
    """ClickHouse itself reads the DDL (system.dictionaries after creating
    it); the XML is read as a server would read its keys."""
    _topic, db = users
    x = xml_dictionary()
    clickhouse.query(f"SYSTEM RELOAD DICTIONARY {db}.users_dict")  # the layout shows once loaded
    row = clickhouse.rows(
        f"SELECT name, key.names, key.types, attribute.names, attribute.types, type, lifetime_min, lifetime_max "
        f"FROM system.dictionaries WHERE database = '{db}'")
    assert len(row) == 1
    name, knames, ktypes, anames, atypes, layout, lmin, lmax = row[0]
    assert name == x["name"]
    lists = lambda s: re.findall(r"'([^']*)'", s)  # noqa: E731
    assert list(zip(lists(knames), lists(ktypes))) == x["key"]
    assert list(zip(lists(anames), lists(atypes))) == x["attributes"]
    assert layout.lower() == x["layout"].replace("_", ""), layout
    assert (lmin, lmax) == x["lifetime"]
    # The source's settings: every key of the XML, with its value, in the DDL.
    ddl = re.sub(r"\s+", " ", DDL.read_text())
    source = re.search(r"SOURCE\(EXECUTABLE\((.*?)\)\) LAYOUT", ddl).group(1)
    for key, value in x["source"].items():
        quoted = f"{key.upper()} '{value}'"
        bare = f"{key.upper()} {value}"
        assert quoted in source or bare in source, (key, value, source)
    assert len(re.findall(r"\b[A-Z_]{4,}\b(?= )", source)) == len(x["source"])
