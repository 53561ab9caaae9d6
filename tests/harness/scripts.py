"""The per-process scratch directory and the user_scripts directory in it.

ClickHouse (chDB) runs executable() programs only from its user_scripts
directory; install_script() puts programs there. State lives here, in one
module, so that tests and fixtures always see the same directory.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

_scratch: Path | None = None


def scratch_dir() -> Path:
    """A temporary directory for this process, removed by cleanup()."""
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="kafka-bridge-tests-"))
    return _scratch


def user_scripts_dir() -> Path:
    d = scratch_dir() / "user_scripts"
    d.mkdir(exist_ok=True)
    return d


def install_script(path_or_binary: str | os.PathLike | bytes, name: str) -> Path:
    """Make a program available to ClickHouse's executable() as `name`.

    A path (str or Path) to an executable file is symlinked into user_scripts;
    bytes are written there as the program itself (e.g. a shell script) and
    made executable. Replaces an earlier program of that name. Returns the
    installed path.
    """
    if "/" in name or name in ("", ".", ".."):
        raise ValueError(f"bad script name {name!r}")
    dest = user_scripts_dir() / name
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    if isinstance(path_or_binary, (bytes, bytearray)):
        dest.write_bytes(path_or_binary)
        dest.chmod(dest.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    else:
        src = Path(path_or_binary).resolve()
        if not src.is_file() or not os.access(src, os.X_OK):
            raise FileNotFoundError(f"no executable program at {src}")
        dest.symlink_to(src)
    return dest


def cleanup() -> None:
    global _scratch
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
        _scratch = None
