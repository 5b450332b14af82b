"""Declared settings: stored in `__idumb_declarations`, so every daemon on the
database and every restart sees them, and held in memory compiled.

Each daemon keeps, per open database, a `Registry`: every declaration with its
validator. It is read again only when `__idumb_declarations_generation` holds
another token than the one it was read at; a declare (by any daemon) writes a
new random token. A random token, not a counter: a registry read inside a
transaction that then rolled back must never match a later, different one.
"""

from __future__ import annotations

import json
import secrets
import weakref
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

import attrs
import dataset

from idumb_daemon.contracts import (
    MAX_DECLARED_KEYS,
    DeclaredSetting,
    DeclareResult,
    FieldError,
    ParamsInvalid,
)
from idumb_daemon.storage.sql import run
from idumb_daemon.storage.tx import Tx

if TYPE_CHECKING:
    # Imported where a declaration is compiled or checked, not at start-up:
    # jsonschema costs every daemon's spawn (and more from the one-file
    # bundle) while most databases declare nothing.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError, ValidationError

_GENERATION = "SELECT generation FROM __idumb_declarations_generation WHERE id = 1"
_RESULTS_PER_DECLARATION: Final = 256
"""Validation outcomes remembered per declaration, by stored text."""


class Refused(ValueError):
    """A value that does not decode or does not validate; the message says why."""


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise Refused(f"{text} is not a finite number")
    return number


def _no_constant(text: str) -> Any:
    raise Refused(f"{text} is not JSON")


# Built once: json.loads and json.dumps with options build a new one per call.
_DECODER: Final = json.JSONDecoder(parse_float=_finite, parse_constant=_no_constant)
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def compact(value: Any) -> str:
    """The stored form of a JSON value: no whitespace, non-ASCII as it is,
    object keys in the order given."""
    return _ENCODER.encode(value)


def _message(error: ValidationError | SchemaError) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"at /{where}: {error.message}" if where else error.message


@attrs.frozen(eq=False)
class Declared:
    """One declared key, compiled."""

    key: str
    owner: str
    declaration: dict[str, Any]
    validator: Draft202012Validator
    as_string: bool
    """Stored as the string itself (type string, or an enum of strings only)."""
    user_only: bool
    """scope "user": no workspace value."""
    renamed_to: str | None
    quick: Callable[[Any], bool] | None
    """A check that a value is valid, for the simplest declarations: where it
    says so, the validator need not run (see `quick_check`)."""
    _outcomes: dict[str, tuple[bool, Any]] = attrs.field(factory=dict)

    def decode(self, stored: str) -> Any:
        """The value a stored string holds, validated; Refused with the
        validator's message. Outcomes are remembered by text: settings are
        read and rewritten with the same few values."""
        outcome = self._outcomes.get(stored)
        if outcome is None:
            try:
                outcome = (True, self._decode(stored))
            except Refused as exc:
                outcome = (False, str(exc))
            if len(self._outcomes) >= _RESULTS_PER_DECLARATION:
                self._outcomes.clear()
            self._outcomes[stored] = outcome
        ok, result = outcome
        if not ok:
            raise Refused(result)
        return result

    def _decode(self, stored: str) -> Any:
        if self.as_string:
            value: Any = stored
        else:
            try:
                value = _DECODER.decode(stored)
            except json.JSONDecodeError as exc:
                raise Refused(f"not JSON ({exc.msg} at character {exc.pos})") from None
            except RecursionError:
                raise Refused("nested too deeply") from None
        if self.quick is not None and self.quick(value):
            return value
        error = next(self.validator.iter_errors(value), None)
        if error is not None:
            from jsonschema.exceptions import best_match

            best = best_match(self.validator.iter_errors(value)) or error
            raise Refused(_message(best))
        return value

    def encode(self, value: str) -> str:
        """The stored form of a value written as `value`."""
        decoded = self.decode(value)
        return value if self.as_string else compact(decoded)


@attrs.frozen(eq=False)
class Registry:
    token: int
    by_key: dict[str, Declared]
    renamed_from: dict[str, str]
    """New key -> the old key that names it in renamedTo (the first by key)."""


@lru_cache(maxsize=MAX_DECLARED_KEYS)
def _validator(text: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(text))


def _declared(key: str, owner: str, text: str) -> Declared:
    declaration = json.loads(text)
    enum = declaration.get("enum")
    as_string = declaration.get("type") == "string" or (
        "type" not in declaration
        and isinstance(enum, list)
        and bool(enum)
        and all(type(item) is str for item in enum)
    )
    return Declared(
        key=key,
        owner=owner,
        declaration=declaration,
        validator=_validator(text),
        as_string=as_string,
        user_only=declaration.get("scope") == "user",
        renamed_to=declaration.get("renamedTo"),
        quick=quick_check(declaration),
    )


# Keywords that never make a value invalid: annotations, and ours (PROTOCOL.md).
_ANNOTATIONS: Final = frozenset(
    {"$comment", "title", "description", "default", "examples", "deprecated"}
    | {"scope", "deprecationMessage", "renamedTo"}
)
_TYPES: Final[dict[str, tuple[type, ...]]] = {
    # Exactly these Python types, not subclasses: a bool is no JSON number,
    # and an integral float (1.0), an integer to JSON Schema, is left to the
    # validator.
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
}
_BOUNDS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "minimum": lambda value, bound: value >= bound,
    "maximum": lambda value, bound: value <= bound,
    "exclusiveMinimum": lambda value, bound: value > bound,
    "exclusiveMaximum": lambda value, bound: value < bound,
    "minLength": lambda value, bound: len(value) >= bound,
    "maxLength": lambda value, bound: len(value) <= bound,
}
_NUMBER_BOUNDS: Final = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_BOUNDS_OF: Final[dict[str, frozenset[str]]] = {
    "integer": _NUMBER_BOUNDS,
    "number": _NUMBER_BOUNDS,
    "string": frozenset({"minLength", "maxLength"}),
    "boolean": frozenset(),
}


