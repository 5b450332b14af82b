"""The machine and the software versions a run is measured on."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from typing import Any

from bench import procfs

_VERSIONS = "import sys, sqlite3; print(sys.version.split()[0], sqlite3.sqlite_version)"


def _output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    return done.stdout.strip()


def describe(python: str, with_node: bool) -> dict[str, Any]:
    """Versions come from the daemon's interpreter, which may not be this one."""
    python_version, _, sqlite_version = _output([python, "-c", _VERSIONS]).partition(" ")
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": procfs.cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": procfs.usable_cores(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": python_version,
        "sqlite": sqlite_version or "unknown",
    }
    node = shutil.which("node")
    if with_node and node:
        info["node"] = _output([node, "--version"])
    return info
