"""One writer at a time, across threads and processes: a thread lock plus ``flock`` on a file.

Every worker of ``newsdesk serve --workers N`` (and the CLI) shares the data directory, so a
lock file there serialises ingest, delete and repair on this machine.  The kernel drops an
``flock`` when its process dies, even on ``kill -9``: a crashed writer never leaves the lock
held, and the next writer repairs what the crash left in the journal.  Across machines the
second half is a PostgreSQL advisory lock instead (service/store/pg_writelock.py).
"""

from __future__ import annotations

import fcntl
import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self


class ExclusiveLock(ABC):
    """A thread lock, then a lock that other processes see (``_acquire``, which blocks)."""

    def __init__(self) -> None:
        self._thread_lock = threading.Lock()

    def __enter__(self) -> Self:
        self._thread_lock.acquire()
        try:
            self._acquire()
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._release()
        finally:
            self._thread_lock.release()

    def locked(self) -> bool:
        return self._thread_lock.locked()

    @abstractmethod
    def _acquire(self) -> None: ...

    @abstractmethod
    def _release(self) -> None: ...


class WriterLock(ExclusiveLock):
    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path
        self._fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def _acquire(self) -> None:
        if self.path is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while another process writes
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd

    def _release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
