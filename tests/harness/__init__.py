"""Helpers shared by the end-to-end tests and the benchmark scripts.

- harness.kafka: a real single-node Kafka broker (scripts/kafka) and a few
  client operations on it (topics, producing, watermarks).
- harness.clickhouse: the ClickHouse engine embedded through chDB.
- harness.names: fresh topic and table names, SQL string literals.

Import with tests/ on sys.path (pytest.ini arranges that for pytest; scripts
can set PYTHONPATH=tests).
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
