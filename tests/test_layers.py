"""Layers import downward only (STYLE.md): a module may import its own layer and the layers
below it, never one above. ``client`` stands apart: it imports only ``errors``, ``wire`` (the
wire schemas, below both the API and the client), httpx and pydantic."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import qualevents

PACKAGE = Path(qualevents.__file__).resolve().parent

# Lowest first; modules on one line share a rank and may import each other. Only ``cli``
# (commands with ``--url``) and the package root may use ``client``.
LAYERS: list[tuple[str, ...]] = [
    ("errors",),
    ("wire",),  # imports nothing of ours: the client may use it
    ("models",),
    ("config",),
    ("sql",),
    ("warehouse",),
    ("store",),
    ("validation", "keys", "ratelimit"),
    ("service", "reviews"),
    ("api",),
    ("runtime",),
    ("cli",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# The package root only re-exports lazily; ``__main__`` is the entry point.
EXEMPT = {"", "__main__"}
CLIENT_MAY_IMPORT = {"qualevents.errors", "qualevents.wire"}
CLIENT_THIRD_PARTY = {"httpx", "pydantic"}


def top_level(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "qualevents" else ""


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (at any depth, including inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            if target == "qualevents":
                # ``from qualevents import x``: x may be a submodule
                found += [(node.lineno, f"qualevents.{alias.name}") for alias in node.names]
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _id(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def test_every_module_has_a_layer():
    unplaced = {
        top_level(module_name(path))
        for path in SOURCES
        if top_level(module_name(path)) not in RANK
        and top_level(module_name(path)) not in EXEMPT
        and top_level(module_name(path)) != "client"
    }
    assert not unplaced, f"place these modules in LAYERS (tests/test_layers.py): {unplaced}"


@pytest.mark.parametrize("path", SOURCES, ids=_id)
def test_imports_go_downward(path: Path):
    own = top_level(module_name(path))
    if own in EXEMPT or own == "client" or own not in RANK:
        return
    upward = [
        f"line {line}: {own} imports {target}"
        for line, target in imports_of(path)
        if (top_level(target) in RANK and RANK[top_level(target)] > RANK[own])
        or (top_level(target) == "client" and own != "cli")
    ]
    assert not upward, "\n".join(upward)


def test_wire_imports_nothing_of_ours():
    ours = {t for _, t in imports_of(PACKAGE / "wire.py") if t.startswith("qualevents")}
    assert not ours


def test_client_imports_only_errors_wire_and_httpx():
    path = PACKAGE / "client.py"
    ours = {target for _, target in imports_of(path) if target.startswith("qualevents")}
    assert ours <= CLIENT_MAY_IMPORT, ours - CLIENT_MAY_IMPORT
    import sys

    third_party = {
        target.split(".")[0]
        for _, target in imports_of(path)
        if not target.startswith("qualevents")
        and target.split(".")[0] not in sys.stdlib_module_names
        and target != "__future__"
    }
    assert third_party <= CLIENT_THIRD_PARTY, third_party


def test_the_checker_catches_an_upward_import(tmp_path: Path, monkeypatch):
    """The walk above must be able to fail: a models module importing the service is caught."""
    fake = tmp_path / "qualevents"
    fake.mkdir()
    (fake / "models.py").write_text("def f():\n    from qualevents.service import X\n")
    (fake / "store").mkdir()
    (fake / "store" / "sql.py").write_text("from ..api.app import create_app\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", fake)
    assert imports_of(fake / "models.py") == [(2, "qualevents.service")]
    assert imports_of(fake / "store" / "sql.py") == [(1, "qualevents.api.app")]
    for path in (fake / "models.py", fake / "store" / "sql.py"):
        with pytest.raises(AssertionError):
            test_imports_go_downward(path)
