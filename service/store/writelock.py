"""One writer at a time, across threads and processes: a thread lock plus ``flock`` on a file.

Every worker of ``newsdesk serve --workers N`` (and the CLI) shares the data directory, so a
lock file there serialises ingest, delete and repair on this machine.  The kernel drops an
``flock`` when its process dies, even on ``kill -9``: a crashed writer never leaves the lock
held, and the next writer repairs what the crash left in the journal.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType


class WriterLock:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> WriterLock:
        self._thread_lock.acquire()
        if self.path is not None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while another process writes
            except BaseException:
                self._thread_lock.release()
                raise
            self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._thread_lock.release()

    def locked(self) -> bool:
        return self._thread_lock.locked()
