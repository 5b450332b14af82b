"""JSON-RPC 2.0 in full and the LSP base framing: the specification's examples adapted
to our methods, batches, invalid requests, ids, headers, oversize bodies, and an
LSP client's handshake. Each test runs on both backends (a SQLite file, then a
PostgreSQL database): requests and batches reach storage."""

from __future__ import annotations

import json
import os
from typing import Any
from unittest.mock import ANY

import pytest

from tests.conftest import DaemonFactory
from tests.wire import WAIT, Wire, body_frame, frame

MAX_BODY = 16 * 1024 * 1024

UNWATCHED = {"watching": False, "revision": ANY}


def send_text(wire: Wire, text: str | bytes) -> None:
    wire.send_raw(body_frame(text.encode() if isinstance(text, str) else text))


def error_of(message: Any, code: int, msg_id: Any = None) -> None:
    assert isinstance(message, dict), message
    assert set(message) == {"jsonrpc", "id", "error"}, message
    assert message["jsonrpc"] == "2.0" and message["id"] == msg_id
    assert message["error"]["code"] == code and message["error"]["message"]


def nothing_pending(wire: Wire) -> None:
    """Prove no answer is owed: the next message is the response to a fresh request."""
    msg_id = wire.request("daemon/watch", {"enabled": False})
    assert wire.next_message() == {
        "jsonrpc": "2.0",
        "id": msg_id,
        "result": UNWATCHED,
    }


