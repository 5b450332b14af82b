"""The servers a run compares, and how each is started on a database file."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import idumb_daemon

RAW_SERVER = Path(__file__).with_name("raw_server.py")
ASYNCIO_SERVER = Path(__file__).with_name("asyncio_server.py")

# The import line the spawn target is measured against: what the daemon
# cannot avoid loading before it can answer.
DEPENDENCY_IMPORTS = (
    "import pygls.server, pygls.protocol, lsprotocol.types, dataset, sqlalchemy, cattrs, attrs"
)


@dataclass(frozen=True)
class Server:
    name: str
    command: Callable[[Path], list[str]]
    env: dict[str, str]
    full_protocol: bool
    """Speaks the daemon's whole protocol; the others know settings/get and /set only."""


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    # A database URL in the environment would send the daemon elsewhere than --db.
    env.pop("IDUMB_DATABASE_URL", None)
    return env


def daemon_env() -> dict[str, str]:
    """Run the daemon from the same tree as this benchmark, installed or not."""
    env = base_env()
    # Bytecode may be cached, as it is for an installed package (pip compiles
    # it) and for the dependencies the spawn is measured against: without it
    # a source tree is compiled anew at every spawn.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = Path(idumb_daemon.__file__).resolve().parent.parent
    if "site-packages" not in root.parts:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env


def daemon(python: str, daemon_cmd: str | None) -> Server:
    """`daemon_cmd` gets `--db PATH` appended unless it names `{db}` itself."""
    words = shlex.split(daemon_cmd) if daemon_cmd else [python, "-m", "idumb_daemon", "serve"]

    def command(db: Path) -> list[str]:
        if any("{db}" in w for w in words):
            return [w.replace("{db}", str(db)) for w in words]
        return [*words, "--db", str(db)]

    return Server("daemon", command, daemon_env(), full_protocol=True)


def raw(python: str) -> Server:
    # The same interpreter as the daemon's, so both use the same SQLite library.
    return Server("raw", lambda db: [python, str(RAW_SERVER), str(db)], base_env(), False)


def asyncio_loop(python: str) -> Server:
    return Server("asyncio", lambda db: [python, str(ASYNCIO_SERVER), str(db)], base_env(), False)


def asyncio_contracts(python: str) -> Server:
    """The asyncio loop doing the work any server with the daemon's contracts must."""
    return Server(
        "contracts",
        lambda db: [python, str(ASYNCIO_SERVER), str(db), "--contracts"],
        daemon_env(),  # it imports the daemon's contracts
        False,
    )


def asyncio_revisions(python: str) -> Server:
    """As asyncio_contracts, on the daemon's schema, keeping its change log and
    answering revisions: what any server with the daemon's contracts and
    revisions must do, the daemon's own layers aside."""
    return Server(
        "revisions",
        lambda db: [python, str(ASYNCIO_SERVER), str(db), "--contracts", "--revisions"],
        daemon_env(),
        False,
    )


def nodepeer(folder: Path) -> Server:
    script = folder / "peer_server.js"
    if not script.is_file():
        raise FileNotFoundError(f"{script} not found")
    if not (folder / "node_modules").is_dir():
        raise FileNotFoundError(
            f"{folder}/node_modules not found: run npm install --prefix {folder}"
        )
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("node is not on PATH")
    return Server("nodepeer", lambda db: [node, str(script), str(db)], base_env(), False)
