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
    ("analysis",),
    ("store",),
    ("validation", "keys", "ratelimit"),
    ("service", "reviews", "jobs"),
    ("sync",),
    ("api",),
    ("console",),  # the web console: beside the API, on api.deps; the API never imports it
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


def _module_of(target: str) -> str | None:
    """The module of ours that an import of ``target`` names (a package's ``__init__``, a
    module, or the module holding an imported name), or None."""
    path = PACKAGE.parent / Path(*target.split("."))
    if (path / "__init__.py").is_file() or path.with_suffix(".py").is_file():
        return target
    parent = target.rpartition(".")[0]
    return _module_of(parent) if parent.startswith("qualevents") else None


def test_no_import_cycles():
    """No module imports, directly or through others (even inside a function), a module
    that imports it back (store/reviews.py and store/sql.py once did)."""
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        name = module_name(path)
        graph[name] = {
            module
            for _, target in imports_of(path)
            if target.startswith("qualevents")
            and (module := _module_of(target)) is not None
            and module != name
            # Importing a submodule runs its package's __init__: not a dependency back.
            and not name.startswith(module + ".")
        }
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)