def by_id(responses: list[Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for response in responses:
        assert set(response) in ({"jsonrpc", "id", "result"}, {"jsonrpc", "id", "error"})
        assert response["jsonrpc"] == "2.0"
        out.setdefault(response["id"], []).append(response)
    return out


# --- the specification's examples ----------------------------------------------------


def test_spec_call_with_named_params_and_notification(shared: Wire) -> None:
    send_text(
        shared,
        '{"jsonrpc": "2.0", "method": "settings/set", '
        '"params": {"key": "spec.sum", "value": "19"}, "id": 3}',
    )
    response = shared.next_message()
    assert response["id"] == 3 and response["result"]["value"] == "19"

    send_text(
        shared,
        '{"jsonrpc": "2.0", "method": "settings/set", '
        '"params": {"key": "spec.notified", "value": "1"}}',
    )
    send_text(
        shared, '{"jsonrpc": "2.0", "method": "settings/delete", "params": {"key": "spec.sum"}}'
    )
    msg_id = shared.request("settings/get", {"key": "spec.notified"})
    response = shared.next_message()  # the notifications were executed, not answered
    assert response["id"] == msg_id and response["result"]["value"] == "1"
    assert shared.result("settings/get", {"key": "spec.sum"}) is None


def test_spec_non_existent_method(shared: Wire) -> None:
    send_text(shared, '{"jsonrpc": "2.0", "method": "foobar", "id": "1"}')
    response = shared.next_message()
    error_of(response, -32601, "1")
    assert response["error"]["data"] == {"method": "foobar"}


def test_spec_invalid_json(shared: Wire) -> None:
    send_text(shared, '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    error_of(shared.next_message(), -32700)
    nothing_pending(shared)


def test_spec_invalid_request_object(shared: Wire) -> None:
    send_text(shared, '{"jsonrpc": "2.0", "method": 1, "params": "bar"}')
    error_of(shared.next_message(), -32600)
    nothing_pending(shared)


def test_spec_batch_invalid_json(shared: Wire) -> None:
    send_text(
        shared,
        '[\n  {"jsonrpc": "2.0", "method": "settings/get", "params": '
        '{"key": "a"}, "id": "1"},\n  {"jsonrpc": "2.0", "method"\n]',
    )
    error_of(shared.next_message(), -32700)
    nothing_pending(shared)


def test_spec_empty_batch(shared: Wire) -> None:
    send_text(shared, "[]")
    error_of(shared.next_message(), -32600)  # one response, not an array
    nothing_pending(shared)


def test_spec_invalid_batch_members(shared: Wire) -> None:
    send_text(shared, "[1]")
    [response] = shared.next_message()
    error_of(response, -32600)

    send_text(shared, "[1,2,3]")
    responses = shared.next_message()
    assert isinstance(responses, list) and len(responses) == 3
    for response in responses:
        error_of(response, -32600)
    nothing_pending(shared)


def test_spec_mixed_batch(shared: Wire) -> None:
    shared.send(
        [
            {
                "jsonrpc": "2.0",
                "method": "settings/set",
                "params": {"key": "mix", "value": "7"},
                "id": "1",
            },
            {"jsonrpc": "2.0", "method": "settings/set", "params": {"key": "mix.n", "value": "4"}},
            {"jsonrpc": "2.0", "method": "settings/get", "params": {"key": "mix"}, "id": "2"},
            {"foo": "boo"},
            {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
            {"jsonrpc": "2.0", "method": "daemon/watch", "params": {"enabled": False}, "id": "9"},
            {"jsonrpc": "2.0", "method": "settings/get", "params": {"key": "mix.n"}, "id": 10},
        ]
    )
    responses = shared.next_message()
    assert isinstance(responses, list) and len(responses) == 6
    answers = by_id(responses)
    assert set(answers) == {"1", "2", "5", "9", 10, None}
    assert answers["1"][0]["result"]["value"] == "7"
    assert answers["2"][0]["result"]["value"] == "7"  # members run in order
    error_of(answers[None][0], -32600)
    error_of(answers["5"][0], -32601, "5")
    assert answers["5"][0]["error"]["data"] == {"method": "foo.get"}
    assert answers["9"][0]["result"] == UNWATCHED
    assert answers[10][0]["result"]["value"] == "4"
    nothing_pending(shared)


def test_spec_all_notification_batch_is_answered_with_nothing(shared: Wire) -> None:
    shared.send(
        [
            {
                "jsonrpc": "2.0",
                "method": "settings/set",
                "params": {"key": "batch.n", "value": "1"},
            },
            {
                "jsonrpc": "2.0",
                "method": "settings/set",
                "params": {"key": "batch.n", "value": "2"},
            },
            {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        ]
    )
    msg_id = shared.request("settings/get", {"key": "batch.n"})
    response = shared.next_message()
    assert response["id"] == msg_id and response["result"]["value"] == "2"


def test_batch_with_errors_of_every_kind(shared: Wire) -> None:
    shared.send(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "settings/get", "params": ["positional"]},
            {"jsonrpc": "2.0", "id": 2, "method": "settings/get", "params": "a string"},
            {"jsonrpc": "2.0", "id": None, "method": "settings/get", "params": {"key": "k"}},
            {"jsonrpc": "1.0", "id": 4, "method": "settings/get", "params": {"key": "k"}},
            {"jsonrpc": "2.0", "id": 5, "method": "settings/get", "params": {"key": 5}},
            [{"jsonrpc": "2.0", "id": 6, "method": "daemon/status"}],
            {"jsonrpc": "2.0", "id": 7, "method": "settings/get", "params": {"key": "k"}},
        ]
    )
    answers = by_id(shared.next_message())
    assert answers[1][0]["error"]["code"] == -32602
    assert answers[2][0]["error"]["code"] == -32600
    assert answers[4][0]["error"]["code"] == -32600
    assert answers[5][0]["error"]["code"] == -32602
    assert [r["error"]["code"] for r in answers[None]] == [-32600, -32600]
    assert answers[7][0]["result"] is None
    assert 6 not in answers
    nothing_pending(shared)


def test_batch_of_only_invalid_members_and_notifications(shared: Wire) -> None:
    shared.send(
        [
            {"jsonrpc": "2.0", "method": "initialized"},
            {"jsonrpc": "2.0", "id": True, "method": "daemon/status"},
        ]
    )
    [response] = shared.next_message()
    error_of(response, -32600)
    nothing_pending(shared)


def test_large_batch(shared: Wire) -> None:
    shared.send(
        [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "settings/set",
                "params": {"key": f"big.{i % 7}", "value": str(i)},
            }
            for i in range(500)
        ]
        + [{"jsonrpc": "2.0", "id": "last", "method": "settings/get", "params": {"key": "big.3"}}]
    )
    answers = by_id(shared.next_message())
    assert len(answers) == 501
    assert answers["last"][0]["result"]["value"] == "493"  # the last i with i % 7 == 3


# --- invalid requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "msg_id"),
    [
        ('"a string"', None),
        ("1", None),
        ("null", None),
        ("true", None),
        ('{"id": 1, "method": "daemon/status"}', 1),
        ('{"jsonrpc": "2.1", "id": "x", "method": "daemon/status"}', "x"),
        ('{"jsonrpc": 2.0, "id": 1, "method": "daemon/status"}', 1),
        ('{"jsonrpc": "2.0", "id": null, "method": "daemon/status"}', None),
        ('{"jsonrpc": "2.0", "id": 1.5, "method": "daemon/status"}', None),
        ('{"jsonrpc": "2.0", "id": true, "method": "daemon/status"}', None),
        ('{"jsonrpc": "2.0", "id": false, "method": "daemon/status"}', None),
        ('{"jsonrpc": "2.0", "id": [1], "method": "daemon/status"}', None),
        ('{"jsonrpc": "2.0", "id": {"a": 1}, "method": "daemon/status"}', None),
        ('{"jsonrpc": "2.0", "id": 1}', 1),
        ('{"jsonrpc": "2.0", "id": 1, "method": null}', 1),
        ('{"jsonrpc": "2.0", "id": 1, "method": ["daemon/status"]}', 1),
        ('{"jsonrpc": "2.0", "id": 2, "method": "daemon/status", "params": "bar"}', 2),
        ('{"jsonrpc": "2.0", "id": 4, "method": "daemon/status", "params": 4}', 4),
        ('{"jsonrpc": "2.0", "id": 5, "method": "shutdown", "params": true}', 5),
        ('{"jsonrpc": "2.0"}', None),
        ('{"method": "daemon/status"}', None),
        ("{}", None),
    ],
)
def test_invalid_request(shared: Wire, text: str, msg_id: Any) -> None:
    send_text(shared, text)
    error_of(shared.next_message(), -32600, msg_id)
    nothing_pending(shared)


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "2.0", "id": 1, "method": "settings/get", "params": {"key": "\xff"}}',
        b"\xef\xbb\xbf{}",  # a byte order mark is not JSON
        b'{"jsonrpc": "2.0", "id": 1, "method": "settings/get", "params": {"key": "\xed\xa0\x80"}}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "workspaceConfig/set", '
        b'"params": {"projectDir": "/x", "config": {"n": NaN}}}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "settings/getAll", "params": {"limit": Infinity}}',
        b"",
        b"   ",
        b"{'jsonrpc': '2.0'}",
        b'{"jsonrpc": "2.0", "id": 1, "method": "daemon/status"} {}',
    ],
)
def test_parse_error(shared: Wire, body: bytes) -> None:
    send_text(shared, body)
    error_of(shared.next_message(), -32700)
    nothing_pending(shared)


