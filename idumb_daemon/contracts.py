"""Every shape on the wire, the method table, and the one converter between them and JSON.

Python fields are snake_case, JSON keys camelCase. Structuring is strict: nothing is
coerced, unknown fields are refused at any depth (InitializeParams alone ignores them),
every string must consist of Unicode scalar values, and the limits of PROTOCOL.md are
enforced here, so handlers and storage only ever see valid params.
"""

import enum
import json
import math
import operator
import posixpath
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache, reduce
from types import GenericAlias
from typing import Annotated, Any, Final, Literal, TypeAlias, TypeVar, Union, get_args, get_origin

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

T = TypeVar("T")

PROTOCOL_VERSION: Final = 1

MAX_KEY_CODE_POINTS: Final = 512
MAX_VALUE_BYTES: Final = 1_048_576
MAX_CONFIG_BYTES: Final = 1_048_576
MAX_PROJECT_DIR_CODE_POINTS: Final = 4096
MAX_GET_ALL_LIMIT: Final = 10_000
MAX_SET_MANY_ENTRIES: Final = 10_000
MAX_IMPORT_ENTRIES: Final = 100_000
MAX_LIST_LIMIT: Final = 1000
EXPORT_VERSION: Final = "1.0"


class UnsetType(enum.Enum):
    """The type of UNSET: a field that was omitted, as opposed to given as null."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = UnsetType.UNSET


# --- validation -----------------------------------------------------------------------


class _Invalid(ValueError):
    """One refused value; `path` leads from the value being structured to the culprit."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@attrs.frozen
class _Check:
    """Marks an `Annotated` type: after structuring its base type, `fn` validates the
    value and returns it (possibly normalised) or raises `_Invalid`."""

    fn: Callable[[Any], Any]


_SURROGATE = "contains a lone surrogate (strings must be Unicode scalar values)"
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_TIME = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_TIME_FORM = "expected an RFC 3339 UTC time with whole seconds, like 2026-11-26T01:10:58Z"


def _utf8_size(s: str) -> int:
    if s.isascii():
        return len(s)
    try:
        return len(s.encode("utf-8"))
    except UnicodeEncodeError:
        raise _Invalid(_SURROGATE) from None


def _check_key(key: str) -> str:
    if not key:
        raise _Invalid("empty (a key has 1 to 512 code points)")
    if len(key) > MAX_KEY_CODE_POINTS:
        raise _Invalid(f"longer than {MAX_KEY_CODE_POINTS} code points")
    if _CONTROL.search(key):
        raise _Invalid("contains a control character (U+0000..U+001F, U+007F)")
    return key


def _check_value(value: str) -> str:
    # A code point is at most 4 bytes, so short strings need no encoding.
    if len(value) * 4 > MAX_VALUE_BYTES and _utf8_size(value) > MAX_VALUE_BYTES:
        raise _Invalid(f"larger than {MAX_VALUE_BYTES} bytes as UTF-8")
    return value


def _normalise_project_dir(path: str) -> str:
    if not path:
        raise _Invalid("empty (a projectDir has 1 to 4096 code points)")
    if len(path) > MAX_PROJECT_DIR_CODE_POINTS:
        raise _Invalid(f"longer than {MAX_PROJECT_DIR_CODE_POINTS} code points")
    if not path.startswith("/"):
        raise _Invalid("not an absolute path")
    if "\x00" in path:
        raise _Invalid("contains NUL, which no POSIX path can")
    normal = posixpath.normpath(path)
    # POSIX leaves a leading "//" implementation-defined, so normpath keeps it;
    # the protocol wants one spelling per directory.
    return normal[1:] if normal.startswith("//") else normal


def _limit_check(low: int, high: int) -> Callable[[int], int]:
    def check(n: int) -> int:
        if not low <= n <= high:
            raise _Invalid(f"out of range {low}..{high}")
        return n

    return check


def _unique_keys_check(low: int, high: int) -> Callable[[list["SettingInput"]], Any]:
    def check(entries: list[SettingInput]) -> list[SettingInput]:
        if not low <= len(entries) <= high:
            raise _Invalid(f"has {len(entries)} entries, expected {low}..{high}")
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            first = seen.setdefault(entry.key, index)
            if first != index:
                raise _Invalid(f"duplicate key (also at index {first})", (index, "key"))
        return entries

    return check


