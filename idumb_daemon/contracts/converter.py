"""The one converter between the contracts' shapes and JSON.

Python fields are snake_case, JSON keys camelCase. Structuring is strict: nothing is
coerced, unknown fields are refused at any depth (InitializeParams alone ignores them),
an explicit null for an optional param is refused (but where null clears a stored
value, and in LSP's InitializeParams), every string must consist of Unicode scalar
values, and the checks of checks.py are run, so handlers and storage only ever see
valid params.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache, reduce
from types import GenericAlias
from typing import (
    Annotated,
    Any,
    Final,
    Literal,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from idumb_daemon.contracts.checks import (
    TIME,
    TIME_FORM,
    UNSET,
    Check,
    Invalid,
    JsonObject,
    UnsetType,
    compact_json_size,
    utf8_size,
)
from idumb_daemon.contracts.common import FieldError, ParamsInvalid
from idumb_daemon.contracts.engine import Event, Part
from idumb_daemon.contracts.lifecycle import InitializeParams
from idumb_daemon.contracts.methods import METHODS
from idumb_daemon.contracts.settings import SettingsExport

T = TypeVar("T")

# The export file is read back as settings/import's params: the same rule holds for it.
_STRICT_NULL: Final = frozenset(
    [*(m.params for m in METHODS.values() if m.params is not None), SettingsExport]
)


def wire_name(name: str) -> str:
    """The JSON key of a Python field: camelCase, a trailing underscore dropped."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(word.capitalize() for word in rest)


def _structure_json_object(value: Any, _: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise Invalid("expected an object")
    compact_json_size(value)
    return value


def null_refused(cls: type[Any]) -> tuple[str, ...]:
    """The JSON names of `cls`'s optional fields for which an explicit null is refused:
    every optional field of a method's params (and of the export file), but where
    null clears a stored value (a field that may be UNSET) and in LSP's
    InitializeParams (where LSP allows null)."""
    if cls not in _STRICT_NULL or cls is InitializeParams:
        return ()
    hints = get_type_hints(cls, include_extras=True)
    return tuple(
        wire_name(a.name)
        for a in attrs.fields(cls)
        if a.default is not attrs.NOTHING and UnsetType not in get_args(hints[a.name])
    )


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is not str:
        raise Invalid("expected a string")
    if not value.isascii():
        utf8_size(value)
    return value


def _structure_int(value: Any, _: Any) -> int:
    if type(value) is not int:  # bool is a subclass of int, and not a number on the wire
        raise Invalid("expected an integer")
    return value


def _structure_float(value: Any, _: Any) -> float:
    if (type(value) is not float and type(value) is not int) or not math.isfinite(value):
        raise Invalid("expected a number")
    return float(value)


def _structure_bool(value: Any, _: Any) -> bool:
    if type(value) is not bool:
        raise Invalid("expected a boolean")
    return value


def _structure_time(value: Any, _: Any) -> datetime:
    if type(value) is not str or TIME.fullmatch(value) is None:
        raise Invalid(TIME_FORM)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("not a valid date and time") from None


# Cached: formatting costs more than the lookup it answers, and the times on
# the wire repeat (every write of one second has the same). A function of
# its argument alone; equal instants format alike, whatever their tzinfo.
@lru_cache(maxsize=1024)
def _unstructure_time(value: datetime) -> str:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {value!r} has no place on the wire: times are UTC")
    if value.microsecond:
        raise ValueError(f"{value!r} has fractions of a second: the wire has whole seconds")
    utc = value.astimezone(UTC) if offset else value
    return utc.isoformat()[:-6] + "Z"  # drop the "+00:00" isoformat gives UTC


def _is_checked(t: Any) -> bool:
    return get_origin(t) is Annotated and isinstance(t.__metadata__[0], Check)


def _is_str_literal(t: Any) -> bool:
    return get_origin(t) is Literal and all(type(arg) is str for arg in get_args(t))


def _is_unset_union(t: Any) -> bool:
    return get_origin(t) in (Union, type(int | str)) and UnsetType in get_args(t)


def _structure_literal_factory(t: Any) -> Callable[[Any, Any], str]:
    allowed = frozenset(get_args(t))
    message = "expected one of " + ", ".join(json.dumps(arg) for arg in get_args(t))

    def structure(value: Any, _: Any) -> str:
        if type(value) is not str or value not in allowed:
            raise Invalid(message)
        return value

    return structure


def _structure_open_factory(cls: type[Part] | type[Event]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Part | Event:
        if type(value) is not dict:
            raise Invalid("expected an object")
        if "type" not in value:
            raise Invalid("missing required field", ("type",))
        try:
            kind = _structure_str(value["type"], str)
        except Invalid as exc:
            raise Invalid(exc.message, ("type",)) from None
        extra = {k: v for k, v in value.items() if k != "type"}
        compact_json_size(extra)
        return cls(type=kind, extra=extra)

    return structure


def unstructure_open(value: Part | Event) -> dict[str, Any]:
    return {"type": value.type, **value.extra}


def make_converter() -> cattrs.Converter:
    """The converter for every shape of the contracts.

    Its detailed validation, which collects every failure with its location, costs
    about 0.3 us per structured object over the first-failure mode: not worth a
    second converter.
    """
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)

    def structure_attrs(cls: type[Any]) -> Callable[[Any, Any], Any]:
        fields = attrs.fields(cls)
        renames: Any = {a.name: override(rename=wire_name(a.name)) for a in fields}
        fn = make_dict_structure_fn(
            cls,
            conv,
            # LSP clients send many fields the daemon has no use for.
            _cattrs_forbid_extra_keys=cls is not InitializeParams,
            **renames,
        )
        refused = null_refused(cls)

        def structure(value: Any, _: Any) -> Any:
            if type(value) is not dict:
                raise Invalid("expected an object")
            if refused:
                for name in refused:
                    if value.get(name, 0) is None:
                        raise Invalid("null is not allowed here: omit the field instead", (name,))
            return fn(value, cls)

        return structure

    def unstructure_attrs(cls: type[Any]) -> Callable[[Any], Any]:
        # Optional fields (default None or UNSET) are left out when they hold the default.
        overrides: Any = {
            a.name: override(
                rename=wire_name(a.name),
                omit_if_default=True if a.default is None or a.default is UNSET else None,
            )
            for a in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)

    def structure_list(t: Any) -> Callable[[Any, Any], Any]:
        inner = list_structure_factory(t, conv)

        def structure(value: Any, _: Any) -> Any:
            if type(value) is not list:
                raise Invalid("expected an array")
            return inner(value, t)

        return structure

    def structure_checked(t: Any) -> Callable[[Any, Any], Any]:
        check: Check = t.__metadata__[0]
        base_type = check.wire or get_args(t)[0]
        base = conv.get_structure_hook(base_type)
        fn = check.fn
        return lambda value, _: fn(base(value, base_type))

    def structure_unset_union(t: Any) -> Callable[[Any, Any], Any]:
        # UNSET is only ever the default: on the wire the rest of the union remains.
        rest = reduce(operator.or_, [arg for arg in get_args(t) if arg is not UnsetType])
        hook = conv.get_structure_hook(rest)
        return lambda value, _: hook(value, rest)

    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(datetime, _structure_time)
    conv.register_unstructure_hook(datetime, _unstructure_time)
    conv.register_structure_hook_func(lambda t: t == JsonObject, _structure_json_object)
    # Its contents are JSON already.
    conv.register_unstructure_hook_func(lambda t: t == JsonObject, lambda value: value)
    for open_cls in (Part, Event):
        conv.register_structure_hook(open_cls, _structure_open_factory(open_cls))
        conv.register_unstructure_hook(open_cls, unstructure_open)
    # Later factories take precedence over cattrs' own.
    conv.register_structure_hook_factory(attrs.has, structure_attrs)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_attrs)
    conv.register_structure_hook_factory(
        lambda t: isinstance(t, GenericAlias) and t.__origin__ is list, structure_list
    )
    conv.register_structure_hook_factory(_is_str_literal, _structure_literal_factory)
    conv.register_structure_hook_factory(_is_checked, structure_checked)
    conv.register_structure_hook_factory(_is_unset_union, structure_unset_union)
    return conv


