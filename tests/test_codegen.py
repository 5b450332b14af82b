"""The generated contracts: committed and current, agreeing with the converter, compiling
with a vscode-jsonrpc client under `tsc --strict`, and describing what the daemon sends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
from jsonschema import Draft202012Validator

from idumb_daemon import contracts
from idumb_daemon.codegen import command
from tests.conftest import DaemonFactory
from tests.wire import REPO, WAIT, Wire, daemon_env

SCHEMA_FILE = REPO / "contracts" / "idumb.schema.json"
TS_DIR = REPO / "tests" / "typescript"
NPM_WAIT = 300.0  # seconds for `npm ci` on a cold cache


def run_contracts(*args: str, root: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "idumb_daemon", "contracts", *args],
        cwd=root,
        env=daemon_env({"PYTHONPATH": str(root)}),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(loaded)
    return loaded


def validator(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    """Validates against the schema at `pointer`, as the file's description says to."""
    return Draft202012Validator({**document, "$ref": pointer})


def method_validator(document: dict[str, Any], method: str, part: str) -> Draft202012Validator:
    escaped = method.replace("~", "~0").replace("/", "~1")
    return validator(document, f"#/x-methods/{escaped}/{part}")


def assert_valid(v: Draft202012Validator, instance: Any) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(instance)
    ]
    assert not errors, f"{json.dumps(instance)[:300]}\n" + "\n".join(errors)


# --- committed and current ---------------------------------------------------------------


def test_check_passes_on_the_committed_files() -> None:
    result = run_contracts("--check")
    assert result.returncode == 0, result.stderr
    assert "idumb.schema.json is up to date" in result.stdout
    assert "idumb.d.ts is up to date" in result.stdout


def test_printed_formats_are_the_committed_files() -> None:
    for fmt, (_, name) in command.FORMATS.items():
        result = run_contracts("--format", fmt)
        assert result.returncode == 0, result.stderr
        assert result.stdout == (REPO / "contracts" / name).read_text(encoding="utf-8")


