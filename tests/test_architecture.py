"""The import graph of the product's packages: no cycles, and the boundaries the layout promises.

Every module of nectar_portal, tenants, portal_security, zoom_integration, observability and
devstack is parsed with
`ast`, so an import hidden inside a function counts as much as one at the top (it still runs,
only later). Imports under `if TYPE_CHECKING:` are skipped: they never run. The sandbox is a
separate program and is checked only for sharing nothing with the portal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("nectar_portal", "tenants", "portal_security", "zoom_integration", "observability",
           "devstack")
SANDBOX_PACKAGES = ("zoom_sandbox",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_sandbox(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in SANDBOX_PACKAGES)


def _modules(packages) -> dict[str, Path]:
    found = {}
    for package in packages:
        base = ROOT.joinpath(*package.split("."))
        for path in sorted(base.rglob("*.py")) if base.is_dir() else ():
            found[_module_name(path)] = path
    return found


ALL = _modules(PRODUCT + ("zoom_sandbox",))


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _import_nodes(tree: ast.AST):
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_block(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _known(name: str) -> str | None:
    """The longest prefix of a dotted name that is one of our modules."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in ALL:
            return candidate
        parts.pop()
    return None


def imports_of(module: str) -> set[str]:
    """Our modules that `module` imports, anywhere in its body."""
    path = ALL[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    targets: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            if node.level:
                package = module.split(".")
                package = package if is_package else package[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from package import name` imports the submodule when `name` is one.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in ALL else base
                     for alias in node.names]
        for name in names:
            target = _known(name)
            if target and target != module:
                targets.add(target)
    return targets


GRAPH = {module: imports_of(module) for module in ALL}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _product(module: str) -> bool:
    return not _is_sandbox(module)


def test_the_graph_sees_imports_inside_functions():
    # tasks import their service inside the task body; the graph must see that edge.
    assert "zoom_integration.metrics" in GRAPH["zoom_integration.tasks.metrics"]
    assert "zoom_integration.webhooks.process" in GRAPH["zoom_integration.tasks.webhooks"]


def test_no_import_cycle_among_the_products_modules():
    product = {m: {t for t in targets if _product(t)} for m, targets in GRAPH.items()
               if _product(m)}
    assert _cycles(product) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_tenants_imports_nothing_from_zoom_integration():
    offending = {m: sorted(t for t in targets if t.startswith("zoom_integration"))
                 for m, targets in GRAPH.items() if m.startswith("tenants")}
    assert {m: t for m, t in offending.items() if t} == {}


def test_only_task_modules_import_task_modules():
    """Work is queued by task name (zoom_integration.queueing); nothing imports a task module."""
    offending = {m: sorted(t for t in targets if t.startswith("zoom_integration.tasks"))
                 for m, targets in GRAPH.items() if not m.startswith("zoom_integration.tasks")}
    assert {m: t for m, t in offending.items() if t} == {}


@pytest.mark.parametrize("package", [p for p in SANDBOX_PACKAGES if _modules([p])])
def test_the_sandbox_shares_nothing_with_the_portal(package):
    offending = {m: sorted(t for t in targets if not _is_sandbox(t))
                 for m, targets in GRAPH.items() if m == package or m.startswith(package + ".")}
    assert {m: t for m, t in offending.items() if t} == {}
