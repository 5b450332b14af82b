"""Value checks: each validates (and may normalise) a value the converter has
structured, and carries the JSON Schema keywords that say the same, so the
generated contracts state the limits the daemon enforces.

A checked type is `Annotated[base, Check(...)]`; its aliases (Key, Value,
ProjectDir, ...) are the vocabulary of the shapes.
"""

from __future__ import annotations

import enum
import json
import math
import posixpath
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final, TypeAlias

import attrs

MAX_KEY_CODE_POINTS: Final = 512
MAX_VALUE_BYTES: Final = 1_048_576
MAX_CONFIG_BYTES: Final = 1_048_576
MAX_PROJECT_DIR_CODE_POINTS: Final = 4096
MAX_GET_ALL_LIMIT: Final = 10_000
MAX_SET_MANY_ENTRIES: Final = 10_000
MAX_IMPORT_ENTRIES: Final = 100_000
MAX_LIST_LIMIT: Final = 1000
EXPORT_VERSION: Final = "1.0"

TIME_PATTERN: Final = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"
"""The wire form of every time the daemon sends: RFC 3339 UTC, whole seconds."""
TIME = re.compile(TIME_PATTERN)
TIME_FORM = "expected an RFC 3339 UTC time with whole seconds, like 2026-11-26T01:10:58Z"


class UnsetType(enum.Enum):
    """The type of UNSET: a field that was omitted, as opposed to given as null."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = UnsetType.UNSET


class Invalid(ValueError):
    """One refused value; `path` leads from the value being structured to the culprit."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


# eq=False: hashed by identity, as typing hashes Annotated metadata and a dict is not hashable.
@attrs.frozen(eq=False)
class Check:
    """Marks an `Annotated` type: after structuring its base type, `fn` validates the
    value and returns it (possibly normalised) or raises `Invalid`."""

    fn: Callable[[Any], Any]
    schema: dict[str, Any] = attrs.field(factory=dict)
    """JSON Schema keywords that say what `fn` enforces (maxLength, minimum, ...)."""
    values: tuple[str, ...] | None = None
    """The only strings `fn` accepts, when it accepts a fixed few."""
    wire: type | None = None
    """The JSON type `fn` reads, when it structures the value itself instead of
    receiving the annotated base type."""


SURROGATE = "contains a lone surrogate (strings must be Unicode scalar values)"
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def utf8_size(s: str) -> int:
    if s.isascii():
        return len(s)
    try:
        return len(s.encode("utf-8"))
    except UnicodeEncodeError:
        raise Invalid(SURROGATE) from None


def _check_key(key: str) -> str:
    if not key:
        raise Invalid("empty (a key has 1 to 512 code points)")
    if len(key) > MAX_KEY_CODE_POINTS:
        raise Invalid(f"longer than {MAX_KEY_CODE_POINTS} code points")
    if _CONTROL.search(key):
        raise Invalid("contains a control character (U+0000..U+001F, U+007F)")
    return key


def _check_value(value: str) -> str:
    # A code point is at most 4 bytes, so short strings need no encoding.
    if len(value) * 4 > MAX_VALUE_BYTES and utf8_size(value) > MAX_VALUE_BYTES:
        raise Invalid(f"larger than {MAX_VALUE_BYTES} bytes as UTF-8")
    return value


def _normalise_project_dir(path: str) -> str:
    if not path:
        raise Invalid("empty (a projectDir has 1 to 4096 code points)")
    if len(path) > MAX_PROJECT_DIR_CODE_POINTS:
        raise Invalid(f"longer than {MAX_PROJECT_DIR_CODE_POINTS} code points")
    if not path.startswith("/"):
        raise Invalid("not an absolute path")
    if "\x00" in path:
        raise Invalid("contains NUL, which no POSIX path can")
    normal = posixpath.normpath(path)
    # POSIX leaves a leading "//" implementation-defined, so normpath keeps it;
    # the protocol wants one spelling per directory.
    return normal[1:] if normal.startswith("//") else normal


def within(low: int, high: int) -> Check:
    """An integer from `low` to `high`."""

    def check(n: int) -> int:
        if not low <= n <= high:
            raise Invalid(f"out of range {low}..{high}")
        return n

    return Check(check, {"minimum": low, "maximum": high})


def unique_keys(low: int, high: int) -> Check:
    """A list of `low` to `high` entries with a `key` each, no key twice."""

    def check(entries: list[Any]) -> list[Any]:
        if not low <= len(entries) <= high:
            raise Invalid(f"has {len(entries)} entries, expected {low}..{high}")
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            first = seen.setdefault(entry.key, index)
            if first != index:
                raise Invalid(f"duplicate key (also at index {first})", (index, "key"))
        return entries

    return Check(check, {"minItems": low, "maxItems": high, "description": "No key twice."})


