"""The ClickHouse engine, embedded in this process through chDB.

chDB runs one engine per process, bound to one data directory, so create a
single ClickHouse object per process (a session-scoped fixture in pytest) and
share it. Programs for executable() are looked up in `scripts_dir`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from chdb import session as chdb_session


class ClickHouseError(RuntimeError):
    """A query failed; the message is ClickHouse's own ("Code: N. DB::Exception: ...")."""

    def __init__(self, sql: str, message: str):
        super().__init__(message)
        self.sql = sql
        self.message = message
        m = re.match(r"Code: (\d+)\.", message)
        self.code = int(m.group(1)) if m else None


_TSV_ESCAPES = {"t": "\t", "n": "\n", "\\": "\\", "r": "\r", "0": "\0",
                "b": "\b", "f": "\f", "'": "'", "a": "\a", "v": "\v"}
_TSV_ESCAPE_RE = re.compile(r"\\(.)", re.S)


def _tsv_field(s: str) -> str | None:
    if s == "\\N":
        return None
    if "\\" not in s:
        return s
    return _TSV_ESCAPE_RE.sub(lambda m: _TSV_ESCAPES.get(m.group(1), m.group(1)), s)


def parse_tsv(text: str) -> list[tuple[str | None, ...]]:
    """Rows of ClickHouse TSV output: fields unescaped, \\N (NULL) as None."""
    return [tuple(_tsv_field(f) for f in line.split("\t"))
            for line in text.split("\n") if line != ""]


_OPEN: "ClickHouse | None" = None


class ClickHouse:
    """One embedded ClickHouse engine with its data in `datadir`.

    query(sql, fmt) returns the output as text; rows(sql) returns parsed TSV.
    Extra engine settings (clickhouse-local command line options) can be passed
    as keyword arguments, e.g. ClickHouse(d, s, log_level="warning").
    """

    def __init__(self, datadir: str | os.PathLike, scripts_dir: str | os.PathLike, **engine_args: str):
        global _OPEN
        if _OPEN is not None:
            raise RuntimeError("chDB allows one engine per process: reuse the existing "
                               f"ClickHouse object (data in {_OPEN.datadir})")
        self.datadir = Path(datadir).resolve()
        self.scripts_dir = Path(scripts_dir).resolve()
        self.datadir.mkdir(parents=True, exist_ok=True)
        args = {"user_scripts_path": str(self.scripts_dir), **engine_args}
        params = "&".join(f"{k}={v}" for k, v in args.items())
        self._session = chdb_session.Session(f"file:{self.datadir}?{params}")
        _OPEN = self

    def query(self, sql: str, fmt: str = "TSV") -> str:
        """Run one statement; return its output decoded as UTF-8 (with
        replacement characters for anything else). Raises ClickHouseError."""
        return self.query_bytes(sql, fmt).decode("utf-8", "replace")

    def query_bytes(self, sql: str, fmt: str = "TSV") -> bytes:
        """Like query() but returns the raw output bytes (for binary formats)."""
        try:
            res = self._session.query(sql, fmt)
        except RuntimeError as e:
            raise ClickHouseError(sql, str(e).strip()) from None
        err = getattr(res, "error_message", None)
        if callable(err):
            err = err()
        if err:
            raise ClickHouseError(sql, str(err).strip())
        return res.bytes()

    def rows(self, sql: str) -> list[tuple[str | None, ...]]:
        """Run a query and return its rows as tuples of strings (TSV fields,
        unescaped; NULL becomes None)."""
        return parse_tsv(self.query(sql, "TSV"))

    def value(self, sql: str) -> str | None:
        """The single field of a one-row, one-column result."""
        rows = self.rows(sql)
        if len(rows) != 1 or len(rows[0]) != 1:
            raise ValueError(f"expected one value, got {rows!r}")
        return rows[0][0]

    def close(self) -> None:
        global _OPEN
        if self._session is not None:
            self._session.close()
            self._session = None
        if _OPEN is self:
            _OPEN = None
