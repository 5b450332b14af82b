"""`idumb-daemon bundle --output PATH`: the daemon as one file to ship.

A zipapp holding the idumb_daemon package (its schema/ inside) and every
distribution it requires, found from the installed metadata: it runs with
`python3 idumb-daemon.pyz [serve ...]` on Python >= 3.11 with nothing installed.
Only pure Python goes in (compiled extensions are left out: SQLAlchemy and
MarkupSafe fall back to their Python code), so one file serves every platform.
Each module also goes in compiled, as an unchecked hash-based .pyc beside its
source: zipimport cannot write a bytecode cache, and compiling every module at
each start would make the bundle slow to start. Another Python version rejects
those by their magic number and compiles the source instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import marshal
import re
import sys
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import idumb_daemon

DISTRIBUTION = "idumb-daemon"
MAIN = """\
import sys

# zipimport before Python 3.13 reads and unmarshals each module twice: once to
# name its file when its spec is made, once to run it. On the Python whose
# bytecode the archive holds, the listing alone names the file.
if sys.implementation.cache_tag == {tag!r}:
    import os
    import zipimport

    class _Importer(zipimport.zipimporter):
        def get_filename(self, fullname):
            try:
                base = self.prefix + fullname.rpartition(".")[2]
                for suffix in ("/__init__.pyc", "/__init__.py", ".pyc", ".py"):
                    name = base + suffix.replace("/", os.sep)
                    if name in self._files:
                        return self.archive + os.sep + name
            except AttributeError:
                pass
            return super().get_filename(fullname)

    if zipimport.zipimporter in sys.path_hooks:
        sys.path_hooks[sys.path_hooks.index(zipimport.zipimporter)] = _Importer
        sys.path_importer_cache.clear()

from idumb_daemon.cli import main

sys.exit(main())
"""
SHEBANG = b"#!/usr/bin/env python3\n"
# A fixed time for every entry: the same tree gives the same bytes.
_EPOCH = (2020, 1, 1, 0, 0, 0)
_NATIVE = (".so", ".pyd", ".dylib", ".dll")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_KEPT_METADATA = ("METADATA", "entry_points.txt")
STORE_BYTECODE = zipfile.ZIP_STORED


def add_parsers(sub: Any) -> None:
    bundle = sub.add_parser(
        "bundle", help="write the daemon and its pure-Python dependencies as one .pyz file"
    )
    bundle.add_argument(
        "--output", type=Path, default=Path("idumb-daemon.pyz"), help="default ./idumb-daemon.pyz"
    )
    bundle.set_defaults(run=run)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> list[metadata.Distribution]:
    """The distributions the daemon needs at run time, itself excluded: its
    requirements and theirs, without extras."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(DISTRIBUTION, False)]
    while todo:
        name, conditional = todo.pop()
        key = _normal(name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            # A requirement under a marker (another Python version) that this
            # environment did not install is not needed on this one either.
            if conditional:
                continue
            raise SystemExit(
                f"idumb-daemon: bundle: {name} is required but not installed"
            ) from None
        found[key] = dist
        for requirement in dist.requires or []:
            spec, _, marker = requirement.partition(";")
            match = _NAME.match(spec)
            if match and "extra" not in marker:
                todo.append((match[1], bool(marker.strip())))
    del found[_normal(DISTRIBUTION)]
    return list(found.values())


def _dependency_files(dist: metadata.Distribution) -> Iterator[tuple[str, Path]]:
    for file in dist.files or []:
        parts = file.parts
        if parts[0] == ".." or "__pycache__" in parts or file.name.endswith(_NATIVE):
            continue
        if parts[0].endswith(".dist-info") and file.name not in _KEPT_METADATA:
            continue
        if file.name.endswith(".pth"):
            continue
        yield "/".join(parts), Path(str(dist.locate_file(file)))


def _package_files() -> Iterator[tuple[str, Path]]:
    from idumb_daemon.migrations import files

    package = Path(idumb_daemon.__file__).parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield f"idumb_daemon/{path.relative_to(package).as_posix()}", path
    if not (package / "schema").is_dir():
        # A checkout (editable install): schema/ is at the root of the tree.
        schema = files.schema_dir()
        for path in sorted(schema.rglob("*.json")):
            yield f"idumb_daemon/schema/{path.relative_to(schema).as_posix()}", path


def _pyc(source: bytes, name: str) -> bytes:
    code = compile(source, name, "exec", dont_inherit=True)
    # PEP 552: flags 0b01 = hash-based, not checked against the source.
    header = importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little")
    return header + importlib.util.source_hash(source) + marshal.dumps(code)


def build(output: Path) -> int:
    """Writes the archive; returns the number of modules in it."""
    entries: dict[str, Path] = {}
    for dist in sorted(requirements(), key=lambda d: _normal(d.metadata["Name"])):
        entries.update(_dependency_files(dist))
    entries.update(_package_files())
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    modules = 0
    with partial.open("wb") as raw:
        raw.write(SHEBANG)
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:

            def add(name: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> None:
                info = zipfile.ZipInfo(name, _EPOCH)
                info.compress_type = compress
                info.external_attr = 0o644 << 16
                archive.writestr(info, data)

            add("__main__.py", MAIN.format(tag=sys.implementation.cache_tag).encode())
            for name in sorted(entries):
                data = entries[name].read_bytes()
                add(name, data)
                if name.endswith(".py"):
                    add(name + "c", _pyc(data, name), STORE_BYTECODE)
                    modules += 1
    partial.chmod(0o755)
    partial.replace(output)
    return modules


def run(args: argparse.Namespace) -> int:
    output: Path = args.output
    modules = build(output)
    size = output.stat().st_size
    print(f"{output}: {modules} modules, {size / 1e6:.1f} MB", file=sys.stderr)
    return 0
