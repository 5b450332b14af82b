"""The JSON-RPC 2.0 layer on pygls' JsonRPCProtocol.

pygls leaves gaps this protocol fills: it logs a parse error instead of
answering it, has no batches, falls back to namedtuples for params it has no
type for, drops requests after `shutdown` without an answer, and swallows a
result it cannot serialise. Here every frame is parsed and checked as the
JSON-RPC 2.0 specification says, params are structured by the contracts'
converter straight into their attrs class (the method table names it per
method), and every request with a usable id gets exactly one response.

Handlers live in `handlers` (filled by create_server from the method table),
not in pygls' feature manager; what this module still takes from pygls is
listed in pygls_seam.py.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from idumb_daemon import contracts
from idumb_daemon.protocol import errors
from idumb_daemon.protocol.framing import encode_frame
from idumb_daemon.protocol.pygls_seam import JsonRpcException, JsonRPCProtocol
from idumb_daemon.storage.errors import StorageError
from idumb_daemon.worker import Done, Job

if TYPE_CHECKING:
    from idumb_daemon.protocol.pygls_seam import JsonRPCServer

log = logging.getLogger(__name__)

MsgId = int | str
_NO_ID: Any = object()


class Batch:
    """Collects the responses to one batch and sends them as one array, once
    every member that runs has answered."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self._send = send
        self._responses: list[dict[str, Any]] = []
        self._running = 0
        self._sealed = False

    def started(self) -> None:
        self._running += 1

    def finished(self) -> None:
        """A running member ended; its response follows through `add`."""
        self._running -= 1

    def add(self, response: dict[str, Any]) -> None:
        self._responses.append(response)
        self._flush_if_complete()

    def seal(self) -> None:
        """Every member is dispatched: no more will start."""
        self._sealed = True
        self._flush_if_complete()

    def _flush_if_complete(self) -> None:
        # An all-notification batch has no responses and is answered with nothing.
        if self._sealed and not self._running and self._responses:
            self._send(_encode(self._responses))
            self._responses = []