def test_response_from_the_client_is_not_answered(shared: Wire) -> None:
    send_text(shared, '{"jsonrpc": "2.0", "id": 1, "result": null}')
    send_text(shared, '{"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": "x"}}')
    nothing_pending(shared)


@pytest.mark.parametrize(
    "msg_id", [0, -1, 2**53, 2**63 + 5, "", "1", "é 😀", "a" * 1000, 'id-with-"quotes"']
)
def test_ids_come_back_unchanged(shared: Wire, msg_id: Any) -> None:
    response = shared.call("settings/get", {"key": "ids"}, msg_id=msg_id)
    assert response == {"jsonrpc": "2.0", "id": msg_id, "result": None}


def test_integral_float_id_is_an_integer(shared: Wire) -> None:
    send_text(
        shared,
        '{"jsonrpc": "2.0", "id": 7.0, "method": "daemon/watch", "params": {"enabled": false}}',
    )
    response = shared.next_message()
    assert response["id"] == 7 and response["result"] == UNWATCHED


def test_extra_top_level_members_are_ignored(shared: Wire) -> None:
    shared.send(
        {"jsonrpc": "2.0", "id": "x1", "method": "settings/get", "params": {"key": "k"}, "extra": 1}
    )
    assert shared.next_message() == {"jsonrpc": "2.0", "id": "x1", "result": None}


# --- framing -------------------------------------------------------------------------


def test_header_names_are_case_insensitive_and_content_type_is_ignored(shared: Wire) -> None:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": "h", "method": "settings/get", "params": {"key": "hdr"}}
    ).encode()
    for header in (
        b"content-length: %d\r\n\r\n" % len(body),
        b"CONTENT-LENGTH:%d\r\n\r\n" % len(body),
        b"Content-Length:   %d  \r\n\r\n" % len(body),
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body),
        b"Content-Length: %d\r\n"
        b"content-type: application/vscode-jsonrpc; charset=utf8\r\n\r\n" % len(body),
        b"X-Anything: 1\r\nContent-Length: %d\r\n\r\n" % len(body),
        b"Content-Length: %d\n\n" % len(body),  # bare LF, as typed in a shell
    ):
        shared.send_raw(header + body)
        assert shared.next_message() == {"jsonrpc": "2.0", "id": "h", "result": None}, header