def _check_version(version: str) -> str:
    if version != EXPORT_VERSION:
        raise Invalid(f'unsupported version (expected "{EXPORT_VERSION}")')
    return version


def json_problem(root: Any) -> Invalid | None:
    """The first thing in `root` that is not a JSON value of scalar-value strings."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), root)]
    while stack:
        path, node = stack.pop()
        kind = type(node)
        if kind is str:
            try:
                utf8_size(node)
            except Invalid as exc:
                return Invalid(exc.message, path)
        elif kind is dict:
            for key, item in node.items():
                if type(key) is not str:
                    return Invalid("object key is not a string", path)
                try:
                    utf8_size(key)
                except Invalid as exc:
                    return Invalid("key " + exc.message, (*path, key))
                stack.append(((*path, key), item))
        elif kind is list:
            stack.extend(((*path, index), item) for index, item in enumerate(node))
        elif kind is float:
            if not math.isfinite(node):
                return Invalid("not a finite number", path)
        elif node is not None and kind is not bool and kind is not int:
            return Invalid("not a JSON value", path)
    return None


def compact_json_size(value: Any) -> int | None:
    """Size of `value` as compact UTF-8 JSON; None if it is nested too deeply to encode.

    Raises `Invalid` when it is not JSON made of scalar-value strings. The encoder
    finds that at C speed; only then does the slower walk locate the culprit.
    """
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return len(text.encode("utf-8"))
    except RecursionError:
        problem = json_problem(value)
        size = None
    except (ValueError, TypeError):
        problem = json_problem(value)
        size = 0
    if problem is not None:
        raise problem
    return size


def _check_config(config: dict[str, Any]) -> dict[str, Any]:
    size = compact_json_size(config)
    if size is None:
        raise Invalid("nested too deeply")
    if size > MAX_CONFIG_BYTES:
        raise Invalid(f"larger than {MAX_CONFIG_BYTES} bytes as compact JSON")
    return config


_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_rfc3339(value: Any) -> datetime:
    """Any RFC 3339 time: an offset or Z, fractions of a second of any length."""
    match = TIME.fullmatch(value) if type(value) is str else None
    if match is None:
        match = _RFC3339.fullmatch(value) if type(value) is str else None
        if match is None:
            raise Invalid("expected an RFC 3339 time, like 2026-11-26T01:10:58Z")
        date, time, fraction, offset = match.groups()
        # fromisoformat takes at most microseconds, and a capital Z.
        fraction = (fraction or "")[:7]
        value = f"{date}T{time}{fraction}{'Z' if offset in 'Zz' else offset}"
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("not a valid date and time") from None


Key: TypeAlias = Annotated[
    str,
    Check(
        _check_key,
        # JSON Schema's lengths count code points, as the check does.
        {
            "minLength": 1,
            "maxLength": MAX_KEY_CODE_POINTS,
            "pattern": "^[^\\u0000-\\u001f\\u007f]*$",
        },
    ),
]
"""A settings key as a client gives it: 1..512 code points, no control characters."""
Value: TypeAlias = Annotated[
    str,
    Check(
        _check_value,
        # A byte limit is no schema keyword; as many code points is the bound it implies.
        {
            "maxLength": MAX_VALUE_BYTES,
            "description": f"At most {MAX_VALUE_BYTES} bytes as UTF-8.",
        },
    ),
]
Revision: TypeAlias = Annotated[int, within(0, 2**63 - 1)]
"""A revision a write expects (`ifRevision`): 0 means "only if absent"."""

ProjectDir: TypeAlias = Annotated[
    str,
    Check(
        _normalise_project_dir,
        {"minLength": 1, "maxLength": MAX_PROJECT_DIR_CODE_POINTS, "pattern": "^/"},
    ),
]
"""An absolute POSIX path, normalised lexically once structured."""
Config: TypeAlias = Annotated[
    dict[str, Any],
    Check(
        _check_config,
        {"description": f"At most {MAX_CONFIG_BYTES} bytes as compact UTF-8 JSON."},
    ),
]
JsonObject: TypeAlias = dict[str, Any]
ExportVersion: TypeAlias = Annotated[str, Check(_check_version, values=(EXPORT_VERSION,))]
AnyTime: TypeAlias = Annotated[datetime, Check(parse_rfc3339, {"format": "date-time"}, wire=str)]
"""Any RFC 3339 time, as JavaScript's toISOString() writes one (2026-11-26T01:10:58.123Z)."""
