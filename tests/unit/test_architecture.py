"""The shape of the code: no import cycles, no reaching into another package's private modules,
no module past about 400 lines, and each fact of the deployment written once."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from filepipe.config import ArchiveLayout
from filepipe.deployment import Deployment

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("filepipe", "stack", "state_machine", "trigger_lambda", "transform_lambda", "moves_lambda")
PACKAGES += ("batch_image", "upload_api")
MAX_LINES = 420
"""About 400: a module past it does more than one thing."""


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path
    yield "app", ROOT / "app.py"


def imports(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports (``from pkg import mod`` counts as ``pkg.mod``), including
    under ``TYPE_CHECKING``: a cycle there is still two modules that cannot be read apart."""
    known = {module for module, _ in modules()}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{name}: relative import"
            base = node.module or ""
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
            yield from submodules
            if len(submodules) < len(node.names):
                yield base


def graph() -> dict[str, set[str]]:
    known = dict(modules())
    return {name: {m for m in imports(name, path) if m in known and m != name} for name, path in known.items()}


def test_there_are_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_reaches_into_another_packages_private_modules() -> None:
    ours = {module for module, _ in modules()}
    found = []
    for name, path in modules():
        own = name.rpartition(".")[0] if path.name != "__init__.py" else name
        for imported in imports(name, path):
            parts = imported.split(".")
            private = next((i for i, part in enumerate(parts) if part.startswith("_") and part != "__future__"), None)
            if private is None:
                continue
            owner = ".".join(parts[:private])
            if owner in ours and not (own == owner or own.startswith(owner + ".")):
                found.append(f"{name} imports {imported}")
    assert found == []


@pytest.mark.parametrize(("name", "path"), list(modules()), ids=lambda v: str(v) if isinstance(v, str) else "")
def test_no_module_is_over_about_400_lines(name: str, path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concern"


# -- written once -----------------------------------------------------------------------------------


def code_files() -> Iterator[Path]:
    for _, path in modules():
        yield path
    yield ROOT / "cdk.json"


def occurrences(pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [
        f"{path.relative_to(ROOT)}:{n}"
        for path in code_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if regex.search(line)
    ]


@pytest.mark.parametrize("area", ArchiveLayout.areas())
def test_each_archive_area_is_named_once(area: str) -> None:
    """The areas are :class:`ArchiveLayout`'s fields: nowhere else spells their prefixes."""
    assert occurrences(rf'"{area}/"') == ["filepipe/config.py:" + _line_of(f'{area}: str = "{area}/"')]


def _line_of(text: str) -> str:
    lines = (ROOT / "filepipe/config.py").read_text(encoding="utf-8").splitlines()
    return str(next(n for n, line in enumerate(lines, 1) if text in line))


def test_the_large_file_threshold_default_is_written_once() -> None:
    assert occurrences(r"128 \* MiB|134217728|128MiB") == ["filepipe/deployment.py:" + _deployment_line("128 * MiB")]


def _deployment_line(text: str) -> str:
    lines = (ROOT / "filepipe/deployment.py").read_text(encoding="utf-8").splitlines()
    return str(next(n for n, line in enumerate(lines, 1) if text in line))


def test_each_handler_is_named_once() -> None:
    """The function table (``Deployment.functions``) is the one place a handler is named."""
    for spec in Deployment().functions().values():
        assert occurrences(re.escape(f'"{spec.handler}"')) == [
            "filepipe/deployment.py:" + _deployment_line(f'"{spec.handler}"')
        ]


def test_cdk_json_sets_no_setting_the_deployment_defaults() -> None:
    """Context in cdk.json would be a second default: only CDK's feature flags live there."""
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    assert set(context) & set(Deployment.context_keys()) == set()


def test_the_cli_and_the_local_cloud_run_the_stacks_defaults() -> None:
    from click.testing import CliRunner

    from filepipe.cli import main
    from filepipe.local.config import LocalConfig

    assert LocalConfig().deployment == Deployment()
    help_text = CliRunner().invoke(main, ["up", "--help"], terminal_width=200).output
    assert f"[default: {Deployment().large_file_threshold_bytes // 2**20}MiB]" in help_text
    assert f"[default: {Deployment().upload_presign_max_bytes // 2**20}MiB]" in help_text