def _check_version(version: str) -> str:
    if version != EXPORT_VERSION:
        raise _Invalid(f'unsupported version (expected "{EXPORT_VERSION}")')
    return version


def _json_problem(root: Any) -> _Invalid | None:
    """The first thing in `root` that is not a JSON value of scalar-value strings."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), root)]
    while stack:
        path, node = stack.pop()
        kind = type(node)
        if kind is str:
            try:
                _utf8_size(node)
            except _Invalid as exc:
                return _Invalid(exc.message, path)
        elif kind is dict:
            for key, item in node.items():
                if type(key) is not str:
                    return _Invalid("object key is not a string", path)
                try:
                    _utf8_size(key)
                except _Invalid as exc:
                    return _Invalid("key " + exc.message, (*path, key))
                stack.append(((*path, key), item))
        elif kind is list:
            stack.extend(((*path, index), item) for index, item in enumerate(node))
        elif kind is float:
            if not math.isfinite(node):
                return _Invalid("not a finite number", path)
        elif node is not None and kind is not bool and kind is not int:
            return _Invalid("not a JSON value", path)
    return None


def _compact_json_size(value: Any) -> int | None:
    """Size of `value` as compact UTF-8 JSON; None if it is nested too deeply to encode.

    Raises `_Invalid` when it is not JSON made of scalar-value strings. The encoder
    finds that at C speed; only then does the slower walk locate the culprit.
    """
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return len(text.encode("utf-8"))
    except RecursionError:
        problem = _json_problem(value)
        size = None
    except (ValueError, TypeError):
        problem = _json_problem(value)
        size = 0
    if problem is not None:
        raise problem
    return size


def _structure_json_object(value: Any, _: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise _Invalid("expected an object")
    _compact_json_size(value)
    return value


def _check_config(config: dict[str, Any]) -> dict[str, Any]:
    size = _compact_json_size(config)
    if size is None:
        raise _Invalid("nested too deeply")
    if size > MAX_CONFIG_BYTES:
        raise _Invalid(f"larger than {MAX_CONFIG_BYTES} bytes as compact JSON")
    return config


Key: TypeAlias = Annotated[str, _Check(_check_key)]
"""A settings key as a client gives it: 1..512 code points, no control characters."""
Value: TypeAlias = Annotated[str, _Check(_check_value)]
ProjectDir: TypeAlias = Annotated[str, _Check(_normalise_project_dir)]
"""An absolute POSIX path, normalised lexically once structured."""
Config: TypeAlias = Annotated[dict[str, Any], _Check(_check_config)]
JsonObject: TypeAlias = dict[str, Any]


# --- shapes ---------------------------------------------------------------------------


@attrs.frozen
class SettingsEntry:
    key: str
    value: str
    updated_at: datetime | None


@attrs.frozen
class WorkspaceConfig:
    project_dir: str
    name: str | None
    last_opened: datetime | None
    config: JsonObject | None


@attrs.frozen
class SettingInput:
    key: Key
    value: Value


# --- params ---------------------------------------------------------------------------


@attrs.frozen
class SettingsGetParams:
    key: Key


@attrs.frozen
class SettingsSetParams:
    key: Key
    value: Value


@attrs.frozen
class SettingsDeleteParams:
    key: Key


@attrs.frozen
class SettingsGetAllParams:
    prefix: str | None = None
    """Literal, case-sensitive key prefix."""
    after: str | None = None
    """Keyset cursor: only keys greater than this one, in code-point order."""
    limit: Annotated[int, _Check(_limit_check(1, MAX_GET_ALL_LIMIT))] | None = None
    """None: every matching entry."""


@attrs.frozen
class SettingsSetManyParams:
    entries: Annotated[list[SettingInput], _Check(_unique_keys_check(1, MAX_SET_MANY_ENTRIES))]


@attrs.frozen
class SettingsExportParams:
    pass


@attrs.frozen
class SettingsExport:
    """The export file; `settings/export` returns it."""

    version: Annotated[str, _Check(_check_version)]
    settings: list[SettingInput]
    exported_at: datetime | None = None


@attrs.frozen
class SettingsImportParams:
    version: Annotated[str, _Check(_check_version)]
    settings: Annotated[list[SettingInput], _Check(_unique_keys_check(0, MAX_IMPORT_ENTRIES))]
    exported_at: datetime | None = None
    replace: bool = False
    """Also delete the stored keys that the file lacks."""
    dry_run: bool = False
    """Write nothing; report what would change."""


@attrs.frozen
class WorkspaceGetParams:
    project_dir: ProjectDir


@attrs.frozen
class WorkspaceSetParams:
    project_dir: ProjectDir
    name: str | UnsetType | None = UNSET
    """UNSET keeps the stored name, None clears it."""
    config: Config | UnsetType | None = UNSET
    """UNSET keeps the stored config, None clears it."""


@attrs.frozen
class WorkspaceOpenParams:
    project_dir: ProjectDir


@attrs.frozen
class WorkspaceListParams:
    limit: Annotated[int, _Check(_limit_check(1, MAX_LIST_LIMIT))] = 50


@attrs.frozen
class WorkspaceDeleteParams:
    project_dir: ProjectDir


@attrs.frozen
class DaemonStatusParams:
    pass


@attrs.frozen
class WatchParams:
    enabled: bool = True


@attrs.frozen
class InitializeParams:
    """LSP's InitializeParams, of which the daemon reads one field; the rest is ignored."""

    # LSP's `integer` is 32-bit; a pid outside it names no process.
    process_id: Annotated[int, _Check(_limit_check(0, 2**31 - 1))] | None = None
    """The client's pid: the daemon exits once that process is gone."""


