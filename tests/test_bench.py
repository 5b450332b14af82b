"""The benchmark runs end to end and reports every figure. Speed itself is never
asserted: machines are noisy, and the figures are for people to read."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import servers
from bench.rpc import Connection, RpcError

REPO = Path(__file__).resolve().parent.parent
YARDSTICK = REPO.parent / "shared" / "bench" / "raw_server.py"
OUR_RAW = REPO / "bench" / "raw_server.py"

EVERY_SERVER = (
    "get_rps",
    "set_rps",
    "rtt_p50_us",
    "rtt_p99_us",
    "set_rtt_p50_us",
    "set_rtt_p99_us",
    "spawn_ms",
    "idle_rss_mib",
    "load_rss_mib",
)
DAEMON_ONLY = (
    "import_only_ms",
    "small_get_p50_us",
    "big_get_p50_us",
    "fill_entries_per_s",
    "getall_start_ms",
    "getall_end_ms",
    "paging_rss_start_mib",
    "paging_rss_mid_mib",
    "paging_rss_end_mib",
    "paging_total_s",
    "idle_cpu_pct",
    "watch_start_cpu_pct",
    "idle_quiet_after_s",
    "set_undeclared_rps",
    "set_declared_rps",
    "resolve_all_ms",
    "getall_same_keys_ms",
    "contended_p50_ms",
    "contended_p99_ms",
    "contended_max_ms",
    "contended_sets_per_s",
    "contended_errors",
    "notify_daemon_p50_ms",
    "notify_daemon_p99_ms",
    "notify_sqlite_p50_ms",
    "notify_sqlite_p99_ms",
    # The one-file bundle beside the installed daemon (issue 17).
    "bundle_size_mib",
    "bundle_spawn_ms",
    "installed_spawn_ms",
)
DAEMON_RATIOS = (
    "get_rps_vs_raw",
    "set_rps_vs_raw",
    "rtt_p50_us_vs_raw",
    "spawn_ms_vs_import_only",
    "big_get_p50_vs_small",
    "getall_end_vs_start",
    "paging_rss_end_vs_start",
    "rtt_p50_us_vs_asyncio",
    "asyncio_rtt_p50_us_vs_raw",
    "rtt_p50_us_vs_contracts",
    "contracts_rtt_p50_us_vs_raw",
    "set_rtt_p50_us_vs_revisions",
    "revisions_set_rtt_p50_us_vs_raw",
    "set_declared_cost_vs_undeclared",
    "resolve_vs_getall",
    "set_rtt_p50_us_vs_raw",
    "bundle_spawn_vs_installed",
)


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_bench(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", *args],
        capture_output=True,
        text=True,
        env=bench_env(),
        timeout=180,
    )
    # --json puts the whole report on the last line, after the table.
    return done, json.loads(done.stdout.strip().splitlines()[-1])


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_quick_run_reports_every_figure_without_errors() -> None:
    done, report = run_bench()
    assert report["errors"] == [], done.stderr
    assert done.returncode == 0, done.stderr
    figures = report["figures"]
    assert set(figures) == {"daemon", "raw", "asyncio", "contracts", "revisions"}
    for name in EVERY_SERVER:
        for server in figures:
            assert is_number(figures[server][name]), (server, name)
    for name in DAEMON_ONLY:
        value = figures["daemon"][name]
        # A daemon that does not watch has no watching idle cost, and says so.
        if name in ("idle_cpu_pct", "watch_start_cpu_pct", "idle_quiet_after_s") and value is None:
            assert "idle CPU while watching" in report["not_available"]
            continue
        assert is_number(value), name
    for name in DAEMON_RATIOS:
        assert is_number(report["ratios"][name]), name
    assert report["ratios"]["get_rps_vs_nodepeer"] is None  # no --nodepeer given
    for name in ("cpu", "cores", "python", "sqlite", "date"):
        assert report["machine"][name], name
    header = (
        "| figure | daemon | raw | asyncio loop | asyncio + contracts "
        "| asyncio + contracts + revisions | nodepeer "
        "| ratios (daemon/nodepeer, daemon/raw) | target |"
    )
    assert header in done.stdout
    assert "| settings/get pipelined, req/s |" in done.stdout
    assert "| settings/set round trip p50 (one at a time), µs |" in done.stdout
    assert "| notification latency, a sqlite3 writer: p50, ms |" in done.stdout
    # Every write of the writers sharing a file was answered, none with an error.
    assert figures["daemon"]["contended_errors"] == 0


def test_a_daemon_that_cannot_serve_is_an_error_not_a_hang() -> None:
    done, report = run_bench("--daemon-cmd", f"{sys.executable} -c pass")
    assert done.returncode == 1
    assert any(e.startswith("daemon, start: EOFError") for e in report["errors"])
    # The baseline is still measured, and the error is in the printed report too.
    assert is_number(report["figures"]["raw"]["get_rps"])
    assert "Errors:" in done.stdout


def test_a_missing_nodepeer_folder_is_refused_before_measuring(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--nodepeer", str(tmp_path)],
        capture_output=True,
        text=True,
        env=bench_env(),
        timeout=30,
    )
    assert done.returncode == 2
    assert "peer_server.js" in done.stderr
    assert "[bench]" not in done.stderr  # nothing was started


def test_the_contracts_yardstick_validates_and_answers_with_the_contract(
    tmp_path: Path,
) -> None:
    """It stands for the work any server with these contracts must do: if it
    skipped validation or answered another shape, its column would flatter
    the daemon's own layers."""
    server = servers.asyncio_contracts(sys.executable)
    argv = server.command(tmp_path / "y.db")
    with Connection(argv, stderr_path=tmp_path / "err", timeout=30, env=server.env) as conn:
        stored = conn.call("settings/set", {"key": "editor.tabSize", "value": "4"})
        assert conn.call("settings/get", {"key": "editor.tabSize"}) == stored
        assert stored["key"] == "editor.tabSize" and stored["value"] == "4"
        assert stored["updatedAt"].endswith("Z")
        assert conn.call("settings/get", {"key": "absent"}) is None
        # A key the contracts refuse (a control character) is answered as
        # the daemon answers it, and the yardstick goes on serving.
        with pytest.raises(RpcError) as refused:
            conn.call("settings/get", {"key": "bad\nkey"})
        assert refused.value.error["code"] == -32602
        assert refused.value.error["data"]["errors"][0]["path"] == "key"
        assert conn.call("settings/get", {"key": "editor.tabSize"}) == stored