class IdumbProtocol(JsonRPCProtocol):
    def __init__(self, server: JsonRPCServer, converter: Any) -> None:
        super().__init__(server, converter)
        self.converter = converter
        self.handlers: dict[str, Callable[[Any], Any]] = {}
        """Method name: its handler, taking the structured params."""
        self._running: dict[MsgId, Any] = {}
        """Requests that may still be cancelled, by id."""
        self.send_bytes: Callable[[bytes], None] = lambda _data: None
        self.on_exit: Callable[[int], None] = lambda _code: None
        self.outstanding = 0
        self.on_idle: Callable[[], None] = lambda: None
        self.is_shutdown = False

    # input

    def receive(self, body: bytes) -> None:
        """Handle one frame body: a request, a notification or a batch."""
        try:
            self._receive(body)
        except Exception:
            # A bug must cost one message, never the connection: answer it and
            # go on with the next frame.
            log.exception("internal error while handling a message")
            self._reply(None, error=errors.RpcError(errors.INTERNAL_ERROR, "internal error"))

    def _receive(self, body: bytes) -> None:
        try:
            message = _DECODER.decode(body.decode("utf-8"))
        except RecursionError:
            error = errors.RpcError(errors.PARSE_ERROR, "parse error: nested too deeply")
            self._reply(None, error=error)
            return
        except (UnicodeDecodeError, ValueError) as exc:
            self._reply(None, error=errors.RpcError(errors.PARSE_ERROR, f"parse error: {exc}"))
            return
        if isinstance(message, list):
            if not message:
                self._reply(None, error=_invalid("a batch must not be empty"))
                return
            batch = Batch(self._send_body)
            for member in message:
                self._dispatch(member, batch)
            batch.seal()
        else:
            self._dispatch(message, None)

    def reject_frame(self, reason: str) -> None:
        self._reply(None, error=_invalid(reason))

    def _dispatch(self, message: Any, batch: Batch | None) -> None:
        if not isinstance(message, dict):
            self._reply(None, error=_invalid("a request must be a JSON object"), batch=batch)
            return
        if "method" not in message and ("result" in message or "error" in message):
            # A response from the client: we send no requests, so nothing waits
            # for it, and a response is never answered.
            return
        msg_id = message.get("id", _NO_ID)
        is_request = msg_id is not _NO_ID
        reply_id: MsgId | None = None
        if is_request:
            reply_id = _usable_id(msg_id)
            if reply_id is None:
                self._reply(None, error=_invalid("id must be an integer or a string"), batch=batch)
                return
        if message.get("jsonrpc") != "2.0":
            self._reply(reply_id, error=_invalid('"jsonrpc" must be "2.0"'), batch=batch)
            return
        method = message.get("method")
        if not isinstance(method, str):
            self._reply(reply_id, error=_invalid('"method" must be a string'), batch=batch)
            return
        if reply_id is None:
            # Not even a notification is valid with params that are neither
            # object nor array (nor null, which is omitted); anything else
            # wrong with it stays unanswered.
            params = message.get("params")
            if params is None or isinstance(params, dict | list):
                self._notification(method, message)
            else:
                self._reply(None, error=_invalid("params must be an object"), batch=batch)
            return
        if self.is_shutdown:
            self._reply(reply_id, error=_invalid("the daemon is shut down"), batch=batch)
            return
        try:
            params = self._structure(method, message)
        except errors.RpcError as exc:
            self._reply(reply_id, error=exc, batch=batch)
            return
        self.start_request(reply_id, method, params, batch)

    def _structure(self, method: str, message: dict[str, Any]) -> Any:
        """The method's params, structured; or RpcError."""
        spec = contracts.METHODS.get(method)
        if spec is None or method not in self.handlers:
            raise errors.RpcError(
                errors.METHOD_NOT_FOUND,
                f"unknown method {method!r}",
                contracts.MethodNotFoundData(method=method),
            )
        # "params": null counts as omitted (pygls' own client sends it).
        params = message.get("params")
        if params is None:
            params = _NO_ID
        if isinstance(params, list):
            raise errors.RpcError(
                errors.INVALID_PARAMS,
                "params must be an object: positional params are not supported",
                contracts.InvalidParamsData(
                    errors=[contracts.FieldError(path="", message="expected an object")]
                ),
            )
        if params is not _NO_ID and not isinstance(params, dict):
            raise _invalid("params must be an object")
        if spec.params is None:
            if params not in (_NO_ID, {}):
                raise errors.RpcError(
                    errors.INVALID_PARAMS,
                    f"{method} takes no params",
                    contracts.InvalidParamsData(
                        errors=[contracts.FieldError(path="", message="expected no params")]
                    ),
                )
            return None
        try:
            return contracts.structure({} if params is _NO_ID else params, spec.params)
        except contracts.ParamsInvalid as exc:
            raise _params_error(exc) from None

    def start_request(self, msg_id: MsgId, method: str, params: Any, batch: Batch | None) -> None:
        outcome = self._start(self.handlers[method], params)
        if isinstance(outcome, Done):
            # Finished already (a plain result, a read done inline, a
            # failure): answered now, with no callback and nothing to cancel.
            self._answer(msg_id, outcome, batch)
            return
        if batch is not None:
            batch.started()
        self.outstanding += 1
        outcome.add_done_callback(partial(self._handler_done, msg_id=msg_id, batch=batch))
        # Kept for a cancel only while it can still be cancelled: one that
        # settled at once has had its callback run already.
        if not outcome.done():
            self._running[msg_id] = outcome

    def _start(self, handler: Callable[[Any], Any], params: Any) -> Any:
        """Run a handler; returns a Done when it has finished, else a Job
        (storage work queued, settled on this thread) or a Task.

        A handler returns its result, a Done (a storage read done at once), a
        Job, or a coroutine. Unlike pygls' `_execute_handler`, a plain result
        or a Job needs no task and no extra turn of the event loop: on the
        hot path that was most of the cost of a request.
        """
        try:
            result = handler(params)
        except Exception as exc:
            return Done(error=exc)
        if isinstance(result, Done | Job):
            return result
        if inspect.iscoroutine(result):
            return asyncio.ensure_future(result)
        return Done(result)

    def _notification(self, method: str, message: dict[str, Any]) -> None:
        if method == lsp.CANCEL_REQUEST:
            params = message.get("params")
            msg_id = _usable_id(params.get("id")) if isinstance(params, dict) else None
            if msg_id is not None:
                self.cancel(msg_id)
            return
        if method == lsp.EXIT:
            self.on_exit(0 if self.is_shutdown else 1)
            return
        if method.startswith("$/") or method == lsp.INITIALIZED or self.is_shutdown:
            return
        try:
            params = self._structure(method, message)
        except errors.RpcError as exc:
            log.warning("ignoring notification %r: %s", method, exc)
            return
        handler = self.handlers[method]
        # Executed, never answered; it still counts as in flight until done,
        # so a clean stop waits for its write.
        self.outstanding += 1
        self._start(handler, params).add_done_callback(self._notification_done)

    def cancel(self, msg_id: MsgId) -> None:
        """Cancel a request that has not started; one running goes on, so
        its answer tells what it did.

        A storage job cancels only while still queued (it refuses
        once the storage thread has taken it); a coroutine only before its
        first step: cancelled later (daemon/watch awaiting its start), its
        effect and its -32800 answer would disagree."""
        running = self._running.get(msg_id)
        if running is None or running.done():
            return
        if isinstance(running, asyncio.Task) and (
            inspect.getcoroutinestate(running.get_coro()) != inspect.CORO_CREATED  # type: ignore[arg-type]
        ):
            return
        running.cancel()

    # output

    def _handler_done(self, future: Any, *, msg_id: MsgId, batch: Batch | None) -> None:
        self._running.pop(msg_id, None)
        if batch is not None:
            batch.finished()
        try:
            self._answer(msg_id, future, batch)
        finally:
            self._finished()

    def _answer(self, msg_id: MsgId, future: Any, batch: Batch | None) -> None:
        """Answer a request from its settled Job, Task or Done."""
        if future.cancelled():
            error = errors.RpcError(errors.REQUEST_CANCELLED, "request cancelled")
            self._reply(msg_id, error=error, batch=batch)
        elif (exc := future.exception()) is not None:
            self._reply(msg_id, error=_error_for(exc), batch=batch)
        else:
            self._reply(msg_id, result=future.result(), batch=batch)

    def _notification_done(self, future: Any) -> None:
        if not future.cancelled() and (exc := future.exception()) is not None:
            if isinstance(exc, StorageError):
                log.warning("notification failed: %s", exc)
            else:
                log.error("notification failed", exc_info=exc)
        self._finished()

    def _finished(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            self.on_idle()

    def _reply(
        self,
        msg_id: MsgId | None,
        *,
        result: Any = None,
        error: errors.RpcError | None = None,
        batch: Batch | None = None,
    ) -> None:
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id}
        body = b""
        if error is None:
            try:
                response["result"] = self.converter.unstructure(result)
                # Serialise here, inside the try, even for a batch member: a
                # result that cannot be encoded must become -32603, not silence.
                body = _encode(response)
            except Exception as exc:
                log.exception("result of request %r cannot be serialised", msg_id)
                error = errors.RpcError(errors.INTERNAL_ERROR, f"result not serialisable: {exc}")
                response.pop("result", None)
        if error is not None:
            response["error"] = error.to_json()
            if error.data is not None:
                response["error"]["data"] = self.converter.unstructure(error.data)
            body = _encode(response)
        if batch is not None:
            batch.add(response)
        else:
            self._send_body(body)

    def _send_body(self, body: bytes) -> None:
        self.send_bytes(encode_frame(body))

    def notify(self, method: str, params: Any | None = None) -> None:
        if self.is_shutdown:
            return  # after shutdown only responses are sent
        params = self.converter.unstructure(params)
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        try:
            body = _encode(message)
        except ValueError:
            log.exception("notification %r not sent: not JSON", method)
            return
        self._send_body(body)

    def _send_data(self, data: Any) -> None:
        # pygls' own writer path (used by its built-in features) goes through
        # our framing too, so stdout never sees a second writer.
        self._send_body(json.dumps(data, default=self._serialize_message, allow_nan=False).encode())


