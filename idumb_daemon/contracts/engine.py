"""Shapes the IDE shares with its agent engine. The daemon serves none of them;
they are here so the generated contracts give the IDE one source of types."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeAlias

import attrs


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
