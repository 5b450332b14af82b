"""The settings model's costs (issue 18), on a database of its own:

- a pipelined `settings/set` of a declared key (validated, decoded and
  re-encoded) against one of an undeclared key, alternated run by run;
- `settings/resolve` of every key, with `MODEL_KEYS` declared and as many
  stored in each layer (the user's and a project's), against one
  `settings/getAll` of the same keys (one layer's entries).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.measure import Figures, Plan, connect, key
from bench.rpc import Connection, request
from bench.servers import Server

MODEL_KEYS = 1000
HOT = 100
CALLS = 20
"""Sequential resolve and getAll calls timed, alternated; the medians are kept."""
SCHEMA = {"type": "integer", "minimum": 0, "default": 0}
PROJECT = "/bench/project"


def _declared(i: int) -> str:
    return f"model.{i:06d}"


def _set_rps(conn: Connection, n: int, name: Callable[[int], str], run: int) -> float:
    payload = b"".join(
        request(i, "settings/set", {"key": name(i % HOT), "value": str(run * n + i)})
        for i in range(n)
    )
    elapsed, errors = conn.pipelined(payload, n)
    if errors:
        raise RuntimeError(f"{errors} of {n} pipelined settings/set answered with an error")
    return n / elapsed


def _ms(conn: Connection, method: str, params: Any) -> float:
    started = time.perf_counter()
    answer = conn.call(method, params)
    elapsed = (time.perf_counter() - started) * 1000
    if len(answer) < MODEL_KEYS:
        raise RuntimeError(f"{method} answered {len(answer)} entries, expected {MODEL_KEYS}")
    return elapsed


def figures(server: Server, logs: Path, plan: Plan) -> Figures:
    db = logs / "daemon-model.db"
    with connect(server, db, plan, logs) as conn:
        declared = {_declared(i): SCHEMA for i in range(MODEL_KEYS)}
        conn.call("settings/declare", {"owner": "bench", "settings": declared})
        plain: list[float] = []
        checked: list[float] = []
        # Run 0 warms both paths up (CPython specialises bytecode, caches fill)
        # and is not kept.
        for run in range(plan.repeat + 1):
            undeclared = _set_rps(conn, plan.n, key, run)
            declared_rps = _set_rps(conn, plan.n, _declared, run)
            if run:
                plain.append(undeclared)
                checked.append(declared_rps)
        entries = [{"key": _declared(i), "value": str(i)} for i in range(MODEL_KEYS)]
        conn.call("settings/setMany", {"entries": entries})
        conn.call("settings/setMany", {"entries": entries, "projectDir": PROJECT})
        resolve, get_all = [], []
        for _ in range(CALLS):
            resolve.append(
                _ms(conn, "settings/resolve", {"prefix": "model.", "projectDir": PROJECT})
            )
            get_all.append(_ms(conn, "settings/getAll", {"prefix": "model."}))
    return {
        "set_undeclared_rps": statistics.median(plain),
        "set_declared_rps": statistics.median(checked),
        "resolve_all_ms": statistics.median(resolve),
        "getall_same_keys_ms": statistics.median(get_all),
    }
