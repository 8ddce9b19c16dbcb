"""One driver per study: an exclusive `flock` on `<study_dir>/driver.lock`.

Two drivers on one study share one Optuna journal and one results table: they relabel each
other's trials and overshoot the budget. `study run` and `study resume` therefore hold this lock
for their whole life. The lock file also records its holder (pid, host, start time, command),
so a refused second driver can say who is running, and `study status` can say whether a driver
is alive. The kernel drops a flock when its process dies however it dies (SIGKILL, `ray job
stop`), so a dead driver never blocks anyone; what it leaves is its holder record ("stale"):
`study resume` takes such a study over, `study run` refuses it and points to `resume`.
A clean exit empties the record. flock works across nodes on NFS (Linux maps it to NFS byte-range
locks); on a filesystem without locking, run one driver per study by hand.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

LOCK_FILE = "driver.lock"
WAIT_S = 2.0  # a `study status` probe holds the lock for microseconds: retry briefly before refusing


class StudyLocked(RuntimeError):
    """Another driver holds the study, or (for `study run`) a dead driver left it to resume."""


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a study's driver lock."""

    pid: int
    host: str
    started: str
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}, started {self.started} ({self.command})"


@dataclass(frozen=True)
class DriverState:
    """Whether a driver holds the study now; `holder` is its record, or a dead driver's (stale)."""

    alive: bool
    holder: Holder | None

    @property
    def dead(self) -> bool:
        """A driver ran this study and died without releasing it (its trials may show RUNNING)."""
        return not self.alive and self.holder is not None


def lock_path(study_dir: str | os.PathLike) -> Path:
    return Path(study_dir) / LOCK_FILE


def read_holder(path: Path) -> Holder | None:
    """The holder record in a lock file (None: empty, missing or unreadable)."""
    try:
        data = json.loads(path.read_text() or "null")
        return Holder(int(data["pid"]), str(data["host"]), str(data["started"]), str(data["command"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def driver_state(study_dir: str | os.PathLike) -> DriverState:
    """Probe the lock without taking it for long (a shared, non-blocking flock)."""
    path = lock_path(study_dir)
    if not path.exists():
        return DriverState(False, None)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return DriverState(True, read_holder(path))
    finally:
        os.close(fd)  # closing drops the probe's lock
    return DriverState(False, read_holder(path))


@contextmanager
def hold_driver_lock(study_dir: str | os.PathLike, command: str, *, take_over_stale: bool) -> Iterator[Holder | None]:
    """Hold the study's lock for the block; yields the dead holder taken over (or None).

    Raises StudyLocked when a live driver holds it, or when a dead one left it and
    `take_over_stale` is False (`study run`: the study exists, continue it with `study resume`)."""
    path = lock_path(study_dir)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by child processes (O_CLOEXEC)
    try:
        _lock_or_refuse(fd, path)
        stale = read_holder(path)
        if stale is not None and not take_over_stale:
            raise StudyLocked(f"{Path(study_dir)}: a driver ran this study and died without finishing "
                              f"({stale.describe()}); continue it with `depthdif study resume {Path(study_dir)}`")
        _write_record(fd, Holder(os.getpid(), socket.gethostname(),
                                 dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), command))
        try:
            yield stale
        finally:
            os.ftruncate(fd, 0)  # a clean exit leaves no stale record; the file itself stays
    finally:
        os.close(fd)  # releases the flock


def _lock_or_refuse(fd: int, path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = read_holder(path)
                who = holder.describe() if holder else "a driver whose record is not written yet"
                raise StudyLocked(f"{path.parent}: another driver is running this study ({who}); one driver "
                                  "per study: wait for it to finish, or stop it, then `depthdif study resume`") from None
            time.sleep(0.05)


def _write_record(fd: int, holder: Holder) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(asdict(holder)) + "\n").encode(), 0)
    os.fsync(fd)
