"""One run: the servers measured stage by stage, with errors kept per stage so
one failure loses only its own figures."""

from __future__ import annotations

import contextlib
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench import measure, multiwindow, procfs
from bench.measure import Calls, Figures, Plan
from bench.rpc import Connection
from bench.servers import Server

T = TypeVar("T")
Live = dict[str, tuple[Server, Connection]]


class Run:
    def __init__(self, plan: Plan, logs: Path) -> None:
        self.plan = plan
        self.logs = logs
        self.results: dict[str, Figures] = {}
        self.errors: list[str] = []

    def attempt(self, server: Server, what: str, step: Callable[[], T]) -> T | None:
        """`step`'s value, or None with the failure recorded."""
        print(f"[bench] {server.name}: {what}", file=sys.stderr, flush=True)
        self.results.setdefault(server.name, {})
        started = time.perf_counter()
        try:
            return step()
        except Exception as exc:  # reported in the output; the other stages still run
            self._failed(server.name, what, server, exc)
            return None
        finally:
            print(
                f"[bench] {server.name}: {what} took {time.perf_counter() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    def stage(self, server: Server, what: str, step: Callable[[], Figures]) -> None:
        figures = self.attempt(server, what, step)
        if figures is not None:
            self.results[server.name].update(figures)

    def _failed(self, name: str, what: str, server: Server, exc: Exception) -> None:
        self.errors.append(
            f"{name}, {what}: {type(exc).__name__}: {exc}" + self._stderr_tail(server)
        )

    def _stderr_tail(self, server: Server) -> str:
        path = self.logs / f"{server.name}.stderr"
        tail = path.read_bytes()[-600:].decode(errors="replace").strip() if path.exists() else ""
        return f" (its stderr ends: {tail!r})" if tail else ""

    def db(self, server: Server) -> Path:
        return self.logs / f"{server.name}.db"

    def _each(self, live: Live, what: str, step: Callable[[Connection], T]) -> dict[str, T]:
        """`step` on every live server in turn; one that fails leaves `live`,
        as its later figures would mean nothing."""
        values = {}
        for name, (server, conn) in list(live.items()):
            value = self.attempt(server, what, functools.partial(step, conn))
            if value is None:
                del live[name]
            else:
                values[name] = value
        return values

    def hot(self, lineup: list[Server]) -> list[Server]:
        """The figures on 100 keys for every server, all running at once and
        measured run by run in turn, so a machine whose load drifts during the
        run weighs on every server alike. Returns the servers that served."""
        plan, logs = self.plan, self.logs
        with contextlib.ExitStack() as stack:
            live: Live = {}
            for server in lineup:
                start = functools.partial(measure.open_hot, server, self.db(server), plan, logs)
                conn = self.attempt(server, "start", start)
                if conn is not None:
                    stack.enter_context(conn)
                    live[server.name] = (server, conn)
                    self.results[server.name]["idle_rss_mib"] = procfs.rss_mib(conn.pid)
            get = functools.partial(measure.get_rps, plan=plan)
            gets = [
                self._each(live, f"pipelined get, run {r + 1}", get) for r in range(plan.repeat)
            ]
            trips = self.round_trips(
                {
                    name: (server, self.db(server), measure.hot_get)
                    for name, (server, _conn) in live.items()
                }
            )
            # One write at a time, as a window sets one value and waits.
            set_trips = self.round_trips(
                {
                    name: (server, self.db(server), measure.hot_set)
                    for name, (server, _conn) in live.items()
                }
            )
            sets = [
                self._each(
                    live,
                    f"pipelined set, run {r + 1}",
                    functools.partial(measure.set_rps, plan=plan, run=r),
                )
                for r in range(plan.repeat)
            ]
            for name, (_server, conn) in live.items():
                figures = self.results[name]
                figures["get_rps"] = statistics.median(run[name] for run in gets)
                figures["set_rps"] = statistics.median(run[name] for run in sets)
                if name in trips:  # its round trips, on processes of their own, may have failed
                    figures.update(measure.round_trip_figures(trips[name]))
                if name in set_trips:
                    figures.update(measure.round_trip_figures(set_trips[name], "set_"))
                figures["load_rss_mib"] = procfs.peak_rss_mib(conn.pid)
            return [server for server, _conn in live.values()]

    def round_trips(self, lineup: dict[str, tuple[Server, Path, Calls]]) -> dict[str, list[float]]:
        """Sequential calls to each server, on `plan.rounds` sets of fresh
        processes: each call's seconds, per name. In a set the servers take
        turns `BLOCK` calls at a time, so a machine whose load drifts weighs
        on all alike; fresh sets, because a process's place on the machine
        (which core, beside what) can cost it a third of its round trip for
        as long as it lives. A server that fails leaves the lineup."""
        plan, logs = self.plan, self.logs
        lineup = dict(lineup)  # the caller's stays whole
        times: dict[str, list[float]] = {name: [] for name in lineup}
        for round_no in range(plan.rounds):
            print(
                f"[bench] round trips, set {round_no + 1} of fresh processes",
                file=sys.stderr,
                flush=True,
            )
            with contextlib.ExitStack() as stack:
                live: dict[str, tuple[Connection, Calls]] = {}
                for name, (server, db, calls) in lineup.items():
                    conn = self.attempt(
                        server,
                        "start for round trips",
                        functools.partial(measure.connect, server, db, plan, logs),
                    )
                    if conn is not None:
                        live[name] = (stack.enter_context(conn), calls)
                for first in range(-measure.WARM_UP, plan.seq, measure.BLOCK):
                    for name, (conn, calls) in list(live.items()):
                        try:
                            taken = measure.round_trip_block(conn, calls, first)
                        except Exception as exc:  # reported in the output, as attempt() does
                            self._failed(name, "round trips", lineup[name][0], exc)
                            del live[name]
                            continue
                        if first >= 0:
                            times[name] += taken
            for name in set(lineup) - set(live):
                del lineup[name]
                times.pop(name, None)
        return times

    def multiwindow(self, daemon: Server, peer: Server | None) -> None:
        """Writers sharing one file (the daemon, and the peer in turn with
        it), then the daemon's notification latency."""
        plan, logs = self.plan, self.logs
        lineup = [daemon] if peer is None else [daemon, peer]

        def dbs(server: Server, round_no: int) -> Path:
            return logs / f"{server.name}-shared-{round_no}.db"

        contended = self.attempt(
            daemon,
            f"{plan.writers} writers on one file",
            lambda: multiwindow.contended_figures(lineup, dbs, plan, logs),
        )
        for name, figures in (contended or {}).items():
            self.results[name].update(figures)
        for foreign, who in ((False, "another daemon"), (True, "a sqlite3 writer")):
            db = logs / f"notify-{'sqlite' if foreign else 'daemon'}.db"
            self.stage(
                daemon,
                f"notification latency, {who} writing",
                functools.partial(
                    multiwindow.notify_latency, daemon, db, plan, logs, foreign=foreign
                ),
            )

    def spawn(self, server: Server) -> None:
        self.stage(
            server,
            "spawn",
            lambda: {"spawn_ms": measure.spawn_ms(server, self.db(server), self.plan, self.logs)},
        )

    def daemon_only(self, daemon: Server, python: str) -> None:
        """The spawn set against importing the dependencies, then the large store."""
        plan, logs, db = self.plan, self.logs, self.db(daemon)
        self.stage(
            daemon,
            "spawn against import only",
            lambda: measure.spawn_and_import_ms(daemon, python, db, plan, logs),
        )
        big_db = logs / "daemon-big.db"
        self.stage(
            daemon, f"storing {plan.big:,}", lambda: measure.fill(daemon, big_db, plan, logs)
        )
        small, big = "daemon on 100 keys", f"daemon on {plan.big:,} keys"
        lookups = self.round_trips(
            {
                small: (daemon, db, measure.hot_get),
                big: (daemon, big_db, measure.spread_get(plan)),
            }
        )
        if len(lookups) == 2:
            self.results[daemon.name].update(
                {
                    "small_get_p50_us": measure.percentile_us(lookups[small], 0.5),
                    "big_get_p50_us": measure.percentile_us(lookups[big], 0.5),
                }
            )
        self.stage(
            daemon,
            f"{plan.big:,} stored",
            lambda: measure.large_session(daemon, big_db, plan, logs),
        )