CONVERTER: Final = make_converter()


def structure(obj: Any, cls: type[T]) -> T:
    """`obj` (parsed JSON) as a `cls`, or ParamsInvalid listing every failing field."""
    try:
        return CONVERTER.structure(obj, cls)
    except Exception as exc:
        errors: list[FieldError] = []
        _collect(exc, (), errors)
        raise ParamsInvalid(errors) from None


def unstructure(obj: Any) -> Any:
    """`obj` as plain JSON types (dict, list, str, int, float, bool, None)."""
    return CONVERTER.unstructure(obj)


def _join(path: tuple[str | int, ...]) -> str:
    # A path segment may be an unknown key holding a lone surrogate: escape it so
    # the error itself can be sent.
    return ".".join(str(seg).encode("utf-8", "backslashreplace").decode("utf-8") for seg in path)


def _located(exc: BaseException) -> tuple[str | int, ...]:
    """Where cattrs noted that `exc` happened within its container."""
    for note in reversed(getattr(exc, "__notes__", ())):
        if isinstance(note, AttributeValidationNote):
            return (wire_name(note.name),)
        if isinstance(note, IterableValidationNote):
            return (note.index,)
    return ()


def _collect(exc: BaseException, path: tuple[str | int, ...], out: list[FieldError]) -> None:
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            if isinstance(sub, ForbiddenExtraKeysError):
                out.extend(
                    FieldError(path=_join((*path, key)), message="unknown field")
                    for key in sorted(sub.extra_fields)
                )
            else:
                _collect(sub, (*path, *_located(sub)), out)
    elif isinstance(exc, Invalid):
        out.append(FieldError(path=_join((*path, *exc.path)), message=exc.message))
    elif isinstance(exc, KeyError):
        out.append(FieldError(path=_join(path), message="missing required field"))
    else:
        out.append(FieldError(path=_join(path), message=str(exc) or type(exc).__name__))
