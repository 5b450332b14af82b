"""The one-file bundle (`idumb-daemon bundle`) beside the installed daemon: its
size, and its spawn to first response alternated run by run with the daemon's,
on the same interpreter and database (issue 17's target: <= 1.1x)."""

from __future__ import annotations

import dataclasses
import statistics
import subprocess
from pathlib import Path

from bench import measure
from bench.measure import Figures, Plan
from bench.servers import Server, base_env


def figures(daemon: Server, python: str, db: Path, plan: Plan, logs: Path) -> Figures:
    pyz = logs / "idumb-daemon.pyz"
    subprocess.run(
        [python, "-m", "idumb_daemon", "bundle", "--output", str(pyz)],
        env=daemon.env,
        check=True,
        capture_output=True,
        timeout=plan.timeout * 5,
    )
    # As a user runs it: no site-packages, nothing of the tree on the path.
    bundled = Server(
        "bundle",
        lambda path: [python, str(pyz), "serve", "--db", str(path)],
        base_env(),
        full_protocol=True,
    )
    # One unmeasured spawn of each: both then run on warm file caches.
    one = dataclasses.replace(plan, spawns=1)
    measure.spawn_ms(bundled, db, one, logs)
    installed, packed = [], []
    for _ in range(max(plan.spawns, 3)):
        installed.append(measure.spawn_ms(daemon, db, one, logs))
        packed.append(measure.spawn_ms(bundled, db, one, logs))
    return {
        "bundle_size_mib": pyz.stat().st_size / 2**20,
        "bundle_spawn_ms": statistics.median(packed),
        "installed_spawn_ms": statistics.median(installed),
    }
