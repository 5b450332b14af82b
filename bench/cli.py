"""`python -m bench`: run the daemon against a bare sqlite3 loop, the
same loop on asyncio (plain, and doing the work the daemon's contracts ask of any
server) and, given `--nodepeer DIR`, the TypeScript peer, on one machine in one
run, and print the figures with their ratios as a markdown table (and one JSON
line with --json)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import bundle, machine, report, servers, settings_model
from bench.measure import Plan
from bench.run import Run
from bench.servers import Server

FULL = Plan(
    n=20000,
    seq=1000,
    rounds=5,
    repeat=3,
    spawns=5,
    big=100_000,
    chunk=10_000,
    page_samples=30,
    idle_window=10.0,
    # Longer than the watch's looks once a second after its start or a write.
    idle_quiet=2.0,
    idle_settle=30.0,
    timeout=60.0,
    writers=4,
    contend_seconds=5.0,
    contend_rounds=2,
    notify_writes=60,
)
# Small enough for the test suite, big enough to pass through every code path.
QUICK = Plan(
    n=300,
    seq=50,
    rounds=1,
    repeat=1,
    spawns=1,
    big=2000,
    chunk=1000,
    page_samples=5,
    idle_window=0.5,
    idle_quiet=0.2,
    idle_settle=1.0,
    timeout=30.0,
    writers=2,
    contend_seconds=0.3,
    contend_rounds=1,
    notify_writes=3,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--n", type=int, help=f"pipelined requests per run (default {FULL.n})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, for a smoke test; figures are not comparable",
    )
    parser.add_argument(
        "--nodepeer",
        type=Path,
        metavar="DIR",
        help="folder with peer_server.js and its node_modules",
    )
    parser.add_argument(
        "--json", action="store_true", help="after the table, print every figure as one JSON line"
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the daemon and the raw loops (default: this one)",
    )
    parser.add_argument(
        "--daemon-cmd",
        metavar="CMD",
        help="daemon command; gets --db PATH appended unless it holds {db}",
    )
    parser.add_argument("--repeat", type=int, help="pipelined runs per figure (median)")
    parser.add_argument("--timeout", type=float, help="seconds any one answer may take")
    return parser


def plan_for(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    changes = {name: getattr(args, name) for name in ("n", "repeat", "timeout")}
    return dataclasses.replace(plan, **{k: v for k, v in changes.items() if v is not None})


def run(args: argparse.Namespace, lineup: list[Server]) -> dict[str, Any]:
    plan = plan_for(args)
    daemon = lineup[0]
    # Before the run: its date and load average describe the conditions it starts in.
    described = machine.describe(args.python, args.nodepeer is not None)
    with tempfile.TemporaryDirectory(prefix="idumb-bench-") as tmp:
        bench = Run(plan, Path(tmp))
        serving = bench.hot(lineup)
        for server in serving:
            if server is daemon:
                bench.daemon_only(daemon, args.python)
                bench.stage(
                    daemon,
                    "settings model",
                    lambda: settings_model.figures(daemon, bench.logs, plan),
                )
                bench.stage(
                    daemon,
                    "one-file bundle",
                    lambda: bundle.figures(daemon, args.python, bench.db(daemon), plan, Path(tmp)),
                )
            else:
                bench.spawn(server)
        if daemon in serving:
            peer = next((s for s in serving if s.name == "nodepeer"), None)
            bench.multiwindow(daemon, peer)
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
        "ratios": {
            k: None if v is None else round(v, 3) for k, v in report.ratios(bench.results).items()
        },
        "not_available": not_available,
        "errors": bench.errors,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    lineup = [
        servers.daemon(args.python, args.daemon_cmd),
        servers.raw(args.python),
        servers.asyncio_loop(args.python),
        servers.asyncio_contracts(args.python),
        servers.asyncio_revisions(args.python),
    ]
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
