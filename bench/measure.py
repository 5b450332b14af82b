"""The measurements: each takes a server (or a live connection) and returns figures."""

from __future__ import annotations

import select
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procfs
from bench.rpc import Connection, request
from bench.servers import DEPENDENCY_IMPORTS, Server

HOT_KEYS = 100
PAGE = 100
# Round trips alternate between servers this many at a time.
BLOCK = 10
# Round trips on a fresh process before any is timed: CPython specialises a
# function's bytecode only after it has run a few times.
WARM_UP = 200
Figures = dict[str, float | None]
Calls = Callable[[int], tuple[str, Any]]
"""The i-th call of a sequence, as (method, params)."""


class BenchError(Exception):
    """A server misbehaved, so a figure would mean nothing."""


@dataclass(frozen=True)
class Plan:
    n: int
    seq: int
    rounds: int
    """Sets of fresh processes the round trips are spread over."""
    repeat: int
    spawns: int
    big: int
    chunk: int
    page_samples: int
    idle_window: float
    idle_quiet: float
    """Seconds a watching daemon must run nothing to count as settled."""
    idle_settle: float
    """At most this many seconds waited for it to settle."""
    timeout: float
    writers: int = 4
    """Processes writing one file at once."""
    contend_seconds: float = 5.0
    contend_rounds: int = 2
    notify_writes: int = 60


def key(i: int) -> str:
    # Zero-padded so code-point order is numeric order and the key space has a known end.
    return f"bench.{i:06d}"


def connect(server: Server, db: Path, plan: Plan, logs: Path) -> Connection:
    return Connection(
        server.command(db),
        stderr_path=logs / f"{server.name}.stderr",
        timeout=plan.timeout,
        env=server.env,
    )


def _pipelined_rps(conn: Connection, method: str, n: int, params: Callable[[int], Any]) -> float:
    payload = b"".join(request(i, method, params(i)) for i in range(n))
    elapsed, errors = conn.pipelined(payload, n)
    if errors:
        raise BenchError(f"{errors} of {n} pipelined {method} answered with an error")
    return n / elapsed


def hot_get(i: int) -> tuple[str, Any]:
    return "settings/get", {"key": key(i % HOT_KEYS)}


def hot_set(i: int) -> tuple[str, Any]:
    # A new value each time: an unchanged one proves less.
    return "settings/set", {"key": key(i % HOT_KEYS), "value": f"s{i}"}


def percentile_us(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    # The same rank rpcbench.py takes, so figures compare with the yardstick's.
    return ordered[max(int(len(ordered) * fraction) - 1, 0)] * 1e6


def open_hot(server: Server, db: Path, plan: Plan, logs: Path) -> Connection:
    """A server on a new database holding the 100 keys the hot figures use."""
    conn = connect(server, db, plan, logs)
    try:
        conn.call("settings/get", {"key": key(0)})
        for i in range(HOT_KEYS):
            conn.call("settings/set", {"key": key(i), "value": f"v{i}"})
    except BaseException:
        conn.close()
        raise
    return conn


def get_rps(conn: Connection, plan: Plan) -> float:
    return _pipelined_rps(conn, "settings/get", plan.n, lambda i: {"key": key(i % HOT_KEYS)})


def set_rps(conn: Connection, plan: Plan, run: int) -> float:
    # Every run writes new values: an upsert of an unchanged value proves less.
    return _pipelined_rps(
        conn, "settings/set", plan.n, lambda i: {"key": key(i % HOT_KEYS), "value": f"v{run}.{i}"}
    )


def spread_get(plan: Plan) -> Calls:
    def spread(i: int) -> tuple[str, Any]:
        # A prime stride visits keys all over the key space, not one corner of it.
        return "settings/get", {"key": key(i * 7919 % plan.big)}

    return spread


def round_trip_block(conn: Connection, calls: Calls, first: int) -> list[float]:
    """`BLOCK` sequential calls, from the `first`-th on; each one's seconds."""
    return conn.round_trips(calls(i) for i in range(first, first + BLOCK))


def round_trip_figures(times: list[float], prefix: str = "") -> Figures:
    return {
        f"{prefix}rtt_p50_us": percentile_us(times, 0.5),
        f"{prefix}rtt_p99_us": percentile_us(times, 0.99),
    }


def _spawn_once(server: Server, db: Path, plan: Plan, logs: Path) -> float:
    with connect(server, db, plan, logs) as conn:
        conn.call("settings/get", {"key": key(0)})
        return time.perf_counter() - conn.started


def spawn_ms(server: Server, db: Path, plan: Plan, logs: Path) -> float:
    """From spawn to the first answer on an existing database; median of `plan.spawns`."""
    return statistics.median(_spawn_once(server, db, plan, logs) for _ in range(plan.spawns)) * 1000


def _until_imported(argv: list[str], env: dict[str, str], timeout: float) -> float:
    started = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env) as proc:
        assert proc.stdout is not None
        ready = select.select([proc.stdout], [], [], timeout)[0]
        line = proc.stdout.readline() if ready else b""
        elapsed = time.perf_counter() - started
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    if line.strip() != b"imported":
        raise BenchError(f"{argv} did not import its modules (exit status {proc.returncode})")
    return elapsed


def spawn_and_import_ms(server: Server, python: str, db: Path, plan: Plan, logs: Path) -> Figures:
    """Spawn to first answer, and from spawn until a fresh interpreter has imported
    the daemon's dependencies and said so, alternated run by run: a machine that
    gets busier halfway weighs on both alike. The import's exit is left out, as
    the daemon's is: unloading these modules alone takes about a sixth of
    importing them. One unmeasured import comes first, as spawns run on warm caches."""
    argv = [python, "-c", DEPENDENCY_IMPORTS + "; print('imported', flush=True)"]
    _until_imported(argv, server.env, plan.timeout)
    imports, spawns = [], []
    for _ in range(plan.spawns):
        imports.append(_until_imported(argv, server.env, plan.timeout))
        spawns.append(_spawn_once(server, db, plan, logs))
    return {
        "spawn_ms": statistics.median(spawns) * 1000,
        "import_only_ms": statistics.median(imports) * 1000,
    }


