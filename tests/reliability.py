"""Helpers of the reliability suite (tests/test_reliability_*.py): pipelined
requests, a daemon started without root's power over file modes or with a
permissive umask, and looks at files and processes from outside."""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from idumb_daemon.protocol.server import open_storage
from idumb_daemon.storage.settings import set_ as set_setting
from tests.wire import WAIT, Wire, frame

_ids = itertools.count(1)

# Runs before the daemon's interpreter and then execs it: sets the umask and,
# for root, drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding
# set, so the daemon meets file modes as any user does (root otherwise
# writes a 0400 file in a 0500 folder). Needs CAP_SETPCAP, which root has
# even in a default container, unlike mount or chattr.
_LAUNCHER = """
import ctypes, os, sys
umask, drop = int(sys.argv[1]), sys.argv[2] == "1"
if umask >= 0:
    os.umask(umask)
if drop and os.geteuid() == 0:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "cannot drop capability %d" % cap)
os.execv(sys.executable, [sys.executable, *sys.argv[3:]])
"""


def launcher(*, umask: int = -1, drop_dac: bool = False) -> list[str]:
    """A `command=` for Wire: the daemon with that umask, without DAC override."""
    return [
        sys.executable,
        "-c",
        _LAUNCHER,
        str(umask),
        "1" if drop_dac else "0",
        "-m",
        "idumb_daemon",
        "serve",
    ]


# A stand-in for a full disk where no small filesystem can be mounted: every
# SQLite connection the daemon opens is capped at a number of pages, so a
# write beyond it fails with SQLITE_FULL as on a full disk.
_SIZE_CAPPED = """
import runpy, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
pages = int(sys.argv.pop(1))
event.listen(Engine, "connect", lambda conn, _r: conn.execute(f"PRAGMA max_page_count={pages}"))
runpy.run_module("idumb_daemon", run_name="__main__", alter_sys=True)
"""


def size_capped(pages: int) -> list[str]:
    """A `command=` for Wire: the daemon with its database capped at `pages`."""
    return [sys.executable, "-c", _SIZE_CAPPED, str(pages), "serve"]


def seed(path: Path, settings: dict[str, str]) -> None:
    """A database made by the daemon's own storage layer, closed cleanly (so
    with its backup), holding `settings`."""
    storage = open_storage("sqlite:///" + str(path))
    storage.open()
    assert storage.info().schema_version, "seeding failed to open the database"
    for key, value in settings.items():
        storage.write(set_setting, key, value)
    storage.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_modes_bind_daemon(probe_dir: Path) -> bool:
    """Whether a daemon started with launcher(drop_dac=True) is refused a 0400 file."""
    target = probe_dir / "mode-probe"
    target.write_text("")
    target.chmod(0o400)
    code = f"open({str(target)!r}, 'a')"
    cmd = launcher(drop_dac=True)
    cmd[-3:] = ["-c", code]
    done = subprocess.run(cmd, capture_output=True, timeout=WAIT, check=False)
    target.unlink()
    return done.returncode != 0 and b"PermissionError" in done.stderr


def send_all(wire: Wire, calls: Iterable[tuple[str, Any]]) -> list[str]:
    """Pipeline: every request leaves in one write, before any answer is read."""
    ids: list[str] = []
    data = bytearray()
    for method, params in calls:
        msg_id = f"r{next(_ids)}"
        ids.append(msg_id)
        data += frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    wire.send_raw(bytes(data))
    return ids


def responses(wire: Wire, ids: list[str], timeout: float = WAIT) -> list[dict[str, Any]]:
    return [wire.response(msg_id, timeout) for msg_id in ids]


def pipeline(wire: Wire, calls: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    return responses(wire, send_all(wire, calls))


def errors_of(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in answers if "error" in a]


def integrity(path: Path) -> list[tuple[Any, ...]]:
    """PRAGMA integrity_check as another program sees the file (read-write:
    after a kill, reading the WAL may need its index rebuilt)."""
    conn = sqlite3.connect(path, timeout=WAIT)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


def timed(wire: Wire, method: str, params: Any) -> tuple[dict[str, Any], float]:
    """A request's response and how long it took."""
    start = time.monotonic()
    answer = wire.call(method, params)
    return answer, time.monotonic() - start
