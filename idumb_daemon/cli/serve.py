"""`idumb-daemon serve` (the default): the protocol on stdin and stdout."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from idumb_daemon.cli.common import database_options, storage_url


def add_parsers(sub: Any) -> None:
    serve = sub.add_parser("serve", help="serve JSON-RPC 2.0 on stdin/stdout (the default)")
    database_options(serve)
    serve.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )
    serve.add_argument("--log-file", help="log here instead of stderr")
    # What hosts append on their own (PROTOCOL.md, Transport).
    hosts = serve.add_argument_group("added by hosts")
    hosts.add_argument(
        "--stdio",
        action="store_true",
        help="accepted for vscode-languageclient: stdio is the only transport",
    )
    hosts.add_argument(
        "--clientProcessId",
        type=_pid,
        metavar="PID",
        dest="client_process_id",
        help="exit once this process is gone, as initialize's processId",
    )
    serve.set_defaults(run=run)


def _pid(text: str) -> int:
    pid = int(text)
    if pid <= 0:
        raise argparse.ArgumentTypeError(f"not a process id: {text}")
    return pid


def configure_logging(level: str, log_file: str | None) -> None:
    handler: logging.Handler = (
        logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs message bodies (stored values, tokens) at INFO: keep it quiet
    # unless the user asks for debug output.
    if level != "debug":
        logging.getLogger("pygls").setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    # The protocol owns the real stdout; fd 1 becomes stderr, so a stray print
    # in any library can never corrupt the stream.
    protocol_out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    configure_logging(args.log_level, args.log_file)

    from idumb_daemon.protocol.server import open_storage
    from idumb_daemon.protocol.server import serve as serve_stdio

    storage = open_storage(storage_url(args), busy_timeout=args.busy_timeout)
    return serve_stdio(storage, sys.stdin.fileno(), protocol_out, args.client_process_id)
