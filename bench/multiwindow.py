"""What several IDE windows see: writers sharing one file, and how soon a
change made elsewhere reaches a watching window."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import BenchError, Figures, Plan, connect
from bench.rpc import Connection, RpcError
from bench.servers import Server

WATCHED_KEY = "window.theme"
# A foreign writer's statement: what the sqlite3 shell or another program
# would run; the change-log triggers record it as any write.
FOREIGN_SET = (
    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)


def _ms_at(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[max(int(len(ordered) * fraction) - 1, 0)] * 1000


def contended(
    server: Server, db: Path, plan: Plan, logs: Path, writers: int
) -> tuple[list[float], int]:
    """`writers` processes of `server` on one file, each setting its own keys
    one at a time for `plan.contend_seconds`: each set's seconds, and how
    many were answered with an error."""
    times: list[list[float]] = [[] for _ in range(writers)]
    errors = [0] * writers
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(connect(server, db, plan, logs)) for _ in range(writers)]
        for i, conn in enumerate(conns):
            conn.call("settings/set", {"key": f"w{i}.warm", "value": "1"})
        start = threading.Barrier(writers)
        failures: list[BaseException] = []

        def write(i: int) -> None:
            conn, n = conns[i], 0
            try:
                start.wait(plan.timeout)
                stop = time.perf_counter() + plan.contend_seconds
                while time.perf_counter() < stop:
                    params = {"key": f"w{i}.k{n % 50}", "value": str(n)}
                    began = time.perf_counter()
                    try:
                        conn.call("settings/set", params)
                    except RpcError:
                        errors[i] += 1
                    times[i].append(time.perf_counter() - began)
                    n += 1
            except BaseException as exc:  # a dead server or a hang: reported below
                failures.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(plan.contend_seconds + 2 * plan.timeout)
        if failures:
            raise failures[0]
    return [t for each in times for t in each], sum(errors)


def contended_figures(
    lineup: list[Server], dbs: Callable[[Server, int], Path], plan: Plan, logs: Path
) -> dict[str, Figures]:
    """Four writers on one file, per server, the servers taking turns round
    by round so a drifting machine load weighs on each alike."""
    times: dict[str, list[float]] = {s.name: [] for s in lineup}
    errors = dict.fromkeys(times, 0)
    for round_no in range(plan.contend_rounds):
        for server in lineup:
            taken, failed = contended(server, dbs(server, round_no), plan, logs, plan.writers)
            times[server.name] += taken
            errors[server.name] += failed
    return {
        name: {
            "contended_p50_ms": _ms_at(taken, 0.5),
            "contended_p99_ms": _ms_at(taken, 0.99),
            "contended_max_ms": max(taken) * 1000,
            "contended_sets_per_s": len(taken) / (plan.contend_seconds * plan.contend_rounds),
            "contended_errors": float(errors[name]),
        }
        for name, taken in times.items()
    }


def _wait_for_change(watcher: Connection, value: str, deadline: float) -> float | None:
    """When the watcher's `settings/didChange` carrying `value` arrived."""
    while time.monotonic() < deadline:
        message = watcher.read_message()
        if message.get("method") != "settings/didChange":
            continue
        changes: list[dict[str, Any]] = message["params"]["changes"]
        if any(c["key"] == WATCHED_KEY and c.get("value") == value for c in changes):
            return time.perf_counter()
    return None


def notify_latency(server: Server, db: Path, plan: Plan, logs: Path, *, foreign: bool) -> Figures:
    """From a write's acknowledgement (another daemon's answer, or a sqlite3
    writer's commit) to the watching daemon's `settings/didChange` with it,
    over `plan.notify_writes` writes spaced 20 to 80 ms apart."""
    latencies: list[float] = []
    with contextlib.ExitStack() as stack:
        watcher = stack.enter_context(connect(server, db, plan, logs))
        if not watcher.call("daemon/watch", {"enabled": True}).get("watching"):
            raise BenchError("daemon/watch answered watching: false")
        write: Callable[[str], None]
        if foreign:
            direct = stack.enter_context(contextlib.closing(sqlite3.connect(db)))
            direct.execute("PRAGMA synchronous=FULL")

            def write(value: str) -> None:
                with direct:
                    direct.execute(FOREIGN_SET, (WATCHED_KEY, value, int(time.time())))

        else:
            writer = stack.enter_context(connect(server, db, plan, logs))

            def write(value: str) -> None:
                writer.call("settings/set", {"key": WATCHED_KEY, "value": value})

        chance = random.Random(7)
        for i in range(plan.notify_writes):
            # The spacing itself is the measurement's: a window writes now and then.
            time.sleep(chance.uniform(0.02, 0.08))
            value = f"v{i}"
            write(value)
            acknowledged = time.perf_counter()
            seen = _wait_for_change(watcher, value, time.monotonic() + plan.timeout)
            if seen is None:
                raise BenchError(f"no settings/didChange for write {i} within {plan.timeout} s")
            latencies.append(seen - acknowledged)
    kind = "sqlite" if foreign else "daemon"
    return {
        f"notify_{kind}_p50_ms": _ms_at(latencies, 0.5),
        f"notify_{kind}_p99_ms": _ms_at(latencies, 0.99),
    }