@pytest.mark.parametrize(
    "header",
    [
        b"Content-Type: application/vscode-jsonrpc\r\n\r\n",
        b"Content-Length: ten\r\n\r\n",
        b"Content-Length: -5\r\n\r\n",
        b"Content-Length: \r\n\r\n",
        b"Content-Lenght: 2\r\n\r\n",
    ],
)
def test_header_block_without_usable_content_length(shared: Wire, header: bytes) -> None:
    shared.send_raw(header)
    error_of(shared.next_message(), -32600)
    nothing_pending(shared)


def test_frame_split_byte_by_byte(shared: Wire) -> None:
    data = frame(
        {"jsonrpc": "2.0", "id": "split", "method": "settings/get", "params": {"key": "é😀"}}
    )
    for i in range(len(data)):
        shared.send_raw(data[i : i + 1])
    assert shared.next_message() == {"jsonrpc": "2.0", "id": "split", "result": None}


def test_body_of_exactly_16_mib_is_served(shared: Wire) -> None:
    body = (
        b'{"jsonrpc": "2.0", "id": "max", "method": "daemon/watch", "params": {"enabled": false}}'
    )
    body = body[:-1] + b" " * (MAX_BODY - len(body)) + b"}"
    assert len(body) == MAX_BODY
    send_text(shared, body)
    assert shared.next_message() == {
        "jsonrpc": "2.0",
        "id": "max",
        "result": UNWATCHED,
    }


def test_body_over_16_mib_is_discarded_and_the_daemon_goes_on(shared: Wire) -> None:
    over = MAX_BODY + 1
    shared.send_raw(b"Content-Length: %d\r\n\r\n" % over)
    # Stream the body, as a client would: it is discarded, never held whole.
    chunk = b'{"a": "' + b"x" * (1 << 20)
    sent = 0
    while sent < over:
        piece = chunk[: over - sent]
        shared.send_raw(piece)
        sent += len(piece)
    error_of(shared.next_message(), -32600)
    nothing_pending(shared)


def test_header_block_too_long_is_dropped(shared: Wire) -> None:
    # A header block longer than any LSP one is answered once and skipped up
    # to its end instead of buffered; what follows it is served.
    shared.send_raw(b"X" * (128 * 1024))
    error_of(shared.next_message(), -32600)
    shared.send_raw(b"\r\n\r\n")
    nothing_pending(shared)


# --- LSP clients ---------------------------------------------------------------------


def vscode_frame(message: Any) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return (
        b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8"
        b"\r\n\r\n" % len(body)
    ) + body


