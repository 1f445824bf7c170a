"""The import layers of docs/ARCHITECTURE.md hold: no module imports from a layer above its
own (read from the source, imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "infomax"

# package or module -> the infomax packages and modules it must not import
FORBIDDEN = {
    "errors": {"*"},
    "numerics": {"*"},
    "files": {"*"},
    "registry": {"*"},
    "dist": {"*"},
    "devices": {"*"},
    "config": {"engine", "eval", "runs", "report", "studies", "cli"},
    "data": {"methods", "engine", "eval", "runs", "report", "studies", "cli"},
    "nn": {"methods", "engine", "eval", "runs", "report", "studies", "cli", "data"},
    "losses": {"methods", "engine", "eval", "runs", "report", "studies", "cli", "data"},
    "methods": {"engine", "eval", "runs", "report", "studies", "cli"},
    "runs": {"engine", "eval", "report", "studies", "cli"},
    "eval": {"engine", "report", "studies", "cli"},
    "engine": {"report", "studies", "cli"},
}
ALWAYS_ALLOWED = {"errors"}  # the one thing every layer may raise


def infomax_imports(path: Path) -> set[str]:
    """The first component below infomax of every infomax module ``path`` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "infomax" and len(parts) > 1:
                found.add(parts[1])
    return found


def layer_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


FILES = sorted(p for p in SRC.rglob("*.py") if layer_of(p) in FORBIDDEN)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_runs_up_the_layers(path):
    layer = layer_of(path)
    forbidden = FORBIDDEN[layer]
    imported = infomax_imports(path) - ALWAYS_ALLOWED - {layer}
    bad = imported if "*" in forbidden else imported & forbidden
    assert not bad, f"{path.relative_to(SRC)} ({layer}) imports {sorted(bad)}"


def test_the_layers_cover_the_package():
    assert len(FILES) > 40 and {layer_of(p) for p in FILES} == set(FORBIDDEN)
