"""`idumb-daemon call METHOD [PARAMS_JSON]` and `idumb-daemon settings
get|set|delete|list|export|import|declare|resolve|inspect`: requests made
through a daemon of their own.

Each starts a daemon on the chosen database, makes its calls through the
Python client, prints results as JSON on stdout and errors on stderr (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from idumb_daemon.cli.common import database_options

if TYPE_CHECKING:
    from idumb_daemon.client import DaemonClient


def add_parsers(sub: Any) -> None:
    call = sub.add_parser("call", help="send one request, print its result as JSON")
    call.add_argument("method")
    call.add_argument("params", nargs="?", help="params as a JSON object")
    database_options(call)
    call.set_defaults(run=run)

    settings = sub.add_parser("settings", help="common settings operations")
    actions = settings.add_subparsers(dest="action", required=True)
    get = actions.add_parser("get", help="print a setting's value")
    get.add_argument("key")
    set_ = actions.add_parser("set", help="store a value")
    set_.add_argument("key")
    set_.add_argument("value")
    set_.add_argument(
        "--if-revision",
        type=int,
        metavar="N",
        help="only if the key's current revision is N (0: only if it is absent)",
    )
    delete = actions.add_parser("delete", help="delete a setting")
    delete.add_argument("key")
    list_ = actions.add_parser("list", help="print settings as JSON")
    list_.add_argument("--prefix")
    export = actions.add_parser("export", help="write the export document to stdout")
    import_ = actions.add_parser("import", help="import an export document")
    import_.add_argument("file", nargs="?", default="-", help="a file, or - for stdin")
    import_.add_argument("--replace", action="store_true", help="delete keys absent from it")
    import_.add_argument("--dry-run", action="store_true", help="only report what would change")
    declare = actions.add_parser(
        "declare", help="declare an owner's settings from a JSON file {key: schema}"
    )
    declare.add_argument("file", help="a file, or - for stdin")
    declare.add_argument("--owner", required=True, help="replaces this owner's declarations")
    resolve = actions.add_parser("resolve", help="print effective values as JSON")
    resolve.add_argument("keys", nargs="*", metavar="KEY", help="default: every key")
    resolve.add_argument("--project", metavar="DIR", help="with this project's layer on top")
    inspect = actions.add_parser("inspect", help="print every layer of a setting as JSON")
    inspect.add_argument("key")
    for action in (get, set_, delete, list_, export, import_, declare, resolve, inspect):
        database_options(action)
        action.set_defaults(run=run)


def _daemon_args(args: argparse.Namespace) -> list[str]:
    out = ["--busy-timeout", str(args.busy_timeout)]
    for option in ("project_dir", "db", "database_url"):
        value = getattr(args, option)
        if value:
            out += ["--" + option.replace("_", "-"), value]
    return out


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def run(args: argparse.Namespace) -> int:
    from idumb_daemon.client import ConnectionClosed, DaemonClient, DaemonError

    try:
        # Bad input fails before a daemon is started for nothing.
        params = _read_params(args)
        with DaemonClient.spawn(_daemon_args(args)) as daemon:
            if args.command == "call":
                _print(daemon.request(args.method, params))
                return 0
            return _settings(daemon, args, params)
    except DaemonError as exc:
        print(f"idumb-daemon: {exc.message} ({exc.code})", file=sys.stderr)
        if exc.data is not None:
            print(json.dumps(exc.data, ensure_ascii=False), file=sys.stderr)
        return 1
    except (ValueError, OSError, ConnectionClosed) as exc:
        print(f"idumb-daemon: {exc}", file=sys.stderr)
        return 1


def _read_params(args: argparse.Namespace) -> Any:
    """The params JSON of `call`, or the document `settings import` reads."""
    if args.command == "call":
        return json.loads(args.params) if args.params else None
    if args.action not in ("import", "declare"):
        return None
    if args.file == "-":
        text = sys.stdin.read()
    else:
        with open(args.file, encoding="utf-8") as file:
            text = file.read()
    params = json.loads(text)
    if not isinstance(params, dict):
        raise ValueError(f"{args.file}: expected a JSON object")
    if args.action == "declare":
        return {"owner": args.owner, "settings": params}
    params.update(replace=args.replace, dryRun=args.dry_run)
    return params


def _settings(daemon: DaemonClient, args: argparse.Namespace, params: Any) -> int:
    from idumb_daemon import contracts

    if args.action == "get":
        entry = daemon.get(args.key)
        if entry is None:
            print(f"idumb-daemon: no setting {args.key!r}", file=sys.stderr)
            return 1
        print(entry.value)
    elif args.action == "set":
        entry = daemon.set(args.key, args.value, if_revision=args.if_revision)
        _print(contracts.unstructure(entry))
    elif args.action == "delete":
        _print({"deleted": daemon.delete(args.key)})
    elif args.action == "list":
        _print(contracts.unstructure(daemon.get_all(prefix=args.prefix)))
    elif args.action == "export":
        _print(contracts.unstructure(daemon.export()))
    elif args.action == "declare":
        _print(daemon.request(contracts.SETTINGS_DECLARE.name, params))
    elif args.action == "resolve":
        _print(
            contracts.unstructure(daemon.resolve(keys=args.keys or None, project_dir=args.project))
        )
    elif args.action == "inspect":
        _print(contracts.unstructure(daemon.inspect(args.key)))
    else:
        # The file goes as it is: the daemon checks it and names what is wrong.
        _print(daemon.request(contracts.SETTINGS_IMPORT.name, params))
    return 0
