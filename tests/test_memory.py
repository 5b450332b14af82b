"""Memory stays flat while a client pages through many settings: nothing
per request is kept once it is answered."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import DaemonFactory
from tests.wire import Wire

ROWS = 60_000
PAGE = 100


def rss_mib(wire: Wire) -> float:
    for line in Path(f"/proc/{wire.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_paging_through_many_settings_keeps_rss_flat(spawn: DaemonFactory) -> None:
    daemon = spawn()
    for chunk in range(ROWS // 10_000):
        entries = [{"key": f"k{chunk * 10_000 + i:06d}", "value": "x" * 50} for i in range(10_000)]
        daemon.result("settings/setMany", {"entries": entries})
    after: str | None = None
    pages = 0
    start = 0.0
    while True:
        params: dict[str, object] = {"limit": PAGE}
        if after is not None:
            params["after"] = after
        page = daemon.result("settings/getAll", params)
        if not page:
            break
        assert len(page) == PAGE and (after is None or page[0]["key"] > after)
        after = page[-1]["key"]
        pages += 1
        if pages == 50:  # past warm-up: caches and pools are filled by now
            start = rss_mib(daemon)
    assert pages == ROWS // PAGE
    # Keeping each answered page (6 KiB of JSON, more as objects) would grow
    # it by tens of MiB over these 550 pages.
    assert rss_mib(daemon) - start < 6, (start, rss_mib(daemon))
    assert daemon.stop() == 0
