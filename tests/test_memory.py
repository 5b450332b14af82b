"""Memory stays flat while a client pages through many settings: nothing
per request is kept once it is answered."""

from __future__ import annotations

from bench import procfs
from tests.conftest import DaemonFactory
from tests.wire import Wire

ROWS = 60_000
PAGE = 100


def page_through(daemon: Wire) -> int:
    """Every setting, PAGE at a time by keyset cursor; the number of pages."""
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": PAGE}
        if after is not None:
            params["after"] = after
        page = daemon.result("settings/getAll", params)
        if not page:
            return pages
        assert len(page) == PAGE and (after is None or page[0]["key"] > after)
        after = page[-1]["key"]
        pages += 1


def test_paging_through_many_settings_keeps_rss_flat(spawn: DaemonFactory) -> None:
    daemon = spawn()
    for chunk in range(ROWS // 10_000):
        entries = [{"key": f"k{chunk * 10_000 + i:06d}", "value": "x" * 50} for i in range(10_000)]
        daemon.result("settings/setMany", {"entries": entries})
    # The first pass fills what is meant to fill: SQLite's page cache (up to
    # 16 MiB a connection, here the whole 6 MiB file) and Python's pools.
    assert page_through(daemon) == ROWS // PAGE
    start = procfs.rss_mib(daemon.proc.pid)
    assert page_through(daemon) == ROWS // PAGE
    # Keeping each answered page (6 KiB of JSON, more as objects) would grow
    # it by tens of MiB over these 600 pages.
    grown = procfs.rss_mib(daemon.proc.pid) - start
    assert grown < 3, (start, grown)
    assert daemon.stop() == 0
