"""A guard for the wake-up pipes of the harness's own Kafka clients.

The harness runs ClickHouse in its own process (chDB) beside librdkafka
clients (the producers and consumers that set tests up and check them).
Seen twice in the end-to-end suite: a librdkafka broker thread blocked for
good in read() on the read end of its wake-up pipe, whose O_NONBLOCK flag
had been cleared while the write end kept it (/proc fdinfo: flags 00 and
04001), so the client's destroy waited for that thread forever and the
suite hung. librdkafka makes both ends non-blocking and never clears the
flag; ClickHouse's ShellCommandSource switches the descriptors of a
command's pipes between blocking and non-blocking modes by number, and a
number closed and reused by a new librdkafka pipe in between is the likely
path. The bridge runs in processes of its own, so this touches only the
harness's clients, never what a test checks.

repair() looks for a pipe whose two ends are both open in this process and
neither is close-on-exec (librdkafka's pipes; ClickHouse and Python open
theirs with O_CLOEXEC), with the write end non-blocking and the read end
not. It makes the read end non-blocking again and writes one byte to the
write end, which wakes a thread blocked in that read (a wake-up byte is
what the pipe is for). The harness calls it before it destroys a client,
and a daemon thread calls it every 200 ms. repaired() counts the repairs,
and the session's summary reports them.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading
import time

_lock = threading.Lock()
_repaired = 0
_thread: threading.Thread | None = None


def _pipe_ends() -> dict[int, list[tuple[int, int]]]:
    """{pipe inode: [(fd, status flags)]} of the pipes open here without
    close-on-exec."""
    ends: dict[int, list[tuple[int, int]]] = {}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            st = os.fstat(fd)
            if not stat.S_ISFIFO(st.st_mode) or fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                continue
            ends.setdefault(st.st_ino, []).append((fd, fcntl.fcntl(fd, fcntl.F_GETFL)))
        except OSError:  # closed meanwhile
            continue
    return ends


def repair() -> int:
    """Repairs every pipe that has the damage described above; returns how
    many it repaired this time."""
    global _repaired
    done = 0
    with _lock:
        for ino, fds in _pipe_ends().items():
            readers = [f for f in fds if f[1] & os.O_ACCMODE == os.O_RDONLY]
            writers = [f for f in fds if f[1] & os.O_ACCMODE == os.O_WRONLY]
            if len(readers) != 1 or len(writers) != 1:
                continue
            (rfd, rflags), (wfd, wflags) = readers[0], writers[0]
            if not wflags & os.O_NONBLOCK or rflags & os.O_NONBLOCK:
                continue
            try:
                if os.fstat(rfd).st_ino != ino or os.fstat(wfd).st_ino != ino:
                    continue  # reused since the listing
                fcntl.fcntl(rfd, fcntl.F_SETFL, rflags | os.O_NONBLOCK)
                try:
                    os.write(wfd, b"\0")
                except BlockingIOError:
                    pass  # full: the reader has bytes to wake it already
            except OSError:
                continue
            done += 1
        _repaired += done
    return done


def repaired() -> int:
    return _repaired


def start() -> None:
    """Starts the daemon thread once."""
    global _thread
    if _thread is not None:
        return

    def loop() -> None:
        while True:
            time.sleep(0.2)
            repair()

    _thread = threading.Thread(target=loop, name="fdguard", daemon=True)
    _thread.start()