def _page_ms(conn: Connection, after: str, samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        page = conn.call("settings/getAll", {"after": after, "limit": PAGE})
        times.append(time.perf_counter() - started)
        if len(page) != PAGE:
            raise BenchError(f"getAll after {after!r} returned {len(page)} entries, not {PAGE}")
    return statistics.median(times) * 1000


def _page_through(conn: Connection, total: int) -> Figures:
    """Every entry, `PAGE` at a time by keyset cursor, sampling RSS on the way."""
    figures: Figures = {"paging_rss_start_mib": procfs.rss_mib(conn.pid)}
    half = -(-total // PAGE) // 2
    after: str | None = None
    seen = pages = 0
    started = time.perf_counter()
    while True:
        params: dict[str, Any] = {"limit": PAGE}
        if after is not None:
            params["after"] = after
        page = conn.call("settings/getAll", params)
        seen += len(page)
        pages += 1
        if pages == half:
            figures["paging_rss_mid_mib"] = procfs.rss_mib(conn.pid)
        if len(page) < PAGE:
            break
        after = page[-1]["key"]
    figures["paging_total_s"] = time.perf_counter() - started
    figures["paging_rss_end_mib"] = procfs.rss_mib(conn.pid)
    figures.setdefault("paging_rss_mid_mib", figures["paging_rss_end_mib"])
    if seen != total:
        raise BenchError(f"paging saw {seen} entries, {total} are stored")
    return figures


def _cpu_pct(pid: int, window: float) -> float:
    """Share of one core the process used over the next `window` seconds:
    to the nanosecond from its threads' schedstat when none of them ended
    meanwhile, else (or without schedstat) in clock ticks of 10 ms."""
    threads, ticks, wall = procfs.thread_cpu_ns(pid), procfs.cpu_seconds(pid), time.monotonic()
    time.sleep(window)  # the measurement window itself: nothing is awaited here
    threads_after, ticks_after = procfs.thread_cpu_ns(pid), procfs.cpu_seconds(pid)
    elapsed = time.monotonic() - wall
    if threads is not None and threads_after is not None and set(threads) <= set(threads_after):
        used = sum(threads_after.values()) - sum(threads.values())
        return used / 1e9 / elapsed * 100
    return (ticks_after - ticks) / elapsed * 100


def _quiet_after(pid: int, quiet: float, bound: float) -> float:
    """Wait until the process has not run for `quiet` seconds, or `bound`
    seconds have passed; the seconds waited."""
    started = time.monotonic()
    last: tuple[dict[int, int] | None, float] = (None, -1.0)
    still_since = started
    while (now := time.monotonic()) - started < bound:
        reading = procfs.thread_cpu_ns(pid), procfs.cpu_seconds(pid)
        if reading != last:
            last, still_since = reading, now
        elif now - still_since >= quiet:
            break
        time.sleep(min(0.1, quiet / 4))  # a look at /proc, not a wait on the daemon
    return time.monotonic() - started


def idle_cpu(conn: Connection, plan: Plan) -> Figures:
    """Share of one core a watching daemon burns: over `idle_window` seconds
    right after `daemon/watch` answered (the watch's start and its first
    looks in it), then, idle, over `idle_window` seconds once it has settled:
    run nothing for `idle_quiet` seconds, waited for at most `idle_settle`
    seconds after the first window (then measured all the same). None when
    the daemon does not watch (it answers watching: false)."""
    if not conn.call("daemon/watch", {"enabled": True}).get("watching"):
        return {"watch_start_cpu_pct": None, "idle_cpu_pct": None, "idle_quiet_after_s": None}
    start = _cpu_pct(conn.pid, plan.idle_window)
    waited = _quiet_after(conn.pid, plan.idle_quiet, plan.idle_settle)
    return {
        "watch_start_cpu_pct": start,
        "idle_quiet_after_s": plan.idle_window + waited,
        "idle_cpu_pct": _cpu_pct(conn.pid, plan.idle_window),
    }


def _fill(conn: Connection, plan: Plan) -> float:
    """Store `plan.big` settings by setMany in chunks; entries per second."""
    started = time.perf_counter()
    for first in range(0, plan.big, plan.chunk):
        entries = [
            {"key": key(i), "value": f"value {i}"}
            for i in range(first, min(first + plan.chunk, plan.big))
        ]
        conn.call("settings/setMany", {"entries": entries})
    return plan.big / (time.perf_counter() - started)


def fill(server: Server, big_db: Path, plan: Plan, logs: Path) -> Figures:
    with connect(server, big_db, plan, logs) as big:
        return {"fill_entries_per_s": _fill(big, plan)}


def large_session(server: Server, big_db: Path, plan: Plan, logs: Path) -> Figures:
    """The daemon with `plan.big` settings stored on `big_db`: pages, memory, idle cost."""
    figures: Figures = {}
    with connect(server, big_db, plan, logs) as big:
        _page_ms(big, key(plan.big // 2), plan.page_samples)  # unmeasured: warms a fresh process
        figures["getall_start_ms"] = _page_ms(big, key(0), plan.page_samples)
        figures["getall_end_ms"] = _page_ms(big, key(plan.big - PAGE - 1), plan.page_samples)
        figures.update(_page_through(big, plan.big))
        figures.update(idle_cpu(big, plan))
    return figures
