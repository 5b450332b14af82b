"""What every storage operation takes: the transaction it runs in."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import dataset


@attrs.frozen
class Tx:
    """The open transaction an operation runs in: built once per opened database,
    so an operation costs no allocation of its own for it."""

    db: dataset.Database
    """dataset's database, inside the transaction the caller opened."""
    collate: str
    """Appended to a key comparison or ORDER BY: PostgreSQL's default collation is
    locale-aware, and ' COLLATE "C"' orders by code point as SQLite's BINARY does."""
    clock: Callable[[], float]

    def now(self) -> int:
        """The time written as updated_at / last_opened: unix seconds."""
        return int(self.clock())
