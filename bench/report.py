"""The figures as ratios against the yardsticks and the issue's targets, as a
markdown table and as one JSON object."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, dict[str, float | None]]
Ratios = dict[str, float | None]

# Each server's column heading, in table order.
SERVERS = {
    "daemon": "daemon",
    "raw": "raw",
    "asyncio": "asyncio loop",
    "contracts": "asyncio + contracts",
    "revisions": "asyncio + contracts + revisions",
    "nodepeer": "nodepeer",
}


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def ratios(results: Results) -> Ratios:
    daemon, raw, loop, contracts, revisions, peer = (results.get(name, {}) for name in SERVERS)
    out: Ratios = {}
    for fig in (
        "get_rps",
        "set_rps",
        "rtt_p50_us",
        "rtt_p99_us",
        "set_rtt_p50_us",
        "set_rtt_p99_us",
        "contended_p50_ms",
        "contended_p99_ms",
        "contended_max_ms",
        "idle_rss_mib",
        "load_rss_mib",
    ):
        out[f"{fig}_vs_nodepeer"] = _div(daemon.get(fig), peer.get(fig))
        out[f"{fig}_vs_raw"] = _div(daemon.get(fig), raw.get(fig))
    # The round trip split in three: what asyncio's loop costs, what the work
    # any server with these contracts must do costs, what the daemon adds.
    out["asyncio_rtt_p50_us_vs_raw"] = _div(loop.get("rtt_p50_us"), raw.get("rtt_p50_us"))
    out["contracts_rtt_p50_us_vs_raw"] = _div(contracts.get("rtt_p50_us"), raw.get("rtt_p50_us"))
    out["rtt_p50_us_vs_asyncio"] = _div(daemon.get("rtt_p50_us"), loop.get("rtt_p50_us"))
    out["rtt_p50_us_vs_contracts"] = _div(daemon.get("rtt_p50_us"), contracts.get("rtt_p50_us"))
    # The write split likewise: what keeping revisions costs any server (the
    # change log's rows and a transaction of its own), what the daemon adds.
    for fig in ("set_rtt_p50_us", "rtt_p50_us"):
        out[f"revisions_{fig}_vs_raw"] = _div(revisions.get(fig), raw.get(fig))
        out[f"{fig}_vs_revisions"] = _div(daemon.get(fig), revisions.get(fig))
    out["contracts_set_rtt_p50_us_vs_raw"] = _div(
        contracts.get("set_rtt_p50_us"), raw.get("set_rtt_p50_us")
    )
    # The bounds in absolute terms, judged as the ratios are.
    for fig in (
        "contended_max_ms",
        "contended_errors",
        "notify_daemon_p50_ms",
        "notify_daemon_p99_ms",
        "notify_sqlite_p50_ms",
        "notify_sqlite_p99_ms",
        "idle_cpu_pct",
    ):
        out[fig] = daemon.get(fig)
    out["spawn_ms_vs_import_only"] = _div(daemon.get("spawn_ms"), daemon.get("import_only_ms"))
    out["bundle_spawn_vs_installed"] = _div(
        daemon.get("bundle_spawn_ms"), daemon.get("installed_spawn_ms")
    )
    out["big_get_p50_vs_small"] = _div(daemon.get("big_get_p50_us"), daemon.get("small_get_p50_us"))
    out["getall_end_vs_start"] = _div(daemon.get("getall_end_ms"), daemon.get("getall_start_ms"))
    # The settings model: costs relative to the daemon's own plainer path.
    out["set_declared_cost_vs_undeclared"] = _div(
        daemon.get("set_undeclared_rps"), daemon.get("set_declared_rps")
    )
    out["resolve_vs_getall"] = _div(daemon.get("resolve_all_ms"), daemon.get("getall_same_keys_ms"))
    out["paging_rss_end_vs_start"] = _div(
        daemon.get("paging_rss_end_mib"), daemon.get("paging_rss_start_mib")
    )
    return out


def _at_least(*pairs: tuple[str, float]) -> Callable[[Ratios], bool | None]:
    return lambda r: _judge(r, pairs, lambda value, bound: value >= bound)


def _at_most(*pairs: tuple[str, float]) -> Callable[[Ratios], bool | None]:
    return lambda r: _judge(r, pairs, lambda value, bound: value <= bound)


def _judge(
    r: Ratios, pairs: tuple[tuple[str, float], ...], ok: Callable[[float, float], bool]
) -> bool | None:
    values = [(r.get(name), bound) for name, bound in pairs]
    if any(value is None for value, _ in values):
        return None
    return all(ok(value, bound) for value, bound in values if value is not None)


@dataclass(frozen=True)
class Row:
    label: str
    figure: str
    fmt: str
    ratios: tuple[tuple[str, str], ...] = ()
    """(ratio name, what it is relative to) pairs shown in the ratios column."""
    target: str = ""
    met: Callable[[Ratios], bool | None] | None = None
    daemon_only: bool = False


VERSUS = (("vs_nodepeer", "nodepeer"), ("vs_raw", "raw"))


def _versus(figure: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{figure}_{suffix}", who) for suffix, who in VERSUS)


def rows(big: int, writers: int) -> list[Row]:
    return [
        Row(
            "settings/get pipelined, req/s",
            "get_rps",
            "{:,.0f}",
            _versus("get_rps"),
            "≥ 2.0x nodepeer, ≥ 0.3x raw",
            _at_least(("get_rps_vs_nodepeer", 2.0), ("get_rps_vs_raw", 0.3)),
        ),
        Row(
            "settings/set pipelined, req/s",
            "set_rps",
            "{:,.0f}",
            _versus("set_rps"),
            "≥ 2.0x nodepeer",
            _at_least(("set_rps_vs_nodepeer", 2.0)),
        ),
        Row(
            "round trip p50 (get), µs",
            "rtt_p50_us",
            "{:,.0f}",
            (
                *_versus("rtt_p50_us"),
                ("rtt_p50_us_vs_asyncio", "asyncio loop"),
                ("rtt_p50_us_vs_contracts", "asyncio + contracts"),
                ("asyncio_rtt_p50_us_vs_raw", "raw for the asyncio loop itself"),
                ("contracts_rtt_p50_us_vs_raw", "raw for asyncio + contracts"),
            ),
            "≤ 1.3x raw",
            _at_most(("rtt_p50_us_vs_raw", 1.3)),
        ),
        Row("round trip p99 (get), µs", "rtt_p99_us", "{:,.0f}", _versus("rtt_p99_us")),
        Row(
            "settings/set round trip p50 (one at a time), µs",
            "set_rtt_p50_us",
            "{:,.0f}",
            (
                *_versus("set_rtt_p50_us"),
                ("set_rtt_p50_us_vs_revisions", "asyncio + contracts + revisions"),
                ("contracts_set_rtt_p50_us_vs_raw", "raw for asyncio + contracts"),
                ("revisions_set_rtt_p50_us_vs_raw", "raw for asyncio + contracts + revisions"),
            ),
            "≤ 1.2x nodepeer, ≤ 1.2x raw",
            _at_most(("set_rtt_p50_us_vs_nodepeer", 1.2), ("set_rtt_p50_us_vs_raw", 1.2)),
        ),
        Row(
            "settings/set round trip p99 (one at a time), µs",
            "set_rtt_p99_us",
            "{:,.0f}",
            _versus("set_rtt_p99_us"),
        ),
        Row(
            f"{writers} processes on one file, sequential sets each: p50, ms",
            "contended_p50_ms",
            "{:,.2f}",
            _versus("contended_p50_ms")[:1],
        ),
        Row(
            "… p99, ms",
            "contended_p99_ms",
            "{:,.2f}",
            _versus("contended_p99_ms")[:1],
            "≤ 1.0x nodepeer",
            _at_most(("contended_p99_ms_vs_nodepeer", 1.0)),
        ),
        Row(
            "… max, ms",
            "contended_max_ms",
            "{:,.1f}",
            _versus("contended_max_ms")[:1],
            "≤ 100 ms",
            _at_most(("contended_max_ms", 100.0)),
        ),
        Row("… sets/s, all writers", "contended_sets_per_s", "{:,.0f}"),
        Row(
            "… errors",
            "contended_errors",
            "{:,.0f}",
            target="0",
            met=_at_most(("contended_errors", 0.0)),
        ),
        Row(
            "notification latency, another daemon writing: p50, ms",
            "notify_daemon_p50_ms",
            "{:,.1f}",
            target="≤ 10 ms",
            met=_at_most(("notify_daemon_p50_ms", 10.0)),
            daemon_only=True,
        ),
        Row(
            "… p99, ms",
            "notify_daemon_p99_ms",
            "{:,.1f}",
            target="≤ 50 ms",
            met=_at_most(("notify_daemon_p99_ms", 50.0)),
            daemon_only=True,
        ),
        Row(
            "notification latency, a sqlite3 writer: p50, ms",
            "notify_sqlite_p50_ms",
            "{:,.1f}",
            target="≤ 10 ms",
            met=_at_most(("notify_sqlite_p50_ms", 10.0)),
            daemon_only=True,
        ),
        Row(
            "… p99, ms",
            "notify_sqlite_p99_ms",
            "{:,.1f}",
            target="≤ 50 ms",
            met=_at_most(("notify_sqlite_p99_ms", 50.0)),
            daemon_only=True,
        ),
        Row(
            "spawn to first response, ms",
            "spawn_ms",
            "{:,.1f}",
            (("spawn_ms_vs_import_only", "import only"),),
            "≤ 1.15x import only",
            _at_most(("spawn_ms_vs_import_only", 1.15)),
        ),
        Row("one-file bundle (.pyz), MiB", "bundle_size_mib", "{:,.1f}", daemon_only=True),
        Row(
            "… its spawn to first response, ms",
            "bundle_spawn_ms",
            "{:,.1f}",
            (("bundle_spawn_vs_installed", "installed daemon (alternated with it)"),),
            "≤ 1.1x installed",
            _at_most(("bundle_spawn_vs_installed", 1.1)),
            daemon_only=True,
        ),
        Row(
            "… the installed daemon's, alternated with it, ms",
            "installed_spawn_ms",
            "{:,.1f}",
            daemon_only=True,
        ),
        Row(
            "import only (the daemon's dependencies), ms",
            "import_only_ms",
            "{:,.1f}",
            daemon_only=True,
        ),
        Row("idle RSS, MiB", "idle_rss_mib", "{:,.1f}", _versus("idle_rss_mib"), "reported"),
        Row(
            "RSS under load (peak), MiB",
            "load_rss_mib",
            "{:,.1f}",
            _versus("load_rss_mib"),
            "reported",
        ),
        Row(
            f"{big:,} stored: get p50, µs",
            "big_get_p50_us",
            "{:,.0f}",
            (("big_get_p50_vs_small", "100-key p50"),),
            "≤ 1.2x 100-key p50",
            _at_most(("big_get_p50_vs_small", 1.2)),
            daemon_only=True,
        ),
        Row(
            "… with 100 keys stored (alternated with it), µs",
            "small_get_p50_us",
            "{:,.0f}",
            daemon_only=True,
        ),
        Row(
            f"{big:,} stored: setMany fill, entries/s",
            "fill_entries_per_s",
            "{:,.0f}",
            daemon_only=True,
        ),
        Row("getAll limit 100, first page, ms", "getall_start_ms", "{:,.2f}", daemon_only=True),
        Row(
            "getAll limit 100, last page, ms",
            "getall_end_ms",
            "{:,.2f}",
            (("getall_end_vs_start", "first page"),),
            "≈ 1x first page: O(limit)",
            daemon_only=True,
        ),
        Row(
            f"RSS paging through {big:,} (start), MiB",
            "paging_rss_start_mib",
            "{:,.1f}",
            daemon_only=True,
        ),
        Row("… middle, MiB", "paging_rss_mid_mib", "{:,.1f}", daemon_only=True),
        Row(
            "… end, MiB",
            "paging_rss_end_mib",
            "{:,.1f}",
            (("paging_rss_end_vs_start", "start"),),
            "flat",
            daemon_only=True,
        ),
        Row(
            "settings/set pipelined, undeclared key, req/s",
            "set_undeclared_rps",
            "{:,.0f}",
            daemon_only=True,
        ),
        Row(
            "… declared key (validated, re-encoded), req/s",
            "set_declared_rps",
            "{:,.0f}",
            (("set_declared_cost_vs_undeclared", "cost per set vs undeclared"),),
            "≤ 1.2x undeclared",
            _at_most(("set_declared_cost_vs_undeclared", 1.2)),
            daemon_only=True,
        ),
        Row(
            "settings/resolve, every key (1,000 declared, 1,000 stored per layer), ms",
            "resolve_all_ms",
            "{:,.2f}",
            (("resolve_vs_getall", "getAll of the same keys"),),
            "≤ 3x getAll",
            _at_most(("resolve_vs_getall", 3.0)),
            daemon_only=True,
        ),
        Row("… getAll of the same keys, ms", "getall_same_keys_ms", "{:,.2f}", daemon_only=True),
        Row(
            "idle CPU while watching, settled, % of a core",
            "idle_cpu_pct",
            "{:,.3f}",
            target="≤ 0.1",
            met=_at_most(("idle_cpu_pct", 0.1)),
            daemon_only=True,
        ),
        Row(
            "… over the same time right after daemon/watch answered, %",
            "watch_start_cpu_pct",
            "{:,.3f}",
            target="reported",
            daemon_only=True,
        ),
        Row(
            "… settled (its quiet began) after the answer, s",
            "idle_quiet_after_s",
            "{:,.1f}",
            daemon_only=True,
        ),
    ]


def _cell(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else fmt.format(value)


def markdown(report: dict[str, Any]) -> str:
    results: Results = report["figures"]
    r: Ratios = report["ratios"]
    machine = report["machine"]
    lines = [
        "## idumb-daemon benchmark",
        "",
        f"{machine['date']}; {machine['cpu']}, {machine['cores']} cores "
        f"({machine['usable_cores']} usable), load average "
        f"{' '.join(map(str, machine['load_average']))}; Python {machine['python']}, "
        f"SQLite {machine['sqlite']}"
        + (f", node {machine['node']}" if "node" in machine else "")
        + f"; n = {report['plan']['n']:,}",
        "",
        "| figure | "
        + " | ".join(SERVERS.values())
        + " | ratios (daemon/nodepeer, daemon/raw) | target |",
        "|---|" + "---:|" * len(SERVERS) + "---|---|",
    ]
    for row in rows(report["plan"]["big"], report["plan"]["writers"]):
        cells = [row.label]
        for name in SERVERS:
            figures = results.get(name)
            if figures is None or (row.daemon_only and name != "daemon"):
                cells.append("—")
            else:
                cells.append(_cell(figures.get(row.figure), row.fmt))
        cells.append(
            ", ".join(
                f"{_cell(r.get(ratio), '{:.2f}')}x {who}"
                for ratio, who in row.ratios
                if r.get(ratio) is not None
            )
        )
        verdict = row.met(r) if row.met else None
        cells.append(row.target + {True: " (met)", False: " (**missed**)", None: ""}[verdict])
        lines.append("| " + " | ".join(cells) + " |")
    for what, why in report["not_available"].items():
        lines.append(f"\nn/a {what}: {why}")
    if report["errors"]:
        lines.append("\nErrors:")
        lines.extend(f"- {error}" for error in report["errors"])
    return "\n".join(lines)