def _usable_id(value: Any) -> MsgId | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _encode(message: Any) -> bytes:
    try:
        return _encode_text(message).encode()
    except UnicodeEncodeError:
        # A lone surrogate the client sent (in an id or a method name) has no
        # UTF-8 form: it goes back as the \u escape it came in as.
        return json.dumps(message, allow_nan=False).encode()


def _not_json(constant: str) -> Any:
    # Python's json reads NaN and Infinity; JSON has neither.
    raise ValueError(f"{constant} is not JSON")


# Built once: json.loads and json.dumps given any option build a new decoder
# or encoder on every call, a cost the size of the rest of a small request.
_DECODER = json.JSONDecoder(parse_constant=_not_json)
# allow_nan=False, the last line of defence: a NaN or infinity that reached a
# response fails it (-32603) instead of sending what is not JSON.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def _make_text_encoder() -> Callable[[Any], str]:
    """JSONEncoder.encode without building its C encoder anew on every call,
    which is half its cost for a small message; the plain encoder where
    json has no C accelerator. No check for circular references: messages
    are trees built by the converter."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    encode = make(
        None,
        _ENCODER.default,
        json.encoder.encode_basestring,
        None,
        ": ",
        ", ",
        False,
        False,
        False,
    )
    return lambda message: "".join(encode(message, 0))


_encode_text = _make_text_encoder()


def _invalid(message: str) -> errors.RpcError:
    return errors.RpcError(errors.INVALID_REQUEST, message)


def _params_error(exc: contracts.ParamsInvalid) -> errors.RpcError:
    return errors.RpcError(
        errors.INVALID_PARAMS,
        "invalid params: " + "; ".join(f"{e.path or '(params)'}: {e.message}" for e in exc.errors),
        contracts.InvalidParamsData(errors=exc.errors),
    )


def _error_for(exc: BaseException) -> errors.RpcError:
    if isinstance(exc, errors.RpcError):
        return exc
    # Params that only storage can judge: a value against its declaration.
    if isinstance(exc, contracts.ParamsInvalid):
        return _params_error(exc)
    if isinstance(exc, StorageError):
        return errors.storage_error(exc)
    if isinstance(exc, JsonRpcException):
        return errors.RpcError(exc.code, exc.message, exc.data)
    log.error("internal error", exc_info=(type(exc), exc, exc.__traceback__))
    name = type(exc).__name__
    return errors.RpcError(errors.INTERNAL_ERROR, f"internal error: {name}: {exc}")
