"""A real Confluent-compatible schema registry for tests (Apicurio, run by
scripts/registry), and the few calls tests make on it.

Avro test data is written with fastavro (schemaless datums); frame() adds
the Confluent framing: magic byte 0 and the 4-byte big-endian schema id.
"""

from __future__ import annotations

import base64
import io
import json
import os
import ssl
import struct
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import fastavro

from . import REPO_ROOT

REGISTRY_SCRIPT = REPO_ROOT / "scripts" / "registry"


class RegistryError(RuntimeError):
    pass


class Registry:
    """One registry with its own state directory; url is the Confluent API."""

    def __init__(self, state_dir: str | os.PathLike | None = None, env: dict[str, str] | None = None,
                 auth: tuple[str, str] | None = None, cafile: str | os.PathLike | None = None):
        """env: extra settings for scripts/registry (REGISTRY_TLS_CERT, ...);
        auth and cafile: what this client sends and trusts."""
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="registry-"))
        self.url: str | None = None
        self.env = env or {}
        self._headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._ssl = ssl.create_default_context(cafile=str(cafile)) if cafile else None

    def _script(self, *args: str) -> str:
        env = dict(os.environ, REGISTRY_STATE_DIR=str(self.state_dir), **self.env)
        proc = subprocess.run([str(REGISTRY_SCRIPT), *args], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            raise RegistryError(f"scripts/registry {' '.join(args)} failed "
                                f"(exit {proc.returncode}):\n{proc.stderr.strip()}")
        return proc.stdout.strip()

    def start(self) -> str:
        self.url = self._script("start").splitlines()[-1]
        return self.url

    def stop(self) -> None:
        self._script("stop")
        self.url = None

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=self._headers)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self._ssl) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raise RegistryError(f"{method} {path}: HTTP {e.code}: {e.read()[:500]!r}") from None

    def register(self, subject: str, schema: dict | list | str) -> int:
        """Registers a schema version under subject (compatibility checks
        off, so tests can evolve freely) and returns its id."""
        text = schema if isinstance(schema, str) else json.dumps(schema)
        try:
            self._call("PUT", f"/config/{subject}", {"compatibility": "NONE"})
        except RegistryError:
            pass  # a subject that does not exist yet has no config to set
        return int(self._call("POST", f"/subjects/{subject}/versions", {"schema": text})["id"])

    def schema(self, schema_id: int) -> str:
        return self._call("GET", f"/schemas/ids/{schema_id}")["schema"]


def datum(schema: dict | list | str, record: Any) -> bytes:
    """One schemaless Avro datum."""
    parsed = fastavro.parse_schema(json.loads(schema) if isinstance(schema, str) else schema)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, record)
    return out.getvalue()


def frame(schema_id: int, body: bytes) -> bytes:
    """The Confluent framing around a datum."""
    return b"\0" + struct.pack(">I", schema_id) + body