def test_changing_a_contract_class_makes_check_fail(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "idumb_daemon",
        tmp_path / "idumb_daemon",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(REPO / "contracts", tmp_path / "contracts")
    assert run_contracts("--check", root=tmp_path).returncode == 0

    source = tmp_path / "idumb_daemon" / "contracts" / "settings.py"
    before = "class SettingsEntry:\n    key: str\n    value: str\n"
    text = source.read_text(encoding="utf-8")
    assert text.count(before) == 1
    source.write_text(text.replace(before, before.replace("value: str", "value: str | None")))

    result = run_contracts("--check", root=tmp_path)
    assert result.returncode == 1
    assert "contracts/idumb.schema.json is out of date" in result.stderr
    assert "contracts/idumb.d.ts is out of date" in result.stderr
    assert "+  value: string | null;" in result.stderr
    # The committed files of the real tree are what they were.
    assert run_contracts("--check").returncode == 0


def test_check_fails_on_a_missing_file(tmp_path: Path) -> None:
    result = run_contracts(
        "--check", "--format", "typescript", "--output", str(tmp_path / "x.d.ts")
    )
    assert result.returncode == 1
    assert "is missing" in result.stderr


# --- the schema says what the converter says ---------------------------------------------

AGREEMENT: list[tuple[str, Any, bool]] = [
    ("settings/get", {"key": "a"}, True),
    ("settings/get", {"key": "k" * contracts.MAX_KEY_CODE_POINTS}, True),
    ("settings/get", {"key": "k" * (contracts.MAX_KEY_CODE_POINTS + 1)}, False),
    ("settings/get", {"key": ""}, False),
    ("settings/get", {"key": "tab\there"}, False),
    ("settings/get", {"key": "del\x7f"}, False),
    ("settings/get", {"key": 1}, False),
    ("settings/get", {}, False),
    ("settings/get", {"key": "a", "extra": 1}, False),
    ("settings/set", {"key": "a", "value": "é" * 1000}, True),
    ("settings/set", {"key": "a", "value": None}, False),
    ("settings/getAll", {}, True),
    ("settings/getAll", {"prefix": "a", "after": "a"}, True),
    ("settings/getAll", {"prefix": None, "after": "a"}, False),
    ("settings/getAll", {"limit": None}, False),
    ("settings/getAll", {"limit": contracts.MAX_GET_ALL_LIMIT}, True),
    ("settings/getAll", {"limit": contracts.MAX_GET_ALL_LIMIT + 1}, False),
    ("settings/getAll", {"limit": 0}, False),
    ("settings/getAll", {"limit": 1.5}, False),
    ("settings/setMany", {"entries": [{"key": "a", "value": "1"}]}, True),
    ("settings/setMany", {"entries": []}, False),
    ("settings/setMany", {"entries": [{"key": "a"}]}, False),
    ("settings/export", {}, True),
    ("settings/export", {"all": True}, False),
    ("settings/import", {"version": "1.0", "settings": []}, True),
    ("settings/import", {"version": "2.0", "settings": []}, False),
    ("settings/import", {"version": "1.0", "settings": [], "exportedAt": None}, False),
    (
        "settings/import",
        {"version": "1.0", "settings": [], "exportedAt": "2026-11-26T01:10:58Z"},
        True,
    ),
    (
        "settings/import",
        {"version": "1.0", "settings": [], "exportedAt": "2026-11-26T01:10:58.123Z"},
        True,
    ),
    ("settings/import", {"version": "1.0", "settings": [], "replace": True, "dryRun": True}, True),
    ("settings/import", {"version": "1.0", "settings": [], "replace": None}, False),
    ("settings/import", {"version": "1.0", "settings": [], "dryRun": "yes"}, False),
    ("workspaceConfig/set", {"projectDir": "/p", "name": None, "config": None}, True),
    ("workspaceConfig/set", {"projectDir": "/p", "config": {"a": [1, {"b": None}]}}, True),
    ("workspaceConfig/set", {"projectDir": "/p", "config": [1]}, False),
    ("workspaceConfig/set", {"projectDir": "relative/p"}, False),
    ("workspaceConfig/set", {"projectDir": ""}, False),
    ("workspaceConfig/list", {}, True),
    ("workspaceConfig/list", {"limit": None}, False),
    ("workspaceConfig/list", {"limit": contracts.MAX_LIST_LIMIT + 1}, False),
    ("workspaceConfig/list", {"limit": True}, False),
    ("daemon/status", {}, True),
    ("daemon/status", {"verbose": True}, False),
    ("daemon/watch", {}, True),
    ("daemon/watch", {"enabled": False}, True),
    ("daemon/watch", {"enabled": 0}, False),
    ("daemon/watch", {"enabled": None}, False),
    ("initialize", {"processId": None, "rootUri": None, "capabilities": {}}, True),
    ("initialize", {"processId": "1"}, False),
]


@pytest.mark.parametrize(("method", "params", "accepted"), AGREEMENT)
def test_schema_and_converter_agree_on_params(
    document: dict[str, Any], method: str, params: Any, accepted: bool
) -> None:
    params_type = contracts.METHODS[method].params
    assert params_type is not None
    try:
        contracts.structure(params, params_type)
        structured = True
    except contracts.ParamsInvalid:
        structured = False
    assert structured is accepted, "the sample's expectation is wrong"
    assert method_validator(document, method, "params").is_valid(params) is accepted


def test_methods_and_notifications_are_the_contract_tables(document: dict[str, Any]) -> None:
    assert list(document["x-methods"]) == list(contracts.METHODS)
    assert list(document["x-notifications"]) == list(contracts.NOTIFICATIONS)
    assert "params" not in document["x-methods"]["shutdown"]
    assert document["$defs"]["Part"]["additionalProperties"] is True
    assert document["$defs"]["Part"]["required"] == ["type"]
    assert document["$defs"]["RecoveryInfo"]["required"] == ["from", "at", "corruptFile"]


def test_open_and_unset_shapes_from_the_converter_validate(document: dict[str, Any]) -> None:
    at = datetime(2026, 11, 26, 1, 10, 58, tzinfo=UTC)
    message = contracts.SessionMessage(
        info=contracts.Message(id="m1", role="assistant", parts=[], created_at=at),
        parts=[contracts.Part(type="tool", extra={"name": "grep", "input": {"q": "x"}})],
    )
    assert_valid(validator(document, "#/$defs/SessionMessage"), contracts.unstructure(message))
    part = validator(document, "#/$defs/Part")
    assert not part.is_valid({"name": "grep"})
    assert not part.is_valid({"type": 1})
    ws_set = validator(document, "#/$defs/WorkspaceSetParams")
    assert_valid(ws_set, contracts.unstructure(contracts.WorkspaceSetParams(project_dir="/p")))


# --- TypeScript ------------------------------------------------------------------------


def _missing_tool(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must type-check the declarations")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def tsc() -> list[str]:
    """The command that runs the TypeScript compiler of tests/typescript, installed
    there from its package-lock.json when it is not yet."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing_tool("node or npm is not installed")
    compiler = TS_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    if not (compiler.is_file() and (TS_DIR / "node_modules" / "vscode-jsonrpc").is_dir()):
        installed = subprocess.run(
            [npm, "ci", "--prefix", str(TS_DIR), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=NPM_WAIT,
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
    return [node, str(compiler)]


def run_tsc(tsc: list[str], project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tsc, "--noEmit", "--strict", "-p", str(project / "tsconfig.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.timeout(NPM_WAIT + 120)
def test_declarations_compile_with_a_vscode_jsonrpc_client(tsc: list[str]) -> None:
    result = run_tsc(tsc, TS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def copied_client(tmp_path: Path) -> Path:
    """tests/typescript beside a copy of contracts/, laid out as in the repository."""
    client = tmp_path / "tests" / "typescript"
    client.mkdir(parents=True)
    for name in ("usage.ts", "tsconfig.json"):
        shutil.copy(TS_DIR / name, client / name)
    (client / "node_modules").symlink_to(TS_DIR / "node_modules")
    shutil.copytree(REPO / "contracts", tmp_path / "contracts")
    return tmp_path


@pytest.mark.timeout(NPM_WAIT + 120)
def test_a_method_map_that_loses_null_fails_the_type_check(
    tsc: list[str], copied_client: Path
) -> None:
    declarations = copied_client / "contracts" / "idumb.d.ts"
    right = '"settings/get": { params: SettingsGetParams; result: SettingsEntry | null };'
    text = declarations.read_text(encoding="utf-8")
    assert text.count(right) == 1
    declarations.write_text(text.replace(right, right.replace(" | null", "")))
    result = run_tsc(tsc, copied_client / "tests" / "typescript")
    assert result.returncode != 0
    assert "Unused '@ts-expect-error' directive" in result.stdout


# --- real daemon traffic ----------------------------------------------------------------


def test_every_method_of_a_real_daemon_matches_the_schema(
    spawn: DaemonFactory, tmp_path: Path, document: dict[str, Any]
) -> None:
    wire = spawn()
    project = str(tmp_path / "project")
    exchanged: list[tuple[str, Any, Any]] = []

    def call(method: str, params: Any = None) -> Any:
        result = wire.result(method, params)
        exchanged.append((method, params, result))
        return result

    call("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {}})
    call("settings/set", {"key": "editor.fontSize", "value": "14"})
    call("settings/get", {"key": "editor.fontSize"})
    call("settings/get", {"key": "no.such.key"})
    call(
        "settings/setMany",
        {
            "entries": [
                {"key": "editor.tabSize", "value": "4"},
                {"key": "theme", "value": "dark ☾"},
            ]
        },
    )
    call("settings/getAll", {"prefix": "editor.", "limit": 10})
    exported = call("settings/export", {})
    call("settings/import", {**exported, "replace": True, "dryRun": True})
    call("settings/delete", {"key": "theme"})
    call("workspaceConfig/set", {"projectDir": project, "name": "p", "config": {"a": [1, None]}})
    call("workspaceConfig/set", {"projectDir": project + "/../other//", "name": None})
    call("workspaceConfig/open", {"projectDir": project})
    call("workspaceConfig/get", {"projectDir": project})
    call("workspaceConfig/get", {"projectDir": "/nowhere"})
    call("workspaceConfig/list", {})
    call("workspaceConfig/delete", {"projectDir": project})
    call("daemon/watch", {"enabled": True})
    call("daemon/status", {})
    call("shutdown")

    assert {method for method, _, _ in exchanged} == set(contracts.METHODS)
    for method, params, result in exchanged:
        if params is not None:
            assert_valid(method_validator(document, method, "params"), params)
        assert_valid(method_validator(document, method, "result"), result)
    wire.notify("exit")
    assert wire.wait() == 0


def test_error_data_of_a_real_daemon_matches_the_schema(
    daemon: Wire, document: dict[str, Any]
) -> None:
    invalid = daemon.error("settings/setMany", {"entries": [{"key": ""}], "extra": 1})
    assert invalid["code"] == -32602
    assert_valid(validator(document, "#/$defs/InvalidParamsData"), invalid["data"])
    unknown = daemon.error("settings/rename", {"key": "a"})
    assert unknown["code"] == -32601
    assert_valid(validator(document, "#/$defs/MethodNotFoundData"), unknown["data"])


def test_notification_payloads_match_the_schema(document: dict[str, Any]) -> None:
    # Built by the contracts' converter, as the daemon builds what it sends.
    at = datetime(2026, 11, 26, 1, 10, 58, tzinfo=UTC)
    samples = {
        "settings/didChange": contracts.SettingsDidChangeParams(
            changes=[
                contracts.SettingChange(
                    key="editor.fontSize", value="15", updated_at=at, revision=3, project_dir=None
                ),
                contracts.SettingChange(
                    key="theme", value=None, updated_at=None, revision=4, project_dir="/p"
                ),
            ],
            revision=4,
            resync=False,
        ),
        "workspaceConfig/didChange": contracts.WorkspaceConfigDidChangeParams(
            changes=[
                contracts.WorkspaceChange(
                    project_dir="/p",
                    workspace=contracts.WorkspaceConfig(
                        project_dir="/p",
                        name=None,
                        last_opened=at,
                        config={"theme": "dark"},
                        revision=5,
                    ),
                    revision=5,
                ),
                contracts.WorkspaceChange(project_dir="/gone", workspace=None, revision=6),
            ],
            revision=6,
            resync=True,
        ),
    }
    assert set(samples) == set(contracts.NOTIFICATIONS)
    for name, payload in samples.items():
        escaped = name.replace("/", "~1")
        v = validator(document, f"#/x-notifications/{escaped}/params")
        assert_valid(v, contracts.unstructure(payload))
        assert not v.is_valid({"changes": [{"key": "k"}]})