def quick_check(declaration: dict[str, Any]) -> Callable[[Any], bool] | None:
    """For a declaration of one `type` (integer, number, string, boolean)
    with at most numeric bounds or string lengths besides annotations: a
    check that says True only of values the validator finds valid, at a
    fraction of its cost (a declared key's every write runs it). For any
    other declaration, None. Where the check says False, the validator
    decides and names the error."""
    kind = declaration.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        return None
    types = _TYPES[kind]
    bounds: list[tuple[Callable[[Any, Any], bool], Any]] = []
    for name, bound in declaration.items():
        if name == "type" or name in _ANNOTATIONS:
            continue
        if name not in _BOUNDS_OF[kind] or type(bound) not in (int, float):
            return None
        bounds.append((_BOUNDS[name], bound))

    def check(value: Any) -> bool:
        return type(value) in types and all(test(value, bound) for test, bound in bounds)

    return check


_registries: weakref.WeakKeyDictionary[dataset.Database, Registry] = weakref.WeakKeyDictionary()


def registry(tx: Tx) -> Registry:
    """Every declaration, as this transaction sees them."""
    token = run(tx.db, _GENERATION).fetchone()[0]
    cached = _registries.get(tx.db)
    if cached is not None and cached.token == token:
        return cached
    by_key = {
        key: _declared(key, owner, text)
        for key, owner, text in run(
            tx.db, "SELECT key, owner, declaration FROM __idumb_declarations"
        ).fetchall()
    }
    renamed_from: dict[str, str] = {}
    for key in sorted(by_key):
        target = by_key[key].renamed_to
        if target is not None and target != key:
            renamed_from.setdefault(target, key)
    fresh = Registry(token=token, by_key=by_key, renamed_from=renamed_from)
    _registries[tx.db] = fresh
    return fresh


def checked(
    tx: Tx,
    writes: Sequence[tuple[str, str]],
    path: Callable[[int], str],
    *,
    workspace: bool = False,
) -> list[str]:
    """The stored form of each (key, value) to write: declared keys' values
    validated and encoded, others unchanged. ParamsInvalid names every write
    refused (at `path(index)` + "value", or + "key" for a key of scope "user"
    written to a `workspace` layer), and then nothing may be written."""
    by_key = registry(tx).by_key
    if not by_key:
        return [value for _, value in writes]
    stored: list[str] = []
    errors: list[FieldError] = []
    for index, (key, value) in enumerate(writes):
        declared = by_key.get(key)
        if declared is None:
            stored.append(value)
            continue
        if workspace and declared.user_only:
            message = 'declared with scope "user": it has no workspace value'
            errors.append(FieldError(path=path(index) + "key", message=message))
            continue
        try:
            stored.append(declared.encode(value))
        except Refused as exc:
            errors.append(FieldError(path=path(index) + "value", message=str(exc)))
    if errors:
        raise ParamsInvalid(errors)
    return stored


def _problems(key: str, declaration: dict[str, Any]) -> Iterable[FieldError]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError, best_match

    path = f"settings.{key}"
    try:
        Draft202012Validator.check_schema(declaration)
    except SchemaError as exc:
        yield FieldError(path=path, message=f"not a valid JSON Schema (2020-12): {_message(exc)}")
        return
    if "default" in declaration:
        error = best_match(Draft202012Validator(declaration).iter_errors(declaration["default"]))
        if error is not None:
            yield FieldError(path=f"{path}.default", message=_message(error))


def declare(tx: Tx, owner: str, settings: dict[str, dict[str, Any]]) -> DeclareResult:
    """Replace every declaration of `owner` with `settings`."""
    # First, as it locks the row on PostgreSQL: declares run one at a time.
    run(
        tx.db,
        "UPDATE __idumb_declarations_generation SET generation = ? WHERE id = 1",
        (secrets.randbits(62),),
    )
    others = dict(
        run(tx.db, "SELECT key, owner FROM __idumb_declarations WHERE owner <> ?", (owner,))
    )
    errors = [
        FieldError(path=f"settings.{key}", message=f"declared by another owner, {others[key]!r}")
        for key in settings
        if key in others
    ]
    for key, declaration in settings.items():
        errors.extend(_problems(key, declaration))
    if errors:
        raise ParamsInvalid(errors)
    run(tx.db, "DELETE FROM __idumb_declarations WHERE owner = ?", (owner,))
    for key, declaration in settings.items():
        run(
            tx.db,
            "INSERT INTO __idumb_declarations (key, owner, declaration) VALUES (?, ?, ?)",
            (key, owner, compact(declaration)),
        )
    return DeclareResult(declared=len(settings))


def declarations(tx: Tx, prefix: str | None = None) -> list[DeclaredSetting]:
    by_key = registry(tx).by_key
    keys = sorted(k for k in by_key if k.startswith(prefix or ""))
    return [
        DeclaredSetting(key=k, owner=by_key[k].owner, declaration=by_key[k].declaration)
        for k in keys
    ]