def test_the_revisions_yardstick_keeps_the_daemons_change_log(tmp_path: Path) -> None:
    """It stands for what revisions cost any server: if it skipped the change
    log, its column would flatter the daemon. A daemon reading the same file
    afterwards sees the same revisions."""
    server = servers.asyncio_revisions(sys.executable)
    db = tmp_path / "y.db"
    with Connection(
        server.command(db), stderr_path=tmp_path / "err", timeout=30, env=server.env
    ) as conn:
        first = conn.call("settings/set", {"key": "editor.tabSize", "value": "4"})
        second = conn.call("settings/set", {"key": "editor.tabSize", "value": "2"})
        assert 0 < first["revision"] < second["revision"]
        assert conn.call("settings/get", {"key": "editor.tabSize"}) == second
    daemon = servers.daemon(sys.executable, None)
    with Connection(
        daemon.command(db), stderr_path=tmp_path / "err2", timeout=30, env=daemon.env
    ) as conn:
        assert conn.call("settings/get", {"key": "editor.tabSize"}) == second
        assert conn.call("daemon/status", {})["revision"] == second["revision"]


def _loop(path: Path, wrapped: bool) -> list[str]:
    """The statements of a raw loop, imports and docstring aside; ours sits under
    `if __name__ == "__main__":`."""
    body = ast.parse(path.read_text()).body
    if wrapped:
        body = next(s for s in body if isinstance(s, ast.If)).body
    return [
        ast.dump(s)
        for s in body
        if not isinstance(s, ast.Import)
        and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]


@pytest.mark.skipif(not YARDSTICK.exists(), reason="shared/bench is not beside the repository")
def test_raw_loop_is_the_yardsticks_statement_for_statement() -> None:
    ours = _loop(OUR_RAW, wrapped=True)
    assert len(ours) > 5
    assert ours == _loop(YARDSTICK, wrapped=False)
