"""Interrupted imports: who runs an import, and cleaning up after one that died.

An import run records its owner (``host:pid``) and renews a heartbeat while it runs
(importers.apply). A process killed mid-import (kill -9, OOM, a lost container) can do
neither of its last two things: mark the run finished or failed, and remove its upload's
temporary folder. ``sweep_interrupted`` does both for it, at start-up of the app and of
``sensate worker``:

- a ``running`` run whose owner is a process of this host that no longer exists is failed
  at once (the process table is definitive here);
- any other ``running`` run whose heartbeat (or, for runs made before heartbeats, start) is
  older than ``stale_after_s`` is failed too: its owner is on another host, or a reused pid
  hides that it is gone;
- upload folders of dead processes of this host are removed (importers.uploads).

Batches written before the interruption stay: each is whole (one transaction), and running
the same file again finishes the job.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
from pathlib import Path

import msgspec

from directory.store import DirectoryStore

log = logging.getLogger("sensate.import")
HEARTBEAT_S = 30.0  # how often a running import renews its heartbeat (at most)


def host_name() -> str:
    """This host's name, reduced to characters safe in a folder name."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:60] or "host"


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None if unknown.

    With the pid it names one process for good: a pid is reused by later processes (a
    container restarted after a crash runs its server under the same small pid again),
    its start time is not.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count after the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None  # field 22, "starttime"


def owner() -> str:
    """Who runs this process: ``host:pid:start`` (``host:pid`` where start is unknown)."""
    pid = os.getpid()
    started = _started(pid)
    return f"{host_name()}:{pid}" + (f":{started}" if started else "")


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 checks, sends nothing)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to someone else
        return True
    return True


def owner_gone(owner_text: str | None) -> bool | None:
    """True if ``owner_text`` names a process of this host that has ended (or whose pid now
    belongs to a later process), False if it still runs, None if it cannot be told here
    (another host's, or no owner recorded)."""
    host, pid, started = ([*(owner_text or "").split(":"), "", ""])[:3]
    if host != host_name() or not (pid.isascii() and pid.isdigit()):
        return None
    if not process_alive(int(pid)):
        return True
    return bool(started) and _started(int(pid)) not in (None, started)


class Swept(msgspec.Struct, kw_only=True):
    failed_runs: list[str] = []
    removed_folders: list[str] = []


def sweep_interrupted(
    store: DirectoryStore,
    var_dir: Path,
    *,
    stale_after_s: float,
    now: dt.datetime | None = None,
) -> Swept:
    """Fail runs left ``running`` by a dead process; remove dead processes' upload folders."""
    from importers.uploads import sweep_upload_folders

    now = now or dt.datetime.now(dt.UTC)
    swept = Swept()
    for run in store.imports.running_runs():
        gone = owner_gone(run.owner)
        last_sign = run.heartbeat_at or run.started_at
        silent_s = (now - last_sign).total_seconds()
        if gone:
            why = f"interrupted: its process ({run.owner}) ended while it was running"
        elif silent_s > stale_after_s:
            why = (
                f"interrupted: no sign of life from {run.owner or 'its process'} "
                f"for {silent_s:.0f} s (SENSATE_IMPORT_STALE_AFTER_S={stale_after_s:g})"
            )
        else:
            continue
        if store.imports.fail_interrupted(run, why, now):
            swept.failed_runs.append(run.id)
    swept.removed_folders = [str(p) for p in sweep_upload_folders(var_dir)]
    if swept.failed_runs or swept.removed_folders:
        log.warning(
            "interrupted imports: %d run(s) marked failed (%s); %d upload folder(s) removed",
            len(swept.failed_runs),
            ", ".join(swept.failed_runs),
            len(swept.removed_folders),
        )
    return swept
