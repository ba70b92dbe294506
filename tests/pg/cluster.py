"""A throwaway PostgreSQL cluster on a loopback port, from the machine's own binaries.

``initdb`` and ``pg_ctl`` refuse to run as root (CI runs as root): there they run as the
``postgres`` user through ``runuser``, in a temp dir that user owns.  ``.ci/run`` installs
Debian's ``postgresql-15`` when the binaries are missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from vectorstore.server import free_port


def pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` (Debian), else the folder of ``pg_ctl`` on PATH."""
    debian = [p for p in Path("/usr/lib/postgresql").glob("*/bin")
              if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    if debian:
        return max(debian, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    return None


def missing_reason() -> str | None:
    """Why no cluster can start here, or None."""
    if pg_bin() is None:
        return "PostgreSQL binaries (initdb, pg_ctl) not found; `.ci/run` installs postgresql-15"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser: initdb and pg_ctl refuse to run as root"
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no `postgres` user exists to run initdb and pg_ctl"
    return None


class PgCluster:
    def __init__(self) -> None:
        self.bin = pg_bin()
        assert self.bin is not None, missing_reason()
        self.dir = Path(tempfile.mkdtemp(prefix="newsdesk-pg-"))  # short: the socket path must fit
        self.port = free_port()
        self.host = "127.0.0.1"
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)

    def start(self) -> str:
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self.dir.chmod(0o700)
        data = self.dir / "data"
        made = self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                         "--locale=C", "-N")
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr or made.stdout}")
        self._serve()
        return self.url("postgres")

    def _serve(self) -> None:
        data, log = self.dir / "data", self.dir / "log"
        opts = (f"-c listen_addresses={self.host} -p {self.port} -k {self.dir} -c jit=off -c fsync=off "
                f"-c synchronous_commit=on -c max_connections=200")
        started = self._run("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "30", "-o", opts, "start")
        if started.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr or started.stdout}\n{text[-2000:]}")

    @contextmanager
    def down(self) -> Iterator[None]:
        """The server stopped (fast: open sessions are cut) for the block, then started again."""
        done = self._run("pg_ctl", "-D", str(self.dir / "data"), "stop", "-m", "fast", "-w", "-t", "30")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {done.stderr or done.stdout}")
        try:
            yield
        finally:
            self._serve()

    def restart(self) -> None:
        """Stop (fast: open sessions are cut) and start again on the same port and options."""
        done = self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "restart",
                         "-m", "fast", "-w", "-t", "30")  # -l: the server must not keep our stdout pipe
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {done.stderr or done.stdout}")

    def kill9(self) -> int:
        """SIGKILL the postmaster and every backend it forked, as a crash would (no shutdown
        checkpoint: the next start replays the WAL).  Returns how many processes were killed."""
        pid = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        victims = [pid, *children(pid)]
        for p in victims:
            with suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{p}").exists() and _state(p) != "Z" for p in victims):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL processes survived SIGKILL: {victims}")
            time.sleep(0.05)
        return len(victims)

    def start_again(self) -> None:
        """Start the server on the same port, options and data (after :meth:`kill9`: crash recovery)."""
        self._serve()

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        try:
            if (self.dir / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.dir / "data"), "stop", "-m", "fast", "-w", "-t", "30")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _state(pid: int) -> str:
    """The process state letter of /proc/PID/stat ("Z": a zombie), or "" when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (PostgreSQL's backends and helpers)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[1] == str(pid):
            out.append(int(stat.parent.name))
    return out
