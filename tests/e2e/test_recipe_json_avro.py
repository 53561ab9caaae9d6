"""sql/json-vs-avro.sql as written: the same site events as JSON and as
Confluent-framed Avro (the real schema registry), keyed by user, loaded by
the shipped json-events and avro-events pipelines; the recipe's own
comparison queries must report identical rows, Avro smaller than JSON, and
every key's events on one partition in order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from harness.clickhouse import parse_tsv
from harness.registry import datum, frame

from test_recipes import db, install_pipeline, recipe, unique  # noqa: F401 (db is a fixture)

SCHEMA = {"type": "record", "name": "SiteEvent", "fields": [
    {"name": "user_id", "type": "string"},
    {"name": "event_type", "type": "string"},
    {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "session_id", "type": "string"},
    {"name": "device", "type": "string"},
]}
START = datetime(2025, 3, 1, tzinfo=timezone.utc)


def event(i: int) -> dict:
    # Timestamps grow with i, so each user's events are produced in time order.
    return {"user_id": f"u{i % 37}", "event_type": ["page_view", "click", "signup"][i % 3],
            "timestamp": START + timedelta(milliseconds=1000 * i + i % 997),
            "session_id": f"s{i // 10}", "device": ["desktop", "mobile", "tablet"][i % 3]}


def as_json(e: dict) -> bytes:
    return json.dumps({**e, "timestamp": e["timestamp"].isoformat(timespec="milliseconds")
                       .replace("+00:00", "Z")}).encode()


def run_recipe(clickhouse, db: str) -> tuple[list, list, list]:
    """The whole file, as a user runs it; its three result sets, in order."""
    rows = parse_tsv(clickhouse.query(f"USE {db};\n{recipe('json-vs-avro.sql')}"))
    counts, sizes, disorder = rows[:1], rows[1:3], rows[3:]
    return counts, sizes, disorder


def test_json_vs_avro_recipe(broker, registry, clickhouse, db):
    json_topic, avro_topic = unique("site_json"), unique("site_avro")
    for t in (json_topic, avro_topic):
        broker.create_topic(t, 3)
    install_pipeline("json-events", broker.bootstrap, topic=json_topic)
    install_pipeline("avro-events", broker.bootstrap, topic=avro_topic, schema_registry=registry.url)
    sid = registry.register(f"{avro_topic}-value", SCHEMA)

    def produce(lo: int, hi: int) -> None:
        events = [event(i) for i in range(lo, hi)]
        broker.produce(json_topic, [(None, e["user_id"].encode(), as_json(e)) for e in events])
        broker.produce(avro_topic, [(None, e["user_id"].encode(), frame(sid, datum(SCHEMA, e))) for e in events])

    produce(0, 1500)
    counts, sizes, disorder = run_recipe(clickhouse, db)
    assert counts == [("0", "0", "1500", "1500")]
    produce(1500, 2000)
    counts, sizes, disorder = run_recipe(clickhouse, db)  # resumes: each message once
    assert counts == [("0", "0", "2000", "2000")]
    assert disorder == []
    by_format = {f: (int(n), float(avg)) for f, n, avg in sizes}
    assert set(by_format) == {"json", "avro"}
    assert by_format["avro"][1] < 0.5 * by_format["json"][1], by_format

    # What the recipe compares is what was produced (not only each other).
    stored = clickhouse.rows(f"SELECT user_id, event_type, toString(timestamp), session_id, device "
                             f"FROM {db}.site_events_avro ORDER BY timestamp")
    want = [(e["user_id"], e["event_type"], e["timestamp"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
             e["session_id"], e["device"]) for e in map(event, range(2000))]
    assert stored == want

    # The ordering check can fail: an event of u1 sent to another partition
    # than u1's, with an earlier timestamp, is reported for both formats.
    (part,) = {int(p) for (p,) in clickhouse.rows(f"SELECT DISTINCT _partition FROM {db}.site_events_json "
                                                   f"WHERE _key = 'u1'")}
    late = {**event(1), "timestamp": START}
    broker.produce(json_topic, [((part + 1) % 3, b"u1", as_json(late))])
    broker.produce(avro_topic, [((part + 1) % 3, b"u1", frame(sid, datum(SCHEMA, late)))])
    counts, sizes, disorder = run_recipe(clickhouse, db)
    assert counts == [("0", "0", "2001", "2001")]
    assert sorted((f, k) for f, k, _n in disorder) == [("avro", "u1"), ("json", "u1")]
