"""Stored times: unix seconds in the file, datetimes on the wire.

Another program may have stored a time that is not unix seconds of a year
1970..9999 (milliseconds, say): it reads as None, with a warning naming the
row, so the rest is still served.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

log = logging.getLogger(__name__)

_LAST_TIME: Final = 253_402_300_799  # 9999-12-31T23:59:59Z


@lru_cache(maxsize=1024)  # datetimes are immutable; stored times repeat
def from_seconds(seconds: object) -> datetime | None:
    """The stored time as a datetime; None when it is not one (or absent)."""
    if type(seconds) is float and seconds.is_integer():
        seconds = int(seconds)
    if type(seconds) is not int or not 0 <= seconds <= _LAST_TIME:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def to_time(seconds: object, table: str = "row", name: str = "") -> datetime | None:
    """A stored time as a datetime; one out of contract reads as None, with a
    warning naming the row."""
    time = from_seconds(seconds)
    if time is None and seconds is not None:
        out_of_contract(table, name, seconds)
    return time


def out_of_contract(table: str, name: str, seconds: object) -> None:
    """Warn of a stored time read as None."""
    log.warning(
        "%s %r: stored time %r is not unix seconds of a year 1970..9999; read as null",
        table,
        name,
        seconds,
    )