# --- results --------------------------------------------------------------------------


@attrs.frozen
class DeleteResult:
    deleted: bool


@attrs.frozen
class ImportResult:
    imported: int
    """Entries in the file, whether or not they changed anything."""
    added: list[str]
    changed: list[str]
    removed: list[str]


@attrs.frozen
class RecoveryInfo:
    from_: str
    """The backup the database was restored from (JSON "from")."""
    at: datetime
    corrupt_file: str
    """Where the corrupt database was moved aside."""


@attrs.frozen
class DaemonStatus:
    version: str
    protocol_version: int
    schema_version: int | None
    backend: str
    database: str
    """The database location, never with a password."""
    watching: bool
    recovered: RecoveryInfo | None


@attrs.frozen
class WatchResult:
    watching: bool


@attrs.frozen
class IdumbCapabilities:
    protocol_version: int
    methods: list[str]
    notifications: list[str]


@attrs.frozen
class ExperimentalCapabilities:
    idumb: IdumbCapabilities


@attrs.frozen
class ServerCapabilities:
    experimental: ExperimentalCapabilities


@attrs.frozen
class ServerInfo:
    name: str
    version: str


@attrs.frozen
class InitializeResult:
    capabilities: ServerCapabilities
    server_info: ServerInfo


# --- notifications --------------------------------------------------------------------


@attrs.frozen
class SettingChange:
    key: str
    value: str | None
    """None: the key was deleted."""
    updated_at: datetime | None


@attrs.frozen
class SettingsDidChangeParams:
    changes: list[SettingChange]


@attrs.frozen
class WorkspaceChange:
    project_dir: str
    workspace: WorkspaceConfig | None
    """None: the workspace was deleted."""


@attrs.frozen
class WorkspaceConfigDidChangeParams:
    changes: list[WorkspaceChange]


# --- error data -----------------------------------------------------------------------


@attrs.frozen
class FieldError:
    path: str
    """Dotted, with array indices, relative to params ("" for params themselves)."""
    message: str


@attrs.frozen
class InvalidParamsData:
    errors: list[FieldError]


@attrs.frozen
class MethodNotFoundData:
    method: str


@attrs.frozen
class StorageErrorData:
    reason: str


@attrs.frozen
class SchemaTooNewData:
    reason: str
    database_version: int
    supported_version: int