def test_vscode_jsonrpc_style_client(spawn_any: DaemonFactory) -> None:
    daemon = spawn_any()
    daemon.send_raw(
        vscode_frame(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "processId": os.getpid(),
                    "clientInfo": {"name": "Visual Studio Code", "version": "1.95.0"},
                    "locale": "en",
                    "rootPath": None,
                    "rootUri": None,
                    "capabilities": {"workspace": {"applyEdit": True}, "general": {}},
                    "initializationOptions": {"anything": [1, 2]},
                    "trace": "off",
                    "workspaceFolders": None,
                },
            }
        )
    )
    init = daemon.next_message()
    assert init["id"] == 0
    assert init["result"]["capabilities"]["experimental"]["idumb"]["protocolVersion"] == 2
    assert init["result"]["serverInfo"]["name"] == "idumb-daemon"
    daemon.send_raw(vscode_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    daemon.send_raw(
        vscode_frame(
            {
                "jsonrpc": "2.0",
                "id": "1",
                "method": "settings/set",
                "params": {"key": "editor.fontSize", "value": "14"},
            }
        )
    )
    response = daemon.next_message()
    assert response["id"] == "1" and response["result"]["value"] == "14"
    daemon.send_raw(
        vscode_frame(
            {
                "jsonrpc": "2.0",
                "id": "2",
                "method": "settings/get",
                "params": {"key": "editor.fontSize"},
            }
        )
    )
    assert daemon.next_message()["result"]["value"] == "14"
    daemon.send_raw(
        vscode_frame({"jsonrpc": "2.0", "method": "$/setTrace", "params": {"value": "verbose"}})
    )
    # vscode-languageclient sends shutdown without params.
    daemon.send_raw(vscode_frame({"jsonrpc": "2.0", "id": "3", "method": "shutdown"}))
    assert daemon.next_message() == {"jsonrpc": "2.0", "id": "3", "result": None}
    daemon.send_raw(vscode_frame({"jsonrpc": "2.0", "method": "exit"}))
    assert daemon.wait() == 0


def test_no_handshake_and_after_shutdown_only_errors(spawn_any: DaemonFactory) -> None:
    daemon = spawn_any()
    response = daemon.call("settings/set", {"key": "k", "value": "v"}, msg_id="first")
    assert response["id"] == "first" and response["result"]["value"] == "v"
    assert daemon.result("initialize", {})["serverInfo"]["name"] == "idumb-daemon"

    assert daemon.call("shutdown", {}, msg_id="s") == {"jsonrpc": "2.0", "id": "s", "result": None}
    for method, params in (
        ("settings/get", {"key": "k"}),
        ("daemon/status", None),
        ("shutdown", None),
        ("initialize", {}),
        ("nope", {}),
    ):
        error_of(daemon.call(method, params, msg_id=method), -32600, method)
    daemon.notify("settings/set", {"key": "late", "value": "ignored"})
    daemon.send([{"jsonrpc": "2.0", "id": "b1", "method": "daemon/status"}])
    [response] = daemon.next_message()
    error_of(response, -32600, "b1")
    send_text(daemon, "not json")
    error_of(daemon.next_message(), -32700)

    # A huge declared length is answered before its body arrives; what follows
    # is that body, discarded: this request is never read, so never answered.
    daemon.send_raw(b"Content-Length: 1099511627776\r\n\r\n")
    error_of(daemon.next_message(), -32600)
    daemon.send_raw(frame({"jsonrpc": "2.0", "id": 1, "method": "daemon/status"}))
    daemon.close_stdin()
    assert daemon.wait() == 0
    assert daemon.messages.get(timeout=WAIT) is None


# --- hostile input: each costs one message at most -----------------------------------


def test_malformed_cancel_is_ignored(shared: Wire) -> None:
    follow = frame(
        {"jsonrpc": "2.0", "id": "after-cancel", "method": "settings/get", "params": {"key": "k"}}
    )
    for params in ({"id": [1]}, {"id": {"a": 1}}, {"id": None}, {"id": True}, {}, [1], "x"):
        shared.send_raw(
            frame({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": params}) + follow
        )
        message = shared.next_message()
        if message.get("id") is None:  # params neither object nor array: -32600
            error_of(message, -32600)
            message = shared.next_message()
        assert message == {"jsonrpc": "2.0", "id": "after-cancel", "result": None}, params


def test_deeply_nested_json_is_a_parse_error(shared: Wire) -> None:
    follow = frame(
        {"jsonrpc": "2.0", "id": "after-deep", "method": "settings/get", "params": {"key": "k"}}
    )
    for body in (
        b"[" * 100_000 + b"]" * 100_000,
        b'{"jsonrpc": "2.0", "id": 1, "method": "workspaceConfig/set", "params": '
        b'{"projectDir": "/deep", "config": ' + b'{"a":' * 5000 + b"1" + b"}" * 5002,
    ):
        shared.send_raw(body_frame(body) + follow)
        error_of(shared.next_message(), -32700)
        assert shared.next_message() == {"jsonrpc": "2.0", "id": "after-deep", "result": None}


def test_lone_surrogates_in_id_and_method_are_echoed(shared: Wire) -> None:
    # json.dumps escapes them, as a buggy client would send them.
    assert shared.call("settings/get", {"key": "k"}, msg_id="\udc00") == {
        "jsonrpc": "2.0",
        "id": "\udc00",
        "result": None,
    }
    response = shared.call("\ud800/x", {})
    assert response["error"]["code"] == -32601
    assert response["error"]["data"] == {"method": "\ud800/x"}
    response = shared.call("settings/get", {"key": "\ud800"}, msg_id="\udc01")
    assert response["id"] == "\udc01" and response["error"]["code"] == -32602
    shared.send(
        [{"jsonrpc": "2.0", "id": "\udc02", "method": "daemon/watch", "params": {"enabled": False}}]
    )
    assert shared.next_message() == [{"jsonrpc": "2.0", "id": "\udc02", "result": UNWATCHED}]
