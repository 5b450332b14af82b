"""The daemon hosted the way an editor extension hosts a language server
(issue 17, item 2): `new LanguageClient(id, name, {command: 'idumb-daemon',
transport: TransportKind.stdio}, ...)` from vscode-languageclient/node.

vscode-languageclient cannot run outside VS Code (it imports the `vscode`
module), so this test emulates its wire behaviour: it spawns the command found
on PATH with `--stdio` and `--clientProcessId=<host pid>` appended and no
subcommand, frames every message with Content-Length and Content-Type headers,
sends its (large) initialize, `initialized`, `$/setTrace`, and ends with
`shutdown` without params and `exit`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.wire import Wire

VENV_BIN = Path(sys.executable).parent
CONTENT_TYPE = b"application/vscode-jsonrpc; charset=utf-8"


def lsp_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return (b"Content-Length: %d\r\nContent-Type: %s\r\n\r\n" % (len(body), CONTENT_TYPE)) + body


def initialize_params(root: Path) -> dict[str, Any]:
    """What vscode-languageclient 9 sends, trimmed of the capability tree's depth."""
    uri = root.as_uri()
    return {
        "processId": os.getpid(),
        "clientInfo": {"name": "Visual Studio Code", "version": "1.95.0"},
        "locale": "en",
        "rootPath": str(root),
        "rootUri": uri,
        "capabilities": {
            "workspace": {"applyEdit": True, "configuration": True, "workspaceFolders": True},
            "textDocument": {"synchronization": {"dynamicRegistration": True}},
            "window": {"workDoneProgress": True},
            "general": {"positionEncodings": ["utf-16"]},
        },
        "initializationOptions": {},
        "trace": "off",
        "workspaceFolders": [{"uri": uri, "name": root.name}],
    }


def test_hosted_like_vscode_languageclient_with_transport_stdio(tmp_path: Path) -> None:
    env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    # `command: 'idumb-daemon'`, found on PATH; the host adds the rest.
    wire = Wire(
        ["--stdio", f"--clientProcessId={os.getpid()}"],
        command=["idumb-daemon"],
        cwd=tmp_path,
        env=env,
    )
    try:
        wire.send_raw(
            lsp_frame(
                {
                    "jsonrpc": "2.0",
                    "id": 0,
                    "method": "initialize",
                    "params": initialize_params(tmp_path),
                }
            )
        )
        init = wire.response(0)
        assert "error" not in init, init
        idumb = init["result"]["capabilities"]["experimental"]["idumb"]
        assert "settings/get" in idumb["methods"]
        wire.send_raw(lsp_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        wire.send_raw(
            lsp_frame({"jsonrpc": "2.0", "method": "$/setTrace", "params": {"value": "off"}})
        )
        wire.send_raw(
            lsp_frame(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "settings/set",
                    "params": {"key": "editor.theme", "value": "dark"},
                }
            )
        )
        assert wire.response(1)["result"]["value"] == "dark"
        wire.send_raw(
            lsp_frame(
                {
                    "jsonrpc": "2.0",
                    "id": 2,
                    "method": "settings/get",
                    "params": {"key": "editor.theme"},
                }
            )
        )
        assert wire.response(2)["result"]["value"] == "dark"
        # vscode-jsonrpc sends a request without params with no "params" member.
        wire.send_raw(lsp_frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
        assert wire.response(3) == {"jsonrpc": "2.0", "id": 3, "result": None}
        wire.send_raw(lsp_frame({"jsonrpc": "2.0", "method": "exit"}))
        assert wire.wait() == 0
        # Nothing but protocol on stdout, and no complaint about the host's flags.
        assert "unrecognized arguments" not in wire.stderr.decode()
    finally:
        wire.kill()
    # The working directory's database, as with no --db (the extension's folder).
    assert any(tmp_path.rglob("*.db")), list(tmp_path.rglob("*"))