class ParamsInvalid(Exception):
    """Structuring refused its input; one FieldError per failing field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.path or '(root)'}: {e.message}" for e in errors))
        self.errors = errors


# --- engine shapes (shared by the IDE with its agent engine) --------------------------


@attrs.frozen
class ModelInfo:
    id: str
    name: str


@attrs.frozen
class ProviderInfo:
    id: str
    name: str
    models: list[ModelInfo]


@attrs.frozen
class AgentInfo:
    id: str
    name: str
    description: str | None = None


@attrs.frozen
class AppPaths:
    cwd: str
    config: str
    data: str


@attrs.frozen
class AppInfo:
    path: AppPaths
    git: bool | None = None
    hostname: str | None = None


SessionStatus: TypeAlias = Literal["pending", "running", "completed", "error"]
MessageRole: TypeAlias = Literal["user", "assistant", "system"]


@attrs.frozen(kw_only=True)
class Session:
    id: str
    title: str | None = None
    created_at: datetime
    updated_at: datetime
    status: SessionStatus
    parent_id: str | None = None


def _no_type_key(_: Any, __: Any, extra: dict[str, Any]) -> None:
    if "type" in extra:
        raise ValueError('"type" is a field of its own, not an extra field')


@attrs.frozen
class Part:
    """A message part: a `type` plus whatever fields that type has, kept as they came."""

    type: str
    extra: dict[str, Any] = attrs.field(factory=dict, validator=_no_type_key)
    """Every other field, flattened beside `type` on the wire."""


@attrs.frozen
class Event:
    """An engine event: a `type` plus whatever fields that type has, kept as they came."""

    type: str
    extra: dict[str, Any] = attrs.field(factory=dict, validator=_no_type_key)
    """Every other field, flattened beside `type` on the wire."""


@attrs.frozen
class Message:
    id: str
    role: MessageRole
    parts: list[Part]
    created_at: datetime


@attrs.frozen
class EngineStatus:
    running: bool
    url: str | None = None
    project_dir: str | None = None
    port: int | None = None


@attrs.frozen
class DashboardConfig:
    project_dir: str
    port: int
    backend_port: int
    open: bool
    opencode_port: int | None = None


@attrs.frozen
class PortConfig:
    detect: bool
    auto_port: bool
    user_port: int | None = None


@attrs.frozen
class TextPart:
    type: Literal["text"]
    text: str


@attrs.frozen
class SessionPromptRequest:
    parts: list[TextPart]


@attrs.frozen
class SessionListResponse:
    sessions: list[Session]


@attrs.frozen
class SessionCreateResponse:
    session: Session


@attrs.frozen
class SessionMessage:
    info: Message
    parts: list[Part]


@attrs.frozen
class SessionMessagesResponse:
    messages: list[SessionMessage]


@attrs.frozen
class SessionStatusResponse:
    status: SessionStatus


@attrs.frozen
class SessionChildrenResponse:
    children: list[Session]


@attrs.frozen
class EngineErrorResponse:
    error: str


# --- method table ---------------------------------------------------------------------


@attrs.frozen
class Method:
    params: type[Any] | None
    """None: the method takes no params."""
    result: Any
    """A type expression, e.g. `SettingsEntry | None`; None for a null result."""


METHODS: Final[dict[str, Method]] = {
    "initialize": Method(InitializeParams, InitializeResult),
    "shutdown": Method(None, None),
    "settings/get": Method(SettingsGetParams, SettingsEntry | None),
    "settings/set": Method(SettingsSetParams, SettingsEntry),
    "settings/delete": Method(SettingsDeleteParams, DeleteResult),
    "settings/getAll": Method(SettingsGetAllParams, list[SettingsEntry]),
    "settings/setMany": Method(SettingsSetManyParams, list[SettingsEntry]),
    "settings/export": Method(SettingsExportParams, SettingsExport),
    "settings/import": Method(SettingsImportParams, ImportResult),
    "workspaceConfig/get": Method(WorkspaceGetParams, WorkspaceConfig | None),
    "workspaceConfig/set": Method(WorkspaceSetParams, WorkspaceConfig),
    "workspaceConfig/open": Method(WorkspaceOpenParams, WorkspaceConfig),
    "workspaceConfig/list": Method(WorkspaceListParams, list[WorkspaceConfig]),
    "workspaceConfig/delete": Method(WorkspaceDeleteParams, DeleteResult),
    "daemon/status": Method(DaemonStatusParams, DaemonStatus),
    "daemon/watch": Method(WatchParams, WatchResult),
}

NOTIFICATIONS: Final[dict[str, type[Any]]] = {
    "settings/didChange": SettingsDidChangeParams,
    "workspaceConfig/didChange": WorkspaceConfigDidChangeParams,
}
"""Notifications the daemon sends to watching clients."""


# --- the converter --------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(word.capitalize() for word in rest)


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is not str:
        raise _Invalid("expected a string")
    if not value.isascii():
        _utf8_size(value)
    return value


def _structure_int(value: Any, _: Any) -> int:
    if type(value) is not int:  # bool is a subclass of int, and not a number on the wire
        raise _Invalid("expected an integer")
    return value


def _structure_float(value: Any, _: Any) -> float:
    if (type(value) is not float and type(value) is not int) or not math.isfinite(value):
        raise _Invalid("expected a number")
    return float(value)


def _structure_bool(value: Any, _: Any) -> bool:
    if type(value) is not bool:
        raise _Invalid("expected a boolean")
    return value


def _structure_time(value: Any, _: Any) -> datetime:
    if type(value) is not str or _TIME.fullmatch(value) is None:
        raise _Invalid(_TIME_FORM)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid("not a valid date and time") from None


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
    return get_origin(t) is Annotated and isinstance(t.__metadata__[0], _Check)


def _is_str_literal(t: Any) -> bool:
    return get_origin(t) is Literal and all(type(arg) is str for arg in get_args(t))


def _is_unset_union(t: Any) -> bool:
    return get_origin(t) in (Union, type(int | str)) and UnsetType in get_args(t)


def _structure_literal_factory(t: Any) -> Callable[[Any, Any], str]:
    allowed = frozenset(get_args(t))
    message = "expected one of " + ", ".join(json.dumps(arg) for arg in get_args(t))

    def structure(value: Any, _: Any) -> str:
        if type(value) is not str or value not in allowed:
            raise _Invalid(message)
        return value

    return structure


def _structure_open_factory(cls: type[Part] | type[Event]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Part | Event:
        if type(value) is not dict:
            raise _Invalid("expected an object")
        if "type" not in value:
            raise _Invalid("missing required field", ("type",))
        try:
            kind = _structure_str(value["type"], str)
        except _Invalid as exc:
            raise _Invalid(exc.message, ("type",)) from None
        extra = {k: v for k, v in value.items() if k != "type"}
        _compact_json_size(extra)
        return cls(type=kind, extra=extra)

    return structure


def _unstructure_open(value: Part | Event) -> dict[str, Any]:
    return {"type": value.type, **value.extra}


def make_converter() -> cattrs.Converter:
    """The converter for every shape of this module.

    Its detailed validation, which collects every failure with its location, costs
    about 0.3 us per structured object over the first-failure mode: not worth a
    second converter.
    """
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)

    def structure_attrs(cls: type[Any]) -> Callable[[Any, Any], Any]:
        fields = attrs.fields(cls)
        renames: Any = {a.name: override(rename=_camel(a.name)) for a in fields}
        fn = make_dict_structure_fn(
            cls,
            conv,
            # LSP clients send many fields the daemon has no use for.
            _cattrs_forbid_extra_keys=cls is not InitializeParams,
            **renames,
        )
        # For an optional param, null means absent; UNSET fields are the exception
        # (there null clears), and so are fields whose default is None anyway.
        null_is_absent = frozenset(
            _camel(a.name)
            for a in fields
            if a.default is not attrs.NOTHING and a.default is not None and a.default is not UNSET
        )

        def structure(value: Any, _: Any) -> Any:
            if type(value) is not dict:
                raise _Invalid("expected an object")
            if null_is_absent and any(value.get(k, 0) is None for k in null_is_absent):
                value = {k: v for k, v in value.items() if v is not None or k not in null_is_absent}
            return fn(value, cls)

        return structure

    def unstructure_attrs(cls: type[Any]) -> Callable[[Any], Any]:
        # Optional fields (default None or UNSET) are left out when they hold the default.
        overrides: Any = {
            a.name: override(
                rename=_camel(a.name),
                omit_if_default=True if a.default is None or a.default is UNSET else None,
            )
            for a in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, conv, **overrides)

    def structure_list(t: Any) -> Callable[[Any, Any], Any]:
        inner = list_structure_factory(t, conv)

        def structure(value: Any, _: Any) -> Any:
            if type(value) is not list:
                raise _Invalid("expected an array")
            return inner(value, t)

        return structure

    def structure_checked(t: Any) -> Callable[[Any, Any], Any]:
        base_type = get_args(t)[0]
        base = conv.get_structure_hook(base_type)
        check = t.__metadata__[0].fn
        return lambda value, _: check(base(value, base_type))

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
        conv.register_unstructure_hook(open_cls, _unstructure_open)
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
            return (_camel(note.name),)
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
    elif isinstance(exc, _Invalid):
        out.append(FieldError(path=_join((*path, *exc.path)), message=exc.message))
    elif isinstance(exc, KeyError):
        out.append(FieldError(path=_join(path), message="missing required field"))
    else:
        out.append(FieldError(path=_join(path), message=str(exc) or type(exc).__name__))
