"""`python -m idumb_daemon.bench`: run the daemon against a bare sqlite3 loop and,
given `--nodepeer DIR`, the TypeScript peer, on one machine in one run, and print
the figures with their ratios as a markdown table (and one JSON line with --json)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from idumb_daemon.bench import machine, measure, report, servers
from idumb_daemon.bench.measure import Figures, Plan
from idumb_daemon.bench.servers import Server

FULL = Plan(n=20000, seq=1000, repeat=3, spawns=5, big=100_000, chunk=10_000,
            page_samples=30, idle_window=5.0, timeout=60.0)
# Small enough for the test suite, big enough to pass through every code path.
QUICK = Plan(n=300, seq=50, repeat=1, spawns=1, big=2000, chunk=1000,
             page_samples=5, idle_window=0.5, timeout=30.0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m idumb_daemon.bench", description=__doc__)
    parser.add_argument("--n", type=int, help=f"pipelined requests per run (default {FULL.n})")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, for a smoke test; figures are not comparable")
    parser.add_argument("--nodepeer", type=Path, metavar="DIR",
                        help="folder with peer_server.js and its node_modules")
    parser.add_argument("--json", action="store_true",
                        help="after the table, print every figure as one JSON line")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the daemon and the raw loop (default: this one)")
    parser.add_argument("--daemon-cmd", metavar="CMD",
                        help="daemon command; gets --db PATH appended unless it holds {db}")
    parser.add_argument("--repeat", type=int, help="pipelined runs per figure (median)")
    parser.add_argument("--timeout", type=float, help="seconds any one answer may take")
    return parser


def plan_for(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    changes = {name: getattr(args, name) for name in ("n", "repeat", "timeout")}
    return dataclasses.replace(plan, **{k: v for k, v in changes.items() if v is not None})


class Run:
    """Collects figures per server and errors per stage; a failing stage loses
    its own figures only."""

    def __init__(self, plan: Plan, logs: Path) -> None:
        self.plan = plan
        self.logs = logs
        self.results: dict[str, Figures] = {}
        self.errors: list[str] = []

    def stage(self, server: Server, what: str, measure_it: Callable[[], Figures]) -> bool:
        print(f"[bench] {server.name}: {what}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        figures = self.results.setdefault(server.name, {})
        try:
            figures.update(measure_it())
        except Exception as exc:  # reported in the output; the other stages still run
            self.errors.append(f"{server.name}, {what}: {type(exc).__name__}: {exc}"
                               + self._stderr_tail(server))
            return False
        finally:
            print(f"[bench] {server.name}: {what} took {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
        return True

    def _stderr_tail(self, server: Server) -> str:
        path = self.logs / f"{server.name}.stderr"
        tail = path.read_bytes()[-600:].decode(errors="replace").strip() if path.exists() else ""
        return f" (its stderr ends: {tail!r})" if tail else ""

    def server(self, server: Server) -> bool:
        """The figures every server has; False when it could not serve at all."""
        db = self.logs / f"{server.name}.db"
        plan, logs = self.plan, self.logs
        if not self.stage(server, "100 keys", lambda: measure.hot_session(server, db, plan, logs)):
            return False
        return self.stage(
            server, "spawn", lambda: {"spawn_ms": measure.spawn_ms(server, db, plan, logs)}
        )

    def daemon_extras(self, daemon: Server, python: str) -> None:
        db = self.logs / f"{daemon.name}.db"
        plan, logs = self.plan, self.logs
        self.stage(daemon, "import only", lambda: {
            "import_only_ms": measure.import_only_ms(python, daemon.env, plan)
        })
        self.stage(daemon, f"{plan.big:,} stored",
                   lambda: measure.large_session(daemon, db, plan, logs))


def run(args: argparse.Namespace, lineup: list[Server]) -> dict[str, Any]:
    plan = plan_for(args)
    daemon = lineup[0]
    # Before the run: its date and load average describe the conditions it starts in.
    described = machine.describe(args.python, args.nodepeer is not None)
    with tempfile.TemporaryDirectory(prefix="idumb-bench-") as tmp:
        bench = Run(plan, Path(tmp))
        daemon_serves = bench.server(daemon)
        for server in lineup[1:]:
            bench.server(server)
        if daemon_serves:
            bench.daemon_extras(daemon, args.python)
        commands = {s.name: shlex.join(s.command(Path("DB"))) for s in lineup}
    not_available = {}
    daemon_figures = bench.results["daemon"]
    if "idle_cpu_pct" in daemon_figures and daemon_figures["idle_cpu_pct"] is None:
        not_available["idle CPU while watching"] = "daemon/watch answered watching: false"
    return {
        "machine": described,
        "plan": dataclasses.asdict(plan),
        "commands": commands,
        "figures": {
            name: {k: None if v is None else round(v, 3) for k, v in figures.items()}
            for name, figures in bench.results.items()
        },
        "ratios": {k: None if v is None else round(v, 3)
                   for k, v in report.ratios(bench.results).items()},
        "not_available": not_available,
        "errors": bench.errors,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    lineup = [servers.daemon(args.python, args.daemon_cmd), servers.raw(args.python)]
    if args.nodepeer is not None:
        try:
            lineup.append(servers.nodepeer(args.nodepeer))
        except FileNotFoundError as exc:
            parser.error(f"--nodepeer: {exc}")  # before minutes of measuring, not after
    outcome = run(args, lineup)
    print(report.markdown(outcome))
    if args.json:
        print(json.dumps(outcome))
    return 1 if outcome["errors"] else 0
